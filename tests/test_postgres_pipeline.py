"""The simulated PostgreSQL pipeline (redissim/postgres/pipeline.py) end to end."""

from __future__ import annotations

import copy
import heapq
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import simpy

from redissim.postgres import STAGES, PostgresConfig, PostgresServer, QueryResult, load_profile
from redissim.postgres.pipeline import TooManyConnections
from redissim.sim import trace as tr
from redissim.sim.devices import StorageDevice, device_spec
from redissim.theory.erlang import MMc

PROFILE = load_profile()


def build(cfg: dict[str, Any] | None = None, profile: dict[str, Any] | None = None,
          seed: int = 1, trace: tr.Trace | None = None,
          device: str = "nvme") -> tuple[simpy.Environment, PostgresServer]:
    env = simpy.Environment()
    config = PostgresConfig.model_validate(cfg or {})
    dev = StorageDevice(env, device_spec(device), np.random.default_rng(seed + 1000))
    return env, PostgresServer(env, config, profile or PROFILE, np.random.default_rng(seed),
                               dev, trace)


def closed_loop(env: simpy.Environment, server: PostgresServer, clients: int, per_client: int,
                kind: Callable[[int], str] = lambda i: "select_pk", prepared: bool = True,
                keys: Callable[[np.random.Generator], int] | None = None,
                seed: int = 7) -> list[QueryResult]:
    """``clients`` connections each issuing ``per_client`` queries back to back."""
    out: list[QueryResult] = []
    rows = server.config.table.rows

    def client(c: int):  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(seed * 1000 + c)
        for i in range(per_client):
            key = keys(rng) if keys else int(rng.integers(0, rows))
            r = yield from server.query(c, kind(i), key, prepared)  # type: ignore[arg-type]
            out.append(r)

    for c in range(clients):
        env.process(client(c))
    env.run(until=env.now + 3600)
    return out


def only_stage_profile(stage: str, mean_us: float, dist: str = "exp") -> dict[str, Any]:
    p = copy.deepcopy(PROFILE)
    for k in p["cpu"]:
        p["cpu"][k] = {"mean_us": 0.0}
    p["os_cache_copy"] = {"mean_us": 0.0}
    p["cpu"][stage] = {"mean_us": mean_us, "dist": dist}
    return p


# ---- time accounting ---------------------------------------------------------------------


@pytest.mark.parametrize("cfg", [
    {"cache_state": "warm", "cores": 2},
    {"cache_state": "cold", "cores": 1, "shared_buffers": "1mb", "os_cache": "4mb"},
    {"cache_state": "cold", "cores": 2, "pool_size": 2, "table": {"rows": 5000}},
    {"cache_state": "warm", "cores": 4, "synchronous_commit": False},
])
@pytest.mark.parametrize("prepared", [True, False])
def test_stage_times_add_up_to_response_time(cfg: dict[str, Any], prepared: bool) -> None:
    env, s = build({"table": {"rows": 200_000}, **cfg})
    res = closed_loop(env, s, clients=6, per_client=60, prepared=prepared,
                      kind=lambda i: "update_pk" if i % 4 == 0 else "select_pk")
    assert len(res) == 360
    for r in res:
        assert set(r.stages) == set(STAGES)
        assert all(v >= 0 for v in r.stages.values())
        assert sum(r.stages.values()) == pytest.approx(r.response_s, rel=1e-9, abs=1e-12)
        assert r.disk_time_s <= r.stages["index"] + r.stages["heap"] + 1e-12
        assert r.buffer_hits + r.os_cache_hits + r.disk_reads == s.table.depth + 1
    # server-side aggregates agree with the per-query results
    assert s.queries == 360 and s.xact_commit == 360
    assert sum(s.stage_totals.values()) == pytest.approx(sum(r.response_s for r in res))
    assert s.blks_hit + s.blks_read == 360 * (s.table.depth + 1)
    b = s.breakdown()
    assert sum(b[k] for k in STAGES) == pytest.approx(b["response_s"])
    assert b["buffer_hits"] + b["os_cache_hits"] + b["disk_reads"] == pytest.approx(
        s.table.depth + 1)
    assert b["disk_time_s"] == pytest.approx(np.mean([r.disk_time_s for r in res]))


