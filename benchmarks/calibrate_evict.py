"""Measure what maxmemory eviction costs a real redis-server per evicted key and per key sampled,
to calibrate the cost profile's ``eviction.*`` entries.

Models nothing itself. A redis-server holds 300k keys of ``DEBUG POPULATE 300000 key 10``;
redis-benchmark then SETs 200k new keys (``-r 1000000000``, 10-byte values, 50 clients,
pipeline 16), three ways, in turns:

* ``none``: no maxmemory, the keys are added (the dict, sized for 524,288 keys, does not grow);
* ``allkeys-random`` and ``allkeys-lru``: maxmemory at the used_memory of the populated server,
  so that nearly every SET first evicts a key (``performEvictions``, run before the command).

The main thread's CPU (INFO cpu ``used_cpu_*_main_thread``) per SET is compared: an evicting run
less the ``none`` run, over the keys it evicted, is what an eviction costs, sampling included.
``performEvictions`` runs outside ``call()``, so commandstats does not see it, but the main
thread's CPU does. allkeys-random picks its victim with one ``dictGetRandomKey``; allkeys-lru
samples ``maxmemory-samples`` (5) keys into the eviction pool per victim, as the model does
(``server/eviction.py``). With the model's charge of ``evict + samples x sample`` per victim, the
two policies give the two costs. Each way runs ``--repeat`` times on a fresh server; the
cheapest run of each is kept (other load on the machine only adds).

Run by hand (about two minutes):

    python benchmarks/calibrate_evict.py --out benchmarks/data/evict-calibration.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from calibrate_rdb import info  # noqa: E402
from realredis import RespClient, find_redis_server, temp_server  # noqa: E402

POPULATE = 300_000
REQUESTS = 200_000
#: keys the model's allkeys-lru samples per victim: maxmemory-samples, one pool refill per
#: victim with one database (EvictionPool in server/eviction.py); allkeys-random: one
SAMPLES = {"allkeys-random": 1, "allkeys-lru": 5}


def _cpu(c: RespClient) -> float:
    cpu = info(c, "cpu")
    return float(cpu["used_cpu_sys_main_thread"]) + float(cpu["used_cpu_user_main_thread"])


def one_run(binary: str, bench: str, policy: str) -> dict[str, float]:
    """A fresh server, populated, then the SET benchmark: CPU per SET and evictions."""
    with temp_server(binary) as srv:
        c = srv.client()
        c.command("DEBUG", "POPULATE", str(POPULATE), "key", "10")
        if policy != "none":
            used = int(info(c, "memory")["used_memory"])
            c.command("CONFIG", "SET", "maxmemory-policy", policy)
            c.command("CONFIG", "SET", "maxmemory", str(used))
        c.command("CONFIG", "RESETSTAT")
        before = _cpu(c)
        subprocess.run([bench, "-p", str(srv.port), "-t", "set", "-n", str(REQUESTS),
                        "-r", "1000000000", "-c", "50", "-P", "16", "-d", "10", "-q"],
                       check=True, capture_output=True, timeout=300)
        cpu = _cpu(c) - before
        stats = info(c, "stats")
        calls = int(info(c, "commandstats")["cmdstat_set"].split(",")[0].split("=")[1])
        evicted = int(stats["evicted_keys"])
        keys = c.command("DBSIZE")
        c.close()
    return {"cpu_s": cpu, "calls": calls, "evicted": evicted, "us_per_set": 1e6 * cpu / calls,
            "dbsize": keys}  # type: ignore[dict-item]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    binary = find_redis_server()
    bench = shutil.which("redis-benchmark")
    if binary is None or bench is None:
        sys.exit("calibrate_evict: redis-server or redis-benchmark not found (install Debian's "
                 "redis-server and redis-tools)")
    ways = ("none", "allkeys-random", "allkeys-lru")
    runs: dict[str, list[dict[str, float]]] = {w: [] for w in ways}
    for i in range(args.repeat):
        for w in ways if i % 2 == 0 else ways[::-1]:
            r = one_run(binary, bench, w)
            runs[w].append(r)
            print(f"{w:15s} {r['us_per_set']:.3f} us of main-thread CPU per SET, "
                  f"{r['evicted']:>7,.0f} evicted, DBSIZE {r['dbsize']:,.0f}", flush=True)
    best = {w: min(runs[w], key=lambda r: r["us_per_set"]) for w in ways}
    per_victim = {}
    for w in ways[1:]:
        b = best[w]
        extra_us = (b["us_per_set"] - best["none"]["us_per_set"]) * b["calls"]
        per_victim[w] = extra_us / b["evicted"]
        print(f"{w}: {per_victim[w]:.3f} us per evicted key ({b['evicted']:,.0f} evicted)")
    # evict + SAMPLES[w] x sample = per_victim[w], for the two policies
    r, lru = "allkeys-random", "allkeys-lru"
    sample = (per_victim[lru] - per_victim[r]) / (SAMPLES[lru] - SAMPLES[r])
    evict = per_victim[r] - SAMPLES[r] * sample
    fit = {"sample-us": sample, "evict-us": evict}
    print("fit: " + ", ".join(f"{k} {v:.3f}" for k, v in fit.items()))
    if args.out:
        args.out.write_text(json.dumps({
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": platform.platform(), "cpus": os.cpu_count(),
            "load_average": os.getloadavg(), "redis_server": binary,
            "populate": POPULATE, "requests": REQUESTS, "runs": runs,
            "per_victim_us": per_victim, "fit": fit,
        }, indent=1) + "\n")


if __name__ == "__main__":
    main()
