"""maxmemory on the event loop: used_memory, OOM rejections, eviction before every command."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redissim.scenario import Scenario
from redissim.server import memory as mem
from redissim.sim.engine import simulate

OOM = "OOM command not allowed when used memory > 'maxmemory'."


def script(steps, server=None, model=None):
    sc = Scenario.model_validate({
        "name": "mm", "server": server or {}, "model": model or {},
        "workloads": [{"type": "script", "steps": [{"at": 0, "cmd": c} for c in steps]}]})
    res = simulate(sc)
    return [r["reply"] for r in res.workloads[0].records], res


def test_memory_usage_matches_redis_builds():
    replies, _ = script(["SET foo bar", "MEMORY USAGE foo"])
    assert replies[1] == 56  # upstream jemalloc (lg-quantum 3): the published figure
    replies, _ = script(["SET foo bar", "MEMORY USAGE foo"], model={"jemalloc-lg-quantum": 4})
    assert replies[1] == 64  # Debian's redis-server 7.0.15 (system jemalloc)


def test_memory_usage_of_hashes_and_lists_through_the_server():
    # Debian 7.0.15 answers 96 (a 2-field listpack hash) and 144 (a 1-item list); SAMPLES 0
    # and the default give the same for one node.
    replies, _ = script(["HSET h f1 v1 f2 hello-world-hello", "MEMORY USAGE h",
                         "RPUSH l a", "MEMORY USAGE l", "MEMORY USAGE l SAMPLES 0",
                         "MEMORY USAGE l SAMPLES x", "MEMORY USAGE nokey SAMPLES -1",
                         "MEMORY USAGE nokey SAMPLES", "MEMORY USAGE nokey SAMPLES 0 SAMPLES 1"],
                        model={"jemalloc-lg-quantum": 4})
    assert replies[1] == 96 and replies[3] == replies[4] == 144
    # the options are read before the key is looked up (what redis-server 7.0.15 answers)
    assert replies[5] == {"error": "ERR value is not an integer or out of range"}
    assert replies[6] == replies[7] == {"error": "ERR syntax error"}
    assert replies[8] is None


def test_million_keys_like_debug_populate():
    sc = Scenario.model_validate({
        "name": "pop", "model": {"jemalloc-lg-quantum": 4},
        "preload": {"keys": 1_000_000, "prefix": "key", "value-size": 10},
        "workloads": [{"type": "script", "steps": [{"at": 0, "cmd": "PING"}]}]})
    used = simulate(sc).info["memory"]["used_memory"]
    # Debian's redis-server 7.0.15 after DEBUG POPULATE 1000000 key 10: 89,450,992 B
    assert used == pytest.approx(89_450_992, rel=0.01)


def test_noeviction_rejects_only_denyoom_commands():
    # A 1.2 MB limit, keys of ~1 KB: a few hundred fit.
    steps = [f"SET k{i} {'x' * 1000}" for i in range(400)]
    steps += ["GET k1", "EXISTS k1", "INCR counter", "DEL k1", "SET after-del v", "DBSIZE"]
    replies, res = script(steps, server={"maxmemory": "1200kb",
                                          "maxmemory-policy": "noeviction"})
    first_oom = next(i for i, r in enumerate(replies) if r == {"error": OOM})
    assert 100 < first_oom < 400
    assert all(r == {"error": OOM} for r in replies[first_oom:400])
    get, exists, incr, dele, set_after, dbsize = replies[400:]
    assert get == "x" * 1000 and exists == 1  # reads are still served
    assert incr == {"error": OOM}  # INCR is denyoom too
    assert dele == 1  # DEL is not denyoom
    # DEL freed ~1 KB, so the next SET fits again
    assert set_after == "OK"
    assert dbsize == first_oom  # what was stored, minus the deleted key, plus the new one
    info = res.info
    assert info["memory"]["used_memory"] <= info["memory"]["maxmemory"] + 2048
    assert info["stats"]["evicted_keys"] == 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=st.sampled_from(["allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru",
                               "volatile-ttl", "volatile-random", "noeviction"]),
       value_size=st.integers(1, 3000), space=st.integers(50, 3000),
       ttl=st.sampled_from([None, "5s"]), seed=st.integers(0, 10))
def test_used_memory_overshoots_by_at_most_one_command(policy, value_size, space, ttl, seed):
    maxmemory = 1_500_000
    wl = {"clients": 4, "requests": 3000, "value-size": value_size,
          "commands": [{"cmd": "SET", "weight": 2}, {"cmd": "GET", "weight": 1}],
          "keys": {"distribution": "zipf", "space": space}}
    if ttl:
        wl["ttl"] = ttl
    sc = Scenario.model_validate({"name": "h", "seed": seed, "workloads": [wl], "server": {
        "maxmemory": maxmemory, "maxmemory-policy": policy}})
    res = simulate(sc)
    m = res.info["memory"]
    # The largest single allocation of one command: one key with the biggest value, or the
    # doubling of a bucket array when an insert grows the table.
    largest_key = mem.key_alloc(b"key:%d" % space, b"x" * value_size, has_ttl=bool(ttl))
    largest_table = mem.bucket_array_alloc(mem.table_size_for(space))
    assert m["used_memory_peak"] <= maxmemory + largest_key + largest_table
    if policy.startswith("allkeys") and value_size * space > 2 * maxmemory:
        assert res.info["stats"]["evicted_keys"] > 0


def test_eviction_keeps_memory_near_the_limit_and_costs_loop_time():
    sc = Scenario.model_validate({
        "name": "e", "server": {"maxmemory": "2mb", "maxmemory-policy": "allkeys-lru"},
        "workloads": [{"clients": 10, "requests": 40_000, "value-size": 100,
                       "commands": [{"cmd": "SET"}], "keys": {"space": 100_000}}]})
    res = simulate(sc)
    m, st = res.info["memory"], res.info["stats"]
    assert st["evicted_keys"] > 10_000
    assert m["maxmemory"] < m["used_memory_peak"] <= m["maxmemory"] + 1024
    s = res.series.to_dict()
    assert max(x for x in s["evicted_keys"] if x == x) > 0
    # while the clients run, memory sits at the limit (at the end they disconnect and their
    # ~38 KB of buffers each are freed)
    used = [u for u, t in zip(s["used_memory"], s["t"], strict=True) if 0.05 < t < res.sim_time]
    assert used and min(used[len(used) // 2:]) > 0.97 * m["maxmemory"]


def test_eviction_scenario_orders_policies_under_zipf():
    """scenarios/eviction.yaml, shortened: LFU and LRU keep the hot keys, RANDOM does not."""
    from redissim.scenario import load_scenario, variant_scenario

    sc, data = load_scenario("eviction", ["workloads.0.duration=2s", "workloads.0.clients=10"])
    ratio = {}
    for v in sc.variants:
        st = simulate(variant_scenario(data, v, "eviction")).info["stats"]
        ratio[v.name] = st["keyspace_hits"] / (st["keyspace_hits"] + st["keyspace_misses"])
        assert st["evicted_keys"] > 1000
    assert ratio["allkeys-lfu"] > ratio["allkeys-random"]
    assert ratio["allkeys-lru"] > ratio["allkeys-random"]


def test_lru_grid_scenario_reproduces_antirez_picture(tmp_path):
    """theory.md 1.4: pool K=5 evicts ~0.85 of the older half, K=10 ~0.92 (with uniform
    sampling; dictGetSomeKeys' bucket walk gives ~0.83 / ~0.915, see eviction tests)."""
    import subprocess
    import sys

    from redissim.scenario import load_scenario, variant_scenario

    sc, data = load_scenario("lru-grid")
    scores = {}
    for v in sc.variants:
        res = simulate(variant_scenario(data, v, "lru-grid"))
        g = res.extra["lru_grid"]
        assert g.evicted_old == pytest.approx(5000, rel=0.01) and g.evicted_new == 0
        scores[v.name] = g.score
    assert 0.78 < scores["K=5"] < 0.88
    assert scores["K=5"] < scores["K=10"] < 0.96
    png = tmp_path / "grid.png"
    r = subprocess.run([sys.executable, "-m", "redissim", "run", "lru-grid", "-q", "--png",
                        str(png)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    from PIL import Image
    for name in ("grid-k-5.png", "grid-k-10.png"):
        with Image.open(tmp_path / name) as img:
            assert img.width > 100 and img.height > 50


def test_accounting_after_active_expiry_equals_a_fresh_measurement():
    """Keys expired by the active cycle leave used_memory exactly: with maxmemory set (so
    used_memory is kept up to date per command) the running total equals measuring every key
    still there again."""
    from redissim.sim.engine import Simulation

    sc = Scenario.model_validate({
        "name": "expiring", "seed": 4, "server": {"maxmemory": "2mb"},
        "workloads": [{"clients": 10, "requests": 60_000, "ttl": "50ms",
                       "commands": [{"cmd": "SET"}], "keys": {"space": 5_000}},
                      # then an idle second: the cycle expires what the writers left
                      {"type": "script", "steps": [{"at": "1s", "cmd": "DBSIZE"}]}]})
    sim = Simulation(sc)
    sim.run()
    assert sum(expired for _, _, _, expired in sim.expire.history) > 100  # by the cycle
    running = sim.memory.keys_total
    sim.memory.resync_all()
    assert sim.memory.keys_total == running


def test_used_memory_without_maxmemory_sums_what_measuring_each_key_gives():
    """With maxmemory off INFO sums the keys by size class (strings that are not integers)
    and measures the rest one by one; the total is what measuring every key gives."""
    from redissim.sim.engine import Simulation

    steps = ["SET a bar", "SET b 123", "SET c -5", "SET d ''", "SET e -", "SET f 9x",
             "SET g 007", "HSET h f1 v1 f2 v2", "RPUSH l x y z", "SET t1 bar EX 100",
             "SET t2 42 EX 100", "SELECT 3", "SET a longer-value-here", "INCR n"]
    sc = Scenario.model_validate({
        "name": "census", "workloads": [{"type": "script",
                                         "steps": [{"at": 0, "cmd": c} for c in steps]}]})
    sim = Simulation(sc)
    sim.run()
    mm = sim.memory
    assert not mm.tracking
    summed = mm._sum_all()
    mm.resync_all()
    assert summed == mm.keys_total > 0
