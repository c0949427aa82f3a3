"""server/cluster_slots.py against independent references and the real Redis 7.0 tools.

* CRC16 and the hash-tag rule against a bit-by-bit CRC and a tag rule written here, for
  arbitrary keys (hypothesis), and against ``CLUSTER KEYSLOT`` of a real cluster-enabled
  redis-server.
* ``allocate_slots`` against a float32 re-statement with numpy, and against the slots
  each node of a real cluster owns after ``redis-cli --cluster create`` (3 and 5 masters).
* ``slot_tag`` against spot checks from redis-benchmark's table, and against the keys a
  real ``redis-benchmark --cluster`` run leaves on a 3-master cluster.

The real servers are started on 127.0.0.1 in temporary directories and stopped by PID; the
tests that need them are skipped when redis-server, redis-cli or redis-benchmark is not
installed. The two ``redis-cli --cluster create`` runs take most of the time (2-4 s, mostly
redis-cli's one-second sleeps while the nodes gossip), so they run concurrently.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from realredis import RedisServer, cluster_node, find_redis_server

from redissim.server.cluster_slots import (
    CLUSTER_SLOTS,
    allocate_slots,
    benchmark_key_tag,
    crc16,
    key_hash_slot,
    node_of_slot,
    slot_tag,
)

# --- independent references ------------------------------------------------------------


def ref_crc16(data: bytes) -> int:
    """CRC-16/XMODEM one bit at a time: polynomial 0x1021, init 0, MSB first, no xor-out."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = (crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def ref_hashed_part(key: bytes) -> bytes:
    """The part of a key that is hashed, by the rule of the cluster specification: when
    there is a ``}`` somewhere after the first ``{``, and the two are not adjacent, only
    what lies between them. Written with partition(), unlike the module's find()."""
    if b"{" not in key:
        return key
    _, _, after = key.partition(b"{")
    tag, closed, _ = after.partition(b"}")
    return tag if closed and tag else key


def ref_slot(key: bytes) -> int:
    return ref_crc16(ref_hashed_part(key)) % 16384


# keys with many braces, so that every branch of the tag rule is exercised
brace_keys = st.lists(
    st.one_of(st.sampled_from([b"{", b"}", b"{}", b"}{", b"a", b"b", b"user:"]),
              st.binary(max_size=4)),
    max_size=8,
).map(b"".join)
any_keys = st.one_of(st.binary(max_size=40), brace_keys)

EDGE_CASES: list[tuple[bytes, bytes]] = [  # key, the part that is hashed
    (b"", b""),
    (b"abc", b"abc"),
    (b"{}", b"{}"),                    # empty tag: the whole key
    (b"{}x", b"{}x"),
    (b"{}{a}", b"{}{a}"),              # only the first "{" counts, and its tag is empty
    (b"{{a}}", b"{a"),                 # the tag starts right after the first "{"
    (b"a{b}c{d}", b"b"),               # only the first tag
    (b"}{", b"}{"),                    # "}" before "{": no tag
    (b"x}y{z", b"x}y{z"),
    (b"a{bc", b"a{bc"),                # no "}" at all
    (b"{", b"{"),
    (b"}", b"}"),
    (b"{a}", b"a"),
    (b"{user1000}.following", b"user1000"),
    (b"foo{}{bar}", b"foo{}{bar}"),
    (b"foo{{bar}}zap", b"{bar"),
    (b"foo{bar}{zap}", b"bar"),
    (b"key:{06S}:000000000010", b"06S"),
    (b"key:{Qi}}:000000000010", b"Qi"),  # redis-benchmark's padding of a short tag
    (b"\xff{\x00}\xfe", b"\x00"),
    (b"somekey", b"somekey"),
    (b"foo{hash_tag}", b"hash_tag"),
]


# --- pure tests ---------------------------------------------------------------------------


def test_crc16_check_value() -> None:
    # the XMODEM check value that crc16.c documents
    assert crc16(b"123456789") == ref_crc16(b"123456789") == 0x31C3


