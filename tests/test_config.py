"""CONFIG GET against a real redis-server 7.0 started with the same settings (skipped where
absent), and what the model does not answer (server/config.py)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from realredis import RedisServer, find_redis_server  # noqa: E402

from redissim.scenario import Scenario, ServerConfig  # noqa: E402
from redissim.server.config import parameters  # noqa: E402
from redissim.server.keyspace import Keyspace  # noqa: E402
from redissim.server.resp import ReplyError  # noqa: E402
from redissim.sim.clock import EPOCH_MS  # noqa: E402
from redissim.sim.engine import Simulation, simulate  # noqa: E402

#: CONFIG GET's arguments tried on both: exact names in any case, patterns, aliases, several
#: at once (each parameter answered once), and a name no server has
QUERIES = [["hz"], ["HZ"], ["Maxmemory-Policy"], ["maxmemory*"], ["*"], ["hz", "HZ", "h?"],
           ["save", "appendonly", "appendfsync"], ["*max*entries*"], ["hash-max-ziplist-*"],
           ["list-max-ziplist-size"], ["LFU-*"], ["[ab]*"], ["nonexistent"],
           ["lazyfree-lazy-expire", "databases", "dynamic-hz", "active-expire-effort"]]

#: a configuration other than the defaults, as the scenario's server settings and as
#: redis-server's command line
SETTINGS = {"hz": 100, "maxmemory": "64mb", "maxmemory-policy": "allkeys-lru",
            "maxmemory-samples": 10, "appendonly": "yes", "appendfsync": "always",
            "save": "900 1  60 500", "active-expire-effort": 3, "lfu-log-factor": 5,
            "auto-aof-rewrite-min-size": "16mb", "rdbcompression": "no"}
ARGS = ["--hz", "100", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru",
        "--maxmemory-samples", "10", "--appendonly", "yes", "--appendfsync", "always",
        "--save", "900 1 60 500", "--active-expire-effort", "3", "--lfu-log-factor", "5",
        "--auto-aof-rewrite-min-size", "16mb", "--rdbcompression", "no"]


def _model_replies(server: dict, queries: list[list[str]]) -> list[object]:
    steps = [{"at": 0.001 * i, "cmd": " ".join(["CONFIG", "GET", *q])}
             for i, q in enumerate(queries)]
    sc = Scenario.model_validate({"name": "config", "server": server,
                                  "workloads": [{"type": "script", "steps": steps}]})
    return [r["reply"] for r in simulate(sc).workloads[0].records]


def _pairs(reply: list) -> dict[str, str]:
    words = [w.decode() if isinstance(w, bytes) else w for w in reply]
    return dict(zip(words[::2], words[1::2], strict=True))


@pytest.mark.parametrize("settings", ["defaults", "changed"])
def test_config_get_answers_what_a_real_server_answers(tmp_path, settings):
    """Each pair the model answers is the real server's; and for every query it answers
    exactly the real server's pairs among the parameters the model has (Redis answers some
    two hundred more, which a pattern finds there)."""
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    # (the harness starts servers with save ""; redis-server 7.0's own default is the model's)
    extra = ARGS if settings == "changed" else ["--save", "3600 1 300 100 60 10000"]
    srv = RedisServer(binary, tmp_path, extra).start()
    try:
        c = srv.client()
        real = [c.command("CONFIG", "GET", *q) for q in QUERIES]
        c.close()
    finally:
        srv.stop()
    server = SETTINGS if settings == "changed" else {}
    model = _model_replies(server, QUERIES)
    known = set(parameters(ServerConfig.model_validate(server), Keyspace(), False))
    for q, r, m in zip(QUERIES, real, model, strict=True):
        assert isinstance(m, list), (q, m)
        mine, theirs = _pairs(m), _pairs(r)  # type: ignore[arg-type]
        assert len(mine) * 2 == len(m), (q, m)  # each parameter once
        expected = {k: v for k, v in theirs.items() if k.lower() in known}
        assert mine == expected, (q, mine, expected)


def test_config_get_in_cluster_mode_and_the_rest_of_config():
    sc = Scenario.model_validate({"name": "c", "cluster": {"masters": 1}, "workloads": [
        {"type": "script", "steps": [{"at": 0, "cmd": "CONFIG GET cluster-enabled"}]}]})
    assert simulate(sc).workloads[0].records[0]["reply"] == ["cluster-enabled", "yes"]
    steps = ["CONFIG", "CONFIG GET", "CONFIG FOO", "CONFIG SET hz",
             "CONFIG SET maxmemory-policy allkeys-lru", "CONFIG HELP",
             "CONFIG GET cluster-enabled"]
    sc = Scenario.model_validate({"name": "c", "workloads": [{"type": "script", "steps": [
        {"at": 0.001 * i, "cmd": s} for i, s in enumerate(steps)]}]})
    res = simulate(sc)
    got = [r["reply"] for r in res.workloads[0].records]
    assert got[:4] == [{"error": "ERR wrong number of arguments for 'config' command"},
                       {"error": "ERR wrong number of arguments for 'config|get' command"},
                       {"error": "ERR unknown subcommand 'FOO'. Try CONFIG HELP."},
                       {"error": "ERR wrong number of arguments for 'config|set' command"}]
    for reply in got[4:6]:
        assert "not modelled" in reply["error"]
    assert got[6] == ["cluster-enabled", "no"]
    stats = res.info["commandstats"]
    # refused before a command was chosen: no call; the others count under config|sub
    assert stats["cmdstat_config|get"].startswith("calls=1,")
    assert "rejected_calls=1" in stats["cmdstat_config|set"]


#: CONFIG SET lines tried on both, in order (each with its CONFIG GET where it set something):
#: hz's cap, integers out of bounds and unparsable, an enum in another case, yes/no, memory
#: units, save's pairs and its empty form, an unknown name, an immutable one, duplicates (an
#: alias is its name), several pairs at once (all or none), an odd count, and arity
SET_LINES = [["hz", "1000"], ["GET", "hz"], ["hz", "0"], ["GET", "hz"], ["HZ", "25"],
             ["GET", "hz"], ["hz", "abc"], ["hz", "-1"], ["hz", "007"], ["hz", "+5"],
             ["active-expire-effort", "11"], ["active-expire-effort", "4"],
             ["GET", "active-expire-effort"], ["appendfsync", "sometimes"],
             ["appendfsync", "ALWAYS"], ["GET", "appendfsync"], ["lazyfree-lazy-expire", "maybe"],
             ["lazyfree-lazy-expire", "YES"], ["GET", "lazyfree-lazy-expire"], ["save", "60"],
             ["save", "60 10 300 1"], ["GET", "save"], ["save", "0 1"], ["save", "60 -1"],
             ["save", "60  1"], ["save", "60 x"], ["save", ""], ["GET", "save"],
             ["auto-aof-rewrite-min-size", "1mb"], ["auto-aof-rewrite-min-size", "2K"],
             ["GET", "auto-aof-rewrite-min-size"], ["auto-aof-rewrite-min-size", "1 mb"],
             ["auto-aof-rewrite-min-size", "-1"], ["auto-aof-rewrite-percentage", "50%"],
             ["maxmemory-samples", "0"], ["maxmemory-eviction-tenacity", "101"],
             ["lfu-log-factor", "0"], ["GET", "lfu-*"], ["dynamic-hz", "no"],
             ["stop-writes-on-bgsave-error", "no"], ["rdbcompression", "no"],
             ["no-appendfsync-on-rewrite", "yes"], ["foo", "bar"], ["databases", "4"],
             ["cluster-enabled", "yes"], ["hz", "20", "HZ", "30"],
             ["hz", "20", "active-expire-effort", "99"], ["GET", "hz"],
             ["hz", "30", "foo", "1"], ["databases", "4", "foo", "1"],
             ["foo", "1", "databases", "4"],
             ["hz", "20", "foo"], ["hz"], ["hz", "20", "maxmemory-samples", "7"],
             ["GET", "hz"], ["GET", "maxmemory-samples"]]


def _config_line(line: list[str]) -> list[str]:
    return ["CONFIG", "GET", *line[1:]] if line[0] == "GET" else ["CONFIG", "SET", *line]


def _reply_text(r: object) -> object:
    """A real reply in the model's form: errors as {"error": text}, bulk strings decoded."""
    if isinstance(r, ReplyError):
        return {"error": str(r)}
    if isinstance(r, list):
        return [w.decode() if isinstance(w, bytes) else w for w in r]
    return r.decode() if isinstance(r, bytes) else r


