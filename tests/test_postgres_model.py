"""PostgreSQL model parts on their own: B-tree geometry, shared_buffers clock-sweep, plan
cache, config and the cost profile file."""

from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from redissim.postgres.backend import Backend
from redissim.postgres.btree import (
    TableGeometry,
    btree_depth,
    heap_rows_per_page,
    internal_capacity,
    leaf_capacity,
)
from redissim.postgres.buffers import BM_MAX_USAGE_COUNT, NoUnpinnedBuffers, SharedBuffers
from redissim.postgres.config import PostgresConfig
from redissim.postgres.profile import CPU_STAGES, CostProfile, CostSampler, load_profile

# ---- B-tree ----------------------------------------------------------------------------


def test_page_capacities_match_reference_8_4() -> None:
    assert leaf_capacity(4) == 367
    assert internal_capacity(4) == 285


@pytest.mark.parametrize(("rows", "depth"), [
    (1, 1), (367, 1), (368, 2), (100_000, 2), (367 * 285, 2), (367 * 285 + 1, 3),
    (10_000_000, 3), (30_000_000 - 200_000, 3), (367 * 285**2 + 1, 4),
    (8_000_000_000, 4), (367 * 285**3 + 1, 5),
])
def test_btree_depth_at_reference_row_counts(rows: int, depth: int) -> None:
    # reference 8.4: <= ~367 rows -> 1 level; <= ~100 k -> 2; <= ~30 M -> 3; <= ~8 G -> 4
    assert btree_depth(rows) == depth


def test_pgbench_scale_10_geometry_matches_measured_relation_sizes() -> None:
    # benchmarks/RESULTS.md (first run, before any UPDATE): pgbench -s 10 -> heap 134 299 648 B,
    # pkey 22 487 040 B, root level 2
    g = TableGeometry("pgbench_accounts", 1_000_000, row_width=97)
    assert heap_rows_per_page(97) == 61
    assert g.heap_pages * 8192 == 134_299_648
    assert g.index_pages * 8192 == pytest.approx(22_487_040, rel=0.01)
    assert g.depth == 3


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 50_000_000), st.data())
def test_index_path_is_a_root_to_leaf_descent(rows: int, data: st.DataObject) -> None:
    g = TableGeometry("t", rows, 100)
    k1 = data.draw(st.integers(0, rows - 1))
    k2 = data.draw(st.integers(0, rows - 1))
    p1, p2 = g.index_path(k1), g.index_path(k2)
    assert len(p1) == g.depth
    assert p1[0] == p2[0]                                 # one root
    assert len({b for _, b in p1}) == g.depth              # one page per level
    if k1 // leaf_capacity() == k2 // leaf_capacity():
        assert p1 == p2                                   # same leaf, same path
    else:
        assert p1[-1] != p2[-1]
    assert g.heap_page(k1)[1] < g.heap_pages
    assert all(1 <= b < g.index_pages for _, b in p1)


def test_out_of_range_key_rejected() -> None:
    g = TableGeometry("t", 10, 100)
    with pytest.raises(KeyError):
        g.index_path(10)
    with pytest.raises(KeyError):
        g.heap_page(-1)


# ---- shared_buffers ------------------------------------------------------------------


def test_usage_count_capped_at_five() -> None:
    sb = SharedBuffers(4)
    lk = sb.lookup("a")
    sb.unpin(lk.buf)
    for _ in range(10):
        sb.unpin(sb.lookup("a").buf)
    assert sb.usage[lk.buf] == BM_MAX_USAGE_COUNT
    assert sb.blks_read == 1 and sb.blks_hit == 10


def test_clock_sweep_spares_used_buffers_and_pinned_ones() -> None:
    sb = SharedBuffers(3)
    for t in "abc":
        sb.unpin(sb.lookup(t).buf)           # usage 1 each, free list used up
    for _ in range(3):
        sb.unpin(sb.lookup("a").buf)          # a: usage 4
    pinned = sb.lookup("b")                   # b: usage 2, stays pinned
    # The hand decrements a, b(skip: pinned), c ... c reaches 0 first and is the victim.
    lk = sb.lookup("d")
    assert lk.evicted == "c" and not lk.hit
    sb.unpin(lk.buf)
    assert "a" in sb and "b" in sb and "c" not in sb
    sb.unpin(pinned.buf)


