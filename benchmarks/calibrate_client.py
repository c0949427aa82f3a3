"""Measure redis-benchmark's own CPU per request and how it splits between writing a request
and reading its reply, for the workloads' ``client-cpu`` and ``client-read-share``.

Models nothing itself. redis-benchmark is one thread running an ae event loop
(``src/redis-benchmark.c``): ``writeHandler`` stamps a request's start and sends it,
``readHandler`` stamps its latency as soon as the loop gets to the reply, then parses it
and re-arms the connection for the next request. With its defaults (50 clients, pipeline 1)
it spends more CPU per request than the server does and is the bottleneck; its latency is
mostly the wait for its own loop.

For each of ``--repeat`` runs of ``redis-benchmark -t set,get -n N`` (defaults otherwise)
against a fresh server: the client's CPU (user + system, ``wait4``), its wall time, and its
CSV (rate, latency avg / p50 / p95 / p99 / max). With ``--perf`` (Linux perf installed) one
more run under ``perf record --call-graph dwarf`` splits the client's samples by the event
handler they fell in: the handler is the frame just below ``aeMain`` (the binary is
stripped, so it is an address) and a handler's samples are classed write or read by the
hiredis calls they pass through (``redisBufferWrite``; ``redisBufferRead`` and the reply
parsing). The read share is read / (read + write); the loop's own samples (epoll_wait) are
left out.

Then the quickstart scenario is run with the measured figures and compared.

Run by hand (about a minute; ``--out`` adds the run to the file's list):

    python benchmarks/calibrate_client.py --perf --out benchmarks/data/client-calibration.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from realredis import RedisServer, find_redis_server  # noqa: E402

from redissim.scenario import load_scenario  # noqa: E402
from redissim.sim.engine import simulate  # noqa: E402

#: hiredis calls only readHandler makes (dwarf unwinding does not always show the first)
READ_CALLS = {"redisBufferRead", "redisGetReply", "freeReplyObject"}


def bench_run(bench: str, port: int, n: int) -> dict:
    """One ``redis-benchmark -t set,get -n n --csv``: per test its CSV figures, and the
    client's CPU per request and share of a core over the whole run."""
    t = time.perf_counter()
    p = subprocess.Popen([bench, "-p", str(port), "-t", "set,get", "-n", str(n), "--csv"],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)  # (not communicate(): it would reap the rusage)
    wall = time.perf_counter() - t
    if status:
        raise SystemExit(f"redis-benchmark exited with status {status}")
    lines = [line.replace('"', "").split(",") for line in out.strip().splitlines()]
    head = lines[0]
    tests = {row[0]: {k: float(v) for k, v in zip(head[1:], row[1:], strict=True)}
             for row in lines[1:]}
    cpu = ru.ru_utime + ru.ru_stime
    return {"tests": tests, "cpu_s": cpu, "wall_s": wall, "cpu_us_per_request": cpu / (2 * n) * 1e6,
            "core_share": cpu / wall}


def read_share(bench: str, port: int, n: int) -> dict:
    """The client's perf samples split by event handler (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "perf.data"
        subprocess.run(["perf", "record", "-q", "-F", "2000", "--call-graph", "dwarf", "-o",
                        str(data), bench, "-p", str(port), "-t", "set", "-n", str(n), "-q"],
                       check=True, capture_output=True, timeout=300)
        script = subprocess.run(["perf", "script", "-i", str(data), "-F", "ip,sym"],
                                check=True, capture_output=True, text=True, timeout=600).stdout
    samples: Counter[str] = Counter()  # handler site -> samples
    kind: dict[str, str] = {}
    for block in script.split("\n\n"):
        frames = [line.split(None, 1) for line in block.strip().splitlines()]
        syms = [f[1] if len(f) > 1 else f[0] for f in frames]
        if "aeMain" not in syms:
            continue
        i = syms.index("aeMain")
        if i == 0:
            continue
        site = frames[i - 1][0]
        samples[site] += 1
        if "redisBufferWrite" in syms[:i]:
            kind[site] = "write"
        elif READ_CALLS.intersection(syms[:i]):
            kind[site] = "read"
    by = Counter({"write": 0, "read": 0, "loop": 0})
    for site, k in samples.items():
        by[kind.get(site, "loop")] += k
    return {"samples": dict(by), "read_share": by["read"] / (by["read"] + by["write"])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--perf", action="store_true", help="measure the read share with perf")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    binary = find_redis_server()
    bench = shutil.which("redis-benchmark")
    if binary is None or bench is None:
        raise SystemExit("needs redis-server and redis-benchmark (apt-get install redis-server)")
    runs = []
    share = None
    with tempfile.TemporaryDirectory() as tmp:
        srv = RedisServer(binary, Path(tmp))
        srv.start()
        try:
            for _ in range(args.repeat):
                runs.append(r := bench_run(bench, srv.port, args.requests))
                s, g = r["tests"]["SET"], r["tests"]["GET"]
                print(f"{r['cpu_us_per_request']:5.2f} us CPU per request, {r['core_share']:.0%} "
                      f"of a core; SET {s['rps']:,.0f} rps avg {s['avg_latency_ms']:.3f} ms "
                      f"p99 {s['p99_latency_ms']:.3f}; GET {g['rps']:,.0f} rps "
                      f"avg {g['avg_latency_ms']:.3f} p99 {g['p99_latency_ms']:.3f}")
            if args.perf:
                share = read_share(bench, srv.port, args.requests)
                print(f"perf samples {share['samples']}: read share {share['read_share']:.3f}")
        finally:
            srv.stop()
    cpu = statistics.median(r["cpu_us_per_request"] for r in runs)
    rs = share["read_share"] if share else 0.23
    sc, _ = load_scenario("quickstart", [f"workloads.{i}.{k}={v}" for i in (0, 1) for k, v in (
        ("client-cpu", f"{cpu:.2f}us"), ("client-read-share", f"{rs:.3f}"))])
    res = simulate(sc)
    model = {}
    for w in res.workloads:
        c = w.commands[0]
        lat = c.latency
        model[w.name] = {"rps": c.throughput_rps, "avg_ms": lat.mean * 1e3,
                         "p50_ms": lat.percentile(50) * 1e3, "p99_ms": lat.percentile(99) * 1e3}
        real = [r["tests"][w.name] for r in runs]
        print(f"{w.name}: model {c.throughput_rps:,.0f} rps avg {lat.mean * 1e3:.3f} ms "
              f"p50 {lat.percentile(50) * 1e3:.3f} p99 {lat.percentile(99) * 1e3:.3f}; real "
              f"{min(x['rps'] for x in real):,.0f}-{max(x['rps'] for x in real):,.0f} rps, avg "
              f"{min(x['avg_latency_ms'] for x in real):.3f}-"
              f"{max(x['avg_latency_ms'] for x in real):.3f} ms")
    print(f"proposed: client-cpu {cpu:.2f}us (median of {len(runs)}), "
          f"client-read-share {rs:.3f}")
    if args.out:
        # Appended to what the file holds: the host's load moves these figures by a third
        # from one hour to the next, and the scenario's values name the calibration they use.
        kept = json.loads(args.out.read_text())["calibrations"] if args.out.exists() else []
        kept.append({
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                        "loadavg": os.getloadavg()},
            "requests": args.requests, "runs": runs, "perf": share,
            "proposed": {"client_cpu_us": round(cpu, 2), "client_read_share": round(rs, 3)},
            "model": model})
        args.out.write_text(json.dumps({"calibrations": kept}, indent=1) + "\n")


if __name__ == "__main__":
    main()
