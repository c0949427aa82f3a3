"""Cost of the expiry machinery on the simulator's speed (issue 5 benchmark).

The quickstart workload (50 clients, SET then GET) on 100k random keys, twice: with half of
the SETs carrying a 300 ms TTL (so keys keep expiring, lazily on GET and actively in the cycles)
and with no TTLs. Reports simulated commands per wall-second of each and the slowdown.

Then the absolute cost of the TTL machinery at the keyspace level, independent of the event
loop and the drivers (whose speed changes the percentage above): the same command mix straight
through ``Keyspace.execute`` at 100 commands per simulated ms, with the active expire cycle
(slow cycle every 100 ms, fast cycle every ms) called like serverCron/beforeSleep would, and
CPU time (process time) split into plain SETs, TTL SETs, GETs and the cycles.

Run by hand:  .venv/bin/python benchmarks/bench_expiry.py [--requests 400000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from redissim.scenario import Scenario
from redissim.server.expiry import ActiveExpire
from redissim.server.keyspace import Keyspace
from redissim.sim.clock import EPOCH_MS
from redissim.sim.engine import simulate


def scenario(n: int, ttl: bool) -> Scenario:
    half = n // 4
    keys = {"distribution": "uniform", "space": 50_000}
    set_ttl = {"clients": 25, "requests": half, "commands": [{"cmd": "SET"}],
               "keys": {**keys, "prefix": "ttl:"}}
    if ttl:
        set_ttl["ttl"] = "300ms"
    wl = [
        set_ttl,
        {"clients": 25, "requests": half, "commands": [{"cmd": "SET"}],
         "keys": {**keys, "prefix": "plain:"}},
        {"clients": 25, "requests": half, "commands": [{"cmd": "GET"}], "start": 0.5,
         "keys": {**keys, "prefix": "ttl:"}},
        {"clients": 25, "requests": half, "commands": [{"cmd": "GET"}], "start": 0.5,
         "keys": {**keys, "prefix": "plain:"}},
    ]
    return Scenario.model_validate({"name": f"expiry-{ttl}", "workloads": wl})


def keyspace_level(n: int, ttl: bool, seed: int = 1) -> dict[str, float]:
    """CPU seconds per command class for the benchmark's mix run straight on a Keyspace.

    Per simulated ms: 50 SETs of ``ttl:`` keys (with ``PX 300`` when ``ttl``) and 50 of
    ``plain:`` keys during the first half, 50 GETs of each prefix during the second half
    (the scenario's four workloads, 50k keys per prefix, uniform); a fast cycle after every
    ms, a slow cycle every 100 ms (hz 10). Each batch of 50 same-class commands is timed.
    """
    rng = random.Random(seed)
    ks = Keyspace()
    ae = ActiveExpire(ks, hz=lambda: 10, cost_bucket_us=0.02, cost_sample_us=0.1, cost_expire_us=3.4)
    per = 25
    ms_total = n // (4 * per)
    cpu = {"set_ttl": 0.0, "set_plain": 0.0, "get": 0.0, "cycle": 0.0}
    clock = time.process_time
    execute = ks.execute
    for ms in range(ms_total):
        now = EPOCH_MS + 1000 + ms
        first_half = ms < ms_total // 2
        for prefix, cls in ((b"ttl:", "set_ttl"), (b"plain:", "set_plain")):
            keys = [prefix + b"%d" % rng.randrange(50_000) for _ in range(2 * per)]
            if first_half:
                if cls == "set_ttl" and ttl:
                    lines = [[b"SET", k, b"xxx", b"PX", b"300"] for k in keys]
                else:
                    lines = [[b"SET", k, b"xxx"] for k in keys]
            else:
                lines = [[b"GET", k] for k in keys]
                cls = "get"
            t0 = clock()
            for args in lines:
                execute(args, now)
            cpu[cls] += clock() - t0
        t = (now - EPOCH_MS) / 1000
        t0 = clock()
        ae.fast_cycle(t)
        if ms % 100 == 0:
            ae.slow_cycle(t)
        cpu["cycle"] += clock() - t0
    cpu["expired_keys"] = ks.stats.expired_keys
    return cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    # The two variants run in pairs, back to back, in alternating order (no TTLs first, then
    # TTLs first, ...), so that a drift of the host's speed weighs on both alike. Reported:
    # the median over the pairs of each pair's slowdown, and the best rate of each variant.
    rates: dict[bool, list[float]] = {False: [], True: []}
    slowdowns = []
    stats = {}
    for i in range(args.repeat):
        pair = {}
        for ttl in ((False, True) if i % 2 == 0 else (True, False)):
            t = time.perf_counter()
            res = simulate(scenario(args.requests, ttl))
            wall = time.perf_counter() - t
            stats[ttl] = st = res.info["stats"]
            pair[ttl] = st["total_commands_processed"] / wall
            rates[ttl].append(pair[ttl])
        slowdowns.append(1 - pair[True] / pair[False])
    for ttl in (False, True):
        st = stats[ttl]
        print(f"ttl={ttl!s:<5} {max(rates[ttl]):>10,.0f} cmd/s (best of {args.repeat}), "
              f"median {statistics.median(rates[ttl]):,.0f}  "
              f"expired_keys={st['expired_keys']} "
              f"expire_cycle_cpu_milliseconds={st['expire_cycle_cpu_milliseconds']}")
    print(f"expiry machinery costs {100 * statistics.median(slowdowns):.1f}% of the speed "
          f"(median of {args.repeat} pairs; each: "
          f"{', '.join(f'{100 * x:.1f}%' for x in slowdowns)}; best against best: "
          f"{100 * (1 - max(rates[True]) / max(rates[False])):.1f}%)")
    # The keyspace-level split (best of --repeat per class).
    n = args.requests
    for ttl in (False, True):
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            r = keyspace_level(n, ttl)
            for k, v in r.items():
                best[k] = min(best.get(k, v), v)
        nset = n // 4  # commands per class: SETs of each prefix, GETs of both
        print(f"keyspace, ttl={ttl!s:<5}: SET plain {best['set_plain'] / nset * 1e9:5.0f} ns, "
              f"SET {'PX 300' if ttl else 'ttl: '} {best['set_ttl'] / nset * 1e9:5.0f} ns, "
              f"GET {best['get'] / (2 * nset) * 1e9:5.0f} ns, "
              f"cycles {best['cycle']:.3f} s CPU ({int(best['expired_keys'])} keys expired)")


if __name__ == "__main__":
    main()
