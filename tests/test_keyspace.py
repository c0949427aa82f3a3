"""Unit tests of Keyspace.execute: one or more per command and per error string.

Expected replies are Redis 7.0.15's (checked with redis-cli, and continuously by
tests/test_differential_redis.py against a real server).
"""

from __future__ import annotations

import pytest

from redissim.server.keyspace import Keyspace, Session, format_ld_human, parse_ld, parse_ll
from redissim.server.resp import ReplyError

T0 = 1_700_000_000_000
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOTINT = "ERR value is not an integer or out of range"
SYNTAX = "ERR syntax error"


@pytest.fixture
def ks() -> Keyspace:
    return Keyspace()


def run(ks: Keyspace, *args: str | bytes, t: int = T0, s: Session | None = None) -> object:
    return ks.execute(list(args), t, s)


def err(reply: object) -> str:
    assert isinstance(reply, ReplyError), reply
    return str(reply)


# -- dispatch -----------------------------------------------------------------------------------
def test_unknown_command_and_arity(ks: Keyspace) -> None:
    assert err(run(ks, "FOO", "bar", "baz")) == "ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' "
    assert ks.effects.cmd is None and ks.effects.name == "" and ks.effects.error
    assert err(run(ks, "GET")) == "ERR wrong number of arguments for 'get' command"
    assert err(run(ks, "get", "a", "b")) == "ERR wrong number of arguments for 'get' command"
    assert err(run(ks, "SET", "k")) == "ERR wrong number of arguments for 'set' command"
    assert err(run(ks, "PING", "a", "b")) == "ERR wrong number of arguments for 'ping' command"
    assert err(run(ks, "MSET", "a")) == "ERR wrong number of arguments for 'mset' command"
    assert err(run(ks, "MSET", "a", "1", "b")) == "ERR wrong number of arguments for 'mset' command"
    assert err(run(ks, "HSET", "h", "f")) == "ERR wrong number of arguments for 'hset' command"
    assert err(run(ks, "LPOP", "l", "1", "2")) == "ERR wrong number of arguments for 'lpop' command"


def test_unknown_command_args_are_cut_at_128_bytes(ks: Keyspace) -> None:
    text = err(run(ks, "nosuch", "x" * 200, "y"))
    assert text == "ERR unknown command 'nosuch', with args beginning with: '" + "x" * 128 + "' "


def test_command_names_are_case_insensitive_and_str_is_utf8(ks: Keyspace) -> None:
    assert run(ks, "sEt", "ключ", "v") == "OK"
    assert ks.execute([b"GET", "ключ".encode()], T0) == b"v"
    assert ks.effects.name == "get" and ks.effects.cmd is not None and ks.effects.cmd.readonly


def test_empty_command_line(ks: Keyspace) -> None:
    assert ks.execute([], T0).__class__ is ReplyError


# -- strings ------------------------------------------------------------------------------------
def test_set_get_and_options(ks: Keyspace) -> None:
    assert run(ks, "SET", "k", "v") == "OK"
    assert run(ks, "GET", "k") == b"v"
    assert run(ks, "GET", "missing") is None
    assert run(ks, "SET", "k", "w", "NX") is None
    assert run(ks, "SET", "nokey", "w", "XX") is None
    assert run(ks, "GET", "nokey") is None
    assert run(ks, "SET", "k", "w", "XX", "GET") == b"v"
    assert run(ks, "SET", "k", "x", "NX", "GET") == b"w"  # 7.0: GET with NX allowed, not set
    assert run(ks, "GET", "k") == b"w"
    assert run(ks, "SET", "new", "1", "GET") is None
    assert err(run(ks, "SET", "k", "v", "NX", "XX")) == SYNTAX
    assert err(run(ks, "SET", "k", "v", "EX", "10", "KEEPTTL")) == SYNTAX
    assert err(run(ks, "SET", "k", "v", "EX", "10", "PX", "10")) == SYNTAX
    assert err(run(ks, "SET", "k", "v", "EX")) == SYNTAX
    assert err(run(ks, "SET", "k", "v", "PERSIST")) == SYNTAX
    assert err(run(ks, "SET", "k", "v", "BOGUS")) == SYNTAX
    assert err(run(ks, "SET", "k", "v", "EX", "0")) == "ERR invalid expire time in 'set' command"
    assert err(run(ks, "SET", "k", "v", "PX", "-5")) == "ERR invalid expire time in 'set' command"
    assert err(run(ks, "SET", "k", "v", "EX", "9223372036854775807")) == "ERR invalid expire time in 'set' command"
    assert err(run(ks, "SET", "k", "v", "EX", "1.5")) == NOTINT
    run(ks, "HSET", "h", "f", "v")
    assert err(run(ks, "SET", "h", "v", "GET")) == WRONGTYPE
    assert run(ks, "SET", "h", "v") == "OK"  # plain SET overwrites any type


