"""Persistence model, unit level: the AOF feed and flush rules, save points, BGSAVE & co.,
fork stall, copy-on-write, MISCONF, auto rewrite (redissim/server/persistence.py).

The Persistence object is driven directly (keyspace.execute then the loop hooks by hand) so
each rule is checked at exact times; test_persistence_sim.py runs it inside the engine."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from redissim.scenario import ServerConfig
from redissim.server.keyspace import Keyspace, Session
from redissim.server.persistence import (
    CONFIG_BGSAVE_RETRY_DELAY,
    GIB,
    MISCONF_RDB,
    PAGE_SIZE,
    Persistence,
    default_costs,
    parse_save,
    resp_size,
)
from redissim.server.resp import ReplyError
from redissim.sim.clock import EPOCH_S, unix_ms
from redissim.sim.devices import StorageDevice, device_spec


class FakeLoop:
    """What Persistence needs from the EventLoop when its hooks are called by hand."""

    def __init__(self) -> None:
        self.c_default = 1e-6
        self.before_command: list = []
        self.after_command = None
        self.propagate = None
        self.cron_hooks: list = []
        self.before_sleep_hooks: list = []
        self.reply_hooks: list = []
        self.info_providers: list = []
        self.cpu_accounts: list = []
        self.restart_hooks: list = []

    def add_before_command(self, hook, names=None) -> None:
        self.before_command.append(hook)

    def remove_before_command(self, hook) -> None:
        self.before_command.remove(hook)


class Conn:
    def __init__(self, cid: int = 0) -> None:
        self.id = cid
        self.out: list = []
        self.session = Session()


def make(server: dict | None = None, storage: dict | None = None, keys: int = 0,
         value_size: int = 10, track: bool = False, costs=None):
    env = simpy.Environment()
    ks = Keyspace()
    if keys:
        ks.populate(keys, "key", value_size)
    cfg = ServerConfig.model_validate(server or {})
    spec = device_spec(**(storage or {"preset": "ssd"}))
    import numpy as np
    dev = StorageDevice(env, spec, np.random.default_rng(1))
    p = Persistence(env, FakeLoop(), ks, cfg, dev, costs=costs, track=track)
    return env, ks, p


def run_cmd(ks: Keyspace, p: Persistence, conn: Conn, t: float, *args: bytes | str):
    """processCommand checks, execute, then the AOF feed, like the loop does."""
    t2, reply = p.before_command(conn, [a if isinstance(a, bytes) else a.encode()
                                        for a in args], t)
    if reply is not None:
        return t2, reply
    reply = ks.execute(list(args), unix_ms(t2), conn.session)
    p.after_command(conn, list(args), t2)
    return t2, reply


def encode(argv: list[bytes]) -> bytes:
    out = b"*%d\r\n" % len(argv)
    for a in argv:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


# ----------------------------------------------------------------------------- AOF feed
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=12))
@settings(max_examples=200, deadline=None)
def test_resp_size_is_the_length_of_the_resp_encoding(argv):
    assert resp_size(argv) == len(encode(argv))


def test_aof_size_grows_by_the_propagated_form_with_select_on_db_change():
    env, ks, p = make({"appendonly": "yes", "save": ""})
    c = Conn()
    run_cmd(ks, p, c, 0.01, "SET", "a", "1")
    run_cmd(ks, p, c, 0.01, "GET", "a")                    # reads feed nothing
    run_cmd(ks, p, c, 0.01, "SET", "b", "2", "EX", "100")  # propagated as SET b 2 PXAT ms
    expected = len(encode([b"SELECT", b"0"])) + len(encode([b"SET", b"a", b"1"]))
    pxat = str(unix_ms(0.01) + 100_000).encode()
    expected += len(encode([b"SET", b"b", b"2", b"PXAT", pxat]))
    assert p.aof_buf_len == expected
    p.flush(0.02)
    assert p.aof_current_size == expected and p.aof_buf_len == 0
    # a command in another db is preceded by SELECT
    c.session.db = 3
    run_cmd(ks, p, c, 0.03, "SET", "x", "y")
    assert p.aof_buf_len == len(encode([b"SELECT", b"3"])) + len(encode([b"SET", b"x", b"y"]))


def test_one_write_per_flush_group_commit():
    env, ks, p = make({"appendonly": "yes", "appendfsync": "no", "save": ""})
    c = Conn()
    for i in range(50):
        run_cmd(ks, p, c, 0.01, "SET", f"k{i}", "v")
    p.flush(0.02)
    p.flush(0.03)  # nothing left: no second write
    assert p.aof_writes == 1 and p.written_seq == 50


def test_always_blocks_the_loop_for_write_plus_fsync_and_makes_durable():
    env, ks, p = make({"appendonly": "yes", "appendfsync": "always", "save": ""},
                      {"preset": "ssd", "fsync_latency": "2ms", "write_latency": "0s"})
    c = Conn()
    run_cmd(ks, p, c, 0.5, "SET", "a", "1")
    t = p.flush(0.5)
    assert t >= 0.5 + 0.002
    assert p.durable_seq == p.written_seq == 1
    # a second flush right away queues behind nothing and again waits one fsync
    run_cmd(ks, p, c, t, "SET", "a", "2")
    t2 = p.flush(t)
    assert t2 - t >= 0.002


def test_everysec_fsyncs_at_most_once_per_second_in_the_background():
    env, ks, p = make({"appendonly": "yes", "appendfsync": "everysec", "save": ""},
                      {"preset": "ssd", "fsync_latency": "1ms"})
    c = Conn()
    starts = []
    for i in range(30):   # a write every 100 ms for 3 s
        t = 0.05 + i * 0.1
        env.run(until=t)
        run_cmd(ks, p, c, t, "SET", "a", str(i))
        before = p.aof_fsyncs + int(p.bio_fsync_pending)
        t_end = p.flush(t)
        assert t_end - t < 1e-4  # the main thread never waits for the disk
        if p.aof_fsyncs + int(p.bio_fsync_pending) > before:
            starts.append(t)
    # unixtime > aof_last_fsync: one fsync in each new wall-clock second (t=1.05, 2.05)
    assert [round(s, 2) for s in starts] == [1.05, 2.05]


def test_everysec_postponement_rule_and_delayed_fsync():
    """While a background fsync runs, the write is postponed; after >= 2 s it goes anyway
    and aof_delayed_fsync counts it (aof.c:flushAppendOnlyFile)."""
    env, ks, p = make({"appendonly": "yes", "appendfsync": "everysec", "save": ""},
                      {"preset": "hdd", "fsync_latency": "10s", "write_latency": "0s"})
    c = Conn()
    env.run(until=1.0)
    run_cmd(ks, p, c, 1.0, "SET", "a", "1")
    p.flush(1.0)                      # writes, starts the (10 s) background fsync
    assert p.bio_fsync_pending and p.aof_writes == 1
    run_cmd(ks, p, c, 1.2, "SET", "a", "2")
    p.flush(1.2)                      # fsync in progress: postponed, start remembered
    assert p.aof_writes == 1 and p.aof_flush_postponed_start == EPOCH_S + 1
    p.flush(2.9)                      # unixtime - start = 1 < 2: postponed again
    assert p.aof_writes == 1 and p.aof_buf_len > 0
    p.flush(3.0)                      # 2 s: write anyway, count a delayed fsync
    assert p.aof_writes == 2 and p.aof_delayed_fsync == 1 and p.aof_buf_len == 0


def test_no_appendfsync_on_rewrite_skips_fsync_while_a_child_runs():
    env, ks, p = make({"appendonly": "yes", "appendfsync": "always", "save": "",
                       "no-appendfsync-on-rewrite": "yes"}, keys=100)
    c = Conn()
    _, r = run_cmd(ks, p, c, 0.1, "BGSAVE")
    assert r == "Background saving started"
    run_cmd(ks, p, c, 0.1, "SET", "a", "1")
    fs = p.aof_fsyncs
    t = p.flush(0.1)
    assert p.aof_fsyncs == fs and t < 0.1 + 1e-4 and p.durable_seq < p.written_seq


# ----------------------------------------------------------------------------- save points
def test_parse_save_keeps_the_order():
    assert parse_save("3600 1 300 100 60 10000") == [(3600, 1), (300, 100), (60, 10000)]
    assert parse_save("") == []


def test_save_point_fires_exactly_when_unixtime_minus_lastsave_exceeds_seconds():
    env, ks, p = make({"save": "10 3"})
    c = Conn()
    for i in range(3):
        run_cmd(ks, p, c, 0.2, "SET", f"k{i}", "v")
    assert p.dirty == 3
    p.cron(10.999)   # unixtime - lastsave = 10, not > 10
    assert p.child is None
    p.cron(11.0)     # 11 > 10
    assert p.child is not None and p.saves_started[-1][2] == "save 10 3"


def test_save_point_needs_enough_changes():
    env, ks, p = make({"save": "10 3"})
    c = Conn()
    run_cmd(ks, p, c, 0.2, "SET", "a", "v")
    run_cmd(ks, p, c, 0.2, "SET", "b", "v")
    p.cron(50.0)
    assert p.child is None


def test_first_matching_save_point_in_config_order():
    env, ks, p = make({"save": "3600 1 300 100 60 10000"})
    c = Conn()
    for i in range(10_000):
        run_cmd(ks, p, c, 0.2, "SET", f"k{i}", "v")
    p.cron(60.9)
    assert p.child is None
    p.cron(61.0)
    assert p.saves_started[-1][2] == "save 60 10000"


def test_failed_bgsave_is_retried_only_after_the_retry_delay():
    env, ks, p = make({"save": "1 1"}, keys=10)
    c = Conn()
    run_cmd(ks, p, c, 0.1, "SET", "a", "v")
    p.disk_error_windows.append((0.0, 3.0))
    p.cron(2.0)
    assert p.child is not None
    env.run(until=2.5)           # the child's first chunk fails
    p.cron(2.5)
    assert p.child is None and not p.lastbgsave_status_ok
    try_s = p.lastbgsave_try
    assert try_s == EPOCH_S + 2
    p.cron(2.0 + CONFIG_BGSAVE_RETRY_DELAY + 0.5)   # unixtime - try = 5: not > 5
    assert p.child is None
    p.cron(2.0 + CONFIG_BGSAVE_RETRY_DELAY + 1.0)   # 6 > 5
    assert p.child is not None


# ----------------------------------------------------------------------------- commands
def test_bgsave_family_replies_and_errors():
    env, ks, p = make({"appendonly": "yes", "save": ""}, keys=100)
    c = Conn()
    _, r = run_cmd(ks, p, c, 0.1, "LASTSAVE")
    assert r == EPOCH_S
    _, r = run_cmd(ks, p, c, 0.1, "BGSAVE", "now")
    assert r == ReplyError("ERR syntax error")
    _, r = run_cmd(ks, p, c, 0.1, "LASTSAVE", "x")
    assert r == ReplyError("ERR wrong number of arguments for 'lastsave' command")
    _, r = run_cmd(ks, p, c, 0.1, "BGSAVE")
    assert r == "Background saving started"
    _, r = run_cmd(ks, p, c, 0.1, "BGSAVE")
    assert r == ReplyError("ERR Background save already in progress")
    _, r = run_cmd(ks, p, c, 0.1, "SAVE")
    assert r == ReplyError("ERR Background save already in progress")
    _, r = run_cmd(ks, p, c, 0.1, "BGREWRITEAOF")
    assert r == "Background append only file rewriting scheduled"
    env.run(until=1.0)
    p.cron(1.0)     # RDB child done; the scheduled rewrite starts at the next tick
    p.cron(1.1)
    assert p.child is not None and p.child.kind == "aof"
    _, r = run_cmd(ks, p, c, 1.1, "BGREWRITEAOF")
    assert r == ReplyError("ERR Background append only file rewriting already in progress")
    _, r = run_cmd(ks, p, c, 1.1, "BGSAVE")
    assert isinstance(r, ReplyError) and "Another child process is active" in str(r)
    _, r = run_cmd(ks, p, c, 1.1, "BGSAVE", "SCHEDULE")
    assert r == "Background saving scheduled"
    assert p.total_forks == 2


def test_save_is_synchronous_resets_dirty_and_sets_lastsave():
    env, ks, p = make({"save": "3600 1"}, {"preset": "hdd", "write_bandwidth_bps": "10mb",
                                           "fsync_latency": "10ms"}, keys=10_000,
                      value_size=100)
    c = Conn()
    run_cmd(ks, p, c, 4.0, "SET", "a", "1")
    t, r = run_cmd(ks, p, c, 4.0, "SAVE")
    assert r == "OK" and p.dirty == 0 and p.lastsave == EPOCH_S + int(t)
    # ~1.2 MB at 10 MB/s plus an fsync per 4 MB and a final one: the loop waited for it
    assert t - 4.0 > p.rdb_size() / p.device.spec.write_bandwidth_bps


def test_flushall_with_save_points_saves_and_clears_dirty():
    env, ks, p = make({"save": "3600 1"}, keys=10)
    c = Conn()
    run_cmd(ks, p, c, 1.0, "SET", "a", "1")
    run_cmd(ks, p, c, 2.0, "FLUSHALL")
    assert p.dirty == 0 and p.lastsave == EPOCH_S + 2


# ----------------------------------------------------------------------------- fork, COW
def test_fork_stall_is_proportional_to_used_memory():
    costs = default_costs().model_copy(update={"fork_ms_per_gb": 20.0, "fork_base_us": 0.0})
    stalls = []
    for keys in (20_000, 80_000):
        env, ks, p = make({"save": ""}, keys=keys, value_size=1000, costs=costs)
        used = p.used_memory()
        _, r = run_cmd(ks, p, Conn(), 0.1, "BGSAVE")
        stall = p.forks[0][1]
        assert stall == pytest.approx(20e-3 * used / GIB)
        assert p.latest_fork_usec == int(stall * 1e6)
        stalls.append((stall, used))
    (s1, u1), (s2, u2) = stalls
    assert s2 / s1 == pytest.approx(u2 / u1)
    assert 3.8 < u2 / u1 < 4.2   # 4x the keys of the same size


def test_used_memory_estimate_follows_memory_module():
    from redissim.server.memory import (
        EMPTY_SERVER_USED_MEMORY_DEBIAN_7_0_15,
        populate_used_memory,
    )
    env, ks, p = make({"save": ""}, keys=50_000, value_size=100)
    # DEBUG POPULATE's own accounting (memory.py) vs the sampled estimate
    expected = populate_used_memory(50_000, 100) + EMPTY_SERVER_USED_MEMORY_DEBIAN_7_0_15
    assert p.used_memory() == pytest.approx(expected, rel=0.02)


def test_cow_counts_distinct_pages_written_while_the_child_runs():
    env, ks, p = make({"save": ""}, keys=5_000, value_size=100)
    c = Conn()
    run_cmd(ks, p, c, 0.0, "SET", "key:1", "x" * 100)     # before the fork: no COW
    run_cmd(ks, p, c, 0.01, "BGSAVE")
    assert p.child_active and p.current_cow_size() == 0
    for _ in range(100):                                   # the same key: one page
        run_cmd(ks, p, c, 0.02, "SET", "key:1", "y" * 100)
    assert p.current_cow_size() == PAGE_SIZE
    for i in range(2, 400):
        run_cmd(ks, p, c, 0.02, "SET", f"key:{i}", "z" * 100)
    pages = len(p.child.cow_pages)
    assert 1 < pages <= 399 and p.current_cow_size() == pages * PAGE_SIZE
    run_cmd(ks, p, c, 0.02, "GET", "key:3000")             # reads touch no page
    assert len(p.child.cow_pages) == pages
    env.run(until=5.0)
    p.cron(5.0)
    assert not p.child_active and p.rdb_last_cow_size == pages * PAGE_SIZE


def test_big_values_span_several_pages():
    env, ks, p = make({"save": ""}, keys=1000, value_size=20_000)
    c = Conn()
    run_cmd(ks, p, c, 0.0, "BGSAVE")
    run_cmd(ks, p, c, 0.01, "SET", "key:5", "v" * 20_000)
    assert len(p.child.cow_pages) == 1 + 20_000 // PAGE_SIZE


def test_child_blocks_resizing_and_sets_child_active_until_done():
    env, ks, p = make({"save": ""}, keys=1000)
    run_cmd(ks, p, Conn(), 0.0, "BGSAVE")
    assert p.child_active and not ks.dbs[0].main.resize_allowed
    env.run(until=2.0)
    p.cron(2.0)
    assert not p.child_active and ks.dbs[0].main.resize_allowed
    assert p.lastsave == EPOCH_S + 2 and p.dirty == 0


def test_child_time_is_its_cpu_plus_writing_at_device_bandwidth():
    env, ks, p = make({"save": ""}, {"preset": "hdd", "write_latency": "0s",
                                     "fsync_latency": "0s", "write_bandwidth_bps": "20mb"},
                      keys=20_000, value_size=1000)
    run_cmd(ks, p, Conn(), 0.0, "BGSAVE")
    child = p.child
    # DEBUG POPULATE's zero-padded values compress ~60x; the CPU is the profile's figures
    c = p.costs
    assert child.nbytes < 20_000 * 1000 / 20
    assert child.cpu_s == pytest.approx(
        20_000 * c.rdb_save_per_key_us * 1e-6 + child.nbytes / 1024 * c.rdb_save_per_kb_us * 1e-6
        + 20_000 * 1000 / 1024 * c.lzf_matched_per_kb_us * 1e-6, rel=0.05)
    env.run(until=100.0)
    assert child.exited and child.ok
    dur = child.t_exit - child.t_start
    assert dur == pytest.approx(child.nbytes / p.device.spec.write_bandwidth_bps + child.cpu_s,
                                rel=1e-6)


# ----------------------------------------------------------------------------- MISCONF
def test_misconf_after_failed_bgsave_until_a_save_succeeds():
    env, ks, p = make({"save": "3600 1"}, keys=100)
    c = Conn()
    p.disk_error_windows.append((0.0, 1.0))
    run_cmd(ks, p, c, 0.1, "BGSAVE")
    env.run(until=0.5)
    p.cron(0.5)
    assert not p.lastbgsave_status_ok
    _, r = run_cmd(ks, p, c, 0.6, "SET", "a", "1")
    assert r is MISCONF_RDB
    _, r = run_cmd(ks, p, c, 0.6, "PING")
    assert r is MISCONF_RDB                                 # PING too (processCommand)
    _, r = run_cmd(ks, p, c, 0.6, "GET", "a")
    assert r is None                                        # reads are served
    _, r = run_cmd(ks, p, c, 0.6, "SET", "a")               # arity error comes first
    assert isinstance(r, ReplyError) and "wrong number" in str(r)
    assert ks.execute([b"GET", b"a"], unix_ms(0.6)) is None
    run_cmd(ks, p, c, 2.0, "BGSAVE")                        # the disk is fine again
    env.run(until=3.0)
    p.cron(3.0)
    assert p.lastbgsave_status_ok
    _, r = run_cmd(ks, p, c, 3.0, "SET", "a", "1")
    assert r == "OK"


def test_no_misconf_without_save_points_or_with_stop_writes_off():
    for server in ({"save": ""}, {"save": "3600 1", "stop-writes-on-bgsave-error": "no"}):
        env, ks, p = make(server, keys=10)
        p.lastbgsave_status_ok = False
        _, r = run_cmd(ks, p, Conn(), 0.1, "SET", "a", "1")
        assert r == "OK"


def test_misconf_aof_after_a_failed_background_fsync():
    env, ks, p = make({"appendonly": "yes", "save": ""})
    c = Conn()
    p.disk_error_windows.append((0.9, 1.5))
    env.run(until=1.0)
    run_cmd(ks, p, c, 1.0, "SET", "a", "1")
    p.flush(1.0)
    env.run(until=1.2)
    assert not p.aof_bio_fsync_ok
    _, r = run_cmd(ks, p, c, 1.2, "SET", "a", "2")
    assert r == ReplyError("MISCONF Errors writing to the AOF file: Input/output error")


# ----------------------------------------------------------------------------- rewrite
def test_auto_rewrite_on_growth_then_base_is_the_new_size():
    env, ks, p = make({"appendonly": "yes", "appendfsync": "no", "save": "",
                       "auto-aof-rewrite-min-size": "2kb",
                       "auto-aof-rewrite-percentage": 100}, keys=10)
    c = Conn()
    base = p.aof_rewrite_base_size
    assert base == p.aof_current_size > 0
    i = 0
    while p.aof_current_size <= max(2048, 2 * base):
        run_cmd(ks, p, c, 0.1, "SET", f"k{i}", "v" * 20)
        p.flush(0.1)
        i += 1
    p.cron(0.2)
    child = p.child
    assert child is not None and child.kind == "aof" and p.aof_rewrites == 1
    assert p.aof_last_incr_size == 0            # a new INCR file was opened
    run_cmd(ks, p, c, 0.2, "SET", "after", "1")
    p.flush(0.2)
    incr = p.aof_last_incr_size
    assert incr > 0
    env.run(until=2.0)
    p.cron(2.0)
    assert p.child is None and p.aof_lastbgrewrite_ok
    # the new BASE (RDB preamble of the dataset at the fork) plus the INCR written since
    assert p.aof_current_size == p.aof_rewrite_base_size == child.nbytes + incr
    assert child.nbytes < 2 * base + 2048


def test_info_fields_use_redis_names():
    env, ks, p = make({"appendonly": "yes"})
    info = p.info_fields()
    for name in ("rdb_changes_since_last_save", "rdb_bgsave_in_progress",
                 "rdb_last_bgsave_status", "rdb_last_cow_size", "aof_enabled",
                 "aof_current_size", "aof_delayed_fsync", "aof_pending_bio_fsync",
                 "aof_base_size", "aof_buffer_length", "rdb_last_save_time"):
        assert name in info["persistence"]
    assert set(info["stats"]) == {"latest_fork_usec", "total_forks"}


def test_costs_come_from_the_profile():
    from redissim.server.persistence import costs_from_profile
    prof = SimpleNamespace(persistence=SimpleNamespace(fork_ms_per_gb=7.5))
    assert costs_from_profile(prof).fork_ms_per_gb == 7.5
    assert default_costs().fork_ms_per_gb == 36.0  # profiles/default.yaml
