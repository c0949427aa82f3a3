"""Throughput of Keyspace.execute() for GET/SET/INCR on 1M keys (no simulation).

Run by hand:  .venv/bin/python benchmarks/bench_keyspace.py [--keys 1000000] [--ops 1000000]

Preloads ``--keys`` keys with DEBUG POPULATE's fast path, builds the command lines in
advance (bytes, as the workload generator would hand them over), then times a plain loop
of ``ks.execute(args, now_ms)`` for each command type, uniform random keys, fixed seed.
Also times SCAN COUNT 10/1000 and KEYS over the same keyspace, and the one-off cost of
building the bucket index that SCAN and sampling use.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time

from redissim.server.keyspace import Keyspace


def bench(ks: Keyspace, lines: list[list[bytes]], now_ms: int) -> float:
    """CPU seconds (process time) for executing ``lines``: on a shared machine wall time
    also counts the time other processes hold the CPU; both are printed for the main rows."""
    execute = ks.execute
    w0 = time.perf_counter()
    t0 = time.process_time()
    for args in lines:
        execute(args, now_ms)
    dt = time.process_time() - t0
    bench.last_wall = time.perf_counter() - w0  # type: ignore[attr-defined]
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--ops", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    now = 1_700_000_000_000
    ks = Keyspace()
    t0 = time.process_time()
    ks.execute([b"DEBUG", b"POPULATE", str(a.keys).encode()], now)
    t_pop = time.process_time() - t0
    print(f"python {sys.version.split()[0]} on {platform.machine()}")
    print(f"DEBUG POPULATE {a.keys}: {t_pop:.2f} s ({a.keys / t_pop / 1e6:.2f} M keys/s)")
    idx = [rng.randrange(a.keys) for _ in range(a.ops)]
    keys = [b"key:%d" % i for i in idx]
    results = {}
    for name, make in (
        ("GET", lambda k: [b"GET", k]),
        ("SET", lambda k: [b"SET", k, b"value"]),
        ("INCR", lambda k: [b"INCR", b"counter:" + k[4:]]),
        ("GET (str args)", lambda k: ["GET", k.decode()]),
    ):
        lines = [make(k) for k in keys]
        dt = bench(ks, lines, now)
        results[name] = a.ops / dt
        wall = bench.last_wall  # type: ignore[attr-defined]
        print(f"{name:16s} {a.ops / dt / 1e6:6.3f} M ops/s  ({dt / a.ops * 1e9:6.0f} ns/op CPU, "
              f"{wall / a.ops * 1e9:6.0f} ns/op wall)")
        if name == "GET":
            # The floor under the GET pass's own conditions, right after it: fresh key objects
            # (hash not yet cached), the preloaded distinct values, another random order. The
            # floor printed further down is measured later, with cached hashes and every value
            # replaced by SET's one shared b"value": it lacks two of the GET pass's costs.
            rng2 = random.Random(a.seed + 1)
            fresh = [[b"GET", b"key:%d" % rng2.randrange(a.keys)] for _ in range(a.ops)]
            get0 = ks.dbs[0].data.get
            t0 = time.process_time()
            for args in fresh:
                get0(args[1])
            dt_first = time.process_time() - t0
            del fresh
    # Floors, to see where the time goes: the loop over the same pre-built lines calling a
    # no-op function, and a bare dict lookup of each key in the 1M-key dict.
    lines = [[b"GET", k] for k in keys]
    data = ks.dbs[0].data

    def noop(args: list[bytes], now_ms: int) -> None:
        return None

    t0 = time.process_time()
    for args in lines:
        noop(args, now)
    dt_noop = time.process_time() - t0
    get = data.get
    t0 = time.process_time()
    for args in lines:
        get(args[1])
    dt_dict = time.process_time() - t0
    print(f"{'floor: no-op call':16s} {dt_noop / a.ops * 1e9:6.0f} ns/op;  "
          f"floor: dict.get of the key {dt_dict / a.ops * 1e9:6.0f} ns/op "
          f"(as in the GET pass: {dt_first / a.ops * 1e9:.0f} ns/op)")
    # The same commands on a 1000-key keyspace (everything in CPU caches): interpreter cost.
    small = Keyspace()
    small.populate(1000)
    for name, make in (
        ("GET 1k keys", lambda i: [b"GET", b"key:%d" % i]),
        ("SET 1k keys", lambda i: [b"SET", b"key:%d" % i, b"value"]),
        ("INCR 1k keys", lambda i: [b"INCR", b"counter:%d" % i]),
    ):
        lines = [make(i % 1000) for i in range(a.ops)]
        dt = bench(small, lines, now)
        print(f"{name:16s} {a.ops / dt / 1e6:6.3f} M ops/s  ({dt / a.ops * 1e9:6.0f} ns/op CPU)")
    mixed = [[b"GET", k] if rng.random() < 0.8 else [b"SET", k, b"v"] for k in keys]
    dt = bench(ks, mixed, now)
    print(f"{'80/20 GET/SET':16s} {a.ops / dt / 1e6:6.3f} M ops/s  ({dt / a.ops * 1e9:6.0f} ns/op)")
    # With TTLs on every key (the expires dict is consulted on each lookup).
    ks2 = Keyspace()
    ks2.populate(a.keys)
    for i in range(a.keys):
        ks2.dbs[0].exp[b"key:%d" % i] = now + 3_600_000
    lines = [[b"GET", k] for k in keys]
    dt = bench(ks2, lines, now)
    print(f"{'GET (all TTL)':16s} {a.ops / dt / 1e6:6.3f} M ops/s  ({dt / a.ops * 1e9:6.0f} ns/op)")
    t0 = time.process_time()
    ks.dbs[0].main.bucket_keys(0)
    print(f"bucket index build over {ks.dbsize()} keys: {time.process_time() - t0:.2f} s CPU")
    lines = [[b"SET", b"new:%d" % i, b"v"] for i in range(a.ops // 4)]
    dt = bench(ks, lines, now)
    print(f"{'SET new (indexed)':16s} {len(lines) / dt / 1e6:6.3f} M ops/s  ({dt / len(lines) * 1e9:6.0f} ns/op)")
    for count in (10, 1000):
        cursor = b"0"
        calls = 0
        t0 = time.process_time()
        while calls < 2000:
            r = ks.execute([b"SCAN", cursor, b"COUNT", str(count).encode()], now)
            cursor = r[0]
            calls += 1
        dt = time.process_time() - t0
        print(f"SCAN COUNT {count:<5d}   {dt / calls * 1e6:8.1f} us/call CPU")
    for pat in (b"nomatch*", b"key:1*", b"*"):
        t0 = time.process_time()
        r = ks.execute([b"KEYS", pat], now)
        dt = time.process_time() - t0
        print(f"KEYS {pat.decode():10s} {dt * 1e3:8.1f} ms  ({len(r)} keys, {ks.effects.keys_scanned} scanned)")


if __name__ == "__main__":
    main()