def test_all_pinned_raises() -> None:
    sb = SharedBuffers(2)
    sb.lookup("a")
    sb.lookup("b")
    with pytest.raises(NoUnpinnedBuffers):
        sb.lookup("c")


def test_dirty_victim_is_reported() -> None:
    sb = SharedBuffers(1)
    b = sb.lookup("a").buf
    sb.mark_dirty(b)
    sb.unpin(b)
    lk = sb.lookup("b")
    assert lk.evicted == "a" and lk.evicted_dirty and sb.buffers_backend == 1


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 16), st.lists(st.integers(0, 40), max_size=300))
def test_buffer_table_stays_consistent(n: int, tags: list[int]) -> None:
    sb = SharedBuffers(n)
    for t in tags:
        lk = sb.lookup(t)
        sb.unpin(lk.buf)
        assert sb.tags[lk.buf] == t and sb.table[t] == lk.buf
        assert len(sb) <= n
        assert all(0 <= u <= BM_MAX_USAGE_COUNT for u in sb.usage)
    assert sb.blks_hit + sb.blks_read == len(tags)
    assert {sb.table[t] for t in sb.table} == {b for b, t in enumerate(sb.tags) if t is not None}
    # with room for every distinct tag there is exactly one read per distinct tag
    if len(set(tags)) <= n:
        assert sb.blks_read == len(set(tags))


def test_io_in_progress_event_is_shared() -> None:
    env = simpy.Environment()
    sb = SharedBuffers(2)
    lk = sb.lookup("a")
    ev = env.event()
    sb.start_io(lk.buf, ev)
    lk2 = sb.lookup("a")
    assert lk2.hit and lk2.io_wait is ev
    sb.finish_io(lk.buf)
    assert ev.triggered and sb.lookup("a").io_wait is None


# ---- plan cache --------------------------------------------------------------------------


def test_prepared_statement_plan_cache_sequence() -> None:
    b = Backend(0)
    kinds = [b.steps("select_pk", prepared=True) for _ in range(8)]
    assert [k.parse for k in kinds] == [True] + [False] * 7
    assert [k.plan_kind for k in kinds] == ["custom"] * 5 + ["generic-build", "generic", "generic"]
    assert [k.plan for k in kinds] == [True] * 6 + [False] * 2
    s = b.steps("select_pk", prepared=False)
    assert (s.parse, s.analyze, s.plan, s.bind) == (True, True, True, False)


def test_plan_cache_modes() -> None:
    custom = Backend(0, "force_custom_plan")
    assert all(custom.steps("q", True).plan for _ in range(10))
    generic = Backend(0, "force_generic_plan")
    assert [generic.steps("q", True).plan for _ in range(4)] == [True, False, False, False]


# ---- config and profile ------------------------------------------------------------------


def test_config_units_and_forbidden_keys() -> None:
    c = PostgresConfig.model_validate({"shared_buffers": "128mb", "os_cache": "1gb",
                                       "wal_writer_delay": "200ms",
                                       "table": {"rows": 1000}, "device": {"preset": "hdd"}})
    assert c.nbuffers == 16384 and c.os_cache_pages == 131072
    assert c.wal_writer_delay == pytest.approx(0.2)
    assert c.device.queue_depth == 1
    with pytest.raises(ValidationError):
        PostgresConfig.model_validate({"shared_buffer": "128mb"})
    with pytest.raises(ValidationError):
        PostgresConfig.model_validate({"table": {"rows": 10, "width": 3}})


def test_default_profile_file_is_complete_and_sourced() -> None:
    prof = CostProfile.model_validate(load_profile())
    for stage in CPU_STAGES:
        cost = getattr(prof.cpu, stage)
        assert cost.source.strip(), f"{stage} has no source"
        assert cost.mean_us > 0
    assert prof.os_cache_copy.source and prof.wal.source


def test_cost_sampler_matches_distribution_means() -> None:
    import numpy as np

    from redissim.postgres.profile import Cost
    s = CostSampler(np.random.default_rng(5))
    for c in (Cost(mean_us=10, dist="exp"), Cost(mean_us=10, dist="lognormal", cv=0.5),
              Cost(mean_us=10)):
        x = np.array([s.draw(c) for _ in range(30_000)])
        assert x.mean() == pytest.approx(10e-6, rel=0.03)
        if c.dist == "exp":
            assert x.std() == pytest.approx(10e-6, rel=0.05)