def test_prepared_skips_parse_and_plans_until_generic() -> None:
    env, s = build({"table": {"rows": 10_000}})
    res = closed_loop(env, s, clients=1, per_client=8, prepared=True)
    assert [r.plan_kind for r in res] == ["custom"] * 5 + ["generic-build", "generic", "generic"]
    assert res[0].stages["parse"] > 0 and all(r.stages["parse"] == 0 for r in res[1:])
    assert all(r.stages["plan"] == 0 for r in res[6:])
    env2, s2 = build({"table": {"rows": 10_000}})
    simple = closed_loop(env2, s2, clients=1, per_client=8, prepared=False)
    assert all(r.stages["parse"] > 0 and r.stages["plan"] > 0 for r in simple)
    # simple protocol costs parse + analyze + plan more per statement than a generic plan
    extra = np.mean([r.response_s for r in simple[6:]]) - np.mean([r.response_s for r in res[6:]])
    cpu = PROFILE["cpu"]
    expect = (cpu["parse"]["mean_us"] + cpu["analyze"]["mean_us"] + cpu["plan"]["mean_us"]
              - cpu["bind"]["mean_us"]) * 1e-6
    assert extra == pytest.approx(expect, rel=0.5)


# ---- caches ------------------------------------------------------------------------------


def hit_ratio_after_warmup(shared_buffers: str, rows: int) -> float:
    env, s = build({"table": {"rows": rows}, "shared_buffers": shared_buffers,
                    "cache_state": "cold", "os_cache": "1gb"})
    closed_loop(env, s, clients=2, per_client=3000)
    h0, r0 = s.blks_hit, s.blks_read
    closed_loop(env, s, clients=2, per_client=3000, seed=8)
    return (s.blks_hit - h0) / ((s.blks_hit - h0) + (s.blks_read - r0))


def test_hit_ratio_goes_to_one_when_table_fits_and_falls_when_not() -> None:
    rows = 20_000   # heap 328 pages + index 57 pages ~ 3 MB
    fits = hit_ratio_after_warmup("8mb", rows)
    half = hit_ratio_after_warmup("1600kb", rows)
    small = hit_ratio_after_warmup("800kb", rows)
    assert fits == 1.0
    assert small < half < 0.95
    # the index's upper levels stay cached (usage counts), so even the small pool keeps
    # the hit ratio above the share of heap pages it can hold
    assert small > 0.5


def test_cold_start_reads_every_page_of_the_path_from_disk_once() -> None:
    env, s = build({"table": {"rows": 1_000_000}, "cache_state": "cold"}, device="ssd")
    out: list[QueryResult] = []

    def proc():  # type: ignore[no-untyped-def]
        out.append((yield from s.query(0, "select_pk", 123_456, True)))
        out.append((yield from s.query(0, "select_pk", 123_456, True)))

    env.process(proc())
    env.run(until=10)
    first, second = out
    assert first.disk_reads == 4 and first.buffer_hits == 0       # depth 3 + heap
    assert first.disk_time_s > 4 * 50e-6                           # 4 SSD reads (~100 us each)
    assert second.buffer_hits == 4 and second.disk_reads == 0 and second.disk_time_s == 0
    assert second.response_s < first.response_s / 5
    assert s.device.stats.reads == 4


def test_os_cache_serves_misses_when_shared_buffers_are_small() -> None:
    env, s = build({"table": {"rows": 100_000}, "shared_buffers": "256kb", "os_cache": "1gb",
                    "cache_state": "warm"})
    res = closed_loop(env, s, clients=2, per_client=500)
    assert s.blks_read > 0 and s.os_cache_hits == s.blks_read and s.disk_reads == 0
    assert sum(r.os_cache_hits for r in res) == s.os_cache_hits


def test_concurrent_misses_on_one_page_issue_one_read() -> None:
    env, s = build({"table": {"rows": 1000}, "cache_state": "cold", "cores": 4},
                   device="hdd")
    res = closed_loop(env, s, clients=4, per_client=1, keys=lambda rng: 5)
    assert s.device.stats.reads == s.table.depth + 1
    assert sum(r.disk_reads for r in res) == s.table.depth + 1
    assert all(r.disk_time_s > 5e-3 for r in res)   # everybody waited for the HDD


# ---- CPU scaling and the M/M/c anchor ----------------------------------------------------


def throughput(cores: int, clients: int = 8, pool: int | None = None) -> float:
    cfg: dict[str, Any] = {"table": {"rows": 100_000}, "cores": cores}
    if pool:
        cfg["pool_size"] = pool
    env, s = build(cfg)
    res = closed_loop(env, s, clients=clients, per_client=400)
    return len(res) / max(r.end_s for r in res)


