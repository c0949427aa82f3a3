"""The power-of-two bucket table behind each database (dict.c sizes, dictScan cursor)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from redissim.server.hashtable import Table, key_hash, next_cursor
from redissim.server.keyspace import Keyspace

T0 = 1_700_000_000_000


def _add(t: Table, key: bytes) -> None:
    t.data[key] = 1
    if len(t.data) > t._trigger:
        t.note_add(key)


def test_growth_follows_dict_c() -> None:
    t = Table()
    assert t.size == 0
    sizes = []
    for i in range(40):
        _add(t, b"k%d" % i)
        sizes.append(t.size)
    # 4 buckets up to 4 keys, 8 from the 5th key, 16 from the 9th, 32 from the 17th...
    assert sizes[:4] == [4] * 4 and sizes[4:8] == [8] * 4 and sizes[8:16] == [16] * 8
    assert sizes[16:32] == [32] * 16 and sizes[32] == 64


def test_growth_avoided_while_child_exists_until_ratio_5() -> None:
    t = Table()
    for i in range(4):
        _add(t, b"k%d" % i)
    t.set_resize_allowed(False)
    for i in range(4, 24):
        _add(t, b"k%d" % i)
    assert t.size == 4  # before the 24th insert: 23 // 4 = 5, not > 5
    _add(t, b"k24")
    assert t.size == 32  # before the 25th insert: 24 // 4 = 6 > 5 -> next power of two >= 25
    t.set_resize_allowed(True)


def test_shrink_and_clear() -> None:
    t = Table()
    for i in range(100):
        _add(t, b"k%d" % i)
    assert t.size == 128
    for i in range(95):
        del t.data[b"k%d" % i]
        t.note_delete(b"k%d" % i)
    assert t.needs_resize()
    assert t.shrink_to_fit() and t.size == 8
    assert not t.needs_resize()
    t.clear()
    assert t.size == 0 and t.used == 0


def test_bucket_index_is_consistent_under_adds_and_deletes() -> None:
    t = Table()
    for i in range(50):
        _add(t, b"k%d" % i)
    assert t.bucket_keys(0) is not None and t.indexed
    for i in range(50, 300):
        _add(t, b"k%d" % i)
    for i in range(0, 300, 3):
        del t.data[b"k%d" % i]
        t.note_delete(b"k%d" % i)
    seen = []
    for b, keys in t.iter_buckets():
        for k in keys:
            assert key_hash(k) & (t.size - 1) == b
        seen.extend(keys)
    assert sorted(seen) == sorted(t.data)
    assert t.nonempty_buckets() <= t.size


def test_reverse_binary_cursor_visits_every_bucket_once() -> None:
    for size in (4, 8, 64):
        seen = []
        v = 0
        while True:
            seen.append(v & (size - 1))
            v = next_cursor(v, size)
            if v == 0:
                break
        assert sorted(seen) == list(range(size))
    assert next_cursor(0, 8) == 4 and next_cursor(4, 8) == 2 and next_cursor(7, 8) == 0


def test_scan_survives_growth_between_calls() -> None:
    ks = Keyspace()
    for i in range(20):
        ks.execute([b"SET", b"old:%d" % i, b"v"], T0)
    cursor = b"0"
    seen: set[bytes] = set()
    added = 0
    while True:
        reply = ks.execute([b"SCAN", cursor, b"COUNT", b"3"], T0)
        assert isinstance(reply, list)
        cursor, keys = reply
        seen.update(keys)
        for _ in range(15):  # grow the table a lot between calls
            ks.execute([b"SET", b"new:%d" % added, b"v"], T0)
            added += 1
        if cursor == b"0":
            break
    assert {b"old:%d" % i for i in range(20)} <= seen
    assert ks.dbs[0].main.size >= 256


def test_populate_presizes_like_dict_expand() -> None:
    ks = Keyspace()
    ks.execute([b"DEBUG", b"POPULATE", b"1000"], T0)
    assert ks.dbs[0].main.size == 1024
    assert ks.dbs[0].main.rehashes == 1


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "delete", "readd"]),
                          st.integers(0, 30)), max_size=120))
def test_index_kept_up_by_adds_and_deletes_is_the_index_built_afresh(ops) -> None:
    """Slots are None, a key alone (the empty key b"" too), or a list of two or more keys
    oldest first; whatever the adds, deletes and re-adds, the index kept up incrementally
    is the one built from the dict's order."""
    t = Table()
    for i in range(8):
        _add(t, b"k%d" % i)
    t.chains()  # from here on, indexed
    for op, n in ops:
        key = b"" if n == 0 else b"k%d" % n
        if op == "add" and key not in t.data:
            _add(t, key)
        elif op == "delete" and key in t.data:
            del t.data[key]
            t.note_delete(key)
        elif op == "readd" and key in t.data:
            del t.data[key]
            t.data[key] = 1
            t.note_readd(key)
        kept = list(t.chains())
        for slot in kept:
            assert slot is None or isinstance(slot, bytes) or len(slot) >= 2
        fresh = Table()
        fresh.data = dict(t.data)
        fresh.size = t.size
        assert fresh.chains() == kept
        assert [k for _b, keys in t.iter_buckets() for k in keys] == \
               [k for b in range(t.size) for k in t.bucket_keys(b)]
