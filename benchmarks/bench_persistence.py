"""Persistence benchmarks, run by hand (not in CI):

1. simulated commands per second and latency of a write-heavy workload (redis-benchmark -t set
   -c 50 -r 1000000, no pipelining) under each appendfsync policy, on SSD and HDD, plus the
   simulator's own speed (simulated commands per wall-clock second);
2. the crash table of scenarios/crash.yaml: throughput, p99 and acknowledged writes lost;
3. scenarios/fork-stall.yaml: the fork stall, the latency around it, copy-on-write.

    .venv/bin/python benchmarks/bench_persistence.py [policies|crash|power|fork] ...

Until the engine calls attach_persistence/attach_faults itself, this script attaches them.
"""

from __future__ import annotations

import sys
import time

from redissim.scenario import Scenario, load_scenario, variant_scenario
from redissim.server.faults import attach_faults
from redissim.server.persistence import attach_persistence
from redissim.sim.engine import Simulation


def run(sc: Scenario):
    sim = Simulation(sc)
    p = attach_persistence(sim)
    inj = attach_faults(sim, p)
    t0 = time.perf_counter()
    res = sim.run()
    return sim, p, inj, res, time.perf_counter() - t0


def policies() -> None:
    print("## write-heavy workload (SET, 50 clients, P=1, 1M keys), 2 s simulated")
    print(f"{'config':<22}{'storage':<8}{'sim rps':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'fsyncs':>8}{'wall s':>8}{'cmds/wall-s':>13}")
    for storage in ("ssd", "hdd"):
        for cfg in ("off", "no", "everysec", "always"):
            server = {"save": ""}
            if cfg != "off":
                server.update({"appendonly": "yes", "appendfsync": cfg})
            sc = Scenario.model_validate({
                "name": "bench", "seed": 1, "duration": 2.0, "server": server,
                "storage": {"preset": storage},
                "workloads": [{"clients": 50, "duration": 2.0, "commands": [{"cmd": "SET"}],
                               "keys": {"space": 1_000_000}}]})
            sim, p, _, res, wall = run(sc)
            c = res.workloads[0].commands[0]
            n = sim.loop.total_commands_processed
            print(f"{'appendfsync ' + cfg if cfg != 'off' else 'no persistence':<22}"
                  f"{storage:<8}{c.throughput_rps:>10.0f}{c.latency.percentile(50) * 1e3:>9.3f}"
                  f"{c.latency.percentile(99) * 1e3:>9.3f}{p.aof_fsyncs:>8}{wall:>8.1f}"
                  f"{n / wall:>13.0f}")


def crash(kind: str = "crash") -> None:
    overrides = [f"faults.0.kind={kind}"]
    base, data = load_scenario("crash", overrides)
    if kind != "crash":  # a power loss also shows appendfsync no's writeback window
        from redissim.scenario import Variant
        base.variants.insert(3, Variant(name="no/ssd", set={
            "server.appendonly": True, "server.appendfsync": "no"}))
    print(f"## scenarios/crash.yaml with faults.0.kind={kind} at t = 30 s, restart after 1 s")
    print(f"{'variant':<15}{'rps':>8}{'p99 ms':>9}{'acked':>9}{'lost':>9}{'window s':>10}"
          f"{'loaded':>8}{'keys':>8}{'counter':>9}{'wall s':>8}")
    for v in base.variants:
        sc = variant_scenario(data, v, "crash")
        sim, p, inj, res, wall = run(sc)
        rps = sum(c.throughput_rps for w in res.workloads for c in w.commands)
        p99 = max(c.latency.percentile(99) for w in res.workloads for c in w.commands)
        rec = inj.records[0]
        counter = sim.keyspace.dbs[0].data.get(b"counter", b"-").decode()
        print(f"{v.name:<15}{rps:>8.0f}{p99 * 1e3:>9.2f}{rec.acked_writes:>9}"
              f"{rec.acked_writes_lost:>9}{rec.loss_window_s:>10.2f}{rec.source:>8}"
              f"{rec.keys_loaded:>8}{counter:>9}{wall:>8.1f}")


def fork() -> None:
    base, data = load_scenario("fork-stall")
    print("## scenarios/fork-stall.yaml: BGSAVE at t = 3 s of a 4 GB dataset")
    for v in base.variants:
        sc = variant_scenario(data, v, "fork-stall")
        sim, p, _, res, wall = run(sc)
        t_fork, stall, used = p.forks[0]
        ser = res.series
        p99s = ser.column("p99_ms")
        rows = [(round(t, 2), round(v, 2)) for t, v in zip(ser.t, p99s, strict=True)
                if t_fork - 0.15 <= t <= t_fork + 0.25]
        info = res.info["persistence"]
        print(f"[{v.name}] used_memory {used / 1e9:.2f} GB, fork stall {stall * 1e3:.1f} ms, "
              f"latest_fork_usec {res.info['stats']['latest_fork_usec']}, "
              f"rdb_bgsave_in_progress {info['rdb_bgsave_in_progress']}, "
              f"current_cow_size {info['current_cow_size'] / 1e6:.1f} MB, "
              f"rdb_last_cow_size {info['rdb_last_cow_size'] / 1e6:.1f} MB, "
              f"child bytes {p.rdb_size() / 1e9:.2f} GB, wall {wall:.1f} s")
        traffic = [c for w in res.workloads if w.type != "script" for c in w.commands]
        worst = max(c.latency.max for c in traffic)
        p99 = max(c.latency.percentile(99) for c in traffic)
        p999 = max(c.latency.percentile(99.9) for c in traffic)
        print(f"    traffic: max latency {worst * 1e3:.1f} ms, p99 {p99 * 1e3:.2f} ms, "
              f"p99.9 {p999 * 1e3:.2f} ms")
        print("    p99_ms series around the fork (t, p99 ms):", rows)


if __name__ == "__main__":
    what = sys.argv[1:] or ["policies", "crash", "power", "fork"]
    for w in what:
        {"policies": policies, "crash": crash, "power": lambda: crash("power-loss"),
         "fork": fork}[w]()
        print()
