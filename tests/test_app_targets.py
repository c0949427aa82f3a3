"""Workloads against PostgreSQL, cache-aside, and storage devices (issue 7 integration)."""

import pytest

from redissim.scenario import load_scenario, variant_scenario
from redissim.sim.devices import PRESETS
from redissim.sim.engine import simulate


def runs(name: str, overrides: list[str]) -> dict:
    sc, data = load_scenario(name, overrides)
    return {v.name: simulate(variant_scenario(data, v, name)) for v in sc.variants}


def p50(res) -> float:
    return res.workloads[0].commands[0].latency.percentile(50)


def test_redis_vs_postgres_orders_the_lanes():
    res = runs("redis-vs-postgres", ["workloads.0.duration=0.3s"])
    redis, warm, simple = res["redis GET"], res["pg warm ssd"], res["pg simple warm ssd"]
    cold_hdd = res["pg cold hdd"]
    assert p50(redis) < p50(warm) < p50(simple) < p50(cold_hdd)
    assert p50(cold_hdd) > 100 * p50(redis)  # disk seeks against RAM
    pg = warm.extra["postgres"]
    b = pg.breakdown()
    # prepared statements parse once per backend; the simple protocol parses every time
    assert b["parse"] < 1e-7 < 1e-6 < simple.extra["postgres"].breakdown()["parse"]
    # 1M rows: a 3-level B-tree plus one heap page per lookup (reference 8.4)
    assert b["buffer_hits"] == pytest.approx(4.0)
    assert pg.stats()["buffer_hit_ratio"] == 1.0  # warm: everything in shared_buffers
    assert cold_hdd.extra["postgres"].disk_reads > 0


def test_cache_aside_takes_reads_off_postgres():
    res = runs("cache-aside", ["workloads.0.duration=0.5s"])
    alone = res["postgres only"].extra["postgres"]
    for name in ("cache-aside", "cache-aside 2mb lru"):
        r = res[name]
        c = r.extra["cache_aside"]["app"]
        # every miss and every write reaches PostgreSQL, nothing else does
        assert c["pg_queries"] == c["redis_misses"] + c["writes"]
        assert r.extra["postgres"].queries == c["pg_queries"]
        # the application's hit ratio is Redis's keyspace hit ratio (one GET per read)
        st = r.info["stats"]
        assert c["redis_hits"] == st["keyspace_hits"]
        assert c["redis_misses"] == st["keyspace_misses"]
        assert r.extra["postgres"].queries < alone.queries
    big, small = res["cache-aside"], res["cache-aside 2mb lru"]
    hr = {k: v.extra["cache_aside"]["app"]["redis_hits"] /
          (v.extra["cache_aside"]["app"]["redis_hits"] + v.extra["cache_aside"]["app"]
           ["redis_misses"]) for k, v in (("big", big), ("small", small))}
    assert hr["small"] < hr["big"]
    assert small.info["stats"]["evicted_keys"] > 0


def test_memory_hierarchy_ladder():
    res = runs("memory-hierarchy", ["workloads.0.requests=200"])
    order = ["CPU cache (L1/L2)", "RAM", "NVMe", "SATA SSD", "HDD"]
    lat = [p50(res[n]) for n in order]
    assert lat == sorted(lat)
    presets = ["cpu-cache", "ram", "nvme", "ssd", "hdd"]
    for value, preset in zip(lat, presets, strict=True):
        mean = PRESETS[preset]["read_latency"]["mean_s"]
        assert mean / 2 < value < mean * 2  # lognormal around the preset's mean
    assert lat[-1] / lat[1] > 10_000  # HDD against RAM: the lesson's "100x ... 1000x" and more
