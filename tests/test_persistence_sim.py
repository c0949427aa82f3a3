"""Persistence inside the engine: fsync policies against throughput and latency, the fork
stall in the latency of concurrent requests, save points during a run, INFO persistence."""

from __future__ import annotations

import pytest

from redissim.scenario import Scenario
from redissim.server.faults import attach_faults
from redissim.server.persistence import MISCONF_RDB, attach_persistence
from redissim.sim.engine import Simulation


def build(server: dict, *, storage: dict | None = None, duration: float = 0.5,
          clients: int = 20, commands: list | None = None, preload: dict | None = None,
          extra_workloads: list | None = None, think: float = 0.0) -> Scenario:
    data = {
        "name": "persistence-sim", "seed": 3, "duration": duration,
        "server": server, "storage": storage or {"preset": "ssd"},
        "workloads": [{"clients": clients, "duration": duration, "think-time": think,
                       "commands": commands or [{"cmd": "SET"}],
                       "keys": {"space": 10000}}] + (extra_workloads or []),
    }
    if preload:
        data["preload"] = preload
    return Scenario.model_validate(data)


def run(sc: Scenario):
    sim = Simulation(sc)
    p = attach_persistence(sim)
    attach_faults(sim, p)
    return sim, p, sim.run()


def stats(res, label: str = "SET") -> tuple[float, float, float]:
    wl = res.workloads[0]
    c = next(c for c in wl.commands if c.label == label)
    return c.throughput_rps, c.latency.percentile(99), c.latency.min


def test_throughput_and_p99_ordered_no_everysec_always():
    out = {}
    for policy in ("no", "everysec", "always"):
        sim, p, res = run(build({"appendonly": "yes", "appendfsync": policy, "save": ""}))
        out[policy] = stats(res)
    (r_no, p99_no, _), (r_es, p99_es, _), (r_al, p99_al, _) = \
        out["no"], out["everysec"], out["always"]
    assert r_no >= r_es * 0.98 and r_es > 3 * r_al
    assert p99_no <= p99_es * 1.02 and p99_es < p99_al


def test_always_latency_is_bounded_below_by_the_fsync_latency():
    dev = {"preset": "ssd", "fsync_latency": "2ms"}
    sim, p, res = run(build({"appendonly": "yes", "appendfsync": "always", "save": ""},
                            storage=dev))
    _, p99, lat_min = stats(res)
    assert lat_min >= 0.002
    assert p.aof_fsyncs > 50


def test_attach_costs_nothing_without_persistence():
    sc = build({"appendonly": "no", "save": ""})
    sim = Simulation(sc)  # the engine attaches persistence itself
    p = sim.persistence
    loop = sim.loop
    # only the BGSAVE/SAVE/... watcher (beside CONFIG's and maxmemory's hooks): no AOF
    # feed, no cron, no beforeSleep, no reply hook
    assert len(loop.before_command) == 3
    # and neither runs before GET or SET: the per-command path has no hook to call
    assert loop._hooks_for(b"GET") == () and loop._hooks_for(b"set") == ()
    assert len(loop._hooks_for(b"bgsave")) == 1 and len(loop._hooks_for(b"MEMORY")) == 1
    assert loop.after_command is None and loop.propagate is None and loop.reply_hooks == []
    assert not any(getattr(h, "__self__", None) is p
                   for h in [*loop.cron_hooks, *loop.before_sleep_hooks])
    assert attach_persistence(sim) is p  # idempotent
    t, r = sim.loop.before_command[-1](None, [b"GET", b"k"], 0.0)
    assert r is None and p.total_forks == 0
    # the first BGSAVE plugs the whole model in
    t, r = sim.loop.before_command[-1](None, [b"BGSAVE"], 0.0)
    assert r == "Background saving started" and p.child_active
    assert p.cron in sim.loop.cron_hooks
    # and sees every command from now on, after maxmemory's accounting
    assert loop.propagate is p