#: with a memory limit and an LRU policy on both: the limit and the policy changed, and the
#: policy enum's error
LIMIT_LINES = [["maxmemory-policy", "lru"], ["maxmemory-policy", "ALLKEYS-LFU"],
               ["GET", "maxmemory-policy"], ["maxmemory", "32mb"], ["GET", "maxmemory"],
               ["maxmemory", "-1"], ["maxmemory", "0"], ["GET", "maxmemory"],
               ["maxmemory", "1gb", "maxmemory-policy", "volatile-lru"],
               ["GET", "maxmemory", "maxmemory-policy"]]


@pytest.mark.parametrize("server,args,lines", [
    ({"save": ""}, [], SET_LINES),
    ({"save": "", "maxmemory": "64mb", "maxmemory-policy": "allkeys-lru"},
     ["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"], LIMIT_LINES)],
    ids=["defaults", "maxmemory"])
def test_config_set_answers_what_a_real_server_answers(tmp_path, server, args, lines):
    """Every CONFIG SET line, and the CONFIG GET after it, gives the real server's reply: OK,
    or the same error naming the same parameter."""
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    srv = RedisServer(binary, tmp_path, args).start()
    try:
        c = srv.client()
        real = [_reply_text(c.command(*_config_line(line))) for line in lines]
        c.close()
    finally:
        srv.stop()
    steps = [{"at": 0.001 * i, "cmd": shlex.join(_config_line(line))}
             for i, line in enumerate(lines)]
    sc = Scenario.model_validate({"name": "config-set", "server": server,
                                  "workloads": [{"type": "script", "steps": steps}]})
    model = [r["reply"] for r in simulate(sc).workloads[0].records]
    for line, r, m in zip(lines, real, model, strict=True):
        if isinstance(m, list):
            assert _pairs(m) == _pairs(r), (line, m, r)  # type: ignore[arg-type]
        else:
            assert m == r, (line, m, r)