@given(st.binary(max_size=200))
def test_crc16_equals_bitwise_reference(data: bytes) -> None:
    assert crc16(data) == ref_crc16(data)


@given(any_keys)
def test_key_hash_slot_equals_reference(key: bytes) -> None:
    assert key_hash_slot(key) == ref_slot(key)


@pytest.mark.parametrize(("key", "hashed"), EDGE_CASES)
def test_hash_tag_edge_cases(key: bytes, hashed: bytes) -> None:
    assert ref_hashed_part(key) == hashed
    assert key_hash_slot(key) == ref_crc16(hashed) & 16383


def test_documented_keyslot_examples() -> None:
    # the examples of the CLUSTER KEYSLOT reference page (redis.io/commands/cluster-keyslot)
    assert key_hash_slot(b"somekey") == 11058
    assert key_hash_slot(b"foo{hash_tag}") == 2515


def ref_allocate(masters: int) -> list[tuple[int, int]]:
    """clusterManagerCommandCreate's arithmetic in numpy float32 (single precision, as the C
    ``float``s), with lround as round-half-away-from-zero."""
    f = np.float32
    per_node = f(16384) / f(masters)
    cursor = f(0.0)
    first = 0
    out = []
    for i in range(masters):
        x = float((cursor + per_node) - f(1))
        last = int(np.floor(x + 0.5))
        if last > 16384 or i == masters - 1:
            last = 16383
        last = max(last, first)
        out.append((first, last))
        first = last + 1
        cursor = f(cursor + per_node)
    return out


@pytest.mark.parametrize("masters", [*range(1, 160), 255, 256, 1000, 1023, 7541, 8192, 16384])
def test_allocate_slots_equals_float32_reference(masters: int) -> None:
    ranges = allocate_slots(masters)
    assert ranges == ref_allocate(masters)
    # a partition of the slots, in order, every master owning at least one
    assert ranges[0][0] == 0 and ranges[-1][1] == CLUSTER_SLOTS - 1
    assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert all(first <= last for first, last in ranges)


def test_allocate_slots_known_values() -> None:
    assert allocate_slots(1) == [(0, 16383)]
    assert allocate_slots(2) == [(0, 8191), (8192, 16383)]
    # printed by redis-cli 7.0.15 --cluster create ("Master[i] -> Slots a - b")
    assert allocate_slots(3) == [(0, 5460), (5461, 10922), (10923, 16383)]
    assert allocate_slots(5) == [(0, 3276), (3277, 6553), (6554, 9829), (9830, 13106),
                                 (13107, 16383)]
    # 130 masters: one end falls on exactly 14240.5 in float, which lround rounds up
    # (Python's round() would give 14240)
    assert allocate_slots(130)[112:114] == [(14115, 14241), (14242, 14367)]
    assert allocate_slots(16384) == [(s, s) for s in range(16384)]


@pytest.mark.parametrize("masters", [0, -1, 16385, 7542, 7559])
def test_allocate_slots_rejects(masters: int) -> None:
    with pytest.raises(ValueError):
        allocate_slots(masters)


def test_float_cursor_overrun() -> None:
    # 7542 is the smallest count for which redis-cli's float cursor overruns: its last
    # master would start at slot 16384, which does not exist
    assert ref_allocate(7542)[-1] == (16384, 16384)
    assert all(r[-1][0] <= 16383 for r in map(ref_allocate, (7540, 7541)))


def test_node_of_slot() -> None:
    owners = node_of_slot(allocate_slots(3))
    assert len(owners) == CLUSTER_SLOTS
    assert owners[0] == owners[5460] == 0 and owners[5461] == owners[10922] == 1
    assert owners[10923] == owners[16383] == 2
    with pytest.raises(ValueError):
        node_of_slot([(0, 100)])  # gap
    with pytest.raises(ValueError):
        node_of_slot([(0, 9000), (8000, 16383)])  # overlap
    with pytest.raises(ValueError):
        node_of_slot([(0, 16384)])  # out of range


