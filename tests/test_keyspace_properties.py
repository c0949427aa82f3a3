"""Properties that hold for every command sequence (hypothesis, fixed seeds)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from redissim.server.keyspace import Keyspace

T0 = 1_700_000_000_000
KEYS = [b"a", b"b", b"c", b"d", b"e", b"h", b"l"]

ops = st.one_of(
    st.tuples(st.just(b"SET"), st.sampled_from(KEYS), st.just(b"v")).map(list),
    st.tuples(st.just(b"SET"), st.sampled_from(KEYS), st.just(b"v"), st.just(b"PX"),
              st.integers(1, 500).map(lambda n: str(n).encode())).map(list),
    st.tuples(st.sampled_from([b"DEL", b"GET", b"INCR", b"PERSIST", b"TTL", b"EXISTS"]), st.sampled_from(KEYS)).map(list),
    st.tuples(st.just(b"HSET"), st.sampled_from(KEYS), st.just(b"f"), st.just(b"1")).map(list),
    st.tuples(st.just(b"RPUSH"), st.sampled_from(KEYS), st.just(b"x")).map(list),
    st.tuples(st.just(b"LPOP"), st.sampled_from(KEYS)).map(list),
    st.tuples(st.just(b"PEXPIRE"), st.sampled_from(KEYS), st.integers(-5, 500).map(lambda n: str(n).encode())).map(list),
    st.tuples(st.just(b"RENAME"), st.sampled_from(KEYS), st.sampled_from(KEYS)).map(list),
)


@settings(max_examples=300, derandomize=True)
@given(st.lists(st.tuples(ops, st.integers(0, 200)), max_size=60))
def test_dbsize_equals_keys_present(steps: list[tuple[list[bytes], int]]) -> None:
    """DBSIZE == number of keys in the main dict, and KEYS * == the non-expired ones."""
    ks = Keyspace()
    t = T0
    for line, dt in steps:
        t += dt
        ks.execute(line, t)
        data = ks.dbs[0].data
        assert ks.execute([b"DBSIZE"], t) == len(data)
        live = {k for k in data if not (k in ks.dbs[0].exp and t > ks.dbs[0].exp[k])}
        assert set(ks.execute([b"KEYS", b"*"], t)) == live  # type: ignore[arg-type]
        assert set(ks.dbs[0].exp) <= set(data)  # no TTL without a key


reads = st.sampled_from([b"GET", b"TTL", b"PTTL", b"EXISTS", b"TYPE", b"STRLEN", b"DBSIZE", b"KEYS", b"SCAN"])


@settings(max_examples=200, derandomize=True)
@given(ttl=st.integers(1, 100_000), steps=st.lists(st.tuples(reads, st.integers(0, 5000)), max_size=40))
def test_ttl_never_increases_without_a_write(ttl: int, steps: list[tuple[bytes, int]]) -> None:
    ks = Keyspace()
    ks.execute([b"SET", b"k", b"v", b"PX", str(ttl).encode()], T0)
    t = T0
    last = ks.execute([b"PTTL", b"k"], t)
    assert last == ttl
    for cmd, dt in steps:
        t += dt
        line = {b"DBSIZE": [cmd], b"KEYS": [cmd, b"*"], b"SCAN": [cmd, b"0"]}.get(cmd, [cmd, b"k"])
        ks.execute(line, t)
        now = ks.execute([b"PTTL", b"k"], t)
        assert isinstance(now, int) and isinstance(last, int)
        if last == -2:
            assert now == -2  # once gone, gone
        else:
            assert now <= last
            assert now == -2 or now == T0 + ttl - t
        last = now


@settings(max_examples=150, derandomize=True)
@given(
    initial=st.integers(0, 300),
    count=st.integers(1, 20),
    per_call=st.lists(st.integers(0, 40), min_size=1, max_size=200),
    deletes=st.booleans(),
)
def test_full_scan_returns_every_key_present_throughout(initial: int, count: int, per_call: list[int], deletes: bool) -> None:
    """Keys present for the whole iteration are all returned, even while the table grows."""
    ks = Keyspace()
    stable = [b"stable:%d" % i for i in range(initial)]
    for k in stable:
        ks.execute([b"SET", k, b"v"], T0)
    cursor = b"0"
    seen: set[bytes] = set()
    added = 0
    for n in per_call:
        reply = ks.execute([b"SCAN", cursor, b"COUNT", str(count).encode()], T0)
        assert isinstance(reply, list)
        cursor, keys = reply
        seen.update(keys)
        for _ in range(n):
            ks.execute([b"SET", b"churn:%d" % added, b"v"], T0)
            if deletes and added % 2:
                ks.execute([b"DEL", b"churn:%d" % (added - 1)], T0)
            added += 1
        if cursor == b"0":
            break
    else:
        while cursor != b"0":
            reply = ks.execute([b"SCAN", cursor, b"COUNT", str(count).encode()], T0)
            assert isinstance(reply, list)
            cursor, keys = reply
            seen.update(keys)
    assert set(stable) <= seen
    assert seen <= set(stable) | {b"churn:%d" % i for i in range(added)}  # nothing invented