EPOCH_S = EPOCH_MS // 1000  # the simulated server's start, as Unix seconds


def _run_script(server: dict, steps: list[tuple[float, str]], **extra: object):
    sc = Scenario.model_validate({"name": "config-set", "server": server, **extra,
                                  "workloads": [{"type": "script", "steps": [
                                      {"at": at, "cmd": cmd} for at, cmd in steps]}]})
    sim = Simulation(sc)
    return sim, sim.run()


def test_config_set_changes_what_the_mechanisms_do():
    """hz: serverCron at the new rate from its next tick; active-expire-effort: the cycle's
    keys per loop (20 + 5 per step); save: a server that ran with no persistence forks a
    BGSAVE once a save point is met; appendfsync always: the write that follows waits for
    its fsync on the main thread."""
    sim, res = _run_script({"save": "", "appendonly": "yes"}, [
        (0.0, "SET a 1"), (0.5, "CONFIG SET hz 100 active-expire-effort 10"),
        (0.6, "SET b 1"), (0.7, "CONFIG SET appendfsync always"), (0.8, "SET c 1"),
        (1.0, "CONFIG SET save '1 1'"), (1.1, "SET d 1"), (2.0, "CONFIG GET hz"),
        (3.0, "PING")])
    node = sim.nodes[0]
    # 0.5 s at hz 10 (5 ticks from 0), then 100 a second to 3 s (the tick due at 0.6 first)
    assert 250 <= node.loop.cronloops <= 258, node.loop.cronloops
    assert res.info["server"]["hz"] == 100
    assert node.expire.keys_per_loop == 65
    lat = {r["command"]: r["latency_ms"] for r in res.workloads[0].records}
    assert lat["SET c 1"] > 5 * lat["SET b 1"], lat  # fsync under the reply
    assert res.info["persistence"]["rdb_last_save_time"] > EPOCH_S  # a BGSAVE finished
    assert res.workloads[0].records[-2]["reply"] == ["hz", "100"]

    # a run that started without persistence: the light hook gives way to the model, and
    # serverCron forks once a save point is met (1 s after the start, and a write)
    sim, res = _run_script({"save": ""}, [(0.0, "SET a 1"), (0.1, "CONFIG SET save '1 1'"),
                                          (0.2, "SET b 1"), (3.0, "PING")])
    assert res.info["persistence"]["rdb_last_save_time"] > EPOCH_S
    assert res.info["persistence"]["rdb_changes_since_last_save"] == 0
    _, res = _run_script({"save": ""}, [(0.0, "SET a 1"), (0.2, "SET b 1"), (3.0, "PING")])
    assert res.info.get("persistence", {}).get("rdb_last_save_time", EPOCH_S) == EPOCH_S


