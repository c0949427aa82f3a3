"""Crashes, power losses and disk errors: the data-loss table of reference section 4.2, run
through the whole engine (redissim/server/faults.py + persistence.py)."""

from __future__ import annotations

import pytest

from redissim.scenario import Scenario
from redissim.server.faults import attach_faults
from redissim.server.persistence import attach_persistence
from redissim.sim.engine import Simulation


def scenario(server: dict, faults: list[dict], *, duration: float = 4.0, rate: float = 4000,
             storage: dict | None = None, preload: int = 0, key_space: int = 200) -> Scenario:
    data = {
        "name": "fault-test", "seed": 7, "duration": duration,
        "server": server,
        "storage": storage or {"preset": "ssd"},
        "faults": faults,
        "workloads": [{"type": "open", "rate": rate, "clients": 8, "duration": duration,
                       "commands": [{"cmd": "INCR", "args": ["INCR", "counter"], "weight": 1},
                                    {"cmd": "SET", "weight": 1}],
                       "keys": {"space": key_space, "prefix": "k:"}}],
    }
    if preload:
        data["preload"] = {"keys": preload, "prefix": "pre", "value_size": 10}
    return Scenario.model_validate(data)


def run(sc: Scenario):
    sim = Simulation(sc)
    p = attach_persistence(sim)
    inj = attach_faults(sim, p)
    res = sim.run()
    assert inj is not None
    return sim, p, inj, res


NONE = {"appendonly": "no", "save": ""}
RDB_ONLY = {"appendonly": "no", "save": "1 1"}


def aof(policy: str) -> dict:
    return {"appendonly": "yes", "appendfsync": policy, "save": ""}


@pytest.mark.parametrize("kind", ["crash", "power-loss"])
def test_always_loses_no_acknowledged_write(kind):
    sim, p, inj, res = run(scenario(aof("always"), [{"at": 2.3, "kind": kind,
                                                     "restart_after": 0.2}]))
    rec = inj.records[0]
    assert rec.acked_writes > 1000
    assert rec.acked_writes_lost == 0 and rec.loss_window_s == 0.0
    assert rec.source == "aof"


def test_everysec_process_crash_loses_nothing():
    sim, p, inj, res = run(scenario(aof("everysec"), [{"at": 2.3, "kind": "crash",
                                                       "restart_after": 0.2}]))
    rec = inj.records[0]
    assert rec.acked_writes > 1000 and rec.acked_writes_lost == 0


def test_everysec_power_loss_loses_at_most_about_two_seconds():
    sim, p, inj, res = run(scenario(aof("everysec"), [{"at": 2.7, "kind": "power-loss",
                                                       "restart_after": 0.2}]))
    rec = inj.records[0]
    assert rec.acked_writes_lost > 0
    # the last fsync started when unixtime ticked to +2 (t = 2.0): ~0.7 s of writes lost
    assert 0.5 < rec.loss_window_s <= 2.0


def test_everysec_postponed_buffer_is_lost_on_crash_during_a_slow_fsync():
    """A 1.5 s fsync: writes are postponed in aof_buf while replies go out; kill -9 then
    loses acknowledged writes, but never more than ~2 s of them."""
    slow = {"preset": "hdd", "fsync_latency": "1500ms"}
    sim, p, inj, res = run(scenario(aof("everysec"), [{"at": 2.4, "kind": "crash",
                                                       "restart_after": 0.2}],
                                    storage=slow))
    rec = inj.records[0]
    assert rec.acked_writes_lost > 0
    assert rec.loss_window_s <= 2.0 + 0.05


def test_no_loses_nothing_on_crash():
    sim, p, inj, res = run(scenario(aof("no"), [{"at": 2.3, "kind": "crash",
                                                 "restart_after": 0.2}]))
    assert inj.records[0].acked_writes_lost == 0


def test_no_loses_up_to_the_writeback_interval_on_power_loss():
    # before the first kernel writeback (30 s dirty age): everything since the start
    sim, p, inj, res = run(scenario(aof("no"), [{"at": 3.0, "kind": "power-loss",
                                                 "restart_after": 0.2}], duration=3.5))
    rec = inj.records[0]
    assert rec.acked_writes_lost == rec.acked_writes > 0
    # later: the file was written back at ~35 s; only what came after is lost
    sim, p, inj, res = run(scenario(aof("no"), [{"at": 44.0, "kind": "power-loss",
                                                 "restart_after": 0.2}], duration=44.5,
                                    rate=300))
    rec = inj.records[0]
    assert 0 < rec.acked_writes_lost < rec.acked_writes
    assert 5.0 <= rec.loss_window_s <= 35.0 + 0.1


@pytest.mark.parametrize("kind", ["crash", "power-loss"])
def test_rdb_only_loses_everything_since_the_last_completed_snapshots_fork(kind):
    sim, p, inj, res = run(scenario(RDB_ONLY, [{"at": 3.55, "kind": kind,
                                                "restart_after": 0.2}], preload=100))
    rec = inj.records[0]
    assert rec.source == "rdb"
    t_snap, fork_seq = max((s for s in p.snapshots if s[0] <= 3.55), default=(0, 0))
    assert rec.recovered_seq == fork_seq > 0
    forks = [t for t, _, _ in p.forks if t < 3.55]
    # the snapshot that was on disk is the one forked at the latest fork whose child ended
    assert rec.acked_writes_lost > 0
    assert 0.4 < rec.loss_window_s < 3.0
    assert any(abs((3.55 - rec.loss_window_s) - f) < 0.05 for f in forks)