def test_slot_tags_map_to_their_slots() -> None:
    for slot in range(CLUSTER_SLOTS):
        tag = slot_tag(slot)
        assert 1 <= len(tag) <= 3 and tag.isalnum()
        assert key_hash_slot(b"{" + tag + b"}") == slot
        assert key_hash_slot(b"key:" + benchmark_key_tag(slot) + b":000000000001") == slot
    with pytest.raises(ValueError):
        slot_tag(CLUSTER_SLOTS)


def test_slot_tags_spot_checks() -> None:
    # (slot, tag) pairs of redis-benchmark's crc16_slot_table (src/crc16_slottable.h,
    # Redis 7.0.15): its first entries, its last, and entries where a lower-case tag wins
    # over an upper-case one of the same length (the alphabet order is 0-9, a-z, A-Z)
    pairs = {0: b"06S", 1: b"Qi", 2: b"5L5", 9: b"ru", 15: b"I8", 80: b"avs", 88: b"aUo",
             89: b"b4e", 154: b"d6F", 16380: b"wu", 16383: b"6ZJ"}
    for slot, tag in pairs.items():
        assert slot_tag(slot) == tag
    # seen in the keys a real redis-benchmark --cluster run wrote on a 3-master cluster
    assert benchmark_key_tag(0) == b"{06S}"
    assert benchmark_key_tag(5461) == b"{8M}}"
    assert benchmark_key_tag(10923) == b"{63n}"


# --- the real redis-server: CLUSTER KEYSLOT -----------------------------------------------


def _tool(name: str) -> str | None:
    return shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                  else None)


@pytest.fixture(scope="module")
def keyslot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = cluster_node(binary, tmp_path_factory.mktemp("keyslot")).start()
    try:
        yield server
    finally:
        server.stop()


def _server_slots(server: RedisServer, keys: list[bytes]) -> list[object]:
    c = server.client()
    try:
        return c.pipeline([[b"CLUSTER", b"KEYSLOT", k] for k in keys])
    finally:
        c.close()


@pytest.mark.parametrize(("key", "hashed"), EDGE_CASES)
def test_hash_tag_edge_cases_against_server(keyslot_server: RedisServer, key: bytes,
                                            hashed: bytes) -> None:
    assert _server_slots(keyslot_server, [key]) == [key_hash_slot(key)]


@settings(max_examples=25, deadline=None)
@given(st.lists(any_keys, min_size=1, max_size=40))
def test_keyslot_against_server(keyslot_server: RedisServer, keys: list[bytes]) -> None:
    assert _server_slots(keyslot_server, keys) == [key_hash_slot(k) for k in keys]


def test_keyslot_against_server_random_keys(keyslot_server: RedisServer) -> None:
    rng = random.Random(7)
    keys = [bytes(rng.choice(b"ab{}:\x00\xff") for _ in range(rng.randrange(12)))
            for _ in range(300)]
    keys += [f"user:{{{rng.randrange(10**6)}}}:{i}".encode() for i in range(100)]
    assert _server_slots(keyslot_server, keys) == [key_hash_slot(k) for k in keys]


# --- real clusters: redis-cli --cluster create and redis-benchmark --cluster ---------------


