"""The encoding limits: a hash's encoding under hash-max-listpack-entries and
hash-max-listpack-value (t_hash.c, rdb.c), a list's nodes under list-max-listpack-size
(quicklist.c): set in the scenario, changed by CONFIG SET during a run, applied at a
restart's load. The model's replies against a real redis-server 7.0 given the same lines
(skipped where none is installed)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from realredis import RedisServer, find_redis_server  # noqa: E402
from test_config import _pairs, _reply_text, _run_script  # noqa: E402
from test_memory import _lg_quantum_of  # noqa: E402

from redissim.scenario import Scenario, ScenarioError, load_scenario  # noqa: E402
from redissim.server.keyspace import Keyspace  # noqa: E402
from redissim.server.listpack import HashTable  # noqa: E402
from redissim.server.persistence import copy_dataset, restore_dataset  # noqa: E402

#: lines sent to both, one at a time: a hash stays a listpack when the limit is lowered
#: under it and converts at its next write (HSET, HSETNX, HINCRBY), a value limit with a
#: memory unit, the bounds, the alias, and MEMORY USAGE of each encoding
LINES = [
    "HSET h1 f1 v1 f2 v2 f3 v3", "OBJECT ENCODING h1", "MEMORY USAGE h1",
    "CONFIG SET hash-max-listpack-entries 2", "CONFIG GET hash-max-ziplist-entries",
    "OBJECT ENCODING h1", "MEMORY USAGE h1", "HGET h1 f2",
    "HSET h1 f1 new", "OBJECT ENCODING h1", "MEMORY USAGE h1",
    "HSET h2 a 1 b 2", "OBJECT ENCODING h2", "HSET h2 c 3", "OBJECT ENCODING h2",
    "HSETNX h3 a 1", "HSETNX h3 b 2", "OBJECT ENCODING h3", "HSETNX h3 c 3",
    "OBJECT ENCODING h3",
    "HINCRBY h4 a 1", "HINCRBY h4 b 1", "OBJECT ENCODING h4", "HINCRBY h4 c 1",
    "OBJECT ENCODING h4",
    "CONFIG SET hash-max-listpack-entries 512 hash-max-listpack-value 4",
    "HSET h5 f 1234", "OBJECT ENCODING h5", "HSET h6 f 12345", "OBJECT ENCODING h6",
    "HSET h7 field 1", "OBJECT ENCODING h7", "HINCRBY h5 f 99999", "OBJECT ENCODING h5",
    "CONFIG SET hash-max-listpack-value 1kb", "CONFIG GET hash-max-listpack-value",
    "HDEL h2 c", "OBJECT ENCODING h2", "MEMORY USAGE h2",
    "CONFIG SET hash-max-listpack-entries -1", "CONFIG SET hash-max-listpack-value x",
    "CONFIG SET hash-max-listpack-entries 0", "HSET h8 a 1", "OBJECT ENCODING h8",
    "CONFIG GET hash-max-*",
]


def _items(n: int, start: int = 0) -> str:
    """n list elements: strings of 6-9 bytes, and every third a small integer (a listpack
    stores those in 2 bytes)."""
    return " ".join(f"item-{i}" if i % 3 else str(i) for i in range(start, start + n))


#: lines sent to both: lists created under each kind of fill (sizes -1 and -5, beyond -5,
#: counts 10, 0 and beyond FILL_MAX, which the 8 KiB safety limit then bounds), a list that
#: goes on growing by the fill it was created with after the setting changed, the alias, a
#: bad value; MEMORY USAGE of all their nodes
LIST_LINES = [
    f"RPUSH l1 {_items(600)}", "MEMORY USAGE l1 SAMPLES 0",
    "CONFIG SET list-max-listpack-size 10", f"RPUSH l2 {_items(600)}",
    "MEMORY USAGE l2 SAMPLES 0", f"RPUSH l1 {_items(900, 600)}", "MEMORY USAGE l1 SAMPLES 0",
    "CONFIG SET list-max-ziplist-size -1", f"RPUSH l3 {_items(900)}",
    "MEMORY USAGE l3 SAMPLES 0", "CONFIG SET list-max-listpack-size -5",
    f"RPUSH l4 {_items(5000)}", "MEMORY USAGE l4 SAMPLES 0",
    "CONFIG SET list-max-listpack-size -9", f"RPUSH l5 {_items(9000)}",
    "MEMORY USAGE l5 SAMPLES 0", "CONFIG SET list-max-listpack-size 0", f"RPUSH l6 {_items(7)}",
    "MEMORY USAGE l6 SAMPLES 0", "CONFIG SET list-max-listpack-size 100000",
    f"RPUSH l7 {_items(3000)}", "MEMORY USAGE l7 SAMPLES 0", "MEMORY USAGE l7",
    "CONFIG GET list-max-ziplist-size", "CONFIG SET list-max-listpack-size x",
    "CONFIG SET list-max-listpack-size 2147483648", "OBJECT ENCODING l7",
]


@pytest.mark.parametrize("lines", [LINES, LIST_LINES], ids=["hashes", "lists"])
def test_the_limits_shape_values_as_a_real_server_does(tmp_path, lines):
    """Every reply of the model equals a real server's: the encodings, MEMORY USAGE to the
    byte (listpacks, hash tables, each list's nodes), CONFIG GET and the errors."""
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    srv = RedisServer(binary, tmp_path).start()
    try:
        c = srv.client()
        lgq = _lg_quantum_of(c)
        real = [_reply_text(c.command(*shlex.split(line))) for line in lines]
        c.close()
    finally:
        srv.stop()
    _, res = _run_script({"save": ""}, [(0.001 * i, line) for i, line in enumerate(lines)],
                         model={"jemalloc-lg-quantum": lgq})
    model = [r["reply"] for r in res.workloads[0].records]
    for line, m, r in zip(lines, model, real, strict=True):
        if isinstance(m, list):  # (CONFIG GET: Redis answers in its dict's order)
            assert _pairs(m) == _pairs(r), (line[:60], m, r)  # type: ignore[arg-type]
        else:
            assert m == r, (line[:60], m, r)
    # (the lines make sure of what they test: the encodings met, and the errors)
    if lines is LINES:
        assert "listpack" in real and "hashtable" in real
    assert sum(isinstance(r, dict) for r in real) == 2


#: a config file with low limits, a process that raises them and saves, a restart
CONF = 'save ""\nappendonly no\nhash-max-listpack-entries 1\nlist-max-listpack-size 4\n'
BEFORE = ["HSET a x 1 y 2", "CONFIG SET hash-max-listpack-entries 8", "HSET b x 1 y 2",
          "OBJECT ENCODING a", "OBJECT ENCODING b",
          "CONFIG SET list-max-listpack-size -2", f"RPUSH l {_items(100)}",
          "MEMORY USAGE l SAMPLES 0", "SAVE"]
AFTER = ["OBJECT ENCODING a", "OBJECT ENCODING b", "CONFIG GET hash-max-listpack-entries",
         "HSET c x 1 y 2", "OBJECT ENCODING c", "MEMORY USAGE l SAMPLES 0",
         f"RPUSH m {_items(100)}", "MEMORY USAGE m SAMPLES 0"]


def test_a_restart_loads_under_the_config_files_limits(tmp_path):
    """Saved as a listpack under the limit CONFIG SET raised, a hash comes back from
    dump.rdb as a hash table under the config file's limit (rdbLoadObject converts it), and
    the restarted process goes on with that limit. A list comes back with the nodes it was
    saved with (of 8 KiB, where the file says 4 elements), and a new one gets the file's."""
    steps = [(0.1, line) for line in BEFORE] + [(2.0, line) for line in AFTER]
    _, res = _run_script({"save": "", "hash-max-listpack-entries": 1,
                          "list-max-listpack-size": 4}, steps,
                         faults=[{"at": 1.0, "kind": "crash", "restart-after": 0.5}],
                         model={"jemalloc-lg-quantum": 4})
    model = [r["reply"] for r in res.workloads[0].records]
    assert model[:7] + model[8:14] == [
        2, "OK", 2, "hashtable", "listpack", "OK", 100, "OK", "hashtable", "hashtable",
        ["hash-max-listpack-entries", "1"], 2, "hashtable"]
    assert model[14] == model[7] < model[16]  # (the saved nodes; 25 nodes of 4 for m)
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    conf = tmp_path / "redis.conf"
    conf.write_text(CONF)
    probe = RedisServer(binary, tmp_path).start()
    try:
        c = probe.client()
        if _lg_quantum_of(c) != 4:
            pytest.skip("the model's figures here are for a jemalloc of 16-byte quantum")
        c.close()
    finally:
        probe.stop()
    real = []
    for lines in (BEFORE, AFTER):
        srv = RedisServer(binary, tmp_path, conf=conf).start()
        try:
            c = srv.client()
            real += [_reply_text(c.command(*shlex.split(line))) for line in lines]
            c.close()
        finally:
            srv.crash()
    assert real == model


def test_a_load_builds_each_hash_under_the_loading_limits():
    """rdbLoadObject: a listpack when the hash has at most hash-max-listpack-entries fields
    and none longer than hash-max-listpack-value, whatever it was saved as."""
    ks = Keyspace()
    ks.execute([b"HSET", b"small", b"f", b"v"], 0)
    ks.execute([b"HSET", b"long", b"f", b"v" * 20], 0)
    ks.execute([b"HSET", b"many", *[b"%d" % i for i in range(8)]], 0)
    saved = copy_dataset(ks)
    for entries, value, converted in [(512, 64, set()), (3, 64, {b"many"}),
                                      (512, 10, {b"long"}), (0, 0, {b"small", b"long", b"many"})]:
        ks.hash_max_listpack_entries, ks.hash_max_listpack_value = entries, value
        restore_dataset(ks, saved, load=True)
        got = {k for k, v in ks.dbs[0].data.items() if type(v) is HashTable}
        assert got == converted, (entries, value)


def test_the_limits_in_a_scenario_and_their_errors():
    script = {"type": "script", "steps": [{"at": 0, "cmd": "PING"}]}
    sc = Scenario.model_validate({"name": "h", "server": {"hash-max-listpack-value": "1kb"},
                                  "workloads": [script]})
    assert sc.server.hash_max_listpack_value == 1024
    with pytest.raises(ScenarioError, match="hash-max-listpack-entries"):
        load_scenario("quickstart", ["server.hash-max-listpack-entries=-1"])
