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


_n = st.integers(-5, 400).map(lambda n: str(n).encode())
ttl_ops = st.one_of(
    st.tuples(st.just(b"SET"), st.sampled_from(KEYS), st.just(b"v")).map(list),
    st.tuples(st.just(b"SET"), st.sampled_from(KEYS), st.just(b"v"), st.sampled_from([b"PX", b"EX"]),
              st.integers(1, 300).map(lambda n: str(n).encode())).map(list),
    st.tuples(st.just(b"SET"), st.sampled_from(KEYS), st.just(b"v"), st.just(b"PX"), st.just(b"200")).map(list),
    st.tuples(st.just(b"SET"), st.sampled_from(KEYS), st.just(b"w"), st.just(b"KEEPTTL")).map(list),
    st.tuples(st.sampled_from([b"PEXPIRE", b"EXPIRE"]), st.sampled_from(KEYS), _n,
              st.sampled_from([b"", b"NX", b"XX", b"GT", b"LT"])).map(lambda t: [x for x in t if x]),
    st.tuples(st.just(b"PEXPIREAT"), st.sampled_from(KEYS),
              st.integers(T0 - 10, T0 + 900).map(lambda n: str(n).encode())).map(list),
    st.tuples(st.sampled_from([b"DEL", b"GET", b"INCR", b"PERSIST", b"GETDEL", b"UNLINK"]),
              st.sampled_from(KEYS)).map(list),
    st.tuples(st.just(b"GETEX"), st.sampled_from(KEYS), st.sampled_from([b"PX", b"PERSIST"]),
              st.integers(1, 300).map(lambda n: str(n).encode()))
      .map(lambda t: list(t[:3]) if t[2] == b"PERSIST" else list(t)),
    st.tuples(st.just(b"SETEX"), st.sampled_from(KEYS), st.integers(1, 2).map(lambda n: str(n).encode()),
              st.just(b"v")).map(list),
    st.tuples(st.sampled_from([b"RENAME", b"COPY"]), st.sampled_from(KEYS), st.sampled_from(KEYS)).map(list),
    st.tuples(st.just(b"MOVE"), st.sampled_from(KEYS), st.just(b"1")).map(list),
    st.tuples(st.just(b"SELECT"), st.sampled_from([b"0", b"1"])).map(list),
    st.just([b"FLUSHDB"]),
    st.just([b"CYCLE"]),
)


@settings(max_examples=400, derandomize=True)
@given(st.lists(st.tuples(ttl_ops, st.integers(0, 150)), max_size=80))
def test_expired_unreclaimed_is_a_count_of_the_expired_keys_present(
        steps: list[tuple[list[bytes], int]]) -> None:
    """The time series' count of keys expired but not yet deleted equals a count over the
    expires dict, whatever the commands (TTLs set, replaced in place, removed, keys renamed,
    moved, copied, flushed) and lazy and active expiry; and when every TTL given is the
    same, the times in the dict's order never decrease (so it needs no walk of every key)."""
    from redissim.server.expiry import ActiveExpire
    from redissim.server.keyspace import Session
    from redissim.sim.clock import EPOCH_MS

    ks = Keyspace()
    session = Session()
    ae = ActiveExpire(ks, hz=lambda: 10, cost_bucket_us=1, cost_sample_us=1, cost_expire_us=5)
    t = T0
    for line, dt in steps:
        t += dt
        if line == [b"CYCLE"]:
            ae.slow_cycle((t - EPOCH_MS) / 1000)
        else:
            ks.execute(line, t, session)
        for db in ks.dbs[:2]:
            times = list(db.exp.values())
            if db.exp_sorted:
                assert times == sorted(times)
            if times:
                assert db.exp_min <= min(times)  # the lazy checks' shortcut is sound
            for probe in (t - 100, t, t + 1, t + 150, t + 400):
                assert ks.expired_unreclaimed(db, probe) == sum(1 for w in times if probe > w)


@settings(max_examples=100, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(KEYS), st.booleans(), st.integers(0, 50)), max_size=80))
def test_one_ttl_for_every_write_keeps_the_expire_times_in_order(
        writes: list[tuple[bytes, bool, int]]) -> None:
    """SET ... PX n with a single n, plain SETs, GETs and the cycle in between: the expire
    times stay in the dict's order (the fast count, not the walk of every key)."""
    from redissim.server.expiry import ActiveExpire
    from redissim.sim.clock import EPOCH_MS

    ks = Keyspace()
    ae = ActiveExpire(ks, hz=lambda: 10, cost_bucket_us=1, cost_sample_us=1, cost_expire_us=5)
    t = T0
    for key, ttl, dt in writes:
        t += dt
        ks.execute([b"SET", key, b"v", b"PX", b"100"] if ttl else [b"SET", key, b"v"], t)
        ks.execute([b"GET", KEYS[dt % len(KEYS)]], t)
        if dt % 7 == 0:
            ae.slow_cycle((t - EPOCH_MS) / 1000)
        assert ks.dbs[0].exp_sorted