def _myself_ranges(server: RedisServer) -> list[tuple[int, int]]:
    """The slot ranges a node says it owns (its ``myself`` line of CLUSTER NODES)."""
    c = server.client()
    try:
        text = c.command("CLUSTER", "NODES")
    finally:
        c.close()
    assert isinstance(text, bytes)
    line = next(ln for ln in text.decode().splitlines() if "myself" in ln.split()[2])
    ranges = []
    for field in line.split()[8:]:
        first, _, last = field.partition("-")
        ranges.append((int(first), int(last or first)))
    return ranges


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, list[RedisServer]]]:
    """A 3-master and a 5-master cluster, each made by ``redis-cli --cluster create`` from
    fresh servers given on the command line in order; {masters: servers in that order}."""
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    cli = _tool("redis-cli")
    if cli is None:
        pytest.skip("redis-cli is not installed (apt-get install redis-tools)")
    root = tmp_path_factory.mktemp("clusters")
    started: list[RedisServer] = []
    out: dict[int, list[RedisServer]] = {}
    try:
        for n in (3, 5):
            out[n] = []
            for i in range(n):
                server = cluster_node(binary, root / f"c{n}-{i}")
                started.append(server)  # before start(), so a half-started one is stopped
                out[n].append(server.start())
        # both creations at once: each mostly sleeps while its nodes gossip
        procs = {n: subprocess.Popen(
            [cli, "--cluster", "create", *(f"127.0.0.1:{s.port}" for s in out[n]),
             "--cluster-yes"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for n in out}
        for n, proc in procs.items():
            try:
                stdout, _ = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            text = stdout.decode(errors="replace")
            assert proc.returncode == 0, text
            assert "All 16384 slots covered" in text, text
            # what redis-cli printed as its plan, also checked against the model
            printed = [(int(a), int(b)) for a, b in
                       re.findall(r"Master\[\d+\] -> Slots (\d+) - (\d+)", text)]
            assert printed == allocate_slots(n), text
        yield out
    finally:
        for server in started:
            server.stop()


@pytest.mark.parametrize("masters", [3, 5])
def test_allocate_slots_against_redis_cli(clusters: dict[int, list[RedisServer]],
                                          masters: int) -> None:
    servers = clusters[masters]
    expected = allocate_slots(masters)
    # what each node owns, in the order they were given to redis-cli
    assert [_myself_ranges(s) for s in servers] == [[r] for r in expected]
    # and the whole map as a client sees it (CLUSTER SLOTS), back to the command-line order
    index = {s.port: i for i, s in enumerate(servers)}
    c = servers[0].client()
    try:
        reply = c.command("CLUSTER", "SLOTS")
    finally:
        c.close()
    assert isinstance(reply, list)
    seen = sorted((int(e[0]), int(e[1]), index[int(e[2][1])]) for e in reply)
    assert seen == [(first, last, i) for i, (first, last) in enumerate(expected)]
    owners = node_of_slot(expected)
    assert all(owners[first] == i == owners[last] for first, last, i in seen)


BENCH_KEY = re.compile(rb"key:\{([0-9A-Za-z]{1,3})(\}+):(\d{12})")


def test_redis_benchmark_keys(clusters: dict[int, list[RedisServer]]) -> None:
    bench = _tool("redis-benchmark")
    if bench is None:
        pytest.skip("redis-benchmark is not installed (apt-get install redis-tools)")
    servers = clusters[3]
    ranges = allocate_slots(3)
    owners = node_of_slot(ranges)
    run = subprocess.run(
        [bench, "--cluster", "-h", "127.0.0.1", "-p", str(servers[0].port),
         "-t", "set", "-n", "300", "-c", "6", "-r", "1000", "-q"],
        capture_output=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    total = 0
    for node, server in enumerate(servers):
        c = server.client()
        try:
            keys = c.command("KEYS", "*")
        finally:
            c.close()
        assert isinstance(keys, list) and keys, f"no keys on master {node}"
        for key in keys:
            assert isinstance(key, bytes)
            m = BENCH_KEY.fullmatch(key)
            assert m, key
            tag, padding = m.group(1), m.group(2)
            assert len(tag) + len(padding) == 4, key  # "{tag}" overwritten in place
            slot = key_hash_slot(key)
            assert owners[slot] == node, key
            assert tag == slot_tag(slot), key
            assert key == b"key:" + benchmark_key_tag(slot) + b":" + m.group(3)
            # a client bound to a master always aims at that master's first slot
            assert slot == ranges[node][0], key
        total += len(keys)
    assert 0 < total <= 300
