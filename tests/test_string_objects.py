"""String objects that are not stored as SET stores them, against a real redis-server 7.

The first APPEND to an existing key makes its value ``raw`` (dbUnshareStringValue) and every
append that does not fit grows the buffer to twice the new length (sdsMakeRoomFor,
server/sds.py); SETRANGE does the same, or makes an exact raw buffer for a new key;
INCRBYFLOAT stores its result as an ``embstr`` even when it reads as an integer. OBJECT
ENCODING, OBJECT REFCOUNT and MEMORY USAGE show them. The same command lines go to a real
server and to the model (a script workload, with the server's jemalloc quantum); every reply
must be equal. (The used_memory test checks the plumbing: INFO follows the buffers.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from realredis import RedisServer
from test_commandstats import _reply
from test_memory import _lg_quantum_of

from redissim.scenario import Scenario
from redissim.server import memory as m
from redissim.server import sds
from redissim.sim.engine import simulate

# (With Debian's 16-byte quantum the buffer grows at the 2nd, 7th and 18th append of 10
# bytes, the last time to 382 bytes, past what an sdshdr8 holds: the MEMORY USAGE after each
# one shows where.)
LINES: list[list[str]] = [
    ["SET", "k", "hello"], ["OBJECT", "ENCODING", "k"], ["MEMORY", "USAGE", "k"],
    ["APPEND", "k", " world"], ["OBJECT", "ENCODING", "k"], ["MEMORY", "USAGE", "k"],
    *[line for _ in range(26) for line in (["APPEND", "k", "x" * 10], ["MEMORY", "USAGE", "k"])],
    ["APPEND", "k", "y" * 300], ["MEMORY", "USAGE", "k"],
    # a number is decoded into a raw copy, and is an integer again once INCR writes it
    ["SET", "n", "123"], ["APPEND", "n", "4"], ["OBJECT", "ENCODING", "n"],
    ["MEMORY", "USAGE", "n"], ["INCR", "n"], ["OBJECT", "ENCODING", "n"],
    ["MEMORY", "USAGE", "n"],
    # a raw value SET stored (over 44 bytes, its slack trimmed) is appended to in place
    ["SET", "big", "b" * 100], ["MEMORY", "USAGE", "big"], ["APPEND", "big", "z"],
    ["MEMORY", "USAGE", "big"], ["OBJECT", "ENCODING", "big"],
    ["SET", "b47", "c" * 47], ["APPEND", "b47", "d"], ["MEMORY", "USAGE", "b47"],
    # APPEND creating a key stores it as SET would; an empty append still unshares it
    ["APPEND", "new", "abc"], ["OBJECT", "ENCODING", "new"], ["APPEND", "new", ""],
    ["OBJECT", "ENCODING", "new"], ["MEMORY", "USAGE", "new"],
    # RENAME keeps the object; SET replaces it
    ["RENAME", "new", "new2"], ["OBJECT", "ENCODING", "new2"], ["MEMORY", "USAGE", "new2"],
    ["SET", "new2", "abc"], ["OBJECT", "ENCODING", "new2"], ["MEMORY", "USAGE", "new2"],
    ["SET", "e", ""], ["APPEND", "e", "q"], ["MEMORY", "USAGE", "e"],
    ["APPEND", "w", "x" * 31], ["APPEND", "w", "x"], ["MEMORY", "USAGE", "w"],
    # INCRBYFLOAT: text, never an integer; APPEND to it copies it; SET makes "3" an int again
    ["SET", "f", "1"], ["INCRBYFLOAT", "f", "2"], ["OBJECT", "ENCODING", "f"],
    ["OBJECT", "REFCOUNT", "f"], ["MEMORY", "USAGE", "f"], ["INCRBYFLOAT", "g", "10.5"],
    ["OBJECT", "ENCODING", "g"], ["MEMORY", "USAGE", "g"], ["INCRBYFLOAT", "h", "7"],
    ["APPEND", "h", "0"], ["OBJECT", "ENCODING", "h"], ["MEMORY", "USAGE", "h"],
    ["SET", "f", "3"], ["OBJECT", "ENCODING", "f"], ["OBJECT", "REFCOUNT", "f"],
    ["MEMORY", "USAGE", "f"],
    # a failed INCR leaves the buffer alone; a one-byte value SET again is an embstr again
    ["APPEND", "r", "ab"], ["APPEND", "r", "c"], ["INCR", "r"], ["OBJECT", "ENCODING", "r"],
    ["SET", "one", "x"], ["APPEND", "one", ""], ["OBJECT", "ENCODING", "one"],
    ["SET", "one", "x"], ["OBJECT", "ENCODING", "one"], ["MEMORY", "USAGE", "one"],
    # SETRANGE: a new key gets an exact raw buffer, an existing one grows as APPEND grows it
    ["SETRANGE", "sr", "3", "abc"], ["OBJECT", "ENCODING", "sr"], ["MEMORY", "USAGE", "sr"],
    ["GETRANGE", "sr", "0", "-1"], ["SETRANGE", "sr", "40", "z"], ["MEMORY", "USAGE", "sr"],
    ["SETRANGE", "sr", "1", "QQ"], ["MEMORY", "USAGE", "sr"], ["GETRANGE", "sr", "-3", "-1"],
    ["SET", "s5", "12345"], ["SETRANGE", "s5", "1", "x"], ["OBJECT", "ENCODING", "s5"],
    ["MEMORY", "USAGE", "s5"], ["SETRANGE", "s5", "0", ""], ["SETRANGE", "nokey", "5", ""],
    ["EXISTS", "nokey"], ["SET", "big2", "q" * 200], ["SETRANGE", "big2", "0", "Q"],
    ["MEMORY", "USAGE", "big2"], ["SETRANGE", "big2", "300", "end"], ["MEMORY", "USAGE", "big2"],
    ["SUBSTR", "big2", "198", "201"],
]


def _model(lines: list[list[str]], lgq: int) -> list[object]:
    doc: dict = {"name": "append", "model": {"jemalloc-lg-quantum": lgq}, "workloads": [
        {"type": "script", "steps": [{"at": i * 0.001, "cmd": line}
                                     for i, line in enumerate(lines)]}]}
    res = simulate(Scenario.model_validate(doc))
    return [r["reply"] for r in res.workloads[0].records]


def test_string_objects_match_redis(binary: str, tmp_path: Path) -> None:
    srv = RedisServer(binary, tmp_path).start()
    try:
        c = srv.client()
        try:
            lgq = _lg_quantum_of(c)
            real = [_reply(c.command(*line)) for line in LINES]
        finally:
            c.close()
    finally:
        srv.stop()
    model = _model(LINES, lgq)
    for line, r, mo in zip(LINES, real, model, strict=True):
        assert (line[:2], mo) == (line[:2], r)
    # the string built 10 bytes at a time takes more than the same string SET would
    usage = [int(str(r)) for line, r in zip(LINES, real, strict=True)
             if line == ["MEMORY", "USAGE", "k"]]
    assert usage[-2] > m.memory_usage_key(b"k", b"x" * 271, lg_quantum=lgq)


def test_used_memory_follows_the_buffer() -> None:
    """INFO's used_memory grows by what each growth of the buffer allocates, and not when
    an append fits in the room the last growth left."""
    lines = [["SET", "k", "a" * 50], ["INFO", "memory"]]
    lines += [line for _ in range(8) for line in (["APPEND", "k", "x" * 20], ["INFO", "memory"])]
    replies = _model(lines, 3)
    used = [int(next(f.split(":")[1] for f in str(r).split("\r\n")
                     if f.startswith("used_memory:"))) for r in replies[1::2]]
    first = buf = sds.stored_by_set(50, 3)
    expect = []
    for i in range(8):
        buf = sds.cat(50 + 20 * i, buf, 20, 3)
        expect.append(buf[1] - first[1])
    assert [u - used[0] for u in used[1:]] == expect
    assert 0 < len(set(expect)) < len(expect)  # some appends grew it, some fitted


@given(st.lists(st.integers(0, 3000), min_size=1, max_size=30), st.integers(0, 100),
       st.sampled_from([3, 4]))
def test_a_buffer_always_holds_its_string(adds: list[int], first: int, lgq: int) -> None:
    length = first
    buf = sds.unshared(b"v" * first, lgq)
    for add in adds:
        cap, usable = sds.cat(length, buf, add, lgq)
        length += add
        assert cap >= length  # room for the string
        assert usable >= cap + 1  # and the terminator, inside the allocation
        assert usable == m.jemalloc_size(usable, lgq)  # a size class
        assert (cap, usable) >= buf  # never shrinks
        buf = (cap, usable)


_KEYS = ["a", "b"]
_VALUES = ["1", "7", "x", "", "abc", "-2", "y" * 50, "z" * 300]
_WRITES = st.one_of(
    st.tuples(st.just("SET"), st.sampled_from(_KEYS), st.sampled_from(_VALUES)),
    st.tuples(st.just("APPEND"), st.sampled_from(_KEYS), st.sampled_from(_VALUES)),
    st.tuples(st.just("SETRANGE"), st.sampled_from(_KEYS), st.sampled_from(["0", "2", "60"]),
              st.sampled_from(_VALUES)),
    st.tuples(st.sampled_from(["GETSET", "SETNX"]), st.sampled_from(_KEYS),
              st.sampled_from(_VALUES)),
    st.tuples(st.just("MSET"), st.sampled_from(_KEYS), st.sampled_from(_VALUES)),
    st.tuples(st.sampled_from(["INCR", "DEL"]), st.sampled_from(_KEYS)),
    st.tuples(st.just("INCRBYFLOAT"), st.sampled_from(_KEYS), st.sampled_from(["1", "0.5"])),
    st.tuples(st.just("RENAME"), st.sampled_from(_KEYS), st.sampled_from(_KEYS)),
).map(list)


@pytest.fixture(scope="module")
def server_and_quantum(binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[RedisServer, int]]:
    srv = RedisServer(binary, tmp_path_factory.mktemp("strings")).start()
    try:
        c = srv.client()
        lgq = _lg_quantum_of(c)
        c.close()
        yield srv, lgq
    finally:
        srv.stop()


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(_WRITES, min_size=1, max_size=12))
# one-byte values are shared objects: a record must go with its value, not with the object
@example([["INCRBYFLOAT", "a", "1"], ["MSET", "a", "1"]])
@example([["INCRBYFLOAT", "a", "1"], ["GETSET", "a", "1"], ["SET", "b", "x"]])
@example([["APPEND", "a", "x"], ["APPEND", "a", ""], ["DEL", "a"], ["SET", "a", "x"]])
def test_any_sequence_of_string_writes_matches_redis(
        server_and_quantum: tuple[RedisServer, int], writes: list[list[str]]) -> None:
    """Whatever writes come in whatever order, every key's OBJECT ENCODING and MEMORY USAGE
    after each of them are the real server's: a record of ``Db.strings`` never outlives the
    value it describes, and none is missing."""
    srv, lgq = server_and_quantum
    lines: list[list[str]] = [["FLUSHALL"]]
    for w in writes:
        lines.append(w)
        for k in _KEYS:
            lines += [["OBJECT", "ENCODING", k], ["MEMORY", "USAGE", k]]
    c = srv.client()
    try:
        real = [_reply(c.command(*line)) for line in lines]
    finally:
        c.close()
    assert _model(lines, lgq) == real