def test_throughput_grows_with_cores_until_cpu_bound() -> None:
    x = {c: throughput(c) for c in (1, 2, 4, 8, 16)}
    assert x[2] / x[1] > 1.9 and x[4] / x[2] > 1.9 and x[8] / x[4] > 1.8
    # 8 clients cannot use more than 8 cores: the curve flattens
    assert x[16] / x[8] == pytest.approx(1.0, rel=0.02)
    # one core, always busy: throughput = 1 / (CPU per query)
    env, s = build({"table": {"rows": 100_000}, "cores": 1})
    res = closed_loop(env, s, clients=8, per_client=400)
    end = max(r.end_s for r in res)
    assert s.core_busy_s[0] / end == pytest.approx(1.0, rel=1e-6)
    # a pool of 2 backends caps a 4-core machine at 2 cores' worth
    assert throughput(4, pool=2) == pytest.approx(x[2], rel=0.05)


def open_loop(c: int, lam: float, mu: float, n: int, seed: int,
              pool: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson arrivals, one exponential CPU stage (all other costs zero), a fresh
    connection per query. Returns arrival times, service times and waits."""
    prof = only_stage_profile("executor", 1e6 / mu, "exp")
    cfg: dict[str, Any] = {"table": {"rows": 1000}, "max_connections": 100_000}
    # c cores and a backend per connection, or a pool of c backends on plenty of cores
    cfg.update({"cores": 4 * c, "pool_size": c} if pool else {"cores": c})
    env, s = build(cfg, profile=prof, seed=seed)
    arrivals, services, waits = np.empty(n), np.empty(n), np.empty(n)
    gaps = np.random.default_rng(seed + 1).exponential(1.0 / lam, n)

    def one(i: int):  # type: ignore[no-untyped-def]
        arrivals[i] = env.now
        r = yield from s.query(i, "select_pk", i % 1000, True)
        services[i] = r.stages["executor"]
        waits[i] = r.stages["cpu_wait"] + r.stages["pool_wait"]
        assert r.response_s == pytest.approx(waits[i] + services[i], abs=1e-12)
        s.disconnect(i)

    def source():  # type: ignore[no-untyped-def]
        for i in range(n):
            yield env.timeout(gaps[i])
            env.process(one(i))

    env.process(source())
    env.run(until=float(gaps.sum()) + 1.0)   # the OS-cache flusher never ends by itself
    return arrivals, services, waits


def fcfs_waits(arrivals: np.ndarray, services: np.ndarray, c: int) -> np.ndarray:
    """Waiting times in a FCFS queue with c identical servers (Kiefer-Wolfowitz)."""
    free = [0.0] * c
    out = np.empty(len(arrivals))
    for i, (a, sv) in enumerate(zip(arrivals.tolist(), services.tolist(), strict=True)):
        f = heapq.heappop(free)
        start = a if a > f else f
        out[i] = start - a
        heapq.heappush(free, start + sv)
    return out


@pytest.mark.parametrize(("c", "pool"), [(2, False), (4, True)])
def test_backend_pool_is_an_fcfs_c_server_queue(c: int, pool: bool) -> None:
    """Per query, the simulated wait equals the wait of an independent FCFS c-server queue
    fed the same arrivals and service times: the pool (or the cores) is exactly M/M/c."""
    mu = 1.0 / 50e-6
    arrivals, services, waits = open_loop(c, 0.7 * c * mu, mu, n=30_000, seed=3, pool=pool)
    assert services.mean() == pytest.approx(50e-6, rel=0.03)
    assert (waits > 0).mean() > 0.3                     # the queue really formed
    np.testing.assert_allclose(waits, fcfs_waits(arrivals, services, c), rtol=0, atol=1e-12)


@pytest.mark.parametrize("c", [2, 4])
def test_fcfs_c_server_queue_matches_erlang_c(c: int) -> None:
    """...and that queue's mean wait is Erlang C's (theory.md: Wq = C(c, a)/(c mu - lam)).
    2 M customers put the estimate's error near 0.5 % (measured across seeds)."""
    mu, lam, n = 1.0, 0.7 * c, 2_000_000
    rng = np.random.default_rng(c)
    w = fcfs_waits(np.cumsum(rng.exponential(1 / lam, n)), rng.exponential(1 / mu, n), c)
    w = w[n // 10:]
    q = MMc(c, lam, mu)
    assert w.mean() == pytest.approx(q.wq, rel=0.02)
    assert (w > 0).mean() == pytest.approx(q.p_wait, rel=0.01)


# ---- writes: WAL, group commit, row locks -----------------------------------------------


def test_group_commit_shares_fsyncs_under_concurrency() -> None:
    env, s = build({"table": {"rows": 100_000}, "cores": 4}, device="ssd")
    closed_loop(env, s, clients=16, per_client=40, kind=lambda i: "update_pk")
    assert s.xact_commit == 640 and s.wal.commits_flushed == 640
    assert s.wal.wal_sync < 640 / 4                   # several commits per fdatasync
    env1, s1 = build({"table": {"rows": 100_000}, "cores": 4}, device="ssd")
    res = closed_loop(env1, s1, clients=1, per_client=40, kind=lambda i: "update_pk")
    assert s1.wal.wal_sync == 40                      # alone: one fsync per commit
    assert all(r.stages["wal_flush"] >= 0.5 * 1.5e-3 * 0.2 for r in res)
    assert s1.wal.wal_bytes == 40 * (PROFILE["wal"]["update_record_bytes"]
                                     + PROFILE["wal"]["commit_record_bytes"])


def test_synchronous_commit_off_does_not_wait_for_fsync() -> None:
    env, s = build({"table": {"rows": 1000}, "synchronous_commit": False,
                    "wal_writer_delay": "200ms"}, device="hdd")
    res = closed_loop(env, s, clients=1, per_client=20, kind=lambda i: "update_pk")
    assert all(r.stages["wal_flush"] == 0 for r in res)
    assert max(r.response_s for r in res) < 1e-3
    assert s.wal.flushed_lsn == s.wal.insert_lsn      # the walwriter caught up by t=3600


def test_updates_of_one_row_serialise_on_the_row_lock() -> None:
    env, s = build({"table": {"rows": 1000}, "cores": 4}, device="hdd")
    res = closed_loop(env, s, clients=3, per_client=1, kind=lambda i: "update_pk",
                      keys=lambda rng: 42)
    res.sort(key=lambda r: r.end_s)
    assert res[0].stages["lock_wait"] == 0
    assert res[1].stages["lock_wait"] > 0 and res[2].stages["lock_wait"] > 0
    # each waiter is released only after the previous holder's commit was flushed
    assert s.wal.wal_sync == 3


def test_dirty_buffers_evicted_by_backends_are_counted() -> None:
    env, s = build({"table": {"rows": 50_000}, "shared_buffers": "256kb",
                    "cache_state": "cold"})
    closed_loop(env, s, clients=2, per_client=400, kind=lambda i: "update_pk")
    assert s.buffers.buffers_backend > 0
    # written to the kernel by the backends, then to the device by the flusher after 30 s
    assert 0 < s.os_cache.stats.writeback_pages <= s.buffers.buffers_backend
    assert not s.os_cache.dirty and s.device.stats.writes > s.wal.wal_write


# ---- misc --------------------------------------------------------------------------------


def test_trace_stage_events_are_balanced() -> None:
    trace = tr.Trace()
    env, s = build({"table": {"rows": 10_000}}, trace=trace)
    closed_loop(env, s, clients=2, per_client=10, prepared=False)
    evs = [e for e in trace.events if e[1] == tr.K_PG_STAGE]
    assert evs
    depth: dict[int, list[str]] = {}
    for _t, _k, c, (stage, what) in evs:
        stack = depth.setdefault(c, [])
        if what == "enter":
            stack.append(stage)
        else:
            assert stack.pop() == stage
    assert all(not v for v in depth.values())
    names = {e[3][0] for e in evs}
    assert {"parse", "analyze", "plan", "index", "heap", "send"} <= names
    times = [e[0] for e in evs if e[2] == 0]
    assert times == sorted(times)


def test_too_many_connections() -> None:
    env, s = build({"table": {"rows": 100}, "max_connections": 2})
    errors: list[Exception] = []

    def one(c: int):  # type: ignore[no-untyped-def]
        try:
            yield from s.query(c, "select_pk", 1, True)
        except TooManyConnections as e:
            errors.append(e)

    for c in range(3):
        env.process(one(c))
    env.run(until=1)
    assert len(errors) == 1 and s.numbackends == 2


def test_same_seed_same_results() -> None:
    def run() -> list[float]:
        env, s = build({"table": {"rows": 50_000}, "shared_buffers": "512kb"}, seed=11)
        res = closed_loop(env, s, clients=3, per_client=100,
                          kind=lambda i: "update_pk" if i % 3 == 0 else "select_pk")
        return [r.response_s for r in res]

    assert run() == run()


def test_idle_server_schedules_nothing_so_run_ends() -> None:
    env, s = build({"table": {"rows": 1000}, "synchronous_commit": False})
    out: list[QueryResult] = []

    def one():  # type: ignore[no-untyped-def]
        out.append((yield from s.query(0, "update_pk", 3, True)))

    env.process(one())
    env.run()                      # walwriter and page-cache flusher exit when caught up
    assert out and s.wal.flushed_lsn == s.wal.insert_lsn
    assert env.now < 60.0
