"""execute()'s fast paths (GET, SET, SET PX|EX, INCR, PING) against the general path.

The same random command lines run through ``Keyspace.execute`` on one keyspace and through
``Keyspace._execute`` (the command table and the ``_cmd_*`` handlers) on another; after each
line the replies, every Effects field, the stats, the dicts (content and order) and the
bucket chains of both tables must be identical.
"""

from __future__ import annotations

import random

import pytest

from redissim.server.keyspace import Keyspace, Session, shared_word

T0 = 1_700_000_000_000


def _state(ks: Keyspace) -> tuple:
    fx = ks.effects
    dbs = []
    for d in ks.dbs[:2]:
        chains = (
            [c if c is None or isinstance(c, bytes) else list(c) for c in d.expires._index]
            if d.expires._index is not None else None,
            [c if c is None or isinstance(c, bytes) else list(c) for c in d.main._index]
            if d.main._index is not None else None,
        )
        dbs.append((list(d.data.items()), list(d.exp.items()), d.main.size, d.expires.size, chains))
    return (
        fx.name, fx.error, fx.dirty, list(fx.touched), list(fx.deleted), list(fx.expired),
        fx.value_bytes, fx.db, fx.keys_scanned, fx.elements, fx.propagate,
        ks.stats.as_dict(), ks.now, dbs,
    )


def _line(rng: random.Random) -> list:
    key = rng.choice([b"a", b"b", b"c", b"n", b"h", b"k%d" % rng.randrange(40)])
    r = rng.random()
    name = rng.choice([b"GET", b"get", b"SET", b"set", b"INCR", b"incr"])
    if r < 0.05:
        return [b"HSET", b"h", b"f", b"v"]
    if r < 0.08:
        return [rng.choice([b"GET", b"SET", b"INCR"])]  # arity errors
    if r < 0.1:
        return [b"KEYS", b"k1*"]  # sets the rarely used fields
    if r < 0.13:
        return ["GET", key.decode()]  # str arguments take the general path
    if r < 0.16:
        return rng.choice([[b"PING"], [b"ping"], [b"PING", key], [b"PING", b"a", b"b"]])
    if name in (b"GET", b"get", b"INCR", b"incr"):
        return [name, key] if rng.random() < 0.95 else [name, key, b"x"]
    value = rng.choice([b"v", b"1", b"0", b"007", b"-3", b"9223372036854775807", b"12"])
    if rng.random() < 0.5:
        return [name, key, value]
    opt = rng.choice([b"PX", b"px", b"EX", b"ex", b"Px", b"NX", b"KEEPTTL"])
    arg = rng.choice([b"2", b"5", b"300", b"1", b"0", b"-5", b"007", b"x", b"9" * 16, b"9" * 15])
    return [name, key, value, opt, arg]


def test_fast_paths_match_the_general_path() -> None:
    rng = random.Random(7)
    fast, slow = Keyspace(), Keyspace()
    sessions = (Session(0), Session(1))
    t = T0
    for i in range(20000):
        if i == 8000:  # from here on both tables keep a bucket index, as after a SCAN
            for ks in (fast, slow):
                for d in ks.dbs[:2]:
                    d.main.chains()
                    d.expires.chains()
        t += rng.choice([0, 0, 1, 1, 2, 50])
        line = _line(rng)
        s = rng.choice(sessions) if rng.random() < 0.2 else None
        sf = Session(s.db) if s is not None else None
        ss = Session(s.db) if s is not None else None
        r1 = fast.execute(list(line), t, sf)
        r2 = slow._execute(list(line), t, ss)
        assert r1 == r2 and r1.__class__ is r2.__class__, (i, line)
        assert _state(fast) == _state(slow), (i, line)


def test_fast_paths_at_the_expiry_boundary() -> None:
    """A key is expired only once now > its time: each fast path at, then after, it."""
    script = []
    for cmd in ([b"GET", b"k"], [b"INCR", b"k"], [b"SET", b"k", b"2"], [b"SET", b"k", b"2", b"PX", b"9"],
                [b"SET", b"k", b"2", b"EX", b"1"]):
        script += [
            (0, [b"SET", b"k", b"1", b"PX", b"5"]),
            (5, cmd),  # at the expire time: still alive
            (10, [b"SET", b"k", b"1", b"PX", b"5"]),
            (16, cmd),  # past it: lazily expired first
            (20, [b"DEL", b"k"]),
        ]
    for indexed in (False, True):
        fast, slow = Keyspace(), Keyspace()
        if indexed:
            for ks in (fast, slow):
                ks.dbs[0].main.chains()
                ks.dbs[0].expires.chains()
        for step, (dt, line) in enumerate(script):
            t = T0 + 100 * (step // 5) + dt
            r1 = fast.execute(list(line), t)
            r2 = slow._execute(list(line), t)
            assert r1 == r2, (step, line)
            assert _state(fast) == _state(slow), (step, line)
        # past the time for each command, and at +10 ms for GET and INCR (which keep the TTL)
        assert fast.stats.expired_keys == 7


def test_shared_words_and_fast_kinds() -> None:
    """A client's command name built from the keyspace's own object is the very key of the
    fast-path table (matched by identity); other words come back as they were; a name that
    cannot be hashed has no fast path and takes the general one (which reports it)."""
    ks = Keyspace()
    for word in (b"SET", b"get", b"PX", b"ex"):
        mine = bytes(bytearray(word))  # an equal object, not the same one
        shared = shared_word(mine)
        assert shared == word and shared is not mine
        assert shared_word(bytes(bytearray(word))) is shared
        assert ks.fast_kind(shared) >= 0 or word in (b"PX", b"ex")
    other = b"HSET"
    assert shared_word(other) is other and ks.fast_kind(other) == -1
    assert ks.fast_kind(["not", "hashable"]) == -1
    line = [["not", "hashable"], b"k"]
    for run in (lambda: ks.execute_kind(ks.fast_kind(line[0]), line, T0),
                lambda: ks.execute(line, T0)):
        with pytest.raises(TypeError, match="must be bytes or str"):
            run()


@pytest.mark.parametrize("indexed", [False, True])
def test_set_px_on_a_ttl_left_without_its_key(indexed: bool) -> None:
    """No command leaves a TTL without its key, but the fast SET ... PX (which skips the
    expires lookup for a new key) handles one as the general path does: the TTL replaced."""
    fast, general = Keyspace(), Keyspace()
    for ks in (fast, general):
        ks.dbs[0].exp[b"z"] = T0 + 900  # the TTL without its key, first in the dict
        ks.execute([b"SET", b"a", b"v", b"PX", b"500"], T0)
        ks.execute([b"SET", b"b", b"v", b"PX", b"500"], T0)
        if indexed:
            ks.dbs[0].expires.chains()
    assert fast.execute([b"SET", b"z", b"v", b"PX", b"100"], T0 + 1) == "OK"
    assert general._execute([b"SET", b"z", b"v", b"PX", b"100"], T0 + 1) == "OK"
    assert _state(fast) == _state(general)
    assert list(fast.dbs[0].exp) == [b"a", b"b", b"z"]  # moved to the end
