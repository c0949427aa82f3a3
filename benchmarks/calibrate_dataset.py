"""Measure how a real redis-server's cost per GET grows with the size of the dataset, for the
cost profile's ``dataset.*`` entries (``model.cpu-caches``).

Models nothing itself. A key lookup (``dictFind``, ``src/dict.c``) reads the bucket slot, the
``dictEntry``, the key's SDS and the value's ``robj``: a few cache lines at random addresses.
While the dataset fits the CPU's caches they are hits; as it grows past the L2 and then the
last-level cache more of them come from RAM. The profile's command costs were measured with
100k keys (``calibrate_redis.py``); this measures the same GET at other sizes.

For each size N: FLUSHALL, N keys ``key:<12 digits>`` (redis-benchmark's ``__rand_int__``
format) of 3 bytes written through ``redis-cli --pipe``, then ``redis-benchmark -t get -r N
-P 16`` (so every GET hits a uniformly random key), ``--repeat`` times; commandstats'
``usec_per_call`` (the time inside ``call()``), the least of the repeats, against INFO's
``used_memory_dataset``. The same for SET (overwriting the keys with the same 3 bytes) and for
GETs of names none of the keys has (``nokey:<12 digits>``, every one a miss). Fitted on GET
(least squares, coefficients >= 0):

    usec_per_call = base + l2_miss x max(0, 1 - L2 / dataset) + llc_miss x max(0, 1 - LLC / dataset)

with L2 and LLC the caches' sizes (``lscpu``: the L2 of one core, the whole L3), i.e. the
share of uniformly random lookups that miss each level, scaled by what a lookup's misses
cost there.

Run by hand (about two minutes):

    python benchmarks/calibrate_dataset.py --out benchmarks/data/dataset-calibration.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from calibrate_rdb import _nnls, info  # noqa: E402
from realredis import RespClient, find_redis_server, temp_server  # noqa: E402

SIZES = [10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000]


def cache_sizes() -> tuple[int, int]:
    """(L2 of one core, last-level cache) in bytes, from lscpu."""
    out = subprocess.run(["lscpu", "-B"], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for name in ("L2", "L3"):
        m = re.search(rf"^{name} cache:\s+(\d+)(?: \((\d+) instances?\))?", out, re.M)
        if m is None:
            raise SystemExit(f"lscpu shows no {name} cache")
        total, inst = int(m.group(1)), int(m.group(2) or 1)
        sizes[name] = total // inst if name == "L2" else total
    return sizes["L2"], sizes["L3"]


def load(cli: str, port: int, n: int) -> None:
    """N keys of 3 bytes through redis-cli --pipe (the raw protocol, one write)."""
    stream = b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$3\r\nxxx\r\n" % i for i in range(n))
    subprocess.run([cli, "-p", str(port), "--pipe"], input=stream, check=True,
                   capture_output=True, timeout=600)


def call_cost(c: RespClient, bench: str, port: int, test: str, n: int, requests: int) -> float:
    """usec_per_call of redis-benchmark's ``test`` (get or set) over the N keys; test
    ``get-miss``: GETs of ``nokey:<12 digits>``, names none of the N keys has."""
    c.command("CONFIG", "RESETSTAT")
    what = ["GET", "nokey:__rand_int__"] if test == "get-miss" else ["-t", test]
    subprocess.run([bench, "-p", str(port), "-r", str(n), "-n", str(requests), "-P", "16", "-q",
                    *what], check=True, capture_output=True, timeout=600)
    stats = info(c, "commandstats")
    cmd = "get" if test == "get-miss" else test
    return float(stats[f"cmdstat_{cmd}"].split("usec_per_call=")[1].split(",")[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    binary = find_redis_server()
    bench, cli = shutil.which("redis-benchmark"), shutil.which("redis-cli")
    if binary is None or bench is None or cli is None:
        raise SystemExit("needs redis-server, redis-cli and redis-benchmark "
                         "(apt-get install redis-server)")
    l2, llc = cache_sizes()
    rows = []
    with temp_server(binary) as srv:
        c = srv.client()
        for n in SIZES:
            c.command("FLUSHALL")
            load(cli, srv.port, n)
            assert c.command("DBSIZE") == n
            dataset = int(info(c, "memory")["used_memory_dataset"])
            runs = [call_cost(c, bench, srv.port, "get", n, args.requests)
                    for _ in range(args.repeat)]
            # (SET overwrites the same keys with the same 3 bytes: the dataset stays)
            sets = [call_cost(c, bench, srv.port, "set", n, args.requests)
                    for _ in range(args.repeat)]
            misses = [call_cost(c, bench, srv.port, "get-miss", n, args.requests)
                      for _ in range(args.repeat)]
            rows.append({"keys": n, "dataset_bytes": dataset, "usec_per_call": runs,
                         "set_usec_per_call": sets, "miss_usec_per_call": misses})
            print(f"{n:>9,} keys, dataset {dataset / 2**20:7.1f} MiB: GET "
                  + " / ".join(f"{u:.2f}" for u in runs) + ", SET "
                  + " / ".join(f"{u:.2f}" for u in sets) + ", GET of a missing key "
                  + " / ".join(f"{u:.2f}" for u in misses) + " us per call", flush=True)
        c.close()
    d = np.array([r["dataset_bytes"] for r in rows], dtype=float)
    y = np.array([min(r["usec_per_call"]) for r in rows])
    a = np.column_stack([np.ones_like(d), np.maximum(0, 1 - l2 / d), np.maximum(0, 1 - llc / d)])
    base, l2_miss, llc_miss = _nnls(a, y)
    fit = a @ np.array([base, l2_miss, llc_miss])
    print(f"caches: L2 {l2 / 2**20:.1f} MiB, LLC {llc / 2**20:.0f} MiB")
    print(f"fit: {base:.3f} us + {l2_miss:.3f} us x L2 miss share + {llc_miss:.3f} us x LLC miss "
          "share; " + ", ".join(f"{r['keys']:,}: {m:.2f} vs {f:.2f}"
                                for r, m, f in zip(rows, y, fit, strict=True)))
    # The model scales every key command's cost by the GET fit's ratio to the reference size
    # (100k keys): how well does that ratio carry over to SET?
    ref = next(i for i, r in enumerate(rows) if r["keys"] == 100_000)
    sets = np.array([min(r["set_usec_per_call"]) for r in rows])
    scaled = sets[ref] * fit / fit[ref]
    print("SET, measured vs the GET fit's ratio applied to SET at 100k keys: " + ", ".join(
        f"{r['keys']:,}: {m:.2f} vs {f:.2f}" for r, m, f in zip(rows, sets, scaled, strict=True)))
    # A GET that finds no key reads the bucket and the chain it would be in, not the entry's
    # key, the robj or the value: the profile charges it its own cost (per-command-miss-us,
    # the figure at 100k keys), scaled by the same ratio.
    misses = np.array([min(r["miss_usec_per_call"]) for r in rows])
    scaled = misses[ref] * fit / fit[ref]
    print("GET of a missing key, measured vs the GET fit's ratio applied to it at 100k keys: "
          + ", ".join(f"{r['keys']:,}: {m:.2f} vs {f:.2f} (a hit {h:.2f})" for r, m, f, h
                      in zip(rows, misses, scaled, y, strict=True)))
    if args.out:
        args.out.write_text(json.dumps({
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                        "loadavg": os.getloadavg(), "l2_bytes": l2, "llc_bytes": llc},
            "requests": args.requests, "rows": rows,
            "fit": {"base_us": base, "l2_miss_us": l2_miss, "llc_miss_us": llc_miss}},
            indent=1) + "\n")


if __name__ == "__main__":
    main()