def test_config_set_maxmemory_evicts_to_the_new_limit():
    """In a run that started with a limit, a lower one takes effect at the next command:
    performEvictions frees keys until used_memory is under it."""
    steps = [(0.0, "INFO memory"), (0.1, "CONFIG SET maxmemory 4mb"), (0.2, "SET x 1"),
             (0.3, "INFO memory")]
    sim, res = _run_script({"maxmemory": "64mb", "maxmemory-policy": "allkeys-random"},
                           steps, preload={"keys": 50_000, "value-size": 100})
    before, after = (r["reply"] for r in res.workloads[0].records[::3])
    used = {k: int(v) for k, v in (ln.split(":") for ln in before.splitlines()
                                     if ln.startswith("used_memory:"))}
    assert used["used_memory"] > 4 * 2**20
    assert res.info["memory"]["maxmemory"] == 4 * 2**20
    assert res.info["stats"]["evicted_keys"] > 10_000
    after_used = int(next(ln for ln in after.splitlines()
                          if ln.startswith("used_memory:")).split(":")[1])
    assert after_used <= 4 * 2**20 + 64 * 1024  # under the limit, give or take one command


def test_a_restarted_server_goes_back_to_the_scenarios_configuration():
    """CONFIG SET changes the running process only: after a crash and restart CONFIG GET
    and the loop are back at the scenario's values (without a CONFIG REWRITE)."""
    sim, res = _run_script({"hz": 10}, [(0.1, "CONFIG SET hz 50 active-expire-effort 5"),
                                        (0.2, "CONFIG GET hz"), (2.0, "CONFIG GET hz"),
                                        (2.0, "CONFIG GET active-expire-effort")],
                           faults=[{"at": 1.0, "kind": "crash", "restart-after": 0.5}])
    replies = [r["reply"] for r in res.workloads[0].records[1:]]
    assert replies == [["hz", "50"], ["hz", "10"], ["active-expire-effort", "1"]]
    node = sim.nodes[0]
    assert node.loop.config_hz == 10 and node.expire.keys_per_loop == 20


def test_config_set_maxmemory_policy_within_what_the_run_keeps():
    """From an LRU policy to LFU the objects' fields are read by the new policy (OBJECT FREQ
    answers); from noeviction, a random policy turns the OOM refusals into evictions, and an
    LRU one is refused (no lru fields were kept)."""
    limit = {"maxmemory": "64mb", "maxmemory-policy": "allkeys-lru"}
    _, res = _run_script(limit, [(0.0, "SET k v"), (0.1, "OBJECT FREQ k"),
                                 (0.2, "CONFIG SET maxmemory-policy allkeys-lfu"),
                                 (0.3, "OBJECT FREQ k")])
    replies = [r["reply"] for r in res.workloads[0].records]
    assert "error" in replies[1] and replies[2] == "OK"
    assert isinstance(replies[3], int) and 0 <= replies[3] <= 255

    full = {"maxmemory": "4mb", "maxmemory-policy": "noeviction"}
    steps = [(0.0, "SET x 1"), (0.1, "CONFIG SET maxmemory-policy allkeys-lru"),
             (0.2, "CONFIG SET maxmemory-policy allkeys-random"), (0.3, "SET y 1"),
             (0.5, "DBSIZE")]
    _, res = _run_script(full, steps, preload={"keys": 50_000, "value-size": 100})
    replies = [r["reply"] for r in res.workloads[0].records]
    assert replies[0]["error"].startswith("OOM")
    assert "not modelled" in replies[1]["error"] and "lru fields" in replies[1]["error"]
    assert replies[2:4] == ["OK", "OK"]
    # (performEvictions' time budget, then the eviction timer, down to the limit)
    assert res.info["stats"]["evicted_keys"] > 10_000
    assert replies[4] == 50_001 - res.info["stats"]["evicted_keys"]