def test_set_ttl_handling(ks: Keyspace) -> None:
    run(ks, "SET", "k", "v", "EX", "100")
    assert run(ks, "TTL", "k") == 100
    run(ks, "SET", "k", "v2", "KEEPTTL")
    assert run(ks, "PTTL", "k") == 100_000
    run(ks, "SET", "k", "v3")
    assert run(ks, "TTL", "k") == -1  # SET without KEEPTTL drops the TTL
    run(ks, "SET", "k", "v", "PXAT", str(T0 + 5000))
    assert run(ks, "PTTL", "k") == 5000
    run(ks, "SET", "k", "v", "EXAT", str(T0 // 1000 + 7))
    assert run(ks, "TTL", "k") == 7
    assert ks.effects.propagate is None


def test_set_propagation_forms(ks: Keyspace) -> None:
    run(ks, "set", "k", "v", "ex", "10")
    assert ks.effects.propagate == [[b"SET", b"k", b"v", b"PXAT", str(T0 + 10_000).encode()]]
    run(ks, "SETEX", "k", "5", "v")
    assert ks.effects.propagate == [[b"SET", b"k", b"v", b"PXAT", str(T0 + 5000).encode()]]
    run(ks, "PSETEX", "k", "5", "v")
    assert ks.effects.propagate == [[b"SET", b"k", b"v", b"PXAT", str(T0 + 5).encode()]]
    run(ks, "SET", "k", "v", "GET", "XX")
    assert ks.effects.propagate == [[b"SET", b"k", b"v", b"XX"]]
    run(ks, "SET", "k", "v", "NX")
    assert ks.effects.propagate is None and ks.effects.dirty == 0
    run(ks, "SET", "plain", "v")
    assert ks.effects.propagate == [[b"SET", b"plain", b"v"]] and ks.effects.dirty == 1


def test_setex_psetex_setnx(ks: Keyspace) -> None:
    assert run(ks, "SETEX", "k", "10", "v") == "OK"
    assert run(ks, "TTL", "k") == 10
    assert err(run(ks, "SETEX", "k", "0", "v")) == "ERR invalid expire time in 'setex' command"
    assert err(run(ks, "PSETEX", "k", "-1", "v")) == "ERR invalid expire time in 'psetex' command"
    assert err(run(ks, "SETEX", "k", "x", "v")) == NOTINT
    assert run(ks, "SETNX", "lock", "w1") == 1
    assert run(ks, "SETNX", "lock", "w2") == 0
    assert run(ks, "GET", "lock") == b"w1"


def test_getdel_getex_getset(ks: Keyspace) -> None:
    run(ks, "SET", "k", "v", "EX", "100")
    assert run(ks, "GETEX", "k") == b"v"
    assert ks.effects.propagate is None
    assert run(ks, "GETEX", "k", "PERSIST") == b"v"
    assert run(ks, "TTL", "k") == -1
    assert run(ks, "GETEX", "k", "EX", "50") == b"v"
    assert ks.effects.propagate == [[b"PEXPIREAT", b"k", str(T0 + 50_000).encode()]]
    assert run(ks, "TTL", "k") == 50
    assert run(ks, "GETEX", "k", "EXAT", "1") == b"v"  # past absolute time deletes
    assert ks.effects.propagate == [[b"DEL", b"k"]] and run(ks, "EXISTS", "k") == 0
    assert run(ks, "GETEX", "nokey", "EX", "0") is None  # missing key is checked first
    run(ks, "SET", "k", "v")
    assert err(run(ks, "GETEX", "k", "EX", "0")) == "ERR invalid expire time in 'getex' command"
    assert err(run(ks, "GETEX", "k", "NX")) == SYNTAX
    assert err(run(ks, "GETEX", "k", "EX", "1", "PERSIST")) == SYNTAX
    assert run(ks, "GETDEL", "k") == b"v"
    assert ks.effects.propagate == [[b"DEL", b"k"]] and ks.effects.deleted == [b"k"]
    assert run(ks, "GETDEL", "k") is None
    assert run(ks, "GETSET", "g", "1") is None
    assert run(ks, "GETSET", "g", "2") == b"1"
    run(ks, "LPUSH", "l", "a")
    assert err(run(ks, "GETDEL", "l")) == WRONGTYPE


def test_mset_msetnx_mget(ks: Keyspace) -> None:
    assert run(ks, "MSET", "a", "1", "b", "2") == "OK"
    assert ks.effects.dirty == 2
    assert run(ks, "MSETNX", "c", "3", "a", "9") == 0
    assert run(ks, "GET", "c") is None
    assert run(ks, "MSETNX", "c", "3", "d", "4") == 1
    run(ks, "HSET", "h", "f", "v")
    assert run(ks, "MGET", "a", "nokey", "h", "d") == [b"1", None, None, b"4"]  # no WRONGTYPE
    assert ks.stats.keyspace_hits == 3 and ks.stats.keyspace_misses == 2  # GET c, MGET nokey


def test_append_strlen(ks: Keyspace) -> None:
    assert run(ks, "APPEND", "k", "ab") == 2
    assert run(ks, "APPEND", "k", "cde") == 5
    assert run(ks, "GET", "k") == b"abcde"
    assert run(ks, "STRLEN", "k") == 5
    assert run(ks, "STRLEN", "nokey") == 0
    run(ks, "RPUSH", "l", "a")
    assert err(run(ks, "APPEND", "l", "x")) == WRONGTYPE
    assert err(run(ks, "STRLEN", "l")) == WRONGTYPE
    small = Keyspace(proto_max_bulk_len=4)
    small.execute(["SET", "k", "abc"], T0)
    assert err(small.execute(["APPEND", "k", "de"], T0)) == "ERR string exceeds maximum allowed size (proto-max-bulk-len)"


@pytest.mark.parametrize("bad", ["1.5", " 1", "1 ", "01", "+1", "", "abc", "-0", "123456789012345678901", "9223372036854775808"])
def test_incr_rejects_non_integers(ks: Keyspace, bad: str) -> None:
    run(ks, "SET", "k", bad)
    assert err(run(ks, "INCR", "k")) == NOTINT
    assert err(run(ks, "INCRBY", "n", bad)) == NOTINT


def test_incr_family(ks: Keyspace) -> None:
    assert run(ks, "INCR", "c") == 1
    assert run(ks, "INCRBY", "c", "10") == 11
    assert run(ks, "DECR", "c") == 10
    assert run(ks, "DECRBY", "c", "-5") == 15
    run(ks, "SET", "c", "9223372036854775806")
    assert run(ks, "INCR", "c") == 9223372036854775807
    assert err(run(ks, "INCR", "c")) == "ERR increment or decrement would overflow"
    run(ks, "SET", "m", "-9223372036854775808")
    assert err(run(ks, "DECR", "m")) == "ERR increment or decrement would overflow"
    assert err(run(ks, "DECRBY", "m", "-9223372036854775808")) == "ERR decrement would overflow"
    run(ks, "SET", "t", "5", "EX", "100")
    run(ks, "INCR", "t")
    assert run(ks, "TTL", "t") == 100  # INCR keeps the TTL
    run(ks, "HSET", "h", "f", "1")
    assert err(run(ks, "INCR", "h")) == WRONGTYPE


def test_incrbyfloat(ks: Keyspace) -> None:
    assert run(ks, "INCRBYFLOAT", "f", "0.1") == b"0.1"
    assert run(ks, "INCRBYFLOAT", "f", "0.2") == b"0.3"
    assert ks.effects.propagate == [[b"SET", b"f", b"0.3", b"KEEPTTL"]]
    run(ks, "SET", "f", "10.50")
    assert run(ks, "INCRBYFLOAT", "f", "0.1") == b"10.6"
    assert run(ks, "INCRBYFLOAT", "g", "5.0e3") == b"5000"
    assert run(ks, "INCRBYFLOAT", "g", "-5000") == b"0"
    assert err(run(ks, "INCRBYFLOAT", "g", "abc")) == "ERR value is not a valid float"
    assert err(run(ks, "INCRBYFLOAT", "g", " 1")) == "ERR value is not a valid float"
    assert err(run(ks, "INCRBYFLOAT", "g", "nan")) == "ERR value is not a valid float"
    assert err(run(ks, "INCRBYFLOAT", "g", "inf")) == "ERR increment would produce NaN or Infinity"
    assert err(run(ks, "INCRBYFLOAT", "g", "1e5000")) == "ERR value is not a valid float"


def test_long_double_helpers() -> None:
    assert parse_ll(b"-9223372036854775808") == -(1 << 63)
    assert parse_ll(b"9223372036854775808") is None
    assert parse_ll(b"0") == 0 and parse_ll(b"00") is None and parse_ll(b"-") is None
    v = parse_ld(b"0x10")
    assert v is not None and format_ld_human(v) == b"16"
    assert parse_ld(b"1e-5000") is None and parse_ld(b"") is None
    assert format_ld_human(parse_ld(b"-0.0")) == b"0"
    assert format_ld_human(parse_ld(b"1.23456789012345678")) == b"1.23456789012345678"


# -- generic keyspace commands -------------------------------------------------------------------
def test_exists_del_unlink_type(ks: Keyspace) -> None:
    run(ks, "SET", "a", "1")
    assert run(ks, "EXISTS", "a", "a", "nokey") == 2
    assert run(ks, "DEL", "a", "a", "nokey") == 1
    assert ks.effects.deleted == [b"a"] and ks.effects.dirty == 1
    run(ks, "SET", "b", "1")
    assert run(ks, "UNLINK", "b") == 1
    assert run(ks, "TYPE", "b") == "none"
    run(ks, "SET", "s", "1")
    run(ks, "HSET", "h", "f", "1")
    run(ks, "RPUSH", "l", "1")
    assert [run(ks, "TYPE", k) for k in ("s", "h", "l")] == ["string", "hash", "list"]


def test_rename(ks: Keyspace) -> None:
    assert err(run(ks, "RENAME", "nokey", "x")) == "ERR no such key"
    assert err(run(ks, "RENAMENX", "nokey", "x")) == "ERR no such key"
    run(ks, "SET", "a", "1", "EX", "100")
    run(ks, "SET", "b", "2")
    assert run(ks, "RENAMENX", "a", "b") == 0
    assert run(ks, "RENAME", "a", "a") == "OK"
    assert run(ks, "RENAME", "a", "b") == "OK"
    assert run(ks, "GET", "b") == b"1" and run(ks, "TTL", "b") == 100 and run(ks, "EXISTS", "a") == 0
    assert run(ks, "RENAMENX", "b", "c") == 1


def test_expire_family_and_options(ks: Keyspace) -> None:
    assert run(ks, "EXPIRE", "nokey", "10") == 0
    run(ks, "SET", "k", "v")
    assert run(ks, "EXPIRE", "k", "100", "XX") == 0
    assert run(ks, "EXPIRE", "k", "100", "GT") == 0  # no TTL counts as infinite
    assert run(ks, "EXPIRE", "k", "100", "NX") == 1
    assert run(ks, "EXPIRE", "k", "50", "NX") == 0
    assert run(ks, "EXPIRE", "k", "200", "LT") == 0
    assert run(ks, "EXPIRE", "k", "50", "LT") == 1
    assert run(ks, "EXPIRE", "k", "70", "GT") == 1
    assert ks.effects.propagate == [[b"PEXPIREAT", b"k", str(T0 + 70_000).encode(), b"GT"]]
    assert run(ks, "PEXPIRE", "k", "5000") == 1 and run(ks, "PTTL", "k") == 5000
    assert run(ks, "EXPIREAT", "k", str(T0 // 1000 + 30)) == 1 and run(ks, "TTL", "k") == 30
    assert run(ks, "PEXPIREAT", "k", str(T0 + 999)) == 1
    assert ks.effects.propagate == [[b"PEXPIREAT", b"k", str(T0 + 999).encode()]]
    assert run(ks, "PERSIST", "k") == 1 and run(ks, "PERSIST", "k") == 0 and run(ks, "TTL", "k") == -1
    run(ks, "SET", "n", "v")
    assert run(ks, "EXPIRE", "n", "100", "LT") == 1  # no TTL: LT succeeds
    assert err(run(ks, "EXPIRE", "k", "1", "NX", "XX")) == "ERR NX and XX, GT or LT options at the same time are not compatible"
    assert err(run(ks, "EXPIRE", "k", "1", "GT", "LT")) == "ERR GT and LT options at the same time are not compatible"
    assert err(run(ks, "EXPIRE", "k", "1", "FOO")) == "ERR Unsupported option FOO"
    assert err(run(ks, "EXPIRE", "k", "x")) == NOTINT
    assert err(run(ks, "EXPIRE", "k", "9223372036854775807")) == "ERR invalid expire time in 'expire' command"
    assert err(run(ks, "PEXPIRE", "k", "9223372036854775807")) == "ERR invalid expire time in 'pexpire' command"


def test_expire_in_the_past_deletes(ks: Keyspace) -> None:
    run(ks, "SET", "k", "v")
    assert run(ks, "EXPIRE", "k", "0") == 1
    assert ks.effects.propagate == [[b"DEL", b"k"]] and ks.effects.deleted == [b"k"]
    assert run(ks, "EXISTS", "k") == 0
    run(ks, "SET", "k", "v")
    assert run(ks, "PEXPIREAT", "k", str(T0)) == 1  # when <= now deletes
    assert run(ks, "DBSIZE") == 0
    assert ks.stats.expired_keys == 0  # an explicit delete, not an expiry


def test_ttl_pttl_rounding_and_edges(ks: Keyspace) -> None:
    assert run(ks, "TTL", "nokey") == -2 and run(ks, "PTTL", "nokey") == -2
    run(ks, "SET", "k", "v")
    assert run(ks, "TTL", "k") == -1 and run(ks, "PTTL", "k") == -1
    run(ks, "PEXPIRE", "k", "1500")
    assert run(ks, "TTL", "k") == 2  # (1500 + 500) / 1000
    assert run(ks, "TTL", "k", t=T0 + 1) == 1  # 1499 ms rounds to 1 s
    assert run(ks, "PTTL", "k", t=T0 + 1500) == 0  # now == when: not yet expired
    assert run(ks, "TTL", "k", t=T0 + 1500) == 0
    assert run(ks, "PTTL", "k", t=T0 + 1501) == -2  # now > when: lazily expired
    run(ks, "SET", "e", "v", "PXAT", str(T0 + 2500))
    assert run(ks, "EXPIRETIME", "e") == (T0 + 2500 + 500) // 1000
    assert run(ks, "PEXPIRETIME", "e") == T0 + 2500
    assert run(ks, "EXPIRETIME", "nokey") == -2


def test_lazy_expiry_is_strict_and_counted(ks: Keyspace) -> None:
    run(ks, "SET", "k", "v", "PX", "100")
    assert run(ks, "GET", "k", t=T0 + 100) == b"v"
    assert ks.stats.keyspace_hits == 1 and ks.stats.expired_keys == 0
    assert run(ks, "GET", "k", t=T0 + 101) is None
    fx = ks.effects
    assert fx.expired == [b"k"] and fx.propagate == [[b"DEL", b"k"]] and fx.dirty == 0
    assert ks.stats.expired_keys == 1 and ks.stats.keyspace_misses == 1
    # A write on an expired key: DEL then the write, wrapped in MULTI/EXEC (7.0).
    run(ks, "SET", "w2", "1", "PX", "10")
    assert run(ks, "INCR", "w2", t=T0 + 20) == 1
    assert ks.effects.propagate == [[b"MULTI"], [b"DEL", b"w2"], [b"INCR", b"w2"], [b"EXEC"]]
    # Writes do not count hits or misses.
    misses = ks.stats.keyspace_misses
    run(ks, "SET", "x", "1", "PX", "10")
    run(ks, "SET", "x", "2", t=T0 + 50)
    assert ks.stats.keyspace_misses == misses


def test_dbsize_and_keys_see_expired_differently(ks: Keyspace) -> None:
    for i in range(10):
        run(ks, "SET", f"p{i}", "v", "PX", "50")
    run(ks, "SET", "q", "v")
    later = T0 + 200
    assert run(ks, "DBSIZE", t=later) == 11  # not yet reclaimed
    assert run(ks, "KEYS", "*", t=later) == [b"q"]  # filtered, not deleted
    assert run(ks, "DBSIZE", t=later) == 11
    assert ks.effects.keys_scanned == 0
    run(ks, "KEYS", "p*", t=later)
    assert ks.effects.keys_scanned == 11 and ks.effects.keys_returned == 0
    assert run(ks, "GET", "p1", t=later) is None
    assert run(ks, "DBSIZE", t=later) == 10 and ks.stats.expired_keys == 1
    cursor = b"0"
    while True:
        cursor, _ = run(ks, "SCAN", cursor, t=later)  # type: ignore[misc]
        if cursor == b"0":
            break
    assert run(ks, "DBSIZE", t=later) == 1 and ks.stats.expired_keys == 10


def test_keys_glob(ks: Keyspace) -> None:
    for k in ("hello", "hallo", "hxllo", "hllo", "heeeello", "h[a", "a*b"):
        run(ks, "SET", k, "v")
    assert sorted(run(ks, "KEYS", "h?llo")) == [b"hallo", b"hello", b"hxllo"]  # type: ignore[arg-type]
    assert sorted(run(ks, "KEYS", "h*llo")) == [b"hallo", b"heeeello", b"hello", b"hllo", b"hxllo"]  # type: ignore[arg-type]
    assert sorted(run(ks, "KEYS", "h[ae]llo")) == [b"hallo", b"hello"]  # type: ignore[arg-type]
    assert sorted(run(ks, "KEYS", "h[^e]llo")) == [b"hallo", b"hxllo"]  # type: ignore[arg-type]
    assert sorted(run(ks, "KEYS", "h[a-b]llo")) == [b"hallo"]  # type: ignore[arg-type]
    assert run(ks, "KEYS", "h\\[a") == [b"h[a"]
    assert run(ks, "KEYS", "a\\*b") == [b"a*b"]
    assert run(ks, "KEYS", "h[a") == []  # unterminated: set {a} then the pattern ends


def test_scan_errors_and_options(ks: Keyspace) -> None:
    assert err(run(ks, "SCAN", "x")) == "ERR invalid cursor"
    assert err(run(ks, "SCAN", " 1")) == "ERR invalid cursor"
    assert err(run(ks, "SCAN", "18446744073709551616")) == "ERR invalid cursor"
    assert run(ks, "SCAN", "-1") == [b"0", []]
    assert err(run(ks, "SCAN", "0", "COUNT", "0")) == SYNTAX
    assert err(run(ks, "SCAN", "0", "COUNT", "x")) == NOTINT
    assert err(run(ks, "SCAN", "0", "COUNT")) == SYNTAX
    assert err(run(ks, "SCAN", "0", "FOO", "1")) == SYNTAX
    for i in range(30):
        run(ks, "SET", f"s{i}", "v")
    run(ks, "HSET", "h", "f", "v")
    assert _full_scan(ks, "MATCH", "s1*") == {b"s1", *(b"s1%d" % i for i in range(10))}
    assert _full_scan(ks, "TYPE", "hash") == {b"h"}
    assert _full_scan(ks, "TYPE", "zset") == set()
    assert len(_full_scan(ks, "COUNT", "3")) == 31


def _full_scan(ks: Keyspace, *opts: str) -> set[bytes]:
    seen: set[bytes] = set()
    cursor = b"0"
    while True:
        reply = ks.execute([b"SCAN", cursor, *[o.encode() for o in opts]], T0)
        assert isinstance(reply, list)
        cursor, keys = reply
        seen.update(keys)
        if cursor == b"0":
            return seen


def test_scan_work_units_respect_ten_times_count_bound(ks: Keyspace) -> None:
    ks.populate(1000)
    ks.execute(["SCAN", "0", "MATCH", "nomatch*", "COUNT", "2"], T0)
    fx = ks.effects
    assert fx.keys_returned == 0 and fx.keys_scanned >= 2
    assert fx.buckets_visited <= 1 + 2 * 10


def test_flush_and_select(ks: Keyspace) -> None:
    s = Session()
    run(ks, "SET", "a", "1", s=s)
    assert run(ks, "SELECT", "1", s=s) == "OK" and s.db == 1
    assert run(ks, "GET", "a", s=s) is None
    run(ks, "SET", "b", "1", s=s)
    assert ks.effects.db == 1
    assert err(run(ks, "SELECT", "16", s=s)) == "ERR DB index is out of range"
    assert err(run(ks, "SELECT", "-1", s=s)) == "ERR DB index is out of range"
    assert err(run(ks, "SELECT", "x", s=s)) == NOTINT
    assert err(run(ks, "SELECT", "4294967296", s=s)) == "ERR value is out of range, value must between -2147483648 and 2147483647"
    assert run(ks, "FLUSHDB", s=s) == "OK" and ks.dbsize(1) == 0 and ks.dbsize(0) == 1
    assert ks.effects.propagate == [[b"FLUSHDB"]]
    assert err(run(ks, "FLUSHDB", "bad")) == SYNTAX
    assert run(ks, "FLUSHALL", "ASYNC") == "OK" and ks.dbsize(0) == 0
    assert ks.effects.propagate == [[b"FLUSHALL", b"ASYNC"]]  # forced even when empty
    assert run(ks, "FLUSHALL") == "OK" and ks.effects.propagate == [[b"FLUSHALL"]]


def test_ping_echo_time_dbsize(ks: Keyspace) -> None:
    assert run(ks, "PING") == "PONG"
    assert run(ks, "PING", "hi") == b"hi"
    assert run(ks, "ECHO", "x") == b"x"
    assert run(ks, "TIME", t=1_700_000_000_123) == [b"1700000000", b"123000"]
    assert run(ks, "DBSIZE") == 0


def test_info_sections_and_hook(ks: Keyspace) -> None:
    run(ks, "SET", "a", "1", "EX", "100")
    run(ks, "SET", "b", "1")
    run(ks, "GET", "a")
    text = run(ks, "INFO", "keyspace")
    assert text == b"# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n"
    ks.info_hook = lambda: {"stats": {"evicted_keys": 7}, "memory": {"used_memory": 123}}
    full = run(ks, "INFO")
    assert isinstance(full, bytes)
    body = full.decode()
    assert "# Server\r\nredis_version:7.0.15\r\n" in body
    assert "keyspace_hits:1\r\n" in body and "evicted_keys:7\r\n" in body and "used_memory:123\r\n" in body
    assert body.index("# Memory") < body.index("# Stats") < body.index("# Keyspace")


def test_debug_populate(ks: Keyspace) -> None:
    assert run(ks, "DEBUG", "POPULATE", "3") == "OK"
    assert run(ks, "GET", "key:2") == b"value:2"
    assert run(ks, "DEBUG", "POPULATE", "2", "p", "10") == "OK"
    assert run(ks, "GET", "p:1") == b"value:1\0\0\0"
    run(ks, "DEBUG", "POPULATE", "2", "q", "3")
    assert run(ks, "GET", "q:0") == b"val"
    run(ks, "SET", "key:0", "mine")
    run(ks, "DEBUG", "POPULATE", "5")
    assert run(ks, "GET", "key:0") == b"mine" and run(ks, "DBSIZE") == 9
    assert ks.effects.dirty == 0
    assert err(run(ks, "DEBUG", "POPULATE", "-1")) == "ERR value is out of range, must be positive"
    assert err(run(ks, "DEBUG", "POPULATE", "x")) == "ERR value is out of range, must be positive"
    assert err(run(ks, "DEBUG", "NOPE")) == "ERR unknown subcommand or wrong number of arguments for 'NOPE'. Try DEBUG HELP."
    assert ks.populate(100, "z") == 100 and ks.dbsize() == 109


# -- hashes and lists -----------------------------------------------------------------------------
def test_hash_commands(ks: Keyspace) -> None:
    assert run(ks, "HSET", "session:1", "user", "42", "cart", "3") == 2
    assert run(ks, "HSET", "session:1", "user", "43") == 0
    assert run(ks, "HMSET", "session:1", "x", "1") == "OK"
    assert run(ks, "HSETNX", "session:1", "x", "2") == 0
    assert run(ks, "HSETNX", "session:1", "y", "2") == 1
    assert run(ks, "HGET", "session:1", "user") == b"43"
    assert run(ks, "HGET", "session:1", "nofield") is None
    assert run(ks, "HGET", "nokey", "f") is None
    assert run(ks, "HMGET", "session:1", "user", "nofield") == [b"43", None]
    assert run(ks, "HMGET", "nokey", "a", "b") == [None, None]
    assert run(ks, "HGETALL", "session:1") == [b"user", b"43", b"cart", b"3", b"x", b"1", b"y", b"2"]
    assert run(ks, "HKEYS", "session:1") == [b"user", b"cart", b"x", b"y"]
    assert run(ks, "HVALS", "session:1") == [b"43", b"3", b"1", b"2"]
    assert run(ks, "HGETALL", "nokey") == []
    assert run(ks, "HLEN", "session:1") == 4 and run(ks, "HLEN", "nokey") == 0
    assert run(ks, "HEXISTS", "session:1", "cart") == 1 and run(ks, "HEXISTS", "session:1", "z") == 0
    assert run(ks, "HINCRBY", "session:1", "cart", "2") == 5
    assert run(ks, "HINCRBY", "session:1", "new", "-2") == -2
    assert err(run(ks, "HINCRBY", "session:1", "user", "x")) == NOTINT
    run(ks, "HSET", "session:1", "name", "bob")
    assert err(run(ks, "HINCRBY", "session:1", "name", "1")) == "ERR hash value is not an integer"
    run(ks, "HSET", "session:1", "big", "9223372036854775807")
    assert err(run(ks, "HINCRBY", "session:1", "big", "1")) == "ERR increment or decrement would overflow"
    assert run(ks, "HDEL", "session:1", "user", "user", "nofield") == 1
    assert run(ks, "HDEL", "nokey", "f") == 0
    run(ks, "HSET", "one", "f", "v")
    assert run(ks, "HDEL", "one", "f") == 1 and run(ks, "EXISTS", "one") == 0  # empty hash removed
    run(ks, "SET", "s", "v")
    for cmd in (["HSET", "s", "f", "v"], ["HGET", "s", "f"], ["HGETALL", "s"], ["HDEL", "s", "f"],
                ["HLEN", "s"], ["HEXISTS", "s", "f"], ["HINCRBY", "s", "f", "1"], ["HMGET", "s", "f"]):
        assert err(ks.execute(cmd, T0)) == WRONGTYPE, cmd


def test_list_commands(ks: Keyspace) -> None:
    assert run(ks, "LPUSH", "jobs", "a", "b") == 2
    assert run(ks, "RPUSH", "jobs", "c") == 3
    assert run(ks, "LRANGE", "jobs", "0", "-1") == [b"b", b"a", b"c"]
    assert run(ks, "LRANGE", "jobs", "-2", "100") == [b"a", b"c"]
    assert run(ks, "LRANGE", "jobs", "2", "1") == []
    assert run(ks, "LRANGE", "jobs", "5", "10") == []
    assert run(ks, "LRANGE", "nokey", "0", "-1") == []
    assert err(run(ks, "LRANGE", "jobs", "x", "1")) == NOTINT
    assert run(ks, "LLEN", "jobs") == 3 and run(ks, "LLEN", "nokey") == 0
    assert run(ks, "RPOP", "jobs") == b"c"
    assert run(ks, "LPOP", "jobs", "0") == []
    assert run(ks, "RPUSH", "jobs", "d", "e") == 4
    assert run(ks, "RPOP", "jobs", "2") == [b"e", b"d"]
    assert run(ks, "LPOP", "jobs", "10") == [b"b", b"a"]
    assert run(ks, "EXISTS", "jobs") == 0  # emptied list removed
    assert ks.effects.name == "exists"
    assert run(ks, "LPOP", "nokey") is None and run(ks, "LPOP", "nokey", "2") is None
    assert err(run(ks, "LPOP", "jobs", "-1")) == "ERR value is out of range, must be positive"
    run(ks, "SET", "s", "v")
    assert err(run(ks, "LPUSH", "s", "x")) == WRONGTYPE and err(run(ks, "LRANGE", "s", "0", "1")) == WRONGTYPE


# -- effects and the command table ------------------------------------------------------------------
def test_effects_are_reset_between_calls(ks: Keyspace) -> None:
    run(ks, "SET", "a", "v", "PX", "10")
    run(ks, "GET", "a", t=T0 + 100)
    assert ks.effects.expired == [b"a"]
    run(ks, "KEYS", "*")
    run(ks, "GET", "b")
    fx = ks.effects
    assert fx.expired == () and fx.keys_scanned == 0 and fx.propagate is None and fx.dirty == 0
    assert fx.touched == [b"b"] and not fx.error and fx.name == "get"
    run(ks, "MGET", "a", "b", "c")
    assert ks.effects.elements == 3
    run(ks, "GET", "b")
    assert ks.effects.elements == 0


def test_command_flags_as_redis_declares(ks: Keyspace) -> None:
    from redissim.server.commands import COMMANDS, arity_ok, lookup

    assert COMMANDS["set"].flags == frozenset({"write", "denyoom"})
    assert COMMANDS["get"].readonly and COMMANDS["get"].fast and not COMMANDS["get"].write
    assert COMMANDS["del"].write and not COMMANDS["del"].denyoom
    assert "touches_arbitrary_keys" in COMMANDS["scan"].flags
    assert lookup(b"GeT") is COMMANDS["get"] and lookup("nosuch") is None
    assert arity_ok(COMMANDS["set"], 3) and not arity_ok(COMMANDS["get"], 3)
    assert list(COMMANDS["mset"].key_positions(5)) == [1, 3]
