"""Cost of the expiry machinery on the simulator's speed (issue 5 benchmark).

The quickstart workload (50 clients, SET then GET) on 100k random keys, twice: with half of
the SETs carrying a 300 ms TTL (so keys keep expiring, lazily on GET and actively in the cycles)
and with no TTLs. Reports simulated commands per wall-second of each and the slowdown.

Run by hand:  .venv/bin/python benchmarks/bench_expiry.py [--requests 400000]
"""

from __future__ import annotations

import argparse
import time

from redissim.scenario import Scenario
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rates = {}
    for ttl in (False, True):
        best = 0.0
        for _ in range(args.repeat):
            t = time.perf_counter()
            res = simulate(scenario(args.requests, ttl))
            wall = time.perf_counter() - t
            cmds = res.info["stats"]["total_commands_processed"]
            best = max(best, cmds / wall)
        st = res.info["stats"]
        rates[ttl] = best
        print(f"ttl={ttl!s:<5} {best:>10,.0f} cmd/s (best of {args.repeat})  "
              f"expired_keys={st['expired_keys']} "
              f"expire_cycle_cpu_milliseconds={st['expire_cycle_cpu_milliseconds']}")
    print(f"expiry machinery costs {100 * (1 - rates[True] / rates[False]):.1f}% of the speed")


if __name__ == "__main__":
    main()