def test_fork_stall_shows_in_the_latency_of_concurrent_requests():
    preload = {"keys": 100_000, "value_size": 2000, "prefix": "key"}
    script = {"type": "script", "steps": [{"at": 0.3, "cmd": "BGSAVE"}]}
    sim, p, res = run(build({"save": ""}, duration=0.6, commands=[{"cmd": "GET"}],
                            preload=preload, extra_workloads=[script]))
    assert p.total_forks == 1
    t_fork, stall, used = p.forks[0]
    assert used > 200_000_000
    assert stall == pytest.approx(p.costs.fork_ms_per_gb * 1e-3 * used / 1024**3
                                  + p.costs.fork_base_us * 1e-6)
    # a GET that arrived during the fork waited for it
    _, _, _ = stats(res, "GET")
    worst = max(c.latency.max for c in res.workloads[0].commands)
    assert worst >= stall
    assert res.info["stats"]["latest_fork_usec"] == int(stall * 1e6)
    assert res.info["stats"]["total_forks"] == 1


def test_save_point_fires_at_the_first_cron_tick_after_the_rule_holds():
    sim, p, res = run(build({"save": "2 100"}, duration=3.5, clients=2, think=0.001))
    t, kind, reason = p.saves_started[0]
    # unixtime - lastsave > 2 first holds at t = 3.0 (whole seconds); cron runs every 100 ms
    assert reason == "save 2 100" and 3.0 <= t < 3.0 + 0.1 + 1e-3
    assert res.info["persistence"]["rdb_bgsave_in_progress"] in (0, 1)


def test_a_save_point_fires_with_the_aof_on_too():
    """serverCron's AOF-rewrite check right after a save point forked: the compiled build
    once took the child to be absent there (mypy's narrowing) and raised a TypeError."""
    sim, p, res = run(build({"appendonly": "yes", "save": "2 100"}, duration=3.5, clients=2,
                            think=0.001))
    assert [reason for _, _, reason in p.saves_started] == ["save 2 100"]
    assert res.info["persistence"]["aof_enabled"] == 1


def test_info_persistence_in_a_run():
    sim, p, res = run(build({"appendonly": "yes", "appendfsync": "everysec", "save": ""},
                            duration=1.5, think=0.001))
    info = res.info["persistence"]
    assert info["aof_enabled"] == 1
    assert info["aof_current_size"] > 1000
    assert info["aof_delayed_fsync"] == 0
    assert info["rdb_changes_since_last_save"] == p.dirty > 0


def test_trace_has_the_persistence_events_the_view_reads():
    from redissim.sim import trace as tr
    preload = {"keys": 2000, "value_size": 100, "prefix": "key"}
    script = {"type": "script", "steps": [{"at": 0.2, "cmd": "BGSAVE"}]}
    sc = build({"appendonly": "yes", "appendfsync": "always", "save": ""}, duration=0.4,
               clients=2, preload=preload, extra_workloads=[script])
    sim = Simulation(sc, trace=True)
    p = attach_persistence(sim)
    res = sim.run()
    kinds = {e[1] for e in res.trace.events}
    assert {tr.K_AOF_WRITE, tr.K_FSYNC_START, tr.K_FSYNC_END, tr.K_FORK,
            tr.K_SNAPSHOT} <= kinds
    forks = [e for e in res.trace.events if e[1] == tr.K_FORK]
    assert len(forks) == 1 and forks[0][3] == pytest.approx(p.forks[0][1])
    written = sum(e[3] for e in res.trace.events if e[1] == tr.K_AOF_WRITE)
    assert written == p.aof_current_size - p.aof_rewrite_base_size