def test_a_crash_while_a_child_runs_kills_the_child():
    """The child of a BGSAVE under way when the process dies is gone with it: no dump.rdb
    from it, and the restart loads nothing (the compiled build once failed here, reading
    the server's child as still set after the child's yield)."""
    sc = Scenario.model_validate({
        "name": "crash-in-bgsave", "server": {"save": ""},
        "preload": {"keys": 20_000, "value-size": 1000},
        "faults": [{"at": 1.01, "kind": "crash", "restart-after": 0.5}],
        "workloads": [{"type": "script", "steps": [{"at": 1.0, "cmd": "BGSAVE"},
                                                   {"at": 2.0, "cmd": "DBSIZE"}]}]})
    sim = Simulation(sc)
    res = sim.run()
    assert [r["reply"] for r in res.workloads[0].records] == [
        "Background saving started", 0]
    p = sim.persistence
    assert len(p.forks) == 1 and p.child is None and p.snapshots == []


def test_no_persistence_loses_everything():
    sim, p, inj, res = run(scenario(NONE, [{"at": 2.0, "kind": "crash", "restart_after": 0.2}],
                                    preload=100, duration=2.5))
    rec = inj.records[0]
    assert rec.source == "none" and rec.keys_loaded == 0
    assert rec.acked_writes_lost == rec.acked_writes > 1000
    assert rec.loss_window_s == pytest.approx(2.0, abs=0.01)


def test_the_counter_restarts_from_what_was_durable():
    """The lesson's counter: after the restart INCR continues from the recovered value."""
    sim, p, inj, res = run(scenario(aof("everysec"), [{"at": 2.7, "kind": "power-loss",
                                                       "restart_after": 0.3}], duration=2.71))
    rec = inj.records[0]
    value = int(sim.keyspace.dbs[0].data[b"counter"])
    # every recovered change was one INCR or one SET, in the recovered prefix of the stream
    assert 0 < value < rec.recovered_seq < rec.seq_at_fault


def test_restart_waits_for_load_and_requests_wait_for_the_server():
    sim, p, inj, res = run(scenario(aof("everysec"), [{"at": 1.5, "kind": "crash",
                                                       "restart_after": 0.5}], preload=20000,
                                    duration=3.0))
    rec = inj.records[0]
    assert rec.keys_loaded >= 20000 and rec.load_time_s > 0.01
    assert rec.up_at == pytest.approx(1.5 + 0.5 + rec.load_time_s)
    # requests sent during the outage were answered later: the worst latency spans it
    worst = max(c.latency.max for c in res.workloads[0].commands)
    assert worst >= 0.5
    # and the server served again after the restart (its INFO counts from the restart)
    assert sim.loop.total_commands_processed > 4000 * (3.0 - rec.up_at)


def test_a_restarted_process_counts_its_info_stats_from_zero():
    sc = scenario(aof("everysec"), [{"at": 1.5, "kind": "crash", "restart_after": 0.2}],
                  duration=3.0)
    sim = Simulation(sc)
    p = attach_persistence(sim)
    inj = attach_faults(sim, p)
    assert inj is not None
    before: list[tuple[int, int]] = []
    kill = inj.kill

    def kill_and_note(t: float, kind: str, restart_after: float):
        before.append((sim.loop.total_commands_processed, sim.loop.eventloop_cycles))
        return kill(t, kind, restart_after)

    inj.kill = kill_and_note  # type: ignore[method-assign]
    res = sim.run()
    (cmds_before, cycles_before), = before
    stats = res.info["stats"]
    # The run's time series go on across the restart: per-interval rates never negative,
    # and their sum is every command processed, before the crash and after the restart, up
    # to the last sample (one interval before the end at most: 4000/s x interval).
    ops = res.series.column("ops_per_sec")
    assert min(ops) >= 0
    interval = res.series.interval
    sampled = round(sum(ops) * interval)
    assert cmds_before > 4000 * 1.4
    after = stats["total_commands_processed"]
    assert sampled <= cmds_before + after <= sampled + 1.5 * 4000 * interval
    assert 0 < after < sampled
    assert 0 < stats["eventloop_cycles"] < cycles_before


def test_disk_error_under_everysec_rejects_writes_with_misconf_then_recovers():
    sim, p, inj, res = run(scenario(aof("everysec"), [{"at": 0.5, "kind": "disk-error",
                                                       "restart_after": 1.0}], duration=4.0))
    st = res.extra["loop"].cmdstats
    rejected = sum(s.rejected_calls for s in st.values())
    assert rejected > 0
    assert p.aof_bio_fsync_ok        # fsyncs succeed again after the window
    assert not inj.down


def test_disk_error_under_always_makes_redis_exit():
    sim, p, inj, res = run(scenario(aof("always"), [{"at": 0.5, "kind": "disk-error",
                                                     "restart_after": 0.5}], duration=2.0))
    crashes = [r for r in inj.records if r.kind == "crash"]
    assert len(crashes) == 1 and "exit(1)" in crashes[0].note
    assert crashes[0].acked_writes_lost == 0


def test_summary_reports_the_run():
    sim, p, inj, res = run(scenario(NONE, [{"at": 1.0, "kind": "crash", "restart_after": 0.1}],
                                    duration=1.5))
    s = inj.summary()
    assert s["acked_writes"] >= s["acked_writes_lost"] > 0
    assert s["loss_window_s"] > 0.9 and len(s["faults"]) == 1
    # the report says whose INFO it prints: the restarted process's
    from redissim.report.summary import report_text

    up = s["faults"][0]["up_at"]
    assert f"# INFO (simulated server, restarted at {up:.3f} s: counters since then)" in \
        report_text(res)