#: (seconds from the start, command line): counters, errors, a lazily expired key, a fork and
#: a save before CONFIG RESETSTAT; after it some of each again, and the INFO to compare
RESETSTAT_STEPS = [
    (0.0, "SET a 1"), (0.0, "GET a"), (0.0, "GET nope"), (0.0, "FOO bar"), (0.0, "LPUSH a x"),
    (0.0, "SET t 1 PX 100"), (0.0, "BGSAVE"), (0.0, "INFO everything"), (0.5, "GET t"),
    (0.6, "CONFIG RESETSTAT"), (0.6, "GET a"), (0.6, "GET b"), (0.6, "SET c 1"),
    (0.6, "GET a b"), (0.6, "INCR c"), (0.6, "HSET c f v"), (0.6, "SET u 1 PX 100"),
    (1.0, "GET u"), (1.0, "INFO everything")]
#: what RESETSTAT zeroes and the commands after it count again (and what it leaves alone)
RESET_FIELDS = ["total_commands_processed", "keyspace_hits", "keyspace_misses", "expired_keys",
                "total_error_replies", "total_forks", "latest_fork_usec", "rdb_saves",
                "evicted_keys", "expired_time_cap_reached_count", "total_connections_received",
                "rdb_changes_since_last_save", "aof_rewrites"]


