"""INFO commandstats / errorstats and total_commands_processed against a real redis-server 7.

What processCommand refuses before call() (an unknown command, a wrong number of arguments,
a cluster's CROSSSLOT) is counted in the command's ``rejected_calls`` and in errorstats, but
not in its ``calls`` nor in ``total_commands_processed``; an error from inside a command
(WRONGTYPE, MSET's odd arguments, SELECT's out-of-range index) is a ``failed_calls`` of a
call that counts. The same command lines go to a real server (standalone, and a
cluster-enabled one that owns every slot) and to the model through its event loop (a
script workload); replies and counters must be equal (usec is the host's, not compared).
"""

from __future__ import annotations

from realredis import RedisServer, RespClient, cluster_node, own_all_slots

from redissim.scenario import Scenario
from redissim.server.cluster_redirect import CROSS, NO_KEYS, query_slot
from redissim.server.cluster_slots import key_hash_slot
from redissim.server.resp import ReplyError
from redissim.sim.engine import simulate

LINES = [
    "SET a 1", "SET a", "FOO bar", "GET a b", "INCR a", "LPUSH a x", "MSET a 1 b",
    "GET a", "get a", "MGET a b", "INCR nope:int", "SELECT 99", "SELECT 0", "DEL a b",
    "EXISTS a", "PING", "INCRBY a x", "HSET h", "HSET h f v", "RENAME a b", "RENAME zz b",
    "MEMORY USAGE b", "MEMORY USAGE nokey", "MEMORY BOGUS", "OBJECT ENCODING b",
    "OBJECT FREQ b", "DBSIZE", "MEMORY", "MEMORY USAGE", "OBJECT ENCODING", "MEMORY PURGE",
    # OBJECT ENCODING / REFCOUNT of each kind of value
    "SET s1 hello", "SET s2 " + "x" * 45, "SET n 5", "SET n2 123456", "HSET hh f v",
    "HSET hb f " + "y" * 65, "LPUSH ll a", "OBJECT ENCODING s1", "OBJECT ENCODING s2",
    "OBJECT ENCODING n", "OBJECT ENCODING n2", "OBJECT ENCODING hh", "OBJECT ENCODING hb",
    "OBJECT ENCODING ll", "OBJECT REFCOUNT n", "OBJECT REFCOUNT n2", "OBJECT REFCOUNT s1",
    "OBJECT FREQ s1", "MEMORY USAGE s1",
]
#: in a cluster: keys in different slots, the same key twice, one hash tag, SELECT 1
CLUSTER_LINES = [
    "MSET a 1 b 2", "MSET a 1 a 2", "MSET {u}a 1 {u}b 2", "MGET {u}a {u}b", "MGET a {u}a",
    "DEL a b", "DEL {u}a {u}b", "RENAME {u}a {u}c", "EXISTS a b", "SELECT 1", "SELECT 0",
    "SELECT 99", "SET a 1", "MSET a", "UNLINK x y",
]


def _reply(r: object) -> object:
    """A real server's reply in the form the script workload records it."""
    if isinstance(r, ReplyError | Exception):
        return {"error": str(r)}
    if isinstance(r, bytes):
        return r.decode()
    if isinstance(r, list):
        return [_reply(x) for x in r]
    return r


def _stats(text: bytes) -> dict[str, str]:
    return dict(line.split(":", 1) for line in text.decode().splitlines() if ":" in line)


def _counts(cmdstats: dict[str, str]) -> dict[str, tuple[int, int, int]]:
    """cmdstat_x -> (calls, rejected_calls, failed_calls), usec dropped."""
    out = {}
    for name, v in cmdstats.items():
        f = dict(kv.split("=") for kv in str(v).split(","))
        out[name] = (int(f["calls"]), int(f["rejected_calls"]), int(f["failed_calls"]))
    return out