def test_a_ttl_changed_in_place_is_counted_where_it_now_falls() -> None:
    """PEXPIRE on a key that has a TTL changes the time where the key stands in the dict:
    the order of the times is then lost, and the count still right."""
    ks = Keyspace()
    db = ks.dbs[0]
    ks.execute([b"SET", b"a", b"v", b"PX", b"300"], T0)
    ks.execute([b"SET", b"b", b"v", b"PX", b"300"], T0 + 10)
    assert db.exp_sorted
    assert ks.execute([b"PEXPIRE", b"a", b"500"], T0 + 20) == 1
    assert not db.exp_sorted
    assert ks.expired_unreclaimed(db, T0 + 400) == 1  # b, behind a (alive till T0 + 520)
    ks.execute([b"FLUSHDB"], T0 + 30)
    ks.execute([b"SET", b"c", b"v", b"PX", b"300"], T0 + 40)
    assert db.exp_sorted  # an empty dict starts in order again


@settings(max_examples=300, derandomize=True)
@given(st.lists(st.tuples(ttl_ops, st.integers(0, 150)), max_size=80))
def test_the_lazy_checks_shortcut_changes_no_reply(steps: list[tuple[list[bytes], int]]) -> None:
    """Reads skip the expires lookup while the clock has not passed ``Db.exp_min``: the
    same commands on a keyspace whose ``exp_min`` is held at 0 (so that every check looks
    the key up) give the same replies, and the same keys and TTLs."""
    from redissim.server.expiry import ActiveExpire
    from redissim.server.keyspace import Session
    from redissim.sim.clock import EPOCH_MS

    fast, slow = Keyspace(), Keyspace()
    sessions = {id(fast): Session(), id(slow): Session()}
    cycles = {id(ks): ActiveExpire(ks, hz=lambda: 10, cost_bucket_us=1, cost_sample_us=1,
                                   cost_expire_us=5) for ks in (fast, slow)}
    def run(ks: Keyspace, line: list[bytes], t: int) -> object:
        if ks is slow:
            for db in slow.dbs:
                db.exp_min = 0  # before every call: no check is ever skipped
        if line == [b"CYCLE"]:
            return cycles[id(ks)].slow_cycle((t - EPOCH_MS) / 1000)
        return ks.execute(line, t, sessions[id(ks)])

    t = T0
    for line, dt in steps:
        t += dt
        replies = []
        for ks in (fast, slow):
            replies.append(run(ks, line, t))
            # GET and EXISTS on every key too: the reads the shortcut serves
            for key in KEYS:
                replies.append(run(ks, [b"GET", key], t))
                replies.append(run(ks, [b"EXISTS", key], t))
        half = len(replies) // 2
        assert replies[:half] == replies[half:]
        for a, b in zip(fast.dbs[:2], slow.dbs[:2], strict=True):
            assert a.data == b.data and a.exp == b.exp
    assert fast.stats.as_dict() == slow.stats.as_dict()


def test_a_loaded_dataset_sets_the_earliest_expire_time() -> None:
    """An RDB load fills the expires dict wholesale: ``exp_min`` is its earliest time, so a
    key loaded already expired is still expired on its first read."""
    from redissim.server.persistence import restore_dataset

    ks = Keyspace()
    ks.execute([b"SET", b"late", b"v", b"PX", b"10000"], T0)
    restore_dataset(ks, [({b"old": b"v", b"new": b"v"}, {b"old": T0 - 5, b"new": T0 + 50})]
                    + [({}, {})] * (len(ks.dbs) - 1))
    assert ks.dbs[0].exp_min == T0 - 5
    assert ks.execute([b"GET", b"new"], T0) == b"v"
    assert ks.execute([b"GET", b"old"], T0) is None
    assert ks.stats.expired_keys == 1


def test_a_ttl_lowered_in_place_is_seen_by_the_next_read() -> None:
    """PEXPIRE replacing a TTL by an earlier time lowers ``exp_min`` with it."""
    ks = Keyspace()
    ks.execute([b"SET", b"a", b"v", b"PX", b"300"], T0)
    assert ks.execute([b"PEXPIRE", b"a", b"5"], T0) == 1
    assert ks.dbs[0].exp_min == T0 + 5
    assert ks.execute([b"GET", b"a"], T0 + 10) is None
    assert ks.stats.expired_keys == 1
