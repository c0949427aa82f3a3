"""Engine speed: simulated commands per wall-second and peak RSS, beside a naive SimPy model.

Run by hand:  .venv/bin/python benchmarks/bench_engine.py [--requests 1000000]

Workloads (issue 2):
  (a) 50 closed-loop clients, P=1, SET then GET
  (b) 50 closed-loop clients, P=16, SET then GET
  (c) open loop, Poisson 80k/s, exponential 10 us commands (M/M/1), one connection
The naive model of each is what one writes first with SimPy: one process per request (or per
client round trip) and a ``simpy.Resource(capacity=1)`` for the server thread, with the same
mean costs. Each measurement runs in its own subprocess so its peak RSS is its own.
redissim runs twice: as installed (its per-command path compiled by mypyc, see setup.py) and
from its Python source (REDISSIM_PURE=1).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def redissim_run(kind: str, n: int) -> dict:
    from redissim.scenario import Scenario
    from redissim.sim.engine import simulate

    if kind in ("a", "b"):
        p = 1 if kind == "a" else 16
        wl = [{"name": "SET", "clients": 50, "pipeline": p, "requests": n // 2,
               "commands": [{"cmd": "SET"}], "keys": {"space": 100000}},
              {"name": "GET", "clients": 50, "pipeline": p, "requests": n // 2,
               "start": "after-previous", "commands": [{"cmd": "GET"}],
               "keys": {"space": 100000}}]
        sc = Scenario.model_validate({"name": kind, "workloads": wl})
    else:
        sc = Scenario.model_validate({
            "name": kind, "model": {"loop": "fcfs"}, "network": {"rtt": 0},
            "costs": {"commands.default-us": 10.0, "commands.per-command-us": {},
                      "commands.distribution": "exponential"},
            "workloads": [{"type": "open", "rate": 80000, "requests": n, "clients": 1,
                           "commands": [{"cmd": "PING"}]}]})
    t = time.perf_counter()
    res = simulate(sc)
    wall = time.perf_counter() - t
    cmds = sum(c.calls for w in res.workloads for c in w.commands)
    return {"commands": cmds, "wall_s": wall, "sim_s": res.sim_time}


def naive_run(kind: str, n: int) -> dict:
    """One SimPy process per request and a Resource as the server (the textbook model)."""
    import random

    import simpy

    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    rnd = random.Random(1)
    lat: list[float] = []
    done = [0]
    if kind in ("a", "b"):
        p = 1 if kind == "a" else 16
        one_way, per_batch, per_cmd = 15e-6, 7.5e-6, 1e-6

        def request(env):
            t0 = env.now
            yield env.timeout(one_way)
            with server.request() as req:
                yield req
                yield env.timeout(per_batch / p + per_cmd)
            yield env.timeout(one_way)
            lat.append(env.now - t0)
            done[0] += 1

        def client(env, quota):
            while quota > 0:
                k = min(p, quota)
                quota -= k
                batch = [env.process(request(env)) for _ in range(k)]
                yield env.all_of(batch)

        for _ in range(50):
            env.process(client(env, n // 50))
    else:
        def request(env):
            t0 = env.now
            with server.request() as req:
                yield req
                yield env.timeout(rnd.expovariate(1 / 10e-6))
            lat.append(env.now - t0)
            done[0] += 1

        def source(env):
            for _ in range(n):
                yield env.timeout(rnd.expovariate(80000))
                env.process(request(env))

        env.process(source(env))
    t = time.perf_counter()
    env.run()
    wall = time.perf_counter() - t
    return {"commands": done[0], "wall_s": wall, "sim_s": env.now}


def child(model: str, kind: str, n: int) -> None:
    out = (naive_run if model == "naive" else redissim_run)(kind, n)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["cmd_per_wall_s"] = out["commands"] / out["wall_s"]
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.requests)
        return
    from redissim._compiled import is_compiled

    print(f"redissim build: {'compiled with mypyc' if is_compiled() else 'plain Python'}; "
          "redissim-py is the same code run from its Python source (REDISSIM_PURE=1)")
    rows = []
    for kind in ("a", "b", "c"):
        for model in ("redissim", "redissim-py", "naive"):
            env = dict(os.environ)
            if model == "redissim-py":
                env["REDISSIM_PURE"] = "1"
            out = subprocess.run([sys.executable, __file__, "--requests", str(args.requests),
                                  "--child", model, kind], capture_output=True, text=True,
                                 check=True, env=env)
            r = json.loads(out.stdout)
            rows.append((kind, model, r))
            print(f"({kind}) {model:<11} {r['commands']:>9} cmds  {r['wall_s']:7.2f} s wall  "
                  f"{r['cmd_per_wall_s']:>10,.0f} cmd/s  peak RSS {r['peak_rss_mb']:.0f} MB",
                  flush=True)
    for kind in ("a", "b", "c"):
        fast = next(r for k, m, r in rows if k == kind and m == "redissim")
        py = next(r for k, m, r in rows if k == kind and m == "redissim-py")
        slow = next(r for k, m, r in rows if k == kind and m == "naive")
        print(f"({kind}) speed-up over naive: {fast['cmd_per_wall_s'] / slow['cmd_per_wall_s']:.1f}x"
              f" (plain Python: {py['cmd_per_wall_s'] / slow['cmd_per_wall_s']:.1f}x)")


if __name__ == "__main__":
    main()