def _real(server: RedisServer, lines: list[str]) -> tuple[list[object], dict[str, str]]:
    c: RespClient = server.client()
    try:
        c.command("CONFIG", "RESETSTAT")
        replies = [_reply(c.command(*line.split())) for line in lines]
        info = _stats(c.command("INFO", "everything"))
    finally:
        c.close()
    # CONFIG RESETSTAT itself is counted once it returns: take it out
    info["total_commands_processed"] = str(int(info["total_commands_processed"]) - 1)
    del info["cmdstat_config|resetstat"]
    return replies, info


def _model(lines: list[str], cluster: bool) -> tuple[list[object], dict[str, object]]:
    doc: dict = {"name": "cmdstats", "workloads": [
        {"type": "script", "steps": [{"at": i * 0.001, "cmd": line}
                                     for i, line in enumerate(lines)]}]}
    if cluster:
        doc["cluster"] = {"masters": 1}
    res = simulate(Scenario.model_validate(doc))
    replies = [r["reply"] for r in res.workloads[0].records]
    info = {k: v for sec in res.info.values() for k, v in sec.items()}
    return replies, info


def _compare(real: tuple[list[object], dict[str, str]],
             model: tuple[list[object], dict[str, object]]) -> None:
    (r_replies, r_info), (m_replies, m_info) = real, model
    assert m_replies == r_replies
    for field in ("total_commands_processed", "total_error_replies"):
        assert int(m_info[field]) == int(r_info[field]), field
    pick = ("cmdstat_", "errorstat_")
    assert _counts({k: v for k, v in m_info.items() if k.startswith(pick[0])}) == \
        _counts({k: v for k, v in r_info.items() if k.startswith(pick[0])})
    assert {k: str(v) for k, v in m_info.items() if k.startswith(pick[1])} == \
        {k: v for k, v in r_info.items() if k.startswith(pick[1])}


def test_commandstats_and_errorstats_match_redis(binary, tmp_path):
    srv = RedisServer(binary, tmp_path).start()
    try:
        real = _real(srv, LINES)
    finally:
        srv.stop()
    model = _model(LINES, cluster=False)
    _compare(real, model)
    # the rejected ones really are left out of the total
    assert int(real[1]["total_commands_processed"]) < len(LINES)


def test_crossslot_and_select_in_cluster_mode_match_redis(binary, tmp_path):
    srv = cluster_node(binary, tmp_path / "node").start()
    try:
        own_all_slots(srv)
        real = _real(srv, CLUSTER_LINES)
    finally:
        srv.stop()
    model = _model(CLUSTER_LINES, cluster=True)
    _compare(real, model)
    assert model[1]["redis_mode"] == "cluster" and model[1]["cluster_enabled"] == 1
    assert real[1]["redis_mode"] == "cluster" and real[1]["cluster_enabled"] == "1"
    assert "errorstat_CROSSSLOT" in real[1]


def test_object_idletime_without_tracked_access_times_says_so():
    """Without maxmemory and an LRU policy the model keeps no access times: OBJECT IDLETIME
    answers that, not a made-up number (with them the evictor's LRU clock answers it,
    checked in tests/test_eviction.py)."""
    replies, _info = _model(["SET k v", "OBJECT IDLETIME k"], cluster=False)
    assert replies[1] == {"error": "ERR OBJECT IDLETIME is not modelled by redissim without "
                                   "maxmemory and an LRU policy"}


def test_cross_slot_is_about_slots_not_keys():
    assert query_slot([b"MGET", b"a", b"b"]) == CROSS                   # slots 15495 and 3300
    assert query_slot([b"MGET", b"a", b"a"]) == key_hash_slot(b"a")     # the same key twice
    assert query_slot([b"MGET", b"{x}1", b"{x}2", b"{x}"]) == key_hash_slot(b"x")  # one tag
    assert query_slot([b"GET", b"a"]) == key_hash_slot(b"a")
    assert query_slot([b"MGET"]) == NO_KEYS                             # arity: refused before
    assert query_slot([b"NOSUCH", b"a", b"b"]) == NO_KEYS
