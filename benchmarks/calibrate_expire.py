"""Measure what the active expire cycle costs a real redis-server per bucket, per key sampled and
per key expired, to calibrate the cost profile's ``expire.*`` entries.

Models nothing itself. For each configuration (N keys of ``DEBUG POPULATE N key 10``, of which a
fraction f get a TTL of 1 ms and the others one of an hour, so that the expires table holds all N
and the cycle samples both kinds): active expiry off while the TTLs are set, then
``CONFIG RESETSTAT``, active expiry on, and DBSIZE polled until 80 % of the expiring keys are
gone. Redis's ``expire_cycle_cpu_milliseconds`` then holds the time the cycles took (wall clock
inside ``activeExpireCycle``: the smallest of the repeats is kept, preemption only adds). The
same keyspace in redissim, drained by the same cycle (``server/expiry.py``) to the same number of
expired keys, gives how many buckets were visited and keys sampled on the way: the walk follows
7.0's loop for loop, so these counts do not depend on the costs. Non-negative least squares then
splits the measured time into a cost per key sampled and per key expired (the one charged on top
of its sampling); f = 1 and 1/2 move the samples per expired key from 1 to 2.

The cost per bucket is not fitted but kept at the profile's estimate (BUCKET_US): the buckets per
key only change with N, and so does the cost of every memory access (a larger table misses the
caches more often), which a least-squares fit then books to the buckets, at 0.4 us for an empty
bucket read in sequence. With f = 1/4 the drain runs into the 10 % stale rule: the cycles stop
after a few loops, and the CPU per expired key doubles (2.4-2.6 us measured at 120k and 200k
keys; cold caches at the start of each cycle, after 100 ms asleep, are a likely cause, not
measured); those drains are not in the fit.

Run by hand (about two minutes):

    python benchmarks/calibrate_expire.py --out benchmarks/data/expire-calibration.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from calibrate_rdb import _nnls, info  # noqa: E402
from realredis import RespClient, find_redis_server, temp_server  # noqa: E402

from redissim.server.expiry import ActiveExpire  # noqa: E402
from redissim.server.keyspace import Keyspace  # noqa: E402
from redissim.sim.clock import EPOCH_MS  # noqa: E402

#: (keys, every how many keys one expires): f = 1 and 1/2 at three table fills, and mass-expiry's
#: million keys expiring at once
CONFIGS = [(n, k) for n in (120_000, 200_000, 300_000) for k in (1, 2)] + [(1_000_000, 1)]
#: the drain is measured until this share of the expiring keys is gone, by f: the keys left
#: then are still 17 % expired or more, well above the 10 % at which a cycle stops repeating
DRAINED = {1: 0.8, 2: 0.6}
#: the profile's expire.bucket-us (an estimate, see above)
BUCKET_US = 0.02
LONG_TTL_MS = 3_600_000


def _ttl_script(n: int, every: int) -> str:
    return (f"for i=0,{n - 1} do if i % {every} == 0 then "
            f"redis.call('pexpire','key:'..i,1) else "
            f"redis.call('pexpire','key:'..i,{LONG_TTL_MS}) end end")


def real_drain(c: RespClient, n: int, every: int) -> tuple[int, int, float]:
    """One drain on the real server: (expired keys, cycle CPU ms, wall seconds)."""
    expiring = len(range(0, n, every))
    target = n - int(DRAINED[every] * expiring)
    c.command("FLUSHALL")
    c.command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    c.command("DEBUG", "POPULATE", str(n), "key", "10")
    c.command("EVAL", _ttl_script(n, every), "0")
    time.sleep(0.05)
    c.command("CONFIG", "RESETSTAT")
    c.command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    t0 = time.monotonic()
    while True:
        size = c.command("DBSIZE")
        assert isinstance(size, int)
        if size <= target:
            break
        if time.monotonic() - t0 > 120:
            raise RuntimeError(f"drain of {n} keys (1 in {every} expiring) took over 120 s")
        time.sleep(0.02)
    wall = time.monotonic() - t0
    st = info(c, "stats")
    return int(st["expired_keys"]), int(st["expire_cycle_cpu_milliseconds"]), wall


def model_counts(n: int, every: int, expired_target: int) -> tuple[int, int, int]:
    """(buckets, keys sampled, keys expired) the model's cycle walks to expire
    ``expired_target`` keys of the same keyspace. Three drains, each charging a unit cost to one
    of the three, read the totals from the cycle's CPU time. Each drain stops at the end of
    the cycle that reaches the target, so the three pass it by different amounts: the bucket
    and sample totals are scaled to the third drain's count of expired keys."""
    out = []
    for costs in ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)):
        ks = Keyspace()
        ks.populate(n, b"key", 10)
        now = EPOCH_MS
        for i in range(n):
            ms = b"1" if i % every == 0 else b"%d" % LONG_TTL_MS
            ks.execute([b"PEXPIRE", b"key:%d" % i, ms], now)
        ae = ActiveExpire(ks, hz=lambda: 1000, cost_bucket_us=costs[0], cost_sample_us=costs[1],
                          cost_expire_us=costs[2])
        # The cycle's clock starts after the TTLs. At hz 1000 a slow cycle stops at 250 units
        # (a unit of cost is 1 us), so the drain passes the target by a few hundred keys at
        # most (the totals are scaled to the real count below).
        t = 1.0
        cycles = 0
        while ks.stats.expired_keys < expired_target:
            t = ae.slow_cycle(t) + 0.001
            cycles += 1
            if cycles > 1_000_000:
                raise RuntimeError("the model's cycle stopped expiring before the target")
        out.append((round(ae.stat_expire_cycle_time_used * 1e6), ks.stats.expired_keys))
    (buckets, b_expired), (sampled, s_expired), (expired_cost, expired) = out
    assert expired_cost == expired
    return round(buckets * expired / b_expired), round(sampled * expired / s_expired), expired


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    binary = find_redis_server()
    if binary is None:
        sys.exit("calibrate_expire: redis-server not found (install Debian's redis-server)")
    rows = []
    with temp_server(binary) as srv:
        c = srv.client()
        for n, every in CONFIGS:
            runs = [real_drain(c, n, every) for _ in range(args.repeat)]
            # the cheapest per expired key (each run stops at a slightly different count)
            expired, cpu_ms, wall = min(runs, key=lambda r: r[1] / r[0])
            buckets, sampled, m_expired = model_counts(n, every, expired)
            row = {"keys": n, "expiring_every": every, "expired": expired,
                   "cpu_ms": cpu_ms, "wall_s": round(wall, 3),
                   "all_cpu_ms": [r[1] for r in runs],
                   "model_buckets": buckets, "model_sampled": sampled,
                   "model_expired": m_expired}
            rows.append(row)
            print(f"{n:>7,d} keys, 1 in {every} expiring: {expired:>7,d} expired in "
                  f"{cpu_ms:>4d} ms of cycles ({1000 * cpu_ms / expired:.3f} us per key; "
                  f"runs {row['all_cpu_ms']}); model walk {buckets:,d} buckets, "
                  f"{sampled:,d} sampled", flush=True)
        c.close()
    # The model's walk reached at least the real count: scale its totals to the real one.
    scale = [r["expired"] / r["model_expired"] for r in rows]
    buckets = np.array([r["model_buckets"] * s for r, s in zip(rows, scale, strict=True)])
    a = np.array([[r["model_sampled"] * s, r["expired"]]
                  for r, s in zip(rows, scale, strict=True)], dtype=float)
    b = np.array([r["cpu_ms"] * 1e-3 for r in rows]) - buckets * BUCKET_US * 1e-6
    coef = _nnls(a, b)
    fit = {"bucket-us": BUCKET_US, "sample-us": coef[0] * 1e6, "expire-us": coef[1] * 1e6}
    print("fit: " + ", ".join(f"{k} {v:.3f}" for k, v in fit.items()) + " (bucket-us fixed)")
    pred = a @ coef + buckets * BUCKET_US * 1e-6
    for r, p in zip(rows, pred, strict=True):
        print(f"  {r['keys']:>7,d} keys, 1 in {r['expiring_every']}: measured "
              f"{r['cpu_ms']} ms, fit {1000 * p:.0f} ms ({100 * (p / (r['cpu_ms'] * 1e-3) - 1):+.0f} %)")
    if args.out:
        args.out.write_text(json.dumps({
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": platform.platform(), "cpus": os.cpu_count(),
            "load_average": os.getloadavg(), "redis_server": binary, "drained": DRAINED,
            "configs": rows, "fit": fit,
        }, indent=1) + "\n")


if __name__ == "__main__":
    main()