def test_fork_uses_the_engines_memory_accounting_and_flags_the_child():
    preload = {"keys": 20_000, "value_size": 500, "prefix": "key"}
    script = {"type": "script", "steps": [{"at": 0.1, "cmd": "BGSAVE"}]}
    sc = build({"save": "", "maxmemory": "1gb", "maxmemory-policy": "allkeys-lru"},
               duration=0.2, clients=2, think=0.001, preload=preload,
               extra_workloads=[script])
    sim = Simulation(sc)
    p = attach_persistence(sim)
    seen = []
    sim.loop.cron_hooks.append(lambda t: (seen.append(sim.memory.child_active), t)[1])
    sim.run()
    assert sim.memory.tracking and p.used_memory() == sim.memory.used_memory()
    assert p.forks[0][2] == pytest.approx(sim.memory.used_memory(), rel=0.05)
    assert True in seen  # the eviction code saw the child (no LRU updates meanwhile)


def test_misconf_check_is_plugged_in_while_a_save_fails_and_out_after():
    """Through the event loop: the MISCONF check, which runs before every command only while
    the last background save failed, rejects writes and PING, serves reads, and goes again
    after a successful save."""
    steps = [("0.0s", "SET a 1"), ("0.1s", "BGSAVE"), ("0.8s", "SET a 2"), ("0.8s", "PING"),
             ("0.8s", "GET a"), ("2.0s", "BGSAVE"), ("3.0s", "SET a 3"), ("3.0s", "GET a")]
    sc = Scenario.model_validate({
        "name": "misconf", "seed": 1, "server": {"save": "3600 1"},
        "workloads": [{"type": "script", "steps": [{"at": a, "cmd": c} for a, c in steps]}]})
    sim = Simulation(sc)
    sim.persistence.disk_error_windows.append((0.0, 1.0))
    replies = [r["reply"] for r in sim.run().workloads[0].records]
    misconf = {"error": str(MISCONF_RDB)}
    assert replies == ["OK", "Background saving started", misconf, misconf, "1",
                       "Background saving started", "OK", "3"]
    assert sim.persistence.misconf_check not in sim.loop.before_command


@pytest.mark.parametrize("save,slow", [("3600 1", True), ("", False)])
def test_flushall_waits_for_its_foreground_save_only_with_save_points(save, slow):
    """flushAllDataAndResetRDB: with save points, rdbSave of the emptied dataset (write and
    fsync on the main thread) before the reply; without them, no save."""
    sc = Scenario.model_validate({
        "name": "flushall", "server": {"save": save},
        "storage": {"preset": "hdd", "fsync_latency": "10ms"},
        "workloads": [{"type": "script", "steps": [{"at": 0, "cmd": "SET a 1"},
                                                   {"at": 0.01, "cmd": "FLUSHALL"},
                                                   {"at": 0.1, "cmd": "DBSIZE"}]}]})
    sim, p, res = run(sc)
    recs = res.workloads[0].records
    assert [r["reply"] for r in recs] == ["OK", "OK", 0]
    flush = recs[1]["latency_ms"]
    if slow:
        assert flush >= 10.0 and p.rdb_saves == 1
    else:
        assert flush < 1.0 and p.rdb_saves == 0


@pytest.mark.parametrize("aof", ["no", "yes"])
@pytest.mark.parametrize("args, saves", [("", 1), (" SYNC", 1), (" async", 1),
                                         (" now", 0), (" sync sync", 0)])
def test_flushall_with_a_syntax_error_does_not_save(args, saves, aof):
    """getFlushCommandFlags rejects the arguments before flushAllDataAndResetRDB: no save,
    no wait, the data stays."""
    sc = Scenario.model_validate({
        "name": "flushall", "server": {"save": "3600 1", "appendonly": aof},
        "storage": {"preset": "hdd", "fsync_latency": "10ms"},
        "workloads": [{"type": "script", "steps": [{"at": 0, "cmd": "SET a 1"},
                                                   {"at": 0.01, "cmd": "FLUSHALL" + args},
                                                   {"at": 0.1, "cmd": "DBSIZE"}]}]})
    sim, p, res = run(sc)
    recs = res.workloads[0].records
    assert p.rdb_saves == saves
    assert (recs[1]["latency_ms"] >= 10.0) == bool(saves)
    assert recs[2]["reply"] == 1 - saves
