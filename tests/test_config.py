"""CONFIG GET against a real redis-server 7.0 started with the same settings (skipped where
absent), and what the model does not answer (server/config.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from realredis import RedisServer, find_redis_server  # noqa: E402

from redissim.scenario import Scenario, ServerConfig  # noqa: E402
from redissim.server.config import parameters  # noqa: E402
from redissim.server.keyspace import Keyspace  # noqa: E402
from redissim.sim.engine import simulate  # noqa: E402

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
    steps = ["CONFIG", "CONFIG GET", "CONFIG FOO", "CONFIG SET hz", "CONFIG SET hz 20",
             "CONFIG RESETSTAT", "CONFIG GET cluster-enabled"]
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