def _info(text: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _run_real(tmp_path: Path, steps: list[tuple[float, str]]) -> list[object]:
    """The replies of a real redis-server (no save points) to the steps, each sent at its
    time from the start; skips the test where none is installed."""
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    import time

    srv = RedisServer(binary, tmp_path, ["--save", ""]).start()
    try:
        c = srv.client()
        real, start = [], time.monotonic()
        for at, line in steps:
            time.sleep(max(0.0, at - (time.monotonic() - start)))
            r = c.command(*shlex.split(line))
            real.append(r.decode() if isinstance(r, bytes) else r)
        c.close()
    finally:
        srv.stop()
    return real


def test_config_resetstat_zeroes_what_a_real_server_zeroes(tmp_path):
    """CONFIG RESETSTAT, then a few commands: INFO's counters, commandstats and errorstats
    are what a real redis-server gives after the same lines (the forks, the saves and the
    expired key before it forgotten; the memory peak and the changes since the last save
    kept), and the process's CPU goes on growing."""
    real = _run_real(tmp_path, RESETSTAT_STEPS)
    sim, res = _run_script({"save": ""}, RESETSTAT_STEPS)
    model = [r["reply"] for r in res.workloads[0].records]
    # INFO before RESETSTAT and at the end, from each: (before, after)
    got = {name: [_info(r) for r in replies[7::11]] for name, replies in
           (("real", real), ("model", model))}
    real_after, (model_before, model_after) = got["real"][1], got["model"]
    for f in RESET_FIELDS:
        assert model_after[f] == real_after[f], (f, model_after[f], real_after[f])
    for before, after in got.values():
        assert int(before["total_forks"]) == 1 and int(after["total_forks"]) == 0
        assert int(after["expired_keys"]) == 1  # the one after RESETSTAT
        assert int(after["rdb_changes_since_last_save"]) > 0  # server.dirty is not a stat
        # the memory peak is not a stat Redis resets, nor the CPU (getrusage)
        assert int(after["used_memory_peak"]) >= int(before["used_memory_peak"])
        assert float(after["used_cpu_sys"]) + float(after["used_cpu_user"]) > \
            float(before["used_cpu_sys"]) + float(before["used_cpu_user"])

    def counted(info: dict[str, str]) -> dict[str, str]:
        """commandstats less the host's times, and errorstats"""
        out = {k: v.split(",usec=")[0] + "," + v.split(",", 3)[3]
               for k, v in info.items() if k.startswith("cmdstat_")}
        out.update((k, v) for k, v in info.items() if k.startswith("errorstat_"))
        return out

    assert counted(model_after) == counted(real_after)
    assert "cmdstat_lpush" in counted(model_before)  # (forgotten since)
    assert "cmdstat_lpush" not in counted(model_after)


#: CONFIG SET appendonly on a server that started without an AOF: the rewrite that writes the
#: AOF's base (the writes meanwhile go to its INCR), a stop and a start while a BGSAVE runs
#: (the rewrite waits for it), a BGREWRITEAOF killed by the start that follows it
APPENDONLY_STEPS = [
    (0.0, "SET a 1"), (0.0, "SET b 2"), (0.0, "CONFIG SET appendonly yes"),
    (0.0, "INFO everything"), (0.0, "SET c 3"), (0.5, "INFO everything"), (0.6, "SET d 4"),
    (0.6, "INFO everything"), (0.7, "CONFIG SET appendonly no"), (0.7, "INFO everything"),
    (0.8, "BGSAVE"), (0.8, "CONFIG SET appendonly yes"), (0.8, "INFO everything"),
    (0.8, "SET e 5"), (0.8, "INFO everything"), (1.5, "INFO everything"),
    (1.5, "CONFIG GET appendonly"), (1.6, "CONFIG SET appendonly no"), (1.6, "BGREWRITEAOF"),
    (1.6, "CONFIG SET appendonly yes"), (1.6, "INFO everything"), (2.5, "SET f 6"),
    (2.5, "INFO everything")]
#: INFO's fields both must give at every INFO of the steps (the sizes in bytes: the AOF's
#: base, an RDB preamble, and the commands appended to it). (Not the rewrites' times: whole
#: seconds of the clock, 0 or 1 by where a second begins.)
APPENDONLY_FIELDS = ["aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled",
                     "aof_rewrites", "aof_last_bgrewrite_status", "aof_current_size",
                     "aof_base_size", "aof_buffer_length", "rdb_bgsave_in_progress",
                     "total_forks"]


def test_config_set_appendonly_does_what_a_real_server_does(tmp_path):
    """The AOF turned on and off during a run: INFO's AOF fields after every step are a real
    redis-server's, the sizes to the byte. (The steps leave each child its time: Redis
    reaps a child in serverCron, so a child started by one command is still running at the
    next command.)"""
    real = _run_real(tmp_path, APPENDONLY_STEPS)
    _, res = _run_script({"save": ""}, APPENDONLY_STEPS)
    model = [r["reply"] for r in res.workloads[0].records]
    seen = []
    for (at, line), m, r in zip(APPENDONLY_STEPS, model, real, strict=True):
        if not line.startswith("INFO"):
            assert m == _reply_text(r), (at, line, m, r)
            continue
        mi, ri = _info(m), _info(r)
        got = {f: mi.get(f) for f in APPENDONLY_FIELDS}
        assert got == {f: ri.get(f) for f in APPENDONLY_FIELDS}, (at, got)
        seen.append(got)
    # what the steps went through: a rewrite in progress, done (154 bytes: the base of a
    # and b with SELECT and SET c after it), turned off (no sizes), waiting for a BGSAVE
    assert seen[0]["aof_rewrite_in_progress"] == "1"
    assert seen[1]["aof_current_size"] == seen[1]["aof_base_size"] == "154"
    assert seen[3]["aof_enabled"] == "0" and seen[3]["aof_current_size"] is None
    assert seen[4]["aof_rewrite_scheduled"] == "1"
    assert seen[5] == seen[4]  # SET e: no AOF to append to before the rewrite starts
    assert seen[7]["aof_rewrites"] == "4" and seen[7]["total_forks"] == "5"


def test_config_set_appendonly_forks_inside_the_command_and_costs_every_write_after():
    """On 1 GB of data the start's fork stalls the loop (the CONFIG SET's reply waits for
    it); once the rewrite is done every write is appended and, under appendfsync always,
    waits for its fsync; the stop writes and fsyncs on the main thread."""
    steps = [(0.5, "SET k 1"), (1.5, "CONFIG SET appendfsync always appendonly yes"),
             (2.1, "INFO persistence"), (7.9, "INFO persistence"), (8.0, "SET k 2"),
             (8.5, "CONFIG SET appendonly no"), (8.6, "SET k 3"), (9.0, "INFO persistence")]
    preload = {"keys": 100_000, "value-size": 10_000, "distinct-values": False}
    sim, res = _run_script({"save": ""}, steps, preload=preload)
    rec = res.workloads[0].records
    p = sim.nodes[0].persistence
    (t_fork, stall, used), = p.forks
    assert used > 10**9 and stall > 0.005
    lat = {r["command"]: r["latency_ms"] for r in rec}
    assert lat["CONFIG SET appendfsync always appendonly yes"] > 1e3 * stall
    # the rewrite runs ~0.9 s from 1.53 s; INFO counts its time in whole seconds of the
    # clock (time(NULL)), so it has been 1 s at 2.1 s, and took 1 s
    running = _info(rec[2]["reply"])
    assert running["aof_rewrite_in_progress"] == "1"
    assert (running["aof_current_rewrite_time_sec"], running["aof_last_rewrite_time_sec"]) \
        == ("1", "-1")
    done = _info(rec[3]["reply"])  # the rewrite's base written: the AOF is on
    assert done["aof_rewrite_in_progress"] == "0" and int(done["aof_base_size"]) > 10**6
    assert (done["aof_current_rewrite_time_sec"], done["aof_last_rewrite_time_sec"]) \
        == ("-1", "1")
    assert lat["SET k 2"] > 5 * lat["SET k 1"]  # its fsync under the reply
    assert lat["SET k 3"] < lat["SET k 2"] / 5  # the AOF is off again
    info = _info(rec[-1]["reply"])
    assert info["aof_enabled"] == "0" and info["aof_rewrites"] == "1"
    assert p.durable_off == p.written_off > 0  # the stop's fsync: nothing left unsynced


#: CONFIG SET, then REWRITE, then a change not written; a restart, then what it runs with
REWRITE_STEPS = [(0.1, "CONFIG SET hz 50 maxmemory-samples 7"), (0.1, "CONFIG REWRITE"),
                 (0.2, "CONFIG SET hz 20 active-expire-effort 4")]
AFTER_RESTART = [(2.0, "CONFIG GET hz"), (2.0, "CONFIG GET maxmemory-samples"),
                 (2.0, "CONFIG GET active-expire-effort")]


def test_config_rewrite_keeps_what_was_set_across_a_restart(tmp_path):
    """CONFIG REWRITE writes the values set so far into the config file, so a restarted
    process runs with them; a value set after it is lost. A real redis-server started from a
    config file and restarted from it answers the same."""
    _, res = _run_script({"hz": 10}, REWRITE_STEPS + AFTER_RESTART,
                         faults=[{"at": 1.0, "kind": "crash", "restart-after": 0.5}])
    model = [r["reply"] for r in res.workloads[0].records]
    assert model == ["OK", "OK", "OK", ["hz", "50"], ["maxmemory-samples", "7"],
                     ["active-expire-effort", "1"]]
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    conf = tmp_path / "redis.conf"
    conf.write_text('hz 10\nsave ""\nappendonly no\n')
    real = []
    for steps in (REWRITE_STEPS, AFTER_RESTART):
        srv = RedisServer(binary, tmp_path, conf=conf).start()
        try:
            c = srv.client()
            real += [_reply_text(c.command(*shlex.split(line))) for _, line in steps]
            c.close()
        finally:
            srv.stop()
    assert real == model


#: what a restart loads after the AOF was changed by CONFIG SET, by case: the config file's
#: appendonly, the lines before the crash, and whether the crash comes during the rewrite
RESTART_CASES = {
    # turned on, not written to the file: the restart loads dump.rdb (there is none)
    "on-no-rewrite": ("no", ["CONFIG SET appendonly yes"], False),
    # turned on and written: the AOF (its base and the write after it)
    "on-rewrite": ("no", ["CONFIG SET appendonly yes", "CONFIG REWRITE"], False),
    # turned on and written, but the crash comes before its first rewrite ends: no AOF yet
    "on-rewrite-crash-in-rewrite": ("no", ["CONFIG SET appendonly yes", "CONFIG REWRITE"],
                                    True),
    # on from the start, turned off, not written: the AOF as it was when turned off
    "off-no-rewrite": ("yes", ["CONFIG SET appendonly no"], False),
}


def _restart_case(conf_aof: str, lines: list[str], in_rewrite: bool
                  ) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
    """The lines before the crash (a, b and c set first, d after the change) and after."""
    before = [(0.0, "SET a 1"), (0.0, "SET b 1"), (0.0, "SET c 1")]
    before += [(0.1, line) for line in lines]
    before += [(0.1 if in_rewrite else 0.6, "SET d 1")]
    return before, [(2.0, "DBSIZE"), (2.0, "GET d"), (2.0, "CONFIG GET appendonly")]


@pytest.mark.parametrize("case", RESTART_CASES)
def test_a_restart_loads_what_the_config_file_says_after_config_set_appendonly(
        tmp_path, case):
    """CONFIG SET appendonly changes the running process, not its config file: a restart
    loads the AOF only if the file says yes, and then only an AOF whose first rewrite is
    done. Model and real server (killed with -9 and started again from its file) give the
    same keys back."""
    conf_aof, lines, in_rewrite = RESTART_CASES[case]
    before, after = _restart_case(conf_aof, lines, in_rewrite)
    # the model's rewrite of 20,000 keys takes ~30 ms: the crash at 0.105 s comes during it
    crash_at = 0.105 if in_rewrite else 1.0
    preload = {"keys": 20_000, "value-size": 1000, "prefix": "pre"} if in_rewrite else None
    extra: dict[str, object] = {"preload": preload} if preload else {}
    _, res = _run_script({"save": "", "appendonly": conf_aof}, before + after,
                         faults=[{"at": crash_at, "kind": "crash", "restart-after": 0.5}],
                         **extra)
    model = [r["reply"] for r in res.workloads[0].records][-3:]
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    import time

    conf = tmp_path / "redis.conf"
    conf.write_text(f'save ""\nappendonly {conf_aof}\n')
    srv = RedisServer(binary, tmp_path, conf=conf).start()
    try:
        c = srv.client()
        if in_rewrite:  # the real rewrite of 3 keys is quick: slow its child to 1 s a key
            c.command("CONFIG", "SET", "rdb-key-save-delay", "1000000")
        start = time.monotonic()
        for at, line in before:
            time.sleep(max(0.0, at - (time.monotonic() - start)))
            c.command(*shlex.split(line))
        time.sleep(0.2 if in_rewrite else 0.5)
        c.close()
    finally:
        srv.crash()
    srv = RedisServer(binary, tmp_path, conf=conf).start()
    try:
        c = srv.client()
        real = [_reply_text(c.command(*shlex.split(line))) for _, line in after]
        c.close()
    finally:
        srv.stop()
    # (in the in-rewrite case the model's preload is lost with the rest: 0 keys on both)
    assert model == real, (case, model, real)
    assert real[0] == {"on-rewrite": 4, "off-no-rewrite": 3}.get(case, 0)


def test_a_rewrite_scheduled_behind_a_bgsave_dies_with_the_process():
    """CONFIG SET appendonly yes while a BGSAVE runs schedules the rewrite; a crash before
    serverCron starts it takes the schedule with it: the restarted process (appendonly no
    in its file) forks nothing."""
    preload = {"keys": 20_000, "value-size": 1000}
    sim, res = _run_script({"save": ""}, [(0.1, "BGSAVE"), (0.1, "CONFIG SET appendonly yes"),
                                          (2.0, "INFO persistence")], preload=preload,
                           faults=[{"at": 0.105, "kind": "crash", "restart-after": 0.5}])
    info = _info(res.workloads[0].records[-1]["reply"])
    assert info["aof_enabled"] == "0" and info["aof_rewrite_scheduled"] == "0"
    assert [kind for _, kind, _ in sim.persistence.saves_started] == ["rdb"]


#: SAVE (which sets no save time), then a BGSAVE, INFO after each
SAVE_TIME_STEPS = [(0.0, "SET a 1"), (0.0, "SAVE"), (0.0, "INFO persistence"),
                   (0.0, "BGSAVE"), (0.0, "INFO persistence")]


def test_bgsave_times_count_whole_seconds_of_the_clock_and_save_sets_none(tmp_path):
    """INFO's rdb_last_bgsave_time_sec and rdb_current_bgsave_time_sec are time(NULL)
    differences, from the fork to the reap or to now; a foreground SAVE leaves them alone
    (a real server gives -1 after SAVE, and -1 then 0 while its BGSAVE runs: the same
    second). On 1 GB the model's BGSAVE from 1.5 s runs ~0.9 s: 1 s at 2.1 s, took 1."""
    real = _run_real(tmp_path, SAVE_TIME_STEPS)
    _, res = _run_script({"save": ""}, SAVE_TIME_STEPS)
    model = [r["reply"] for r in res.workloads[0].records]
    fields = ("rdb_last_bgsave_time_sec", "rdb_current_bgsave_time_sec")
    for i in (2, 4):
        assert [_info(model[i])[f] for f in fields] == [_info(real[i])[f] for f in fields]
    assert _info(model[2])["rdb_last_bgsave_time_sec"] == "-1"

    preload = {"keys": 100_000, "value-size": 10_000, "distinct-values": False}
    _, res = _run_script({"save": ""}, [(1.5, "BGSAVE"), (2.1, "INFO persistence"),
                                        (3.0, "INFO persistence")], preload=preload)
    got = [[_info(r["reply"])[f] for f in fields] for r in res.workloads[0].records[1:]]
    assert got == [["-1", "1"], ["1", "-1"]]
