"""Measure redis-benchmark's own CPU per request and per batch, and how it splits between
writing a request and reading its reply, for the workloads' ``client-cpu``,
``client-cpu-per-batch`` and ``client-read-share``.

Models nothing itself. redis-benchmark is one thread running an ae event loop
(``src/redis-benchmark.c``): ``writeHandler`` stamps a request's start and sends it,
``readHandler`` stamps its latency as soon as the loop gets to the reply, then parses it
and re-arms the connection for the next request. With its defaults (50 clients, pipeline 1)
it spends more CPU per request than the server does and is the bottleneck; its latency is
mostly the wait for its own loop.

Each of ``--repeat`` rounds runs ``redis-benchmark -t set,get -n N`` four times against one
server: quickstart's options (50 clients, pipeline 1, one key), then ``-r 100000`` at
``-P`` 1, 4 and 16 (the pipelining scenario's). Each run gives the client's CPU (user +
system, ``wait4``), its wall time, and its CSV (rate, latency avg / p50 / p95 / p99 / max).
Most of the client's CPU goes to system calls (send, recv, epoll_ctl, epoll_wait), one set per
batch of pipelined requests, so the median CPU per request at each depth is fitted as
``batch / P + request`` (``client-cpu-per-batch`` and ``client-cpu``). With ``--perf``
(Linux perf installed) one more run under ``perf record --call-graph dwarf`` splits the
client's samples by the event handler they fell in: the handler is the frame just below
``aeMain`` (the binary is stripped, so it is an address) and a handler's samples are classed
write or read by the hiredis calls they pass through (``redisBufferWrite``;
``redisBufferRead`` and the reply parsing). The read share is read / (read + write); the
loop's own samples (epoll_wait) are left out.

Then quickstart and pipelining are run with the fitted figures and compared.

Run by hand (about a minute; ``--out`` adds the calibration to the file's list):

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
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from realredis import find_redis_server, redis_benchmark, temp_server  # noqa: E402

from redissim.scenario import load_scenario  # noqa: E402
from redissim.sim.engine import simulate  # noqa: E402

#: hiredis calls only readHandler makes (dwarf unwinding does not always show the first)
READ_CALLS = {"redisBufferRead", "redisGetReply", "freeReplyObject"}


def bench_run(bench: str, port: int, n: int, pipeline: int, keyspace: int) -> dict:
    """One ``redis-benchmark -t set,get -n n -P pipeline [-r keyspace] --csv``: per test its
    CSV figures, and the client's CPU per request and share of a core over the whole run."""
    args = ["-t", "set,get", "-n", str(n), "-P", str(pipeline)]
    if keyspace:
        args += ["-r", str(keyspace)]
    tests, cpu, wall = redis_benchmark(port, *args, bench=bench)
    return {"pipeline": pipeline, "keyspace": keyspace, "tests": tests, "cpu_s": cpu,
            "wall_s": wall, "cpu_us_per_request": cpu / (2 * n) * 1e6, "core_share": cpu / wall}


#: the runs of one repeat: (name, pipeline, -r): quickstart's (no -r: one key), and the
#: pipelining scenario's three depths
RUNS = [("quickstart", 1, 0), ("P=1", 1, 100_000), ("P=4", 4, 100_000), ("P=16", 16, 100_000)]


def fit_batch(runs: list[dict]) -> tuple[float, float]:
    """Least squares of CPU per request = batch / P + request over the -r runs (us)."""
    pts = [(1.0 / r["pipeline"], r["cpu_us_per_request"]) for r in runs if r["keyspace"]]
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    batch = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    return batch, my - batch * mx


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


def _model(name: str, sets: list[str]) -> dict[str, dict[str, float]]:
    """A scenario (or one variant of it) with the calibrated client: per workload its rate
    and latency."""
    sc, _ = load_scenario(name, sets)
    out = {}
    for w in simulate(sc).workloads:
        c = w.commands[0]
        lat = c.latency
        out[w.name] = {"rps": c.throughput_rps, "avg_ms": lat.mean * 1e3,
                       "p50_ms": lat.percentile(50) * 1e3, "p99_ms": lat.percentile(99) * 1e3}
    return out


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
    if args.perf and shutil.which("perf") is None:
        raise SystemExit("--perf needs Linux perf (apt-get install linux-perf)")
    runs: dict[str, list[dict]] = {name: [] for name, _p, _r in RUNS}
    share = None
    with temp_server(binary) as srv:
        for _ in range(args.repeat):
            for name, pipeline, keyspace in RUNS:
                r = bench_run(bench, srv.port, args.requests, pipeline, keyspace)
                runs[name].append(r)
                s, g = r["tests"]["SET"], r["tests"]["GET"]
                print(f"{name:<10} {r['cpu_us_per_request']:5.2f} us CPU per request, "
                      f"{r['core_share']:.0%} of a core; SET {s['rps']:,.0f} rps avg "
                      f"{s['avg_latency_ms']:.3f} ms p99 {s['p99_latency_ms']:.3f}; GET "
                      f"{g['rps']:,.0f} rps avg {g['avg_latency_ms']:.3f} p99 "
                      f"{g['p99_latency_ms']:.3f}")
        if args.perf:
            share = read_share(bench, srv.port, args.requests)
            print(f"perf samples {share['samples']}: read share {share['read_share']:.3f}")
    # Per depth the median CPU per request, then the fit over the depths.
    medians = [{**rs[0], "cpu_us_per_request": statistics.median(
        r["cpu_us_per_request"] for r in rs)} for rs in runs.values()]
    batch, request = fit_batch(medians)
    rs = share["read_share"] if share else 0.23
    print(f"fit: {batch:.2f} us per batch + {request:.3f} us per request; medians "
          + ", ".join(f"{name} {m['cpu_us_per_request']:.2f}"
                      for name, m in zip(runs, medians, strict=True)))
    client = [f"workloads.{i}.{k}={v}" for i in (0, 1) for k, v in (
        ("client-cpu", f"{request:.3f}us"), ("client-cpu-per-batch", f"{batch:.2f}us"),
        ("client-read-share", f"{rs:.3f}"))]
    model = {"quickstart": _model("quickstart", client)}
    for p in (1, 4, 16):
        depth = [f"workloads.{i}.pipeline={p}" for i in (0, 1)]
        model[f"P={p}"] = _model("pipelining", client + depth)
    for name, m in model.items():
        for test, fig in m.items():
            real = [r["tests"][test] for r in runs[name]]
            print(f"{name:<10} {test}: model {fig['rps']:,.0f} rps avg {fig['avg_ms']:.3f} ms "
                  f"p99 {fig['p99_ms']:.3f}; real {min(x['rps'] for x in real):,.0f}-"
                  f"{max(x['rps'] for x in real):,.0f} rps, avg "
                  f"{min(x['avg_latency_ms'] for x in real):.3f}-"
                  f"{max(x['avg_latency_ms'] for x in real):.3f} ms")
    print(f"proposed: client-cpu {request:.3f}us, client-cpu-per-batch {batch:.2f}us, "
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
            "proposed": {"client_cpu_us": round(request, 3),
                         "client_cpu_per_batch_us": round(batch, 2),
                         "client_read_share": round(rs, 3)},
            "model": model})
        args.out.write_text(json.dumps({"calibrations": kept}, indent=1) + "\n")


if __name__ == "__main__":
    main()
