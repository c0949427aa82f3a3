"""Storage devices and the OS page cache (redissim/sim/devices.py)."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from redissim.sim.devices import (
    PRESETS,
    DeviceSpec,
    LatencyDist,
    OSPageCache,
    StorageDevice,
    device_spec,
)


def const_spec(**kw: object) -> DeviceSpec:
    base: dict[str, object] = {
        "read_latency": "100us", "write_latency": "10us", "fsync_latency": "1ms",
        "read_bandwidth_bps": 1e9, "write_bandwidth_bps": 1e8, "queue_depth": 1,
        "block_size": 4096,
    }
    base.update(kw)
    return DeviceSpec.model_validate(base)


def run_all(env: simpy.Environment, gens: list) -> list[float]:
    """Start the generators as processes at t=0; return their completion times."""
    done: list[float] = [0.0] * len(gens)

    def wrap(i: int, g):  # type: ignore[no-untyped-def]
        yield from g
        done[i] = env.now

    for i, g in enumerate(gens):
        env.process(wrap(i, g))
    env.run()
    return done


def test_presets_load_and_ladder_is_ordered() -> None:
    specs = {n: device_spec(n) for n in PRESETS}
    assert set(specs) == {"cpu-cache", "ram", "nvme", "ssd", "hdd", "cloud"}
    lat = [specs[n].read_latency.mean_s for n in ("cpu-cache", "ram", "ssd", "hdd")]
    assert lat == sorted(lat)
    # the lesson's ladder: ~1 ns, ~100 ns, ~100 us, ~10 ms
    assert lat == pytest.approx([1e-9, 100e-9, 100e-6, 10e-3])
    assert specs["hdd"].queue_depth == 1


def test_preset_override_and_units() -> None:
    s = DeviceSpec.model_validate({"preset": "ssd", "fsync_latency": "5ms",
                                   "write_bandwidth_bps": "1gbit"})
    assert s.name == "ssd"
    assert s.fsync_latency == LatencyDist(mean_s=5e-3)
    assert s.write_bandwidth_bps == pytest.approx(125e6)
    assert s.read_latency.mean_s == pytest.approx(100e-6)   # untouched preset field
    with pytest.raises(ValidationError):
        DeviceSpec.model_validate({"preset": "ssd", "seek": 1})
    with pytest.raises(ValidationError):
        DeviceSpec.model_validate({"preset": "floppy"})


def test_queue_depth_one_serialises_reads() -> None:
    env = simpy.Environment()
    dev = StorageDevice(env, const_spec(queue_depth=1), np.random.default_rng(0))
    done = run_all(env, [dev.read(4096) for _ in range(3)])
    assert done == pytest.approx([100e-6, 200e-6, 300e-6])
    assert dev.stats.reads == 3 and dev.stats.read_wait_s == pytest.approx(300e-6)


def test_queue_depth_allows_parallel_reads() -> None:
    env = simpy.Environment()
    dev = StorageDevice(env, const_spec(queue_depth=4), np.random.default_rng(0))
    done = run_all(env, [dev.read(4096) for _ in range(4)])
    assert done == pytest.approx([100e-6] * 4)


def test_write_time_is_latency_plus_bandwidth_and_reads_beyond_a_block() -> None:
    env = simpy.Environment()
    dev = StorageDevice(env, const_spec(), np.random.default_rng(0))
    (t,) = run_all(env, [dev.write(1_000_000)])
    assert t == pytest.approx(10e-6 + 1_000_000 / 1e8)
    env2 = simpy.Environment()
    dev2 = StorageDevice(env2, const_spec(), np.random.default_rng(0))
    (t2,) = run_all(env2, [dev2.read(4096 + 1_000_000)])
    assert t2 == pytest.approx(100e-6 + 1_000_000 / 1e9)


def test_fsyncs_are_serialised_even_with_deep_queue() -> None:
    env = simpy.Environment()
    dev = StorageDevice(env, const_spec(queue_depth=32), np.random.default_rng(0))
    done = run_all(env, [dev.fsync() for _ in range(3)])
    assert done == pytest.approx([1e-3, 2e-3, 3e-3])
    assert dev.stats.fsyncs == 3


def test_lognormal_latency_has_requested_mean_and_cv() -> None:
    d = LatencyDist(mean_s=200e-6, cv=0.5)
    rng = np.random.default_rng(42)
    x = np.array([d.sample(rng) for _ in range(40_000)])
    assert x.min() > 0
    assert x.mean() == pytest.approx(200e-6, rel=0.02)
    assert x.std() / x.mean() == pytest.approx(0.5, rel=0.05)


def make_cache(capacity: int, **kw: object) -> tuple[simpy.Environment, StorageDevice, OSPageCache]:
    env = simpy.Environment()
    dev = StorageDevice(env, const_spec(queue_depth=8), np.random.default_rng(0))
    cache = OSPageCache(env, dev, capacity, **kw)  # type: ignore[arg-type]
    return env, dev, cache


def test_page_cache_miss_then_hit_and_lru_eviction() -> None:
    env, dev, cache = make_cache(2, copy_s=1e-6, start_flusher=False)
    results: list[bool] = []

    def proc():  # type: ignore[no-untyped-def]
        for key in ("a", "b", "a", "c", "b", "a"):
            results.append((yield from cache.read(key)))

    env.process(proc())
    env.run()
    # a miss, b miss, a hit, c miss (evicts b, the LRU), b miss (evicts a), a miss
    assert results == [False, False, True, False, False, False]
    assert dev.stats.reads == 5 and cache.stats.hits == 1 and len(cache) == 2
    assert env.now == pytest.approx(5 * 100e-6 + 1e-6)


def test_dirty_pages_written_back_after_expire_not_before() -> None:
    env, dev, cache = make_cache(100, copy_s=0.0)   # dirty_expire 30 s, flusher every 5 s

    def writer():  # type: ignore[no-untyped-def]
        yield from cache.write(("aof", 0))
        yield from cache.write(("aof", 1))

    env.process(writer())
    env.run(until=29.0)
    assert len(cache.dirty) == 2 and dev.stats.writes == 0
    env.run(until=36.0)
    assert len(cache.dirty) == 0 and dev.stats.writes == 1
    assert cache.stats.writeback_pages == 2


def test_fsync_writes_only_that_files_pages_and_power_loss_drops_dirty() -> None:
    env, dev, cache = make_cache(100, copy_s=0.0, start_flusher=False)

    def proc():  # type: ignore[no-untyped-def]
        for i in range(3):
            yield from cache.write(("aof", i))
        yield from cache.write(("rdb", 0))
        yield from cache.fsync([("aof", 0), ("aof", 1), ("aof", 2)])
        yield from cache.write(("aof", 3))

    env.process(proc())
    env.run()
    assert dev.stats.fsyncs == 1 and dev.stats.bytes_written == 3 * 4096
    lost = cache.power_loss()
    assert sorted(lost) == [("aof", 3), ("rdb", 0)]
    assert ("aof", 0) in cache and ("aof", 3) not in cache


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 8), st.lists(st.integers(0, 20), max_size=60))
def test_page_cache_never_exceeds_capacity(capacity: int, keys: list[int]) -> None:
    env, dev, cache = make_cache(capacity, copy_s=0.0, start_flusher=False)
    seen: list[bool] = []

    def proc():  # type: ignore[no-untyped-def]
        for k in keys:
            seen.append((yield from cache.read(k)))
            assert len(cache) <= capacity

    env.process(proc())
    env.run()
    assert cache.stats.hits + cache.stats.misses == len(keys)
    assert dev.stats.reads == cache.stats.misses
    # a re-read of the most recently read key is always a hit
    if keys:
        assert keys[-1] in cache


def test_flusher_stops_when_clean_so_run_ends() -> None:
    env, dev, cache = make_cache(100, copy_s=0.0)

    def writer():  # type: ignore[no-untyped-def]
        yield from cache.write("p")
        yield env.timeout(12.0)
        yield from cache.write("q")

    env.process(writer())
    env.run()                      # returns: nothing is left to flush
    assert not cache.dirty and cache.stats.writeback_pages == 2
    assert 42.0 <= env.now <= 47.0  # q (dirtied at 12 s) expired at 42 s, next wake-up
