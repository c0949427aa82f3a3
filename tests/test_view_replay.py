"""The view's trace index (redissim/view/replay.py): what it says is on screen at time t."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redissim.sim import trace as tr
from redissim.view.demo_trace import demo_view_input, make_demo_trace
from redissim.view.model import Caption, ViewInput
from redissim.view.replay import (
    KEY_EVICTED,
    KEY_EXPIRED,
    KEY_NEVER,
    KEY_PRESENT,
    PHASES_ALL,
    IntervalIndex,
    Replay,
)


def _trace(events: list[tuple[float, str, int, object]]) -> tr.Trace:
    t = tr.Trace()
    for e in events:
        t.emit(*e)
    return t


@given(
    st.lists(
        st.tuples(st.floats(0, 100), st.floats(0, 50), st.booleans()), min_size=0, max_size=40
    ),
    st.lists(st.floats(-5, 160), min_size=1, max_size=20),
)
@settings(max_examples=150, deadline=None)
def test_interval_index_matches_brute_force(raw, probes):
    items = [(s, (s + d) if closed else math.inf, k) for k, (s, d, closed) in enumerate(raw)]
    idx = IntervalIndex(items)
    for t in probes:
        got = sorted(p for _s, _e, p in idx.active(t))
        want = sorted(k for s, e, k in items if s <= t < e)
        assert got == want


def test_interval_index_accepts_equal_times_with_uncomparable_payloads():
    a, b = object(), object()
    idx = IntervalIndex([(0.0, 1.0, a), (0.0, 1.0, b), (0.0, math.inf, a)])
    assert len(idx.active(0.5)) == 3 and len(idx.active(1.0)) == 1


def _closed_loop_trace(seed: int, n_clients: int, n_req: int, pipeline: int):
    """Clients that send `pipeline` batches, the server reads them, replies, repeat."""
    rng = random.Random(seed)
    ev = []
    for c in range(n_clients):
        t = rng.uniform(0, 5)
        for _ in range(n_req):
            sends = []
            for _p in range(pipeline):
                ev.append((t, tr.K_SEND, c, 1))
                sends.append(t)
                t += rng.uniform(0.01, 0.3)
            arrives = [s + rng.uniform(0.5, 2) for s in sends]
            arrives.sort()
            for a in arrives:
                ev.append((a, tr.K_ARRIVE, c, 1))
            r = arrives[-1] + rng.uniform(0, 3)
            ev.append((r, tr.K_READ, c, pipeline))
            w = r + rng.uniform(0.1, 1)
            ev.append((w, tr.K_WRITE, c, 10))
            for _p in range(pipeline):
                rv = w + rng.uniform(0.5, 2)
                ev.append((rv, tr.K_RECV, c, 1))
                w = rv
            t = w + rng.uniform(0.1, 2)
    ev.sort(key=lambda e: e[0])
    return ev


@pytest.mark.parametrize("pipeline", [1, 3])
def test_request_tokens_match_raw_event_counts(pipeline):
    ev = _closed_loop_trace(7, n_clients=4, n_req=15, pipeline=pipeline)
    rp = Replay(ViewInput(trace=_trace(ev)))
    rng = random.Random(1)
    end = ev[-1][0]
    for _ in range(300):
        t = rng.uniform(0, end)
        sends = sum(1 for e in ev if e[1] == tr.K_SEND and e[0] <= t)
        arrives = sum(1 for e in ev if e[1] == tr.K_ARRIVE and e[0] <= t)
        recvs = sum(1 for e in ev if e[1] == tr.K_RECV and e[0] <= t)
        assert len(rp.net_out.active(t)) == sends - arrives
        assert len(rp.waiting.active(t)) == sends - recvs
    assert len(rp.latencies) == 4 * 15 * pipeline
    assert (rp.latencies > 0).all()


def test_request_latency_is_recv_minus_send():
    ev = [
        (0.0, tr.K_SEND, 1, 1), (1.0, tr.K_ARRIVE, 1, 1), (2.0, tr.K_READ, 1, 1),
        (3.0, tr.K_WRITE, 1, 5), (4.5, tr.K_RECV, 1, 1),
    ]
    rp = Replay(ViewInput(trace=_trace(ev)))
    assert rp.latencies.tolist() == [4.5]
    assert len(rp.sock_queue.active(1.5)) == 1
    assert len(rp.sock_queue.active(2.0)) == 0
    assert len(rp.net_back.active(3.5)) == 1
    assert rp.completed_count(4.4) == 0 and rp.completed_count(4.5) == 1
    assert rp.latency_percentiles(10.0) == [4.5, 4.5]
    assert all(math.isnan(v) for v in rp.latency_percentiles(1.0))


def test_a_reply_waits_unread_until_the_clients_loop_gets_to_it():
    """client-read-share: K_CLIENT_READ ends the latency (as the run's histograms count it)
    and, between the reply's arrival and it, the reply is unread."""
    ev = [
        (0.0, tr.K_SEND, 1, 1), (1.0, tr.K_ARRIVE, 1, 1), (2.0, tr.K_READ, 1, 1),
        (3.0, tr.K_WRITE, 1, 5), (4.5, tr.K_RECV, 1, 1), (6.0, tr.K_CLIENT_READ, 1, 1),
    ]
    rp = Replay(ViewInput(trace=_trace(ev)))
    assert rp.latencies.tolist() == [6.0]
    assert len(rp.waiting.active(4.0)) == 1 and len(rp.unread.active(4.0)) == 0
    assert len(rp.waiting.active(5.0)) == 0 and len(rp.unread.active(5.0)) == 1
    assert len(rp.unread.active(6.0)) == 0
    assert rp.completed_count(5.9) == 0 and rp.completed_count(6.0) == 1


def test_the_view_counts_latencies_as_the_run_does_with_a_client_loop():
    from redissim.scenario import load_scenario
    from redissim.sim.engine import simulate

    sc, _ = load_scenario("quickstart", ["workloads.0.requests=3000",
                                         "workloads.1.requests=3000"])
    res = simulate(sc, trace=True)
    rp = Replay(ViewInput.from_result(res))
    run = [c.latency.mean for w in res.workloads for c in w.commands]
    assert len(rp.latencies) == 6000
    assert rp.latencies.mean() == pytest.approx(sum(run) / len(run), rel=1e-6)
    assert any(rp.unread.active(t) for t in np.linspace(0.01, rp.end_t, 20))


def test_keys_states_hits_and_lazy_expiry():
    ev = [
        (0.0, tr.K_TOUCH, -1, "a"),
        (0.0, tr.K_TOUCH, -1, "b"),
        (1.0, tr.K_EXEC, 1, ("GET", "a", 1e-6)),   # hit
        (1.0, tr.K_TOUCH, -1, "a"),
        (2.0, tr.K_EXEC, 1, ("GET", "zz", 1e-6)),  # miss: never existed
        (3.0, tr.K_EXEC, 1, ("GET", "b", 1e-6)),   # found dead: lazy expiry -> miss
        (3.0, tr.K_EXPIRE, -1, "b"),
        (4.0, tr.K_EVICT, -1, ("a", ("a", "c", "d"))),
        (5.0, tr.K_EXEC, 1, ("GET", "a", 1e-6, True)),  # engine's own flag wins
        (6.0, tr.K_EXEC, 1, ("SET", "c", 1e-6)),
        (6.0, tr.K_TOUCH, -1, "c"),
    ]
    rp = Replay(ViewInput(trace=_trace(ev)))
    assert rp.hit_ratio(0.5) == (0, 0)
    assert rp.hit_ratio(1.0) == (1, 0)
    assert rp.hit_ratio(2.5) == (1, 1)
    assert rp.hit_ratio(3.5) == (1, 2)
    assert rp.hit_ratio(5.0) == (2, 2)
    assert rp.key_state("a", 0.5) == (KEY_PRESENT, 0.0)
    assert rp.key_state("a", 1.5) == (KEY_PRESENT, 1.0)
    assert rp.key_state("b", 3.0) == (KEY_EXPIRED, 3.0)
    assert rp.key_state("a", 4.0) == (KEY_EVICTED, 4.0)
    assert rp.key_state("c", 5.0)[0] == KEY_NEVER
    assert rp.live.at(0.0) == 2 and rp.live.at(3.0) == 1 and rp.live.at(4.0) == 0
    assert rp.live.at(6.0) == 1
    assert rp.evictions_between(3.9, 4.0) == [(4.0, "a", ("a", "c", "d"))]
    assert rp.evicted_count(10) == 1 and rp.expire_count.at(10) == 1
    # Keys named only as sampled candidates still get a cell.
    assert "d" in rp.key_order


def test_memory_from_key_bytes_and_from_samples():
    ev = [(0.0, tr.K_TOUCH, -1, "a"), (1.0, tr.K_TOUCH, -1, "b"), (2.0, tr.K_EXPIRE, -1, "a")]
    rp = Replay(ViewInput(trace=_trace(ev), key_bytes=100))
    assert [rp.used_memory(t) for t in (0.5, 1.5, 2.5)] == [100, 200, 100]
    rp2 = Replay(ViewInput(trace=_trace(ev), memory=[(0.0, 10), (1.0, 50)]))
    assert rp2.used_memory(0.9) == 10 and rp2.used_memory(1.0) == 50
    assert Replay(ViewInput(trace=_trace(ev))).used_memory(1.0) is None


def test_persistence_aof_fsync_fork_and_cow():
    ev = [
        (0.0, tr.K_TOUCH, -1, "k0"),
        (1.0, tr.K_AOF_WRITE, -1, 100),
        (2.0, tr.K_FSYNC_START, -1, None),
        (2.5, tr.K_AOF_WRITE, -1, 50),
        (3.0, tr.K_FSYNC_END, -1, None),
        (4.0, tr.K_FORK, -1, 0.5),
        (5.0, tr.K_EXEC, 1, ("SET", "k0", 1e-6)),
        (5.5, tr.K_EXEC, 1, ("SET", "k0", 1e-6)),  # same page: copied once
        (6.0, tr.K_SNAPSHOT, -1, 0.5),
        (7.0, tr.K_SNAPSHOT, -1, 1.0),
        (8.0, tr.K_EXEC, 1, ("SET", "k0", 1e-6)),  # after the child: no copy
    ]
    rp = Replay(ViewInput(trace=_trace(ev)))
    assert rp.aof_bytes(0.5) == 0 and rp.aof_bytes(1.0) == 100 and rp.aof_bytes(3) == 150
    assert rp.last_aof_write(2.6) == (2.5, 50)
    assert rp.fsync_active(2.2) == (2.0, 3.0) and rp.fsync_active(3.0) is None
    # Before the fsync completes everything is at risk; after it, what came after its start.
    assert rp.unsynced_bytes(2.9) == 150 and rp.unsynced_bytes(3.0) == 50
    assert rp.fsync_count(3.0) == 1
    assert rp.child_at(3.9) is None
    assert rp.child_at(4.2) == (0, 4.0, 0.0)
    assert rp.child_at(6.5) == (0, 4.0, 0.5)
    assert rp.child_at(7.0) is None
    assert rp.cow_pages(0, 5.2) == [0] and rp.cow_pages(0, 4.9) == []
    assert rp.phase_at(4.2) == ("fork", -1)
    assert rp.phase_at(4.6)[0] != "fork"


def test_postgres_stage_intervals_and_query_latency():
    ev = []
    t = 0.0
    for _q in range(3):
        start = t
        for name in ("parse", "plan", "buffer_cache", "disk", "index", "result"):
            ev.append((t, tr.K_PG_STAGE, 9, (name, "enter")))
            t += 1.0
            ev.append((t, tr.K_PG_STAGE, 9, (name, "leave")))
        del start
        t += 0.5
    rp = Replay(ViewInput(trace=_trace(ev)))
    assert rp.pg_stages[:6] == ["parse", "plan", "buffer cache", "disk", "index", "result"]
    act = rp.pg_active(2.5)
    assert [(c, s) for _a, _b, c, s in act] == [(9, "buffer cache")]
    assert rp.pg_done(6.0) == 1 and rp.pg_done(100) == 3
    assert rp.pg_p50(100) == pytest.approx(6.0)


def test_captions_resolve_at_time_kind_and_command():
    ev = [(1.0, tr.K_EXEC, 1, ("GET", "a", 1e-6)), (2.0, tr.K_EXEC, 1, ("KEYS", "*", 1e-3)),
          (3.0, tr.K_EVICT, -1, ("a", ())), (4.0, tr.K_NOTE, -1, "crash!")]
    caps = [Caption("hello", at=0.5), Caption("keys", on="exec:KEYS"),
            Caption("evict", on="evict", hold_s=0.5), Caption("never", on="fork")]
    rp = Replay(ViewInput(trace=_trace(ev), captions=caps))
    assert rp.caption_at(0.1) is None
    assert rp.caption_at(0.7) == "hello"
    assert rp.caption_at(2.0) == "keys"
    assert rp.caption_at(3.2) == "evict"
    assert rp.caption_at(3.6) is None  # hold ran out
    assert rp.caption_at(4.1) == "crash!"
    assert rp.unresolved_captions == ["never"]
    assert rp.notable_times == [2.0, 3.0, 4.0]
    with pytest.raises(ValueError):
        Caption("bad")


def test_vectorised_phases_agree_with_scalar():
    rp = Replay(demo_view_input(seed=3, duration_s=0.03))
    rng = np.random.default_rng(0)
    ts = np.sort(rng.uniform(0, 0.03, 400))
    codes = rp.phase_codes(ts)
    assert [PHASES_ALL[c] for c in codes] == [rp.phase_at(float(t))[0] for t in ts]
    assert set(codes.tolist()) >= {0, 1, 2, 4}


def test_demo_trace_is_deterministic_and_complete():
    a = make_demo_trace(seed=5, duration_s=0.04)
    b = make_demo_trace(seed=5, duration_s=0.04)
    c = make_demo_trace(seed=6, duration_s=0.04)
    assert a.events == b.events and a.events != c.events
    kinds = {e[1] for e in a.events}
    for k in (tr.K_SEND, tr.K_ARRIVE, tr.K_READ, tr.K_EXEC, tr.K_WRITE, tr.K_RECV, tr.K_ITER,
              tr.K_CRON, tr.K_BEFORE_SLEEP, tr.K_IDLE, tr.K_TOUCH, tr.K_EVICT, tr.K_EXPIRE,
              tr.K_AOF_WRITE, tr.K_FSYNC_START, tr.K_FSYNC_END, tr.K_FORK, tr.K_SNAPSHOT,
              tr.K_PG_STAGE):
        assert k in kinds, k


def test_vectorised_key_states_agree_with_scalar():
    rp = Replay(demo_view_input(seed=2, duration_s=0.03))
    n = len(rp.key_order)
    for t in np.linspace(0.0, 0.03, 25):
        states, lasts = rp.key_states(n, float(t))
        for i, key in enumerate(rp.key_order):
            s, last = rp.key_state(key, float(t))
            assert states[i] == s
            if s != KEY_NEVER:
                assert lasts[i] == last
    assert {KEY_PRESENT, KEY_EVICTED, KEY_EXPIRED} <= set(rp.key_states(n, 0.03)[0].tolist())


def test_without_keyspace_events_commands_stand_in_for_touches():
    ev = [(1.0, tr.K_EXEC, 1, ("get", "a", 1e-6)),   # miss: not yet written
          (2.0, tr.K_EXEC, 1, ("set", "a", 1e-6)),
          (3.0, tr.K_EXEC, 1, ("get", "a", 1e-6))]   # hit, touches
    rp = Replay(ViewInput(trace=_trace(ev)))
    assert rp.touches_from_commands and not rp.hits_known
    assert rp.key_state("a", 0.5)[0] == KEY_NEVER
    assert rp.key_state("a", 1.5) == (KEY_PRESENT, 1.0)  # read of a (maybe preloaded) key
    assert rp.key_state("a", 2.5) == (KEY_PRESENT, 2.0)
    assert rp.key_state("a", 3.5) == (KEY_PRESENT, 3.0)
    assert rp.hit_ratio(4.0) == (0, 0)  # unknown without keyspace events: not guessed
    with_touch = Replay(ViewInput(trace=_trace(ev + [(3.0, tr.K_TOUCH, -1, "b")])))
    assert not with_touch.touches_from_commands and with_touch.hits_known
    assert with_touch.hit_ratio(4.0) == (0, 2)  # a and b never touched: both reads missed
    assert with_touch.key_state("a", 3.5)[0] == KEY_NEVER


def test_view_input_from_an_engine_result():
    from types import SimpleNamespace

    trace = _trace([(0.0, tr.K_SEND, 3, 1), (1.0, tr.K_EVICT, -1, ("k", ()))])
    scen = SimpleNamespace(name="demo", server=SimpleNamespace(hz=10), captions=[
        SimpleNamespace(text="first eviction", at=None, event="evict"),
        SimpleNamespace(text="start", at=0.0, event=None)])
    info = {"server": {"hz": 20}, "memory": {"maxmemory": 1000, "maxmemory_policy": "allkeys-lfu"},
            "persistence": {"aof_enabled": 1}}
    res = SimpleNamespace(trace=trace, client_labels={3: "Worker"}, info=info, scenario=scen)
    vi = ViewInput.from_result(res)
    assert vi.title == "demo" and vi.client_labels == {3: "Worker"}
    assert vi.settings.hz == 20 and vi.settings.maxmemory == 1000
    assert vi.settings.maxmemory_policy == "allkeys-lfu" and vi.settings.appendonly
    rp = Replay(vi)
    assert rp.caption_at(0.5) == "start" and rp.caption_at(1.0) == "first eviction"
    with pytest.raises(ValueError):
        ViewInput.from_result(SimpleNamespace(trace=None))


def test_truncated_trace_ends_at_the_loops_last_event():
    t = tr.Trace(limit=4)
    for e in [(0.0, tr.K_ITER, -1, 1), (0.5, tr.K_SEND, 1, 1), (9.0, tr.K_SEND, 2, 1),
              (1.0, tr.K_EXEC, 1, ("GET", "a", 1e-6)), (2.0, tr.K_ITER, -1, 0)]:
        t.emit(*e)
    assert t.truncated
    assert ViewInput(trace=t).end_time() == 1.0
    assert ViewInput(trace=t, duration_s=5.0).end_time() == 5.0
    full = _trace([(0.0, tr.K_ITER, -1, 1), (9.0, tr.K_SEND, 2, 1)])
    assert ViewInput(trace=full).end_time() == 9.0


def test_dbsize_of_a_preloaded_dataset_from_the_series_or_the_end():
    """The grid shows only keys the trace touched; the footer's count is DBSIZE: from the
    metrics series (5,000 preloaded keys, 3 touched), or, for a run shorter than one
    sampling interval, from INFO keyspace at its end."""
    import os

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    import pygame

    from redissim.scenario import Scenario
    from redissim.sim.engine import simulate
    from redissim.view.scene import Scene

    def run(steps: list[dict]) -> ViewInput:
        sc = Scenario.model_validate({"name": "d", "preload": {"keys": 5000},
                                      "workloads": [{"type": "script", "steps": steps}]})
        return ViewInput.from_result(simulate(sc, trace=True))

    vi = run([{"at": 0, "cmd": "GET key:1"}, {"at": "0.25s", "cmd": "DEL key:2"},
              {"at": "0.35s", "cmd": "GET key:3"}])
    rp = Replay(vi)
    assert vi.dbsize is not None and len(vi.dbsize) >= 3
    assert rp.dbsize(0.0) == 5000 and rp.dbsize(0.34) == 4999
    pygame.init()
    scene = Scene(vi)
    stats = scene.render(pygame.Surface(scene.size), 0.32, speed=1e-3)
    assert stats["dbsize_shown"] == 4999

    short = run([{"at": 0, "cmd": "DEL key:7"}])
    assert short.dbsize is not None and [n for _, n in short.dbsize] == [4999]


def test_refusals_are_shown_handled_and_mget_hits_follow_its_first_key():
    """A command refused before it runs (a cluster's CROSSSLOT) is in the trace as handled,
    by its error code, and is neither a hit nor a miss; an MGET is a hit when its first key
    (the one shown) was found, not whenever it returns an array."""
    from redissim.scenario import Scenario
    from redissim.sim.engine import simulate

    sc = Scenario.model_validate({"name": "x", "cluster": {"masters": 1}, "workloads": [
        {"type": "script", "steps": [
            {"at": 0, "cmd": "SET {t}a 1"}, {"at": 0.001, "cmd": "MGET {t}a {t}b"},
            {"at": 0.002, "cmd": "MGET {t}b {t}a"}, {"at": 0.003, "cmd": "MGET a b"}]}]})
    res = simulate(sc, trace=True)
    execs = [e[3] for e in res.trace.events if e[1] == tr.K_EXEC]
    assert [x[0] for x in execs] == ["set", "mget", "mget", "mget -CROSSSLOT"]
    assert [x[3] for x in execs[1:]] == [True, False, False]
    rp = Replay(ViewInput.from_result(res))
    assert rp.hit_ratio(1.0) == (1, 1)  # (hits, misses): the refusal is neither


def test_the_loop_shows_it_is_being_woken_while_a_request_waits():
    """One client: every request reaches a sleeping server, which runs network.wakeup (20 us)
    after its bytes arrive. In that window the loop panel says it is being woken; while it
    sleeps with nothing in, it does not."""
    import os

    os.environ["SDL_VIDEODRIVER"] = "dummy"
    import pygame

    from redissim.scenario import Scenario
    from redissim.sim.engine import simulate
    from redissim.view.scene import Scene

    sc = Scenario.model_validate({"name": "one", "workloads": [{
        "clients": 1, "requests": 20, "commands": [{"cmd": "GET"}]}]})
    vi = ViewInput.from_result(simulate(sc, trace=True))
    rp = Replay(vi)
    r = rp.requests[5]
    # (read: after the wake-up, the iteration's and the wake-up's CPU and the read itself)
    assert r.t_read - r.t_arrive > 20e-6
    scene = Scene(vi)
    surf = pygame.Surface(scene.size)
    assert rp.phase_at(r.t_arrive + 10e-6)[0] == "epoll_wait"
    assert scene.render(surf, r.t_arrive + 10e-6, speed=1e-3)["loop_waking"] == 1
    assert scene.render(surf, r.t_arrive - 1e-6, speed=1e-3)["loop_waking"] == 0


def test_the_child_of_each_fork_is_a_snapshot_or_an_aof_rewrite():
    """A BGSAVE's child writes dump.rdb; CONFIG SET appendonly yes forks a rewrite, which the
    view titles as such; one killed by appendonly no stops running at the kill."""
    from redissim.scenario import Scenario
    from redissim.sim.engine import simulate

    steps = [(0.1, "BGSAVE"), (1.0, "CONFIG SET appendonly yes"),
             (1.01, "CONFIG SET appendonly no"), (2.0, "BGREWRITEAOF"), (2.5, "PING")]
    sc = Scenario.model_validate({
        "name": "children", "server": {"save": ""},
        "preload": {"keys": 20_000, "value-size": 1000},
        "workloads": [{"type": "script", "steps": [{"at": a, "cmd": c} for a, c in steps]}]})
    res = simulate(sc, trace=True)
    rp = Replay(ViewInput.from_result(res))
    assert [rp.is_rewrite(i) for i in range(len(rp.forks))] == [False, True, True]
    assert rp.child_at(0.1 + 1e-3)[0] == 0
    assert rp.child_at(1.0 + 5e-3)[0] == 1  # (left alone, it would run ~30 ms)
    assert rp.child_at(1.01 + 1e-3) is None  # killed
    assert rp.child_at(2.0 + 1e-3)[0] == 2
