"""The keyspace: per-database main and expires dicts and the reply semantics of commands.

Models Redis 7.0.15's data layer and command implementations:

* ``src/db.c`` -- ``lookupKey`` (lazy expiry, ``keyspace_hits``/``keyspace_misses``),
  ``expireIfNeeded``/``deleteExpiredKeyAndPropagate``, DEL/UNLINK/EXISTS/TYPE/RENAME,
  KEYS, SCAN (``scanGenericCommand``), SELECT, DBSIZE, FLUSHALL/FLUSHDB;
* ``src/expire.c`` -- EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT with NX/XX/GT/LT, PERSIST, TTL,
  PTTL, EXPIRETIME, PEXPIRETIME;
* ``src/t_string.c`` -- SET and its options, GET, GETDEL, GETEX, GETSET, SETEX, PSETEX,
  SETNX, MSET, MSETNX, MGET, APPEND, SETRANGE, GETRANGE (SUBSTR), STRLEN,
  INCR/DECR/INCRBY/DECRBY, INCRBYFLOAT;
* ``src/t_hash.c`` and ``src/t_list.c`` -- the hash and list commands used by sessions
  and job queues;
* ``src/server.c:processCommand``/``call``/``propagatePendingCommands`` -- unknown command
  and arity errors, what is fed to the AOF and replicas (``server.dirty``, rewritten argv,
  MULTI/EXEC wrapping of several propagated ops);
* ``src/debug.c`` -- DEBUG POPULATE, which scenarios use to preload keys.

:meth:`Keyspace.execute` takes one command line and the current unix time in ms and returns
the RESP2 reply as Python values (see ``resp.py``); errors are returned, never raised. What
the command did for the rest of the model is left in :attr:`Keyspace.effects` (one object,
reset by every call). The module knows nothing about SimPy.

Values are stored as ``bytes`` (strings), ``dict`` (hashes; ``listpack.HashTable`` once
converted to a hash table) and ``listpack.Quicklist`` (lists: a deque that keeps the fill it
was created with); the bytes of the encodings are the memory model's (``memory.py``), and
here only the raw SDS buffers APPEND and SETRANGE leave strings in and INCRBYFLOAT's embstr
(``Db.strings``, ``sds.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from itertools import islice
from typing import Any, Final, cast

from redissim.server import sds
from redissim.server.commands import COMMANDS, CommandSpec
from redissim.server.commands import lookup as lookup_command
from redissim.server.glob import compile_pattern
from redissim.server.hashtable import Table
from redissim.server.listpack import (
    HASH_MAX_LISTPACK_ENTRIES,
    HASH_MAX_LISTPACK_VALUE,
    LIST_MAX_LISTPACK_SIZE,
    HashTable,
    Quicklist,
    quicklist_fill,
)
from redissim.server.memory import UPSTREAM_LG_QUANTUM
from redissim.server.resp import ReplyError

__all__ = [
    "Keyspace",
    "Session",
    "Effects",
    "Stats",
    "Db",
    "parse_ll",
    "REDIS_VERSION",
]

REDIS_VERSION = "7.0.15"
LLONG_MAX: Final = (1 << 63) - 1
LLONG_MIN: Final = -(1 << 63)
ULONG_MAX: Final = (1 << 64) - 1
#: proto-max-bulk-len default (512 MB): the largest string APPEND may build.
PROTO_MAX_BULK_LEN: Final = 512 * 1024 * 1024

# Shared error replies (shared.* objects in server.c:createSharedObjects).
E_WRONGTYPE: Final = ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value")
E_SYNTAX: Final = ReplyError("ERR syntax error")
E_NOTINT: Final = ReplyError("ERR value is not an integer or out of range")
E_NOTFLOAT: Final = ReplyError("ERR value is not a valid float")
E_NOKEY: Final = ReplyError("ERR no such key")
E_OVERFLOW: Final = ReplyError("ERR increment or decrement would overflow")
E_POSITIVE: Final = ReplyError("ERR value is out of range, must be positive")
E_INVALID_CURSOR: Final = ReplyError("ERR invalid cursor")

_TYPE_NAMES: dict[type, str] = {bytes: "string", dict: "hash", HashTable: "hash",
                                Quicklist: "list"}


# ---------------------------------------------------------------------------------------------
# Number parsing exactly as Redis does it (util.c:string2ll, string2ld, ld2string)
# ---------------------------------------------------------------------------------------------
def parse_ll(b: bytes) -> int | None:
    """``string2ll``: optional '-', no '+', no spaces, no leading zeros, fits in int64."""
    n = len(b)
    if n == 0 or n > 20:
        return None
    if b.isdigit():
        if b[0] == 48 and n > 1:
            return None
        v = int(b)
        return v if v <= LLONG_MAX else None
    if b[0] == 45 and n > 1:
        t = b[1:]
        if t.isdigit() and t[0] != 48:
            v = -int(t)
            return v if v >= LLONG_MIN else None
    return None


# strtold's grammar for what string2ld accepts (no leading space, whole string consumed).
_LD_RE = re.compile(
    rb"[+-]?(?:(?P<dec>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    rb"|(?P<hex>0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
    rb"|(?P<inf>[iI][nN][fF](?:[iI][nN][iI][tT][yY])?))"
)
_LD_MAX_CHARS = 5 * 1024  # MAX_LONG_DOUBLE_CHARS


def _np() -> Any:
    import numpy as np  # numpy is a project dependency; imported lazily (INCRBYFLOAT only)

    return np


def _fraction_to_ld(q: Fraction) -> Any:
    """Round an exact rational to the nearest x87 80-bit long double (64-bit mantissa)."""
    np = _np()
    if q == 0:
        return np.longdouble(0)
    neg = q < 0
    n, d = abs(q.numerator), q.denominator
    e = n.bit_length() - d.bit_length() - 64
    while True:
        num, den = (n, d << e) if e >= 0 else (n << -e, d)
        m, r = divmod(num, den)
        if m >= 1 << 64:
            e += 1
            continue
        if m < 1 << 63:
            e -= 1
            continue
        break
    if 2 * r > den or (2 * r == den and m & 1):
        m += 1
    v = np.ldexp(np.longdouble(str(m)), e)
    return -v if neg else v


def parse_ld(b: bytes) -> Any | None:
    """``string2ld``: a long double, or None when Redis would say "not a valid float"."""
    if not b or len(b) >= _LD_MAX_CHARS:
        return None
    m = _LD_RE.fullmatch(b)
    if m is None:
        return None
    np = _np()
    neg = b[0] == 45
    if m.group("inf"):
        return np.longdouble("-inf" if neg else "inf")
    if m.group("hex"):
        h = m.group("hex")[2:].lower()
        mant, _, exp = h.partition(b"p")
        ip, _, fp = mant.partition(b".")
        num = int((ip + fp) or b"0", 16)
        e2 = int(exp or b"0") - 4 * len(fp)
        q = Fraction(num) * (Fraction(2) ** e2)
        exact_zero = num == 0
    else:
        mant, _, exp = m.group("dec").lower().partition(b"e")
        ip, _, fp = mant.partition(b".")
        num = _str_int((ip + fp).decode() or "0")
        e10 = int(exp or b"0") - len(fp)
        magnitude = len((ip + fp).lstrip(b"0")) + e10  # value ~ 10 ** (magnitude - 1)
        if num and (magnitude > 4940 or magnitude < -4960):
            return None  # far outside the long double range: ERANGE (overflow or underflow)
        q = Fraction(num) * (Fraction(10) ** e10)
        exact_zero = num == 0
    v = _fraction_to_ld(-q if neg else q) if abs(q) < Fraction(10) ** 4940 else np.longdouble("inf")
    with np.errstate(all="ignore"):
        if np.isinf(v):
            return None  # ERANGE overflow (HUGE_VAL) is rejected
    if v == 0 and not exact_zero:
        return None  # ERANGE underflow to zero is rejected
    return v


def _str_int(s: str) -> int:
    """``int(s)`` for decimal strings of any length (Python caps int() at 4300 digits)."""
    if len(s) <= 4000:
        return int(s)
    return _str_int(s[:-4000]) * 10**4000 + int(s[-4000:])


def _int_str(i: int) -> str:
    """``str(i)`` for non-negative ints of any size (Python caps str() at 4300 digits)."""
    if i < 10**4000:
        return str(i)
    hi, lo = divmod(i, 10**4000)
    return _int_str(hi) + str(lo).rjust(4000, "0")


def format_ld_human(v: Any) -> bytes:
    """``ld2string(..., LD_STR_HUMAN)``: ``%.17Lf`` then strip trailing zeros and the dot."""
    q = Fraction(*v.as_integer_ratio())
    neg = q < 0
    scaled = abs(q) * 10**17
    i, r = divmod(scaled.numerator, scaled.denominator)
    if 2 * r > scaled.denominator or (2 * r == scaled.denominator and i & 1):
        i += 1
    digits = _int_str(i).rjust(18, "0")
    s = digits[:-17] + "." + digits[-17:]
    s = s.rstrip("0").rstrip(".")
    if neg:
        s = "-" + s
    if s == "-0":
        s = "0"
    return s.encode()


def _cstr(b: bytes) -> bytes:
    """What C string functions see of an argument: everything before the first NUL."""
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


def _opt(b: bytes) -> bytes:
    """An option word compared with strcasecmp (C string, case-insensitive)."""
    return _cstr(b).lower()


def _show(b: bytes) -> str:
    """An argument quoted into an error text with %s (a C string; undecodable bytes are
    kept as surrogate escapes so the exact bytes survive a round trip)."""
    return _cstr(b).decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------------
# Data structures
# ---------------------------------------------------------------------------------------------
class Session:
    """Per-connection state the keyspace needs: the selected database."""

    __slots__ = ("db", "name")

    def __init__(self, db: int = 0, name: str = "") -> None:
        self.db = db
        self.name = name


class Effects:
    """What the last ``execute`` did, for the event loop, AOF, eviction and the view.

    One object is reused (reset at each call); copy what you need before the next call.
    That includes the sequences in it: for GET/SET/INCR ``touched`` is a one-element list
    the next such call overwrites (no list is allocated per command).
    """

    __slots__ = (
        "cmd",
        "error",
        "dirty",
        "keys_scanned",
        "keys_returned",
        "buckets_visited",
        "elements",
        "lp_entries",
        "touched",
        "deleted",
        "expired",
        "value_bytes",
        "db",
        "_ops",
        "_args",
        "_rewrite",
        "_force",
        "_one",
    )

    def __init__(self) -> None:
        #: the command-table entry, None when the command is unknown
        self.cmd: CommandSpec | None = None
        #: True when the reply is an error
        self.error: bool = False
        #: how much server.dirty grew (keys changed); 0 for reads and failures
        self.dirty: int = 0
        # What `propagate` is computed from (lazily: most callers never read it).
        self._ops: list[list[bytes]] | None = None  # lazily expired keys' DELs, in order
        self._args: Sequence[bytes] = ()  # the command line as executed (when dirty or _force)
        # The propagated form, if rewritten; an int is the PXAT time of a fast-path
        # ``SET k v PX|EX n``, turned into ``SET k v PXAT ms`` only if propagate is read.
        # Meaningful only when dirty or _force: a read-only call may leave it stale.
        self._rewrite: list[bytes] | int | None = None
        self._force = False  # forceCommandPropagation (FLUSHALL/FLUSHDB)
        self._one: list[bytes] = [b""]  # ``touched`` of the single-key fast paths, reused
        #: keys examined by KEYS / collected by SCAN (before filtering)
        self.keys_scanned: int = 0
        #: keys in a KEYS / SCAN reply
        self.keys_returned: int = 0
        #: dictScan steps made by SCAN (buckets visited)
        self.buckets_visited: int = 0
        #: elements handled by multi-element commands (MGET keys, HGETALL/LRANGE items...)
        self.elements: int = 0
        #: fields a listpack hash's searches compared (lpFind: up to the field, or all)
        self.lp_entries: int = 0
        #: keys looked up or written (LRU/LFU, the view); () when none
        self.touched: Sequence[bytes] = ()
        #: keys deleted by the command itself (DEL, GETDEL, emptied lists...)
        self.deleted: Sequence[bytes] = ()
        #: keys lazily expired (deleted because their TTL had passed) during the command
        self.expired: Sequence[bytes] = ()
        #: payload bytes of values read or written (string values, hash/list items)
        self.value_bytes: int = 0
        #: the database the command ran in (for SELECT in the AOF feed)
        self.db: int = 0


    @property
    def name(self) -> str:
        """Lower-case command name as in the table ("get"); "" when unknown."""
        cmd = self.cmd
        return cmd.name if cmd is not None else ""

    @property
    def propagate(self) -> list[list[bytes]] | None:
        """Command lines fed to the AOF / replicas for this call, or None.

        The command itself is fed when it changed something (``server.dirty`` grew) or
        forces propagation, in its rewritten form (``SET k v PXAT ms``, ``PEXPIREAT``,
        ``DEL``...); keys expired lazily during the call come first as ``DEL`` (``UNLINK``
        with lazyfree-lazy-expire). Several ops are wrapped in MULTI/EXEC like 7.0's
        ``propagatePendingCommands`` does, except for commands that touch arbitrary keys.
        """
        ops = list(self._ops) if self._ops else []
        if self.dirty or self._force:
            rewrite = self._rewrite
            if rewrite is None:
                ops.append(list(self._args))
            elif type(rewrite) is int:
                args = self._args
                ops.append([b"SET", args[1], args[2], b"PXAT", b"%d" % rewrite])  # type: ignore[str-format]
            else:
                ops.append(rewrite)  # type: ignore[arg-type]
        if len(ops) > 1 and self.cmd is not None and "touches_arbitrary_keys" not in self.cmd.flags:
            ops = [[b"MULTI"], *ops, [b"EXEC"]]
        return ops or None


class Stats:
    """Counters the keyspace owns, named like their INFO fields."""

    __slots__ = ("keyspace_hits", "keyspace_misses", "expired_keys")

    def __init__(self) -> None:
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.expired_keys = 0

    def as_dict(self) -> dict[str, int]:
        return {"keyspace_hits": self.keyspace_hits, "keyspace_misses": self.keyspace_misses,
                "expired_keys": self.expired_keys}

    def reset(self) -> None:
        """A restarted process counts from zero."""
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.expired_keys = 0

    def __getitem__(self, name: str) -> int:
        return getattr(self, name)


class Db:
    """One numbered database: ``main`` and ``expires`` tables (``redisDb`` in server.h)."""

    __slots__ = ("id", "main", "expires", "data", "exp", "exp_sorted", "exp_last", "exp_min",
                 "avg_ttl", "expires_cursor", "populated_shared", "strings")

    def __init__(self, id: int) -> None:
        self.id = id
        self.main = Table()
        self.expires = Table()
        #: the plain dicts behind the tables (key -> value, key -> unix ms)
        self.data: dict[bytes, Any] = self.main.data
        self.exp: dict[bytes, int] = self.expires.data
        #: True while the expire times in ``exp``, in the dict's order, never decrease: the
        #: keys that expired are then the first ones (see Keyspace.expired_unreclaimed).
        #: It holds whenever every TTL is the same, as in most workloads: each write puts
        #: its key last with the latest time. ``exp_last`` is the time last put at the end.
        #: Every change of ``exp`` goes through the keyspace, which keeps both right
        #: (_note_exp_append); a bulk load sets ``exp_sorted`` to False.
        self.exp_sorted = True
        self.exp_last = 0
        #: No expire time in ``exp`` is below it (the same writes keep it up). Until the
        #: clock passes it no key can be expired, and the lazy expiry checks skip the ``exp``
        #: lookup: with TTLs longer than the run, or not reached yet, a read costs one dict
        #: lookup, as it does without TTLs. Deletes leave it alone (it stays a lower bound);
        #: the next add to an empty ``exp`` sets it afresh.
        self.exp_min = 0
        #: maintained by the active expire cycle (INFO keyspace avg_ttl)
        self.avg_ttl = 0
        #: where the active expire cycle resumes its walk of ``expires``
        self.expires_cursor = 0
        #: (the shared value object, the key prefix with its colon, the value size) of a
        #: populate() whose keys all share one value: a key holding that object stands for
        #: DEBUG POPULATE's own ``value:N`` (what the RDB estimate compresses)
        self.populated_shared: tuple[bytes, bytes, int] | None = None
        #: key -> (value, cap, usable) of the string values not stored as SET would store
        #: them: those APPEND or SETRANGE made ``raw`` SDS buffers (their room and allocation,
        #: see sds.py), and INCRBYFLOAT's results, ``embstr`` even when they read as integers
        #: (cap ``sds.EMBSTR``). Every write of a new value and every delete of the key
        #: removes its entry; an entry also counts only while the key holds the very object
        #: it was recorded for (a check, not a substitute: one-byte values are shared
        #: objects, so a SET of the same text would hold the same object).
        self.strings: dict[bytes, tuple[bytes, int, int]] = {}


_EMPTY: Final[tuple[()]] = ()


def _note_exp_append(db: Db, when: int) -> None:
    """Called just before ``when`` is put at the end of ``db.exp`` (see Db.exp_sorted and
    Db.exp_min)."""
    if not db.exp:
        db.exp_sorted = True
        db.exp_min = when
    else:
        if when < db.exp_last:
            db.exp_sorted = False
        if when < db.exp_min:
            db.exp_min = when
    db.exp_last = when


def populate_value(n: int, size: int) -> bytes:
    """DEBUG POPULATE's value of key number ``n``: ``value:N``, zero-padded or truncated to
    ``size`` when ``size`` > 0 (debug.c)."""
    v = b"value:%d" % n
    return v[:size].ljust(size, b"\0") if size else v


def _normalize(args: Sequence[Any]) -> list[bytes]:
    """Encode a command line to bytes (str as UTF-8, numbers via str()).

    ``execute`` calls this only when the first, second or last element is not bytes, so
    a line must be either all bytes or have str there (the usual all-str line qualifies).
    """
    out = []
    for a in args:
        if type(a) is bytes:
            out.append(a)
        elif isinstance(a, str):
            out.append(a.encode())
        elif isinstance(a, bytes | bytearray | memoryview):
            out.append(bytes(a))
        elif isinstance(a, int | float):
            out.append(str(a).encode())
        else:
            raise TypeError(f"command arguments must be bytes or str, not {type(a).__name__}")
    return out


Handler = Callable[["Keyspace", Db, list[bytes]], Any]


def lp_find_cost(h: dict, field: bytes) -> int:
    """The fields ``lpFind`` compares to look ``field`` up in a listpack hash: it walks the
    fields from the head (stepping over the values), so the field's place counting from 1,
    or every field when it is not there. (The dict's order is the listpack's: a new field
    goes to the tail, a replaced value stays in place, a deleted field leaves.)"""
    n = 0
    for f in h:
        n += 1
        if f == field:
            return n
    return n


class Keyspace:
    """Sixteen databases and the command-level entry point :meth:`execute`.

    Configuration keywords use redis.conf names with ``-`` turned into ``_``.
    """

    def __init__(
        self,
        databases: int = 16,
        *,
        lazyfree_lazy_expire: bool = False,
        lazyfree_lazy_user_del: bool = False,
        lazyfree_lazy_user_flush: bool = False,
        proto_max_bulk_len: int = PROTO_MAX_BULK_LEN,
    ) -> None:
        self.dbs: list[Db] = [Db(i) for i in range(databases)]
        self.stats = Stats()
        self.effects = Effects()
        #: extra INFO sections/fields supplied by the engine: {"stats": {"evicted_keys": 0}}
        self.info_hook: Callable[[], dict[str, dict[str, object]]] | None = None
        self.lazyfree_lazy_expire = lazyfree_lazy_expire
        self.lazyfree_lazy_user_del = lazyfree_lazy_user_del
        self.lazyfree_lazy_user_flush = lazyfree_lazy_user_flush
        self.proto_max_bulk_len = proto_max_bulk_len
        #: DEBUG SET-ACTIVE-EXPIRE toggles this; the active expire cycle reads it
        self.active_expire_enabled = True
        #: cluster-enabled yes (a Redis Cluster master): SELECT of any database but 0 is
        #: refused, INFO says redis_mode:cluster and cluster_enabled:1
        self.cluster_enabled = False
        #: the allocator's quantum (jemalloc --with-lg-quantum): the buffers APPEND and
        #: SETRANGE grow follow its size classes (sds.py); the memory model sets the scenario's
        self.jemalloc_lg_quantum = UPSTREAM_LG_QUANTUM
        #: hash-max-listpack-entries / hash-max-listpack-value: the limits past which a write
        #: converts a listpack hash to a hash table (CONFIG SET changes them for the writes
        #: that follow; the hashes already stored keep their encoding)
        self.hash_max_listpack_entries = HASH_MAX_LISTPACK_ENTRIES
        self.hash_max_listpack_value = HASH_MAX_LISTPACK_VALUE
        #: list-max-listpack-size: the fill a new list's quicklist is created with (the lists
        #: that exist keep theirs)
        self.list_max_listpack_size = LIST_MAX_LISTPACK_SIZE
        #: the time of the command being executed (server.mstime / commandTimeSnapshot)
        self.now = 0
        self._session = Session()
        #: TTL arguments of SET ... PX|EX already checked, and their values: clients with a
        #: TTL send the same few on every write (bounded, see _fast_set)
        self._ttl_args: dict[bytes, int] = {}
        #: the option and value objects of the last SET ... PX|EX n taken, and their meaning
        self._last_opt: Any = None
        self._last_raw: Any = None
        self._last_unit = 0
        self._last_ttl = 0
        #: the last expire time SET ... PX|EX gave a key, as an int object: the keys given
        #: the same time (those written in the same ms with the same TTL) share one object
        #: in the expires dict instead of one each, which is less to allocate and free and
        #: far fewer objects for the expire cycle and the time series to read (Redis keeps
        #: the time inside the dict entry itself)
        self._when_int = -1
        self._when_obj: Any = -1
        # True when the previous call may have set one of Effects' rarely set fields
        # (keys_scanned..elements, deleted, expired, _ops, _force) or error: the next call
        # resets them only then, so every path that sets one sets this too. (_rewrite and
        # _args are set by every call that can make dirty > 0, see Effects.__init__.)
        self._rare_dirty = True
        # name spelling -> (spec, handler, min argc, max argc, hot). "Hot" handlers never set
        # the rarely used Effects fields except through _expire_now/_note_deleted/
        # _set_rewrite, which flag them for the next reset themselves.
        self._dispatch: dict[Any, tuple[CommandSpec, Handler, int, int, bool]] = {}
        for name, spec in COMMANDS.items():
            fn = getattr(type(self), "_cmd_" + name)
            lo = spec.arity if spec.arity > 0 else -spec.arity
            hi = spec.arity if spec.arity > 0 else 1 << 62
            entry = (spec, fn, lo, hi, name in _HOT)
            for variant in (name, name.upper()):
                self._dispatch[variant] = entry
                self._dispatch[variant.encode()] = entry

    # ------------------------------------------------------------------------------------------
    # Entry point
    # ------------------------------------------------------------------------------------------
    def execute(self, args: Sequence[bytes | str], now_ms: int, session: Session | None = None) -> Any:
        """Run one command line at unix time ``now_ms``; return the reply (errors returned)."""
        # GET/SET/INCR/PING spelled as bytes in a list (what clients send) take a fast path
        # (execute_kind: GET in that method itself, the others in a handler that does this
        # method's bookkeeping and the command in one frame); lines of an unusual shape go to
        # _execute. A str or unhashable name misses the table: the general path.
        if not isinstance(args, list) or not args:
            return self._execute(args, now_ms, session)
        return self.execute_kind(self.fast_kind(args[0]), args, now_ms, session)

    @staticmethod
    def fast_kind(name: Any) -> int:
        """Which fast path of :meth:`execute_kind` a command name takes (-1: none)."""
        try:
            return _FAST.get(name, -1)
        except TypeError:  # unhashable: the general path reports it
            return -1

    def execute_kind(self, kind: int, args: list[Any], now_ms: int,
                     session: Session | None = None) -> Any:
        """:meth:`execute` of a line in a list whose name's :meth:`fast_kind` the caller
        looked up once for every line spelled that way (the event loop does)."""
        # (Direct calls, not a table of methods: compiled, each is a plain C call.)
        if kind < 0 or not args:
            return self._execute(args, now_ms, session)
        if kind == _F_SET:
            return self._fast_set(args, now_ms, session)
        if kind == _F_INCR:
            return self._fast_incr(args, now_ms, session)
        if kind == _F_PING:
            return self._fast_ping(args, now_ms, session)
        # GET key (getCommand -> lookupKeyRead, t_string.c / db.c). The name itself is not
        # checked for bytes: nothing reads it back for a read-only command.
        if len(args) != 2:  # wrong number of arguments
            return self._execute(args, now_ms, session)
        key = args[1]
        if type(key) is not bytes:
            return self._execute(args, now_ms, session)
        fx = self.effects
        if self._rare_dirty:
            self._reset_rare()
        self.now = now_ms
        # (fx._args is left alone: propagate reads it only for a command that changed
        # something.)
        fx.cmd = _SPEC_GET
        fx.dirty = 0
        if session is None:
            session = self._session
        fx.db = dbid = session.db
        db = self.dbs[dbid]
        val = db.data.get(key)
        one = fx._one
        one[0] = key
        fx.touched = one
        if val is not None:
            exp = db.exp
            if exp and now_ms > db.exp_min:
                when = exp.get(key)
                if when is not None and now_ms > when:
                    self._expire_now(db, key)
                    val = None
        if val is None:
            self.stats.keyspace_misses += 1
            fx.value_bytes = 0
            return None
        self.stats.keyspace_hits += 1
        if type(val) is not bytes:
            fx.value_bytes = 0
            fx.error = True
            self._rare_dirty = True
            return E_WRONGTYPE
        fx.value_bytes = len(val)
        return val

    def _execute(self, args: Sequence[Any], now_ms: int, session: Session | None = None) -> Any:
        """The general path of :meth:`execute`: every command, every spelling."""
        # The line is normalised (str -> UTF-8 bytes) when its first, second or last element
        # is not bytes: that covers the name, the key and the value of every single-key
        # command at a fraction of the cost of checking every element (see _normalize).
        if args and (
            type(args[0]) is not bytes
            or type(args[-1]) is not bytes
            or (len(args) > 2 and type(args[1]) is not bytes)
        ):
            args = _normalize(args)
        fx = self.effects
        # Hot path: only the fields every command sets are reset unconditionally; the rarely
        # used ones are reset only if the previous command may have set them.
        fx.dirty = 0
        fx._args = args
        fx.touched = _EMPTY
        fx.value_bytes = 0
        fx._rewrite = None
        if self._rare_dirty:
            fx.keys_scanned = fx.keys_returned = fx.buckets_visited = fx.elements = 0
            fx.lp_entries = 0
            fx.deleted = fx.expired = _EMPTY
            fx._ops = None
            fx._force = False
            fx.error = False
            self._rare_dirty = False
        if session is None:
            session = self._session
        fx.db = dbid = session.db
        entry = self._dispatch.get(args[0]) if args else None
        if entry is None:
            return self._slow_dispatch(args, now_ms, session)
        spec, fn, lo, hi, hot = entry
        fx.cmd = spec
        if not lo <= len(args) <= hi:
            fx.error = True
            self._rare_dirty = True
            return ReplyError(f"ERR wrong number of arguments for '{spec.name}' command",
                              rejected=True)
        self.now = now_ms
        if not hot:
            self._rare_dirty = True
            if fn is _SELECT_HANDLER:
                reply = self._select(args, session)  # type: ignore[arg-type]
                fx.error = type(reply) is ReplyError
                return reply
        reply = fn(self, self.dbs[dbid], args)  # type: ignore[arg-type]
        if type(reply) is ReplyError:
            fx.error = True  # flags the reset of the next call (error implies _rare_dirty)
            self._rare_dirty = True
        return reply

    def _slow_dispatch(self, args: Sequence[bytes], now_ms: int, session: Session) -> Any:
        """Unknown spellings (mixed case, NUL-terminated...) and unknown commands."""
        spec = lookup_command(_cstr(args[0])) if args else None
        if spec is None:
            self._rare_dirty = True
            return self._unknown(args)
        entry = self._dispatch[spec.name]
        if len(self._dispatch) < 4096:  # remember the spelling, bounded
            self._dispatch[args[0]] = entry
        return self._execute(args, now_ms, session)

    def _unknown(self, args: Sequence[bytes]) -> ReplyError:
        fx = self.effects
        fx.cmd = None
        fx.error = True
        # Built in bytes like the C code (the 128-byte budgets count bytes, not characters).
        shown = b""
        for a in args[1:]:
            if len(shown) >= 128:
                break
            shown += b"'" + _cstr(a)[: 128 - len(shown)] + b"' "
        name = _cstr(args[0])[:128] if args else b""
        text = b"ERR unknown command '" + name + b"', with args beginning with: " + shown
        return ReplyError(text.decode("utf-8", "surrogateescape"), rejected=True)

    def _set_rewrite(self, argv: list[bytes]) -> None:
        """Set the propagated form of the current command (``rewriteClientCommandVector``)."""
        self.effects._rewrite = argv
        self._rare_dirty = True

    # ------------------------------------------------------------------------------------------
    # Fast paths of the hottest command lines (execute() and the command in one frame)
    # ------------------------------------------------------------------------------------------
    # processCommand + call() + the command: GET/SET/INCR are most of every workload, and on
    # a keyspace of millions of keys the dict lookup alone costs ~600 ns of memory latency, so
    # the Python around it has to be as short as it can be. Each handler below checks that the
    # line has exactly the shape it handles (bytes arguments, right argument count, plain
    # options) before it changes anything, and otherwise hands the line to _execute; what it
    # leaves in the reply, the keyspace, the stats and self.effects is what _execute would.

    def _reset_rare(self) -> None:
        """Reset the Effects fields that only rarely used commands set (see _rare_dirty)."""
        fx = self.effects
        fx.keys_scanned = fx.keys_returned = fx.buckets_visited = fx.elements = 0
        fx.lp_entries = 0
        fx.deleted = fx.expired = _EMPTY
        fx._ops = None
        fx._force = False
        fx.error = False
        self._rare_dirty = False

    def _fast_set(self, args: list[Any], now_ms: int, session: Session | None) -> Any:
        """``SET key value`` and ``SET key value PX|EX n`` (setGenericCommand, t_string.c).

        The TTL form is what clients with a TTL send on every write; its plain decimal ``n``
        (no sign, no leading zero, at most 15 digits, so neither ``n * 1000`` nor the sum
        with now can overflow and the time is > 0) is taken without the option parser.
        """
        n = len(args)
        ttl = 0
        if n == 3:
            if type(args[2]) is not bytes or type(args[1]) is not bytes or type(args[0]) is not bytes:
                return self._execute(args, now_ms, session)
            unit = 0
        elif n == 5:
            opt = args[3]
            raw = args[4]
            if (
                type(opt) is not bytes
                or type(raw) is not bytes
                or type(args[2]) is not bytes
                or type(args[1]) is not bytes
                or type(args[0]) is not bytes
            ):
                return self._execute(args, now_ms, session)
            if opt is self._last_opt and raw is self._last_raw:
                # the very objects of the previous SET ... PX|EX n: a client's builder
                # sends the same two on every write (no dict lookups)
                unit = self._last_unit
                ttl = self._last_ttl
            else:
                unit = _TTL_UNIT.get(opt, 0)
                if not unit:
                    return self._execute(args, now_ms, session)
                ttl = self._ttl_args.get(raw, -1)
                if ttl < 0:
                    if not raw.isdigit() or raw[0] == 48 or len(raw) > 15:
                        return self._execute(args, now_ms, session)
                    ttl = int(raw)
                    if len(self._ttl_args) < 256:
                        self._ttl_args[raw] = ttl
                self._last_opt = opt
                self._last_raw = raw
                self._last_unit = unit
                self._last_ttl = ttl
        else:
            return self._execute(args, now_ms, session)
        fx = self.effects
        if self._rare_dirty:
            self._reset_rare()
        self.now = now_ms
        fx._args = args
        fx.cmd = _SPEC_SET
        if session is None:
            session = self._session
        fx.db = dbid = session.db
        db = self.dbs[dbid]
        key = args[1]
        val = args[2]
        fx.dirty = 1
        one = fx._one
        one[0] = key
        fx.touched = one
        fx.value_bytes = len(val)
        data = db.data
        if not unit:
            fx._rewrite = None
            # Plain SET with a single dict operation. If the key was there, its TTL goes
            # (setKey without KEEPTTL); if that TTL had already passed, Redis would first have
            # expired the old key (counted, DEL fed), so do the same.
            size = len(data)
            data[key] = val
            if db.strings:
                db.strings.pop(key, None)  # a new value object (Db.strings)
            if len(data) > size:
                if size >= db.main._trigger:
                    db.main.note_add(key)
            else:
                exp = db.exp
                if exp:
                    when = exp.get(key)  # (get and del: compiled, pop(key, None) is generic)
                    if when is not None:
                        del exp[key]
                        if db.expires._index is not None:
                            db.expires.note_delete(key)
                        if now_ms > when:
                            self._count_lazy_expiry(key)
            return "OK"
        # SET key value PX|EX n: lookupKeyWrite (an expired old key is deleted first), setKey
        # (drops the old TTL), setExpire, and the PXAT rewrite for the AOF and replicas -- the
        # same dict and bucket-index operations in the same order as _set_generic.
        when_int = ttl * unit + now_ms
        if when_int != self._when_int:
            self._when_int = when_int
            self._when_obj = when_int
        when = self._when_obj
        exp = db.exp
        expires = db.expires
        fx._rewrite = when  # the PXAT line is built only if propagate is read
        size = len(data)
        data[key] = val
        if db.strings:
            db.strings.pop(key, None)  # a new value object (Db.strings)
        if len(data) > size:
            # A new key. Every key of ``exp`` is a key of ``data``, so there is no old TTL to
            # look up (which spares the lookup that misses in a large ``exp``): setExpire adds
            # one to both the dict and the head of its chain.
            if size >= db.main._trigger:
                db.main.note_add(key)
            n = len(exp)
            _note_exp_append(db, when_int)
            exp[key] = when
            if len(exp) > n:
                if n >= expires._trigger:
                    expires.note_add(key)
            else:
                # A TTL that had lost its key (no command leaves one): replaced, moved to the
                # end of the dict and the head of its chain, as below.
                del exp[key]
                exp[key] = when
                if expires._index is not None:
                    expires.note_readd(key)
            return "OK"
        old = exp.get(key) if exp else None
        if old is None:
            # A key without a TTL is given one.
            _note_exp_append(db, when_int)
            exp[key] = when
            if len(exp) > expires._trigger:
                expires.note_add(key)
            return "OK"
        if now_ms <= old:
            # The key's TTL is replaced (the value was, in place): removeExpire then setExpire,
            # i.e. the entry is deleted and added again (to the head of its bucket's chain).
            del exp[key]
            _note_exp_append(db, when_int)
            exp[key] = when
            if expires._index is not None:
                expires.note_readd(key)
            return "OK"
        # The old key has expired: lookupKeyWrite deletes it (counted, DEL fed), then the new
        # one is added, to both dicts and to the head of both chains. Done as one re-add per
        # table: the same dict order and chains as a delete and an insert, and the count never
        # changes, so no table can grow in between.
        del data[key]
        data[key] = val
        if db.main._index is not None:
            db.main.note_readd(key)
        del exp[key]
        _note_exp_append(db, when_int)
        exp[key] = when
        if expires._index is not None:
            expires.note_readd(key)
        self._count_lazy_expiry(key)
        return "OK"

    def _fast_ping(self, args: list[Any], now_ms: int, session: Session | None) -> Any:
        """``PING`` with no argument (pingCommand, server.c): health checks and keep-alives
        send nothing else, and it is redis-benchmark's first test."""
        if len(args) != 1:
            return self._execute(args, now_ms, session)
        fx = self.effects
        if self._rare_dirty:
            self._reset_rare()
        self.now = now_ms
        fx.cmd = _SPEC_PING
        fx.dirty = 0
        fx.touched = _EMPTY
        fx.value_bytes = 0
        fx.db = (session if session is not None else self._session).db
        return "PONG"

    def _fast_incr(self, args: list[Any], now_ms: int, session: Session | None) -> Any:
        """``INCR key`` on a missing key or a plain non-negative integer (incrDecrCommand)."""
        if len(args) != 2 or type(args[1]) is not bytes or type(args[0]) is not bytes:
            return self._execute(args, now_ms, session)
        fx = self.effects
        if self._rare_dirty:
            self._reset_rare()
        self.now = now_ms
        fx._args = args
        fx.cmd = _SPEC_INCR
        fx.value_bytes = 0
        if session is None:
            session = self._session
        fx.db = dbid = session.db
        db = self.dbs[dbid]
        key = args[1]
        data = db.data
        val = data.get(key)
        one = fx._one
        one[0] = key
        fx.touched = one
        fx._rewrite = None
        if val is None:
            data[key] = b"1"
            if db.strings:
                db.strings.pop(key, None)  # (a record a delete left behind: Db.strings)
            main = db.main
            if len(data) > main._trigger:
                main.note_add(key)
            fx.dirty = 1
            return 1
        exp = db.exp
        if exp and now_ms > db.exp_min:
            when = exp.get(key)
            if when is not None and now_ms > when:
                val = None  # lazily expired: the general path below deletes and recreates it
        if val is not None and type(val) is bytes and val.isdigit() and len(val) < 19 and (
            val[0] != 48 or len(val) == 1
        ):
            new = int(val) + 1
            data[key] = b"%d" % new
            if db.strings:
                db.strings.pop(key, None)  # a new value object (Db.strings)
            fx.dirty = 1
            return new
        fx.dirty = 0
        reply = self._incr_by(db, key, 1)
        if type(reply) is ReplyError:
            fx.error = True
            self._rare_dirty = True
        return reply

    # ------------------------------------------------------------------------------------------
    # Key lookup, expiry and low-level add/delete (db.c)
    # ------------------------------------------------------------------------------------------
    def _expired(self, db: Db, key: bytes) -> bool:
        """``keyIsExpired``: strictly past its expire time (no deletion)."""
        exp = db.exp
        if not exp or self.now <= db.exp_min:
            return False
        when = exp.get(key)
        return when is not None and self.now > when

    def delete_expired(self, db: Db | int, key: bytes, bucket: int = -1) -> list[bytes]:
        """``deleteExpiredKeyAndPropagate``: delete ``key``, count it, return the DEL to feed.

        Public for the active expire cycle (which feeds the returned command line to the
        AOF itself, and passes the expires table's ``bucket`` it found the key in); lazy
        expiry inside commands goes through here too.
        """
        self.reclaim_expired(db, key, bucket)
        return [b"UNLINK" if self.lazyfree_lazy_expire else b"DEL", key]

    def reclaim_expired(self, db: Db | int, key: bytes, bucket: int = -1) -> None:
        """delete_expired without the DEL to feed: for the active expire cycle when nothing
        takes the propagated command (no AOF, no maxmemory accounting)."""
        if isinstance(db, int):
            db = self.dbs[db]
        # _db_delete inlined (the active cycle calls this for every key it expires); each
        # dict is probed once (a delete that finds nothing raises), not by ``in`` and again
        # by ``del``: the key is nearly always there.
        self.stats.expired_keys += 1
        data = db.data
        try:
            del data[key]
        except KeyError:
            return
        if db.strings:
            db.strings.pop(key, None)
        if db.main._index is not None:
            db.main.note_delete(key)
        exp = db.exp
        try:
            del exp[key]
        except KeyError:
            return
        if db.expires._index is not None:
            if bucket < 0:
                db.expires.note_delete(key)
            else:
                db.expires.note_delete_in(key, bucket)

    def _expire_now(self, db: Db, key: bytes) -> None:
        """Lazy expiry inside a command: delete, count and queue the propagated DEL."""
        fx = self.effects
        argv = self.delete_expired(db, key)
        if fx._ops is None:
            fx._ops = [argv]
        else:
            fx._ops.append(argv)
        self._rare_dirty = True
        if fx.expired:
            cast(list, fx.expired).append(key)
        else:
            fx.expired = [key]

    def _count_lazy_expiry(self, key: bytes) -> None:
        """The bookkeeping of a lazy expiry whose delete was folded into an overwrite."""
        self.stats.expired_keys += 1
        fx = self.effects
        self._rare_dirty = True
        argv = [b"UNLINK" if self.lazyfree_lazy_expire else b"DEL", key]
        if fx._ops is None:
            fx._ops = [argv]
        else:
            fx._ops.append(argv)
        if fx.expired:
            cast(list, fx.expired).append(key)
        else:
            fx.expired = [key]

    def _expire_if_needed(self, db: Db, key: bytes) -> bool:
        exp = db.exp
        if exp and self.now > db.exp_min:
            when = exp.get(key)
            if when is not None and self.now > when:
                self._expire_now(db, key)
                return True
        return False

    def _lookup_read(self, db: Db, key: bytes) -> Any:
        """``lookupKeyRead``: lazy expiry, then hit/miss counted."""
        val = db.data.get(key)
        if val is not None and self._expire_if_needed(db, key):
            val = None
        if val is None:
            self.stats.keyspace_misses += 1
        else:
            self.stats.keyspace_hits += 1
        return val

    def _lookup_write(self, db: Db, key: bytes) -> Any:
        """``lookupKeyWrite``: lazy expiry, no hit/miss statistics."""
        val = db.data.get(key)
        if val is not None and self._expire_if_needed(db, key):
            return None
        return val

    def _touch(self, key: bytes) -> None:
        fx = self.effects
        touched = fx.touched
        if type(touched) is list:
            touched.append(key)  # type: ignore[union-attr]
        else:
            fx.touched = [*touched, key]

    def _note_deleted(self, key: bytes) -> None:
        fx = self.effects
        self._rare_dirty = True
        if fx.deleted:
            cast(list, fx.deleted).append(key)
        else:
            fx.deleted = [key]

    @staticmethod
    def _db_add(db: Db, key: bytes, val: Any) -> None:
        """``dbAdd`` of a key known to be absent."""
        data = db.data
        data[key] = val
        if db.strings:
            db.strings.pop(key, None)  # (a record a delete left behind: Db.strings)
        main = db.main
        if len(data) > main._trigger:
            main.note_add(key)

    @staticmethod
    def _db_delete(db: Db, key: bytes) -> bool:
        """``dbSyncDelete``: remove the key and its TTL. True if it existed."""
        data = db.data
        if key not in data:
            return False
        del data[key]
        if db.main._index is not None:
            db.main.note_delete(key)
        exp = db.exp
        if exp and key in exp:
            del exp[key]
            if db.expires._index is not None:
                db.expires.note_delete(key)
        if db.strings:
            db.strings.pop(key, None)
        return True

    @staticmethod
    def _set_expire(db: Db, key: bytes, when: int) -> None:
        exp = db.exp
        if key in exp:
            exp[key] = when  # (in place: the time order may break)
            db.exp_sorted = False
            if when < db.exp_min:
                db.exp_min = when
            return
        _note_exp_append(db, when)
        exp[key] = when
        t = db.expires
        if len(exp) > t._trigger:
            t.note_add(key)

    @staticmethod
    def _remove_expire(db: Db, key: bytes) -> bool:
        exp = db.exp
        if exp and key in exp:
            del exp[key]
            if db.expires._index is not None:
                db.expires.note_delete(key)
            return True
        return False

    def _set_key(self, db: Db, key: bytes, val: Any, keepttl: bool = False, found: bool | None = None) -> None:
        """``setKey``: add or overwrite; drops the TTL unless KEEPTTL."""
        data = db.data
        if db.strings:
            db.strings.pop(key, None)  # a new value object (Db.strings)
        if found is None:
            found = key in data
        if found:
            data[key] = val
        else:
            data[key] = val
            main = db.main
            if len(data) > main._trigger:
                main.note_add(key)
        if not keepttl and db.exp and key in db.exp:
            self._remove_expire(db, key)

    # ------------------------------------------------------------------------------------------
    # Public helpers for the rest of the model
    # ------------------------------------------------------------------------------------------
    def db(self, index: int = 0) -> Db:
        return self.dbs[index]

    def dbsize(self, index: int = 0) -> int:
        return len(self.dbs[index].data)

    def populate(self, count: int, prefix: bytes | str = b"key", size: int = 0, db: int = 0,
                 shared_value: bytes | None = None, only: list[int] | None = None) -> int:
        """DEBUG POPULATE without the command overhead. Returns the number of keys added.

        Keys are ``prefix:N`` (truncated to 127 bytes), values ``value:N`` zero-padded or
        truncated to ``size`` when ``size`` > 0. Existing keys are left alone (an expired
        one is lazily expired first, like ``lookupKeyWrite``). With ``shared_value`` every
        key gets that one bytes object: a 4 GB dataset then costs the simulator pointers, not
        4 GB (the sizes, which memory accounting reads, are the same), and the RDB estimate
        reads each key's own ``value:N`` in its place (``Db.populated_shared``). ``only``:
        the numbers N (of the ``count``) to create, the others left out (a cluster's master
        gets the keys of its slots).
        """
        if isinstance(prefix, str):
            prefix = prefix.encode()
        prefix = _cstr(prefix)
        d = self.dbs[db]
        nums: range | list[int] = range(count) if only is None else only
        d.main.expand(len(nums))
        data = d.data
        fmt = prefix + b":%d"
        # snprintf into a 128-byte buffer: names longer than 127 bytes are cut short.
        truncating = len(prefix) + 22 > 127
        if truncating:
            keys = [(fmt % j)[:127] for j in nums]
        else:
            keys = [fmt % j for j in nums]
        if shared_value is not None:
            vals: Any = (shared_value for _ in nums)
            d.populated_shared = (shared_value, prefix + b":", size)
        else:
            vals = (populate_value(j, size) for j in nums)
        if not data and d.main._index is None and not truncating:
            # Bulk path: nothing can collide, so one dict.update does all the dbAdds.
            data.update(zip(keys, vals, strict=True))
            if keys and len(data) > d.main._trigger:
                d.main.note_add(keys[-1])
            return len(data)
        added = 0
        for k, v in zip(keys, vals, strict=True):
            if k in data and self._lookup_write(d, k) is not None:
                continue
            if k in data:  # duplicate name produced by truncation
                continue
            self._db_add(d, k, v)
            added += 1
        return added

    def expired_unreclaimed(self, db: Db, now_ms: int) -> int:
        """Keys whose TTL has passed at ``now_ms`` but which lazy or active expiry has not
        deleted yet: DBSIZE still counts them (the time series' keys logically alive are
        DBSIZE minus these)."""
        if not db.exp or now_ms <= db.exp_min:
            return 0  # no expire time has passed (the walk would start with the dict's holes)
        # The values are read as plain objects: typed as ints, each would be converted to
        # a machine integer first.
        values: Any = db.exp.values()
        now: Any = now_ms  # (boxed once, not at every comparison)
        # Keys given a TTL in the same ms share one int object (see _fast_set) and sit next
        # to one another in the dict, so the comparison is made once per run of the same
        # object.
        n = 0
        last: object = None
        if db.exp_sorted:
            # Times in the dict's order never decrease: the expired keys are the first ones,
            # and the walk stops at the first key still alive. Walking every key at every
            # sample was a tenth of the cache misses TTLs add in the expiry benchmark.
            for when in values:
                if when is not last:
                    if not now > when:
                        break
                    last = when
                n += 1
            return n
        past = False
        for when in values:
            if when is not last:
                last = when
                past = now > when
            if past:
                n += 1
        return n

    def string_size_classes(self, db: Db) -> tuple[dict[tuple[int, int, bool], int], list[bytes]]:
        """For memory accounting: how many keys hold a string that is not an integer, by
        (key length, value length, has a TTL) -- their size depends on nothing else -- and
        the other keys (integers, hashes, lists, the strings ``Db.strings`` records), to be
        measured one by one."""
        classes: dict[tuple[int, int, bool], int] = {}
        others: list[bytes] = []
        exp = db.exp
        recorded = db.strings
        for key, val in db.data.items():
            if type(val) is bytes and not (recorded and key in recorded):
                n = len(val)
                c = val[0] if n else 0
                if n == 0 or not (48 <= c <= 57 or c == 45):  # (no leading digit or '-')
                    cls = (len(key), n, key in exp)
                    classes[cls] = classes.get(cls, 0) + 1
                    continue
            others.append(key)
        return classes, others

    def delete_key(self, db: Db | int, key: bytes) -> bool:
        """``dbSyncDelete`` for other mechanisms (eviction): remove the key and its TTL.

        No statistics are counted and nothing is recorded in ``effects``; the caller
        counts (``evicted_keys``) and feeds ``[b"DEL", key]`` to the AOF itself.
        """
        if isinstance(db, int):
            db = self.dbs[db]
        return self._db_delete(db, key)

    def set_resize_allowed(self, allowed: bool) -> None:
        """Allow/avoid dict growth (Redis avoids it while a fork child is alive)."""
        for d in self.dbs:
            d.main.set_resize_allowed(allowed)
            d.expires.set_resize_allowed(allowed)

    # ------------------------------------------------------------------------------------------
    # String commands (t_string.c)
    # ------------------------------------------------------------------------------------------
    def _cmd_get(self, db: Db, args: list[bytes]) -> Any:
        key = args[1]
        val = db.data.get(key)
        if val is not None and self._expire_if_needed(db, key):
            val = None
        fx = self.effects
        fx.touched = [key]
        if val is None:
            self.stats.keyspace_misses += 1
            return None
        self.stats.keyspace_hits += 1
        if type(val) is not bytes:
            return E_WRONGTYPE
        fx.value_bytes = len(val)
        return val

    def _get_generic(self, db: Db, key: bytes) -> Any:
        """``getGenericCommand``: the value, None, or WRONGTYPE."""
        val = self._lookup_read(db, key)
        self._touch(key)
        if val is None:
            return None
        if type(val) is not bytes:
            return E_WRONGTYPE
        self.effects.value_bytes += len(val)
        return val

    def _parse_string_options(self, args: list[bytes], start: int, is_set: bool) -> tuple[int, bytes | None, str] | ReplyError:
        """``parseExtendedStringArgumentsOrReply``: (flags, expire arg, unit-kind)."""
        flags = 0
        expire: bytes | None = None
        kind = ""
        n = len(args)
        j = start
        while j < n:
            opt = args[j]
            o = _opt(opt)
            has_next = j < n - 1
            if o == b"nx" and not flags & _XX and is_set:
                flags |= _NX
            elif o == b"xx" and not flags & _NX and is_set:
                flags |= _XX
            elif o == b"get" and is_set:
                flags |= _GET
            elif o == b"keepttl" and not flags & (_PERSIST | _EX | _EXAT | _PX | _PXAT) and is_set:
                flags |= _KEEPTTL
            elif o == b"persist" and not is_set and not flags & (_EX | _EXAT | _PX | _PXAT | _KEEPTTL):
                flags |= _PERSIST
            elif o == b"ex" and not flags & (_KEEPTTL | _PERSIST | _EXAT | _PX | _PXAT) and has_next:
                flags |= _EX
                expire = args[j + 1]
                kind = "ex"
                j += 1
            elif o == b"px" and not flags & (_KEEPTTL | _PERSIST | _EX | _EXAT | _PXAT) and has_next:
                flags |= _PX
                expire = args[j + 1]
                kind = "px"
                j += 1
            elif o == b"exat" and not flags & (_KEEPTTL | _PERSIST | _EX | _PX | _PXAT) and has_next:
                flags |= _EXAT
                expire = args[j + 1]
                kind = "exat"
                j += 1
            elif o == b"pxat" and not flags & (_KEEPTTL | _PERSIST | _EX | _EXAT | _PX) and has_next:
                flags |= _PXAT
                expire = args[j + 1]
                kind = "pxat"
                j += 1
            else:
                return E_SYNTAX
            j += 1
        return flags, expire, kind

    def _expire_ms(self, raw: bytes, kind: str, cmdname: str) -> int | ReplyError:
        """``getExpireMillisecondsOrReply``: absolute unix ms from an EX/PX/EXAT/PXAT arg."""
        v = parse_ll(raw)
        if v is None:
            return E_NOTINT
        seconds = kind in ("ex", "exat")
        if v <= 0 or (seconds and v > LLONG_MAX // 1000):
            return ReplyError(f"ERR invalid expire time in '{cmdname}' command")
        if seconds:
            v *= 1000
        if kind in ("ex", "px"):
            v += self.now
            if v > LLONG_MAX:  # signed overflow wraps negative in C
                v -= 1 << 64
        if v <= 0:
            return ReplyError(f"ERR invalid expire time in '{cmdname}' command")
        return v

    def _set_generic(
        self,
        db: Db,
        args: list[bytes],
        flags: int,
        key: bytes,
        val: bytes,
        expire: bytes | None,
        kind: str,
        cmdname: str,
        ok_reply: Any = "OK",
        abort_reply: Any = None,
    ) -> Any:
        when = 0
        if expire is not None:
            w = self._expire_ms(expire, kind, cmdname)
            if type(w) is ReplyError:
                return w
            when = w  # type: ignore[assignment]
        old: Any = None
        if flags & _GET:
            old = self._get_generic(db, key)
            if type(old) is ReplyError:
                return old
        found = self._lookup_write(db, key) is not None
        self._touch(key)
        if (flags & _NX and found) or (flags & _XX and not found):
            return old if flags & _GET else abort_reply
        self._set_key(db, key, val, keepttl=bool(flags & _KEEPTTL), found=found)
        fx = self.effects
        fx.dirty += 1
        fx.value_bytes += len(val)
        if expire is not None:
            self._set_expire(db, key, when)
            self._set_rewrite([b"SET", key, val, b"PXAT", b"%d" % when])
        elif flags & _GET:
            self._set_rewrite([a for i, a in enumerate(args) if i < 3 or _cstr(a).lower() != b"get"])
        return old if flags & _GET else ok_reply

    def _cmd_set(self, db: Db, args: list[bytes]) -> Any:
        if len(args) == 3:
            # Fast path: plain SET key value, with a single dict operation. If the key was
            # there, its TTL goes (setKey without KEEPTTL); if that TTL had already passed,
            # Redis would first have expired the old key (counted, DEL fed), so do the same.
            key = args[1]
            val = args[2]
            data = db.data
            n = len(data)
            data[key] = val
            if db.strings:
                db.strings.pop(key, None)  # a new value object (Db.strings)
            if len(data) > n:
                main = db.main
                if n >= main._trigger:
                    main.note_add(key)
            else:
                exp = db.exp
                if exp:
                    when = exp.pop(key, None)
                    if when is not None:
                        if db.expires._index is not None:
                            db.expires.note_delete(key)
                        if self.now > when:
                            self._count_lazy_expiry(key)
            fx = self.effects
            fx.dirty = 1
            fx.touched = [key]
            fx.value_bytes = len(val)
            return "OK"
        parsed = self._parse_string_options(args, 3, True)
        if type(parsed) is ReplyError:
            return parsed
        flags, expire, kind = parsed  # type: ignore[misc]
        return self._set_generic(db, args, flags, args[1], args[2], expire, kind, "set")

    def _cmd_setex(self, db: Db, args: list[bytes]) -> Any:
        return self._set_generic(db, args, _EX, args[1], args[3], args[2], "ex", "setex")

    def _cmd_psetex(self, db: Db, args: list[bytes]) -> Any:
        return self._set_generic(db, args, _PX, args[1], args[3], args[2], "px", "psetex")

    def _cmd_setnx(self, db: Db, args: list[bytes]) -> Any:
        return self._set_generic(db, args, _NX, args[1], args[2], None, "", "setnx", 1, 0)

    def _cmd_getset(self, db: Db, args: list[bytes]) -> Any:
        key = args[1]
        old = self._get_generic(db, key)
        if type(old) is ReplyError:
            return old
        self._set_key(db, key, args[2])
        self.effects.dirty += 1
        self.effects.value_bytes += len(args[2])
        self._set_rewrite([b"SET", key, args[2]])
        return old

    def _cmd_getdel(self, db: Db, args: list[bytes]) -> Any:
        key = args[1]
        val = self._get_generic(db, key)
        if val is None or type(val) is ReplyError:
            return val
        self._db_delete(db, key)
        self._note_deleted(key)
        self.effects.dirty += 1
        self._set_rewrite([b"UNLINK" if self.lazyfree_lazy_user_del else b"DEL", key])
        return val

    def _cmd_getex(self, db: Db, args: list[bytes]) -> Any:
        parsed = self._parse_string_options(args, 2, False)
        if type(parsed) is ReplyError:
            return parsed
        flags, expire, kind = parsed  # type: ignore[misc]
        key = args[1]
        val = self._lookup_read(db, key)
        self._touch(key)
        if val is None:
            return None
        if type(val) is not bytes:
            return E_WRONGTYPE
        when = 0
        if expire is not None:
            w = self._expire_ms(expire, kind, "getex")
            if type(w) is ReplyError:
                return w
            when = w  # type: ignore[assignment]
        fx = self.effects
        fx.value_bytes += len(val)
        if flags & (_PXAT | _EXAT) and when <= self.now:
            self._db_delete(db, key)
            self._note_deleted(key)
            fx.dirty += 1
            self._set_rewrite([b"UNLINK" if self.lazyfree_lazy_expire else b"DEL", key])
        elif expire is not None:
            self._set_expire(db, key, when)
            fx.dirty += 1
            self._set_rewrite([b"PEXPIREAT", key, b"%d" % when])
        elif flags & _PERSIST:
            if self._remove_expire(db, key):
                fx.dirty += 1
                self._set_rewrite([b"PERSIST", key])
        return val

    def _cmd_mset(self, db: Db, args: list[bytes]) -> Any:
        if len(args) % 2 == 0:
            return ReplyError("ERR wrong number of arguments for 'mset' command")
        fx = self.effects
        for j in range(1, len(args), 2):
            self._set_key(db, args[j], args[j + 1])
            self._touch(args[j])
            fx.value_bytes += len(args[j + 1])
        fx.dirty += (len(args) - 1) // 2
        fx.elements = (len(args) - 1) // 2
        return "OK"

    def _cmd_msetnx(self, db: Db, args: list[bytes]) -> Any:
        if len(args) % 2 == 0:
            return ReplyError("ERR wrong number of arguments for 'msetnx' command")
        for j in range(1, len(args), 2):
            self._touch(args[j])
            if self._lookup_write(db, args[j]) is not None:
                return 0
        fx = self.effects
        for j in range(1, len(args), 2):
            self._set_key(db, args[j], args[j + 1])
            fx.value_bytes += len(args[j + 1])
        fx.dirty += (len(args) - 1) // 2
        fx.elements = (len(args) - 1) // 2
        return 1

    def _cmd_mget(self, db: Db, args: list[bytes]) -> Any:
        out: list[bytes | None] = []
        fx = self.effects
        for key in args[1:]:
            val = self._lookup_read(db, key)
            if val is not None and type(val) is bytes:
                fx.value_bytes += len(val)
                out.append(val)
            else:
                out.append(None)
        fx.touched = args[1:]
        fx.elements = len(out)
        return out

    def _cmd_append(self, db: Db, args: list[bytes]) -> Any:
        key, add = args[1], args[2]
        val = self._lookup_write(db, key)
        self._touch(key)
        if val is None:
            self._db_add(db, key, add)
            new = add
        else:
            if type(val) is not bytes:
                return E_WRONGTYPE
            if len(val) + len(add) > self.proto_max_bulk_len:
                return ReplyError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            new = val + add
            db.data[key] = new
            # dbUnshareStringValue, then sdscatlen: the value is a raw SDS from now on, and
            # its buffer grows greedily (sds.py)
            lg = self.jemalloc_lg_quantum
            cap, usable = sds.cat(len(val), self._unshared(db, key, val), len(add), lg)
            db.strings[key] = (new, cap, usable)
        self.effects.dirty += 1
        self.effects.value_bytes += len(add)
        return len(new)

    def _unshared(self, db: Db, key: bytes, val: bytes) -> sds.Buffer:
        """The buffer ``dbUnshareStringValue`` leaves ``key``'s string in: the one an earlier
        APPEND or SETRANGE grew, else a fresh copy (sds.unshared)."""
        rec = db.strings.get(key)
        if rec is not None and rec[0] is val and rec[1] >= 0:
            return rec[1], rec[2]
        return sds.unshared(val, self.jemalloc_lg_quantum)

    def _cmd_setrange(self, db: Db, args: list[bytes]) -> Any:
        """SETRANGE key offset value (setrangeCommand): the string padded with zero bytes to
        ``offset`` if shorter, ``value`` written there. A new key gets a raw buffer of exactly
        the length; an existing one is unshared and grown as APPEND grows it (sdsgrowzero
        calls sdsMakeRoomFor). An empty ``value`` changes nothing."""
        key, value = args[1], args[3]
        offset = parse_ll(args[2])
        if offset is None:
            return E_NOTINT
        if offset < 0:
            return ReplyError("ERR offset is out of range")
        val = self._lookup_write(db, key)
        self._touch(key)
        if val is not None and type(val) is not bytes:
            return E_WRONGTYPE
        if not value:
            return 0 if val is None else len(val)
        total = offset + len(value)
        if total > self.proto_max_bulk_len:
            return ReplyError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        lg = self.jemalloc_lg_quantum
        if val is None:
            new = bytes(offset) + value
            self._db_add(db, key, new)
            cap, usable = sds.new(total, lg)
        else:
            new = val[:offset].ljust(offset, b"\0") + value + val[total:]
            buf = self._unshared(db, key, val)
            cap, usable = sds.cat(len(val), buf, total - len(val), lg) if total > len(val) else buf
            db.data[key] = new
        db.strings[key] = (new, cap, usable)
        self.effects.dirty += 1
        self.effects.value_bytes += len(value)
        return len(new)

    def _cmd_getrange(self, db: Db, args: list[bytes]) -> Any:
        """GETRANGE key start end (getrangeCommand): inclusive, negative indexes from the
        end, clamped to the string; the indexes are parsed before the key is looked up."""
        start = parse_ll(args[2])
        if start is None:
            return E_NOTINT
        end = parse_ll(args[3])
        if end is None:
            return E_NOTINT
        val = self._lookup_read(db, args[1])
        self._touch(args[1])
        if val is None:
            return b""
        if type(val) is not bytes:
            return E_WRONGTYPE
        n = len(val)
        if start < 0 and end < 0 and start > end:
            return b""
        if start < 0:
            start += n
        if end < 0:
            end += n
        start = max(start, 0)
        end = min(max(end, 0), n - 1)
        if start > end or n == 0:
            return b""
        return val[start:end + 1]

    def _cmd_substr(self, db: Db, args: list[bytes]) -> Any:
        return self._cmd_getrange(db, args)

    def _cmd_strlen(self, db: Db, args: list[bytes]) -> Any:
        val = self._lookup_read(db, args[1])
        self._touch(args[1])
        if val is None:
            return 0
        if type(val) is not bytes:
            return E_WRONGTYPE
        return len(val)

    def _incr_by(self, db: Db, key: bytes, incr: int) -> Any:
        data = db.data
        val = data.get(key)
        if val is not None and self._expire_if_needed(db, key):
            val = None
        fx = self.effects
        fx.touched = [key]
        if val is None:
            old = 0
        elif type(val) is not bytes:
            return E_WRONGTYPE
        elif val.isdigit() and len(val) < 19 and (val[0] != 48 or len(val) == 1):
            old = int(val)  # common case inlined: a plain non-negative integer, no overflow
        else:
            parsed = parse_ll(val)
            if parsed is None:
                return E_NOTINT
            old = parsed
        new = old + incr
        if new > LLONG_MAX or new < LLONG_MIN:
            return E_OVERFLOW
        nb = b"%d" % new
        if db.strings:
            db.strings.pop(key, None)  # a new value object (Db.strings)
        if val is None:
            data[key] = nb
            main = db.main
            if len(data) > main._trigger:
                main.note_add(key)
        else:
            data[key] = nb
        fx.dirty = 1
        return new

    def _cmd_incr(self, db: Db, args: list[bytes]) -> Any:
        # _incr_by(db, key, 1) inlined: INCR is one of the three benchmarked hot commands.
        key = args[1]
        data = db.data
        val = data.get(key)
        fx = self.effects
        fx.touched = [key]
        if val is None:
            data[key] = b"1"
            if db.strings:
                db.strings.pop(key, None)  # (a record a delete left behind: Db.strings)
            main = db.main
            if len(data) > main._trigger:
                main.note_add(key)
            fx.dirty = 1
            return 1
        if self._expired(db, key):
            return self._incr_by(db, key, 1)  # lazily expired: take the general path
        if type(val) is bytes and val.isdigit() and len(val) < 19 and (val[0] != 48 or len(val) == 1):
            new = int(val) + 1
            data[key] = b"%d" % new
            if db.strings:
                db.strings.pop(key, None)  # a new value object (Db.strings)
            fx.dirty = 1
            return new
        return self._incr_by(db, key, 1)

    def _cmd_decr(self, db: Db, args: list[bytes]) -> Any:
        return self._incr_by(db, args[1], -1)

    def _cmd_incrby(self, db: Db, args: list[bytes]) -> Any:
        incr = parse_ll(args[2])
        if incr is None:
            return E_NOTINT
        return self._incr_by(db, args[1], incr)

    def _cmd_decrby(self, db: Db, args: list[bytes]) -> Any:
        incr = parse_ll(args[2])
        if incr is None:
            return E_NOTINT
        if incr == LLONG_MIN:
            return ReplyError("ERR decrement would overflow")
        return self._incr_by(db, args[1], -incr)

    def _cmd_incrbyfloat(self, db: Db, args: list[bytes]) -> Any:
        key = args[1]
        val = self._lookup_write(db, key)
        self._touch(key)
        if val is not None and type(val) is not bytes:
            return E_WRONGTYPE
        np = _np()
        cur = np.longdouble(0) if val is None else parse_ld(val)
        if cur is None:
            return E_NOTFLOAT
        incr = parse_ld(args[2])
        if incr is None:
            return E_NOTFLOAT
        with np.errstate(all="ignore"):
            new = cur + incr
            if np.isnan(new) or np.isinf(new):
                return ReplyError("ERR increment would produce NaN or Infinity")
        nb = format_ld_human(new)
        if val is None:
            self._db_add(db, key, nb)
        else:
            db.data[key] = nb
        # createStringObjectFromLongDouble makes an embstr, never an integer: "3" stays text
        db.strings[key] = (nb, sds.EMBSTR, 0)
        self.effects.dirty += 1
        self._set_rewrite([b"SET", key, nb, b"KEEPTTL"])
        return nb

    # ------------------------------------------------------------------------------------------
    # Generic keyspace commands (db.c, expire.c)
    # ------------------------------------------------------------------------------------------
    def _cmd_exists(self, db: Db, args: list[bytes]) -> Any:
        count = 0
        for key in args[1:]:
            if self._lookup_read(db, key) is not None:
                count += 1
        self.effects.touched = args[1:]
        self.effects.elements = len(args) - 1
        return count

    def _del_generic(self, db: Db, args: list[bytes]) -> int:
        fx = self.effects
        n = 0
        for key in args[1:]:
            self._expire_if_needed(db, key)
            if self._db_delete(db, key):
                self._note_deleted(key)
                n += 1
        fx.dirty += n
        fx.touched = args[1:]
        fx.elements = len(args) - 1
        return n

    def _cmd_del(self, db: Db, args: list[bytes]) -> Any:
        return self._del_generic(db, args)

    def _cmd_unlink(self, db: Db, args: list[bytes]) -> Any:
        return self._del_generic(db, args)

    def _cmd_type(self, db: Db, args: list[bytes]) -> Any:
        val = self._lookup_read(db, args[1])
        self._touch(args[1])
        if val is None:
            return "none"
        return _TYPE_NAMES[type(val)]

    def _rename_generic(self, db: Db, args: list[bytes], nx: bool) -> Any:
        src, dst = args[1], args[2]
        self.effects.touched = [src, dst]
        val = self._lookup_write(db, src)
        if val is None:
            return E_NOKEY
        if src == dst:
            return 0 if nx else "OK"
        when = db.exp.get(src) if db.exp else None
        rec = db.strings.get(src) if db.strings else None
        if self._lookup_write(db, dst) is not None:
            if nx:
                return 0
            self._db_delete(db, dst)
        self._db_add(db, dst, val)
        if when is not None:
            self._set_expire(db, dst, when)
        self._db_delete(db, src)
        if rec is not None and rec[0] is val:
            db.strings[dst] = rec  # the same object, so the same encoding, under its new name
        self._note_deleted(src)
        self.effects.dirty += 1
        return 1 if nx else "OK"

    def _cmd_rename(self, db: Db, args: list[bytes]) -> Any:
        return self._rename_generic(db, args, False)

    def _cmd_renamenx(self, db: Db, args: list[bytes]) -> Any:
        return self._rename_generic(db, args, True)

    def _expire_generic(self, db: Db, args: list[bytes], basetime: int, seconds: bool) -> Any:
        key = args[1]
        nx = xx = gt = lt = False
        for opt in args[3:]:
            o = _opt(opt)
            if o == b"nx":
                nx = True
            elif o == b"xx":
                xx = True
            elif o == b"gt":
                gt = True
            elif o == b"lt":
                lt = True
            else:
                return ReplyError(f"ERR Unsupported option {_show(opt)}")
        if nx and (xx or gt or lt):
            return ReplyError("ERR NX and XX, GT or LT options at the same time are not compatible")
        if gt and lt:
            return ReplyError("ERR GT and LT options at the same time are not compatible")
        flag = nx or xx or gt or lt
        when = parse_ll(args[2])
        if when is None:
            return E_NOTINT
        name = self.effects.name
        if seconds:
            # C's LLONG_MIN / 1000 truncates toward zero.
            if when > LLONG_MAX // 1000 or when < -(-LLONG_MIN // 1000):
                return ReplyError(f"ERR invalid expire time in '{name}' command")
            when *= 1000
        if when > LLONG_MAX - basetime:
            return ReplyError(f"ERR invalid expire time in '{name}' command")
        when += basetime
        self._touch(key)
        if self._lookup_write(db, key) is None:
            return 0
        if flag:
            cur = db.exp.get(key, -1) if db.exp else -1
            if nx and cur != -1:
                return 0
            if xx and cur == -1:
                return 0
            if gt and (when <= cur or cur == -1):
                return 0
            if lt and cur != -1 and when >= cur:
                return 0
        fx = self.effects
        if when <= self.now:
            # checkAlreadyExpired: a time in the past deletes the key, fed as DEL.
            self._db_delete(db, key)
            self._note_deleted(key)
            fx.dirty += 1
            self._set_rewrite([b"UNLINK" if self.lazyfree_lazy_expire else b"DEL", key])
            return 1
        self._set_expire(db, key, when)
        fx.dirty += 1
        out = list(args)
        if name != "pexpireat":
            out[0] = b"PEXPIREAT"
        if basetime != 0 or seconds:
            out[2] = b"%d" % when
        self._set_rewrite(out)
        return 1

    def _cmd_expire(self, db: Db, args: list[bytes]) -> Any:
        return self._expire_generic(db, args, self.now, True)

    def _cmd_pexpire(self, db: Db, args: list[bytes]) -> Any:
        return self._expire_generic(db, args, self.now, False)

    def _cmd_expireat(self, db: Db, args: list[bytes]) -> Any:
        return self._expire_generic(db, args, 0, True)

    def _cmd_pexpireat(self, db: Db, args: list[bytes]) -> Any:
        return self._expire_generic(db, args, 0, False)

    def _cmd_persist(self, db: Db, args: list[bytes]) -> Any:
        key = args[1]
        self._touch(key)
        if self._lookup_write(db, key) is None:
            return 0
        if self._remove_expire(db, key):
            self.effects.dirty += 1
            return 1
        return 0

    def _ttl_generic(self, db: Db, args: list[bytes], ms: bool, absolute: bool) -> Any:
        key = args[1]
        self._touch(key)
        if self._lookup_read(db, key) is None:
            return -2
        when = db.exp.get(key) if db.exp else None
        if when is None:
            return -1
        ttl = when if absolute else when - self.now
        if ttl < 0:
            ttl = 0
        if ms:
            return ttl
        # (ttl + 500) / 1000 in C: truncation toward zero, ttl >= 0 here.
        return (ttl + 500) // 1000

    def _cmd_ttl(self, db: Db, args: list[bytes]) -> Any:
        return self._ttl_generic(db, args, False, False)

    def _cmd_pttl(self, db: Db, args: list[bytes]) -> Any:
        return self._ttl_generic(db, args, True, False)

    def _cmd_expiretime(self, db: Db, args: list[bytes]) -> Any:
        return self._ttl_generic(db, args, False, True)

    def _cmd_pexpiretime(self, db: Db, args: list[bytes]) -> Any:
        return self._ttl_generic(db, args, True, True)

    def _cmd_keys(self, db: Db, args: list[bytes]) -> Any:
        pattern = args[1]
        data = db.data
        exp = db.exp
        now = self.now
        if pattern == b"*":
            cand: Any = data
        else:
            match = compile_pattern(pattern)
            cand = [k for k in data if match(k)]
        if exp:
            out = [k for k in cand if not ((w := exp.get(k)) is not None and now > w)]
        else:
            out = list(cand)
        fx = self.effects
        fx.keys_scanned = len(data)
        fx.keys_returned = len(out)
        return out

    def _cmd_scan(self, db: Db, args: list[bytes]) -> Any:
        cursor = _parse_cursor(args[1])
        if cursor is None:
            return E_INVALID_CURSOR
        count = 10
        pattern: bytes | None = None
        typename: bytes | None = None
        i = 2
        n = len(args)
        while i < n:
            o = _opt(args[i])
            j = n - i
            if o == b"count" and j >= 2:
                c = parse_ll(args[i + 1])
                if c is None:
                    return E_NOTINT
                if c < 1:
                    return E_SYNTAX
                count = c
                i += 2
            elif o == b"match" and j >= 2:
                pattern = args[i + 1]
                if pattern == b"*":
                    pattern = None
                i += 2
            elif o == b"type" and j >= 2:
                typename = _opt(args[i + 1])
                i += 2
            else:
                return E_SYNTAX
        # do { dictScan } while (cursor && maxiterations-- && collected < count): at most
        # 1 + 10 * COUNT bucket steps.
        collected, cursor, visited = db.main.scan_many(cursor, count, count * 10)
        match = compile_pattern(pattern) if pattern is not None else None
        out = []
        for key in collected:
            if match is not None and not match(key):
                continue
            if typename is not None:
                val = self._lookup_read(db, key)
                tname = b"none" if val is None else _TYPE_NAMES[type(val)].encode()
                if typename != tname:
                    continue
            if self._expire_if_needed(db, key):
                continue
            out.append(key)
        fx = self.effects
        fx.keys_scanned = len(collected)
        fx.keys_returned = len(out)
        fx.buckets_visited = visited
        return [b"%d" % cursor, out]

    def _cmd_dbsize(self, db: Db, args: list[bytes]) -> Any:
        return len(db.data)

    def flush_flags(self, args: list[bytes]) -> bool | ReplyError:
        """``getFlushCommandFlags``: FLUSHALL/FLUSHDB [SYNC|ASYNC] -> asynchronous or not, or
        the syntax error (persistence asks too, before FLUSHALL's save)."""
        if len(args) == 2 and _opt(args[1]) == b"sync":
            return False
        if len(args) == 2 and _opt(args[1]) == b"async":
            return True
        if len(args) == 1:
            return self.lazyfree_lazy_user_flush
        return E_SYNTAX

    def _cmd_flushall(self, db: Db, args: list[bytes]) -> Any:
        f = self.flush_flags(args)
        if type(f) is ReplyError:
            return f
        removed = 0
        for d in self.dbs:
            removed += len(d.data)
            d.main.clear()
            d.expires.clear()
            d.strings.clear()
            d.avg_ttl = 0
            d.expires_cursor = 0
        self.effects.dirty += removed
        self.effects.elements = removed
        self.effects._force = True  # forceCommandPropagation: fed even when nothing changed
        return "OK"

    def _cmd_flushdb(self, db: Db, args: list[bytes]) -> Any:
        f = self.flush_flags(args)
        if type(f) is ReplyError:
            return f
        removed = len(db.data)
        db.main.clear()
        db.expires.clear()
        db.strings.clear()
        db.avg_ttl = 0
        db.expires_cursor = 0
        self.effects.dirty += removed
        self.effects.elements = removed
        self.effects._force = True  # forceCommandPropagation: fed even when nothing changed
        return "OK"

    # ------------------------------------------------------------------------------------------
    # Connection and server commands
    # ------------------------------------------------------------------------------------------
    def _select(self, args: list[bytes], session: Session) -> Any:
        v = parse_ll(args[1])
        if v is None:
            return E_NOTINT
        if v < -(1 << 31) or v > (1 << 31) - 1:
            return ReplyError("ERR value is out of range, value must between -2147483648 and 2147483647")
        if self.cluster_enabled and v != 0:  # (before the range check, as selectCommand)
            return ReplyError("ERR SELECT is not allowed in cluster mode")
        if v < 0 or v >= len(self.dbs):
            return ReplyError("ERR DB index is out of range")
        session.db = v
        self.effects.db = v
        return "OK"

    def _cmd_select(self, db: Db, args: list[bytes]) -> Any:  # dispatched via _select
        raise AssertionError("SELECT is handled in execute()")

    def _cmd_ping(self, db: Db, args: list[bytes]) -> Any:
        if len(args) > 2:
            return ReplyError("ERR wrong number of arguments for 'ping' command")
        return "PONG" if len(args) == 1 else args[1]

    def _cmd_echo(self, db: Db, args: list[bytes]) -> Any:
        return args[1]

    def _cmd_time(self, db: Db, args: list[bytes]) -> Any:
        now = self.now
        return [b"%d" % (now // 1000), b"%d" % ((now % 1000) * 1000)]

    def _cmd_info(self, db: Db, args: list[bytes]) -> Any:
        return self.info(*[a.decode("latin-1") for a in args[1:]]).encode()

    def info(self, *sections: str) -> str:
        """The INFO text for the given sections (default set when none), as Redis formats it."""
        extra = self.info_hook() if self.info_hook is not None else {}
        known = list(_INFO_ORDER)
        for name in extra:
            if name not in known:
                known.append(name)
        wanted_raw = [s.lower() for s in sections] or ["default"]
        if "all" in wanted_raw or "everything" in wanted_raw:
            wanted = set(known)
        else:
            wanted = set()
            for s in wanted_raw:
                if s == "default":
                    wanted.update(_INFO_DEFAULT)
                else:
                    wanted.add(s)
        parts = []
        for name in known:
            if name not in wanted:
                continue
            fields: dict[str, object] = dict(self._info_section(name))
            fields.update(extra.get(name, {}))
            title = _INFO_TITLES.get(name, name.capitalize())
            body = "".join(f"{k}:{v}\r\n" for k, v in fields.items())
            parts.append(f"# {title}\r\n{body}")
        return "\r\n".join(parts)

    def _info_section(self, name: str) -> dict[str, object]:
        if name == "server":
            return {
                "redis_version": REDIS_VERSION,
                "redis_git_sha1": "00000000",
                "redis_git_dirty": 0,
                "redis_mode": "cluster" if self.cluster_enabled else "standalone",
                "arch_bits": 64,
                "server_time_usec": self.now * 1000,
            }
        if name == "stats":
            st = self.stats
            return {
                "expired_keys": st.expired_keys,
                "keyspace_hits": st.keyspace_hits,
                "keyspace_misses": st.keyspace_misses,
            }
        if name == "cluster":
            return {"cluster_enabled": int(self.cluster_enabled)}
        if name == "keyspace":
            out: dict[str, object] = {}
            for d in self.dbs:
                if d.data:
                    out[f"db{d.id}"] = f"keys={len(d.data)},expires={len(d.exp)},avg_ttl={d.avg_ttl}"
            return out
        return {}

    def _cmd_debug(self, db: Db, args: list[bytes]) -> Any:
        sub = _opt(args[1])
        n = len(args)
        if sub == b"populate" and 3 <= n <= 5:
            count = parse_ll(args[2])
            if count is None or count < 0:
                return E_POSITIVE
            size = 0
            if n == 5:
                size_v = parse_ll(args[4])
                if size_v is None or size_v < 0:
                    db.main.expand(count)
                    return E_POSITIVE
                size = size_v
            prefix = args[3] if n >= 4 else b"key"
            self.populate(count, prefix, size, db.id)
            self.effects.elements = count
            return "OK"
        if sub == b"set-active-expire" and n == 3:
            v = parse_ll(args[2])
            self.active_expire_enabled = bool(v)
            return "OK"
        return ReplyError(
            f"ERR unknown subcommand or wrong number of arguments for '{_show(args[1])[:128]}'. Try DEBUG HELP."
        )

    # ------------------------------------------------------------------------------------------
    # Hashes (t_hash.c)
    # ------------------------------------------------------------------------------------------
    def _hash_write(self, db: Db, key: bytes, create: bool) -> Any:
        val = self._lookup_write(db, key)
        self._touch(key)
        if val is None:
            if not create:
                return None
            val = {}
            self._db_add(db, key, val)
            return val
        if not isinstance(val, dict):
            return E_WRONGTYPE
        return val

    def _hash_read(self, db: Db, key: bytes) -> Any:
        val = self._lookup_read(db, key)
        self._touch(key)
        if val is not None and not isinstance(val, dict):
            return E_WRONGTYPE
        return val

    def _lp_searched(self, entries: int) -> None:
        """Count the fields a listpack search compared (the event loop charges them)."""
        if entries:
            self.effects.lp_entries += entries
            self._rare_dirty = True

    def _hash_converted(self, db: Db, key: bytes, h: dict, longest: int) -> None:
        """``hashTypeTryConversion`` and ``hashTypeSet``'s conversion of a listpack hash to
        a hash table: given a field or value longer than hash-max-listpack-value (64 by
        default), or holding more than hash-max-listpack-entries (512) fields, under the
        limits of the moment. One way only (see listpack.HashTable)."""
        if type(h) is dict and (longest > self.hash_max_listpack_value
                                or len(h) > self.hash_max_listpack_entries):
            db.data[key] = HashTable(h)

    def _hset_generic(self, db: Db, args: list[bytes], name: str) -> Any:
        if len(args) % 2 == 1:
            return ReplyError(f"ERR wrong number of arguments for '{name}' command")
        h = self._hash_write(db, args[1], True)
        if type(h) is ReplyError:
            return h
        created = 0
        longest = 0
        fx = self.effects
        # A listpack (still one after hashTypeTryConversion's look at the arguments' lengths):
        # hashTypeSet finds each field first, until the hash converts past the entries limit
        limit = self.hash_max_listpack_value
        scanned = type(h) is dict and all(len(a) <= limit for a in args[2:])
        searched = 0
        for j in range(2, len(args), 2):
            f = args[j]
            if scanned:
                searched += lp_find_cost(h, f)
            if f not in h:
                created += 1
            h[f] = args[j + 1]
            if scanned and len(h) > self.hash_max_listpack_entries:
                scanned = False
            fx.value_bytes += len(f) + len(args[j + 1])
            longest = max(longest, len(f), len(args[j + 1]))
        self._hash_converted(db, args[1], h, longest)
        fx.dirty += (len(args) - 2) // 2
        fx.elements = (len(args) - 2) // 2
        self._lp_searched(searched)
        return created if name == "hset" else "OK"

    def _cmd_hset(self, db: Db, args: list[bytes]) -> Any:
        return self._hset_generic(db, args, "hset")

    def _cmd_hmset(self, db: Db, args: list[bytes]) -> Any:
        return self._hset_generic(db, args, "hmset")

    def _cmd_hsetnx(self, db: Db, args: list[bytes]) -> Any:
        h = self._hash_write(db, args[1], True)
        if type(h) is ReplyError:
            return h
        if type(h) is dict:  # hashTypeExists, then (a new field) hashTypeSet's search
            self._lp_searched(lp_find_cost(h, args[2]) * (1 if args[2] in h else 2))
        if args[2] in h:
            return 0
        h[args[2]] = args[3]
        self._hash_converted(db, args[1], h, max(len(args[2]), len(args[3])))
        self.effects.dirty += 1
        return 1

    def _cmd_hget(self, db: Db, args: list[bytes]) -> Any:
        h = self._hash_read(db, args[1])
        if h is None or type(h) is ReplyError:
            return h
        if type(h) is dict:
            self._lp_searched(lp_find_cost(h, args[2]))
        v = h.get(args[2])
        if v is not None:
            self.effects.value_bytes += len(v)
        return v

    def _cmd_hmget(self, db: Db, args: list[bytes]) -> Any:
        h = self._hash_read(db, args[1])
        if type(h) is ReplyError:
            return h
        self.effects.elements = len(args) - 2
        if h is None:
            return [None] * (len(args) - 2)
        if type(h) is dict:
            self._lp_searched(sum(lp_find_cost(h, f) for f in args[2:]))
        return [h.get(f) for f in args[2:]]

    def _hash_all(self, db: Db, args: list[bytes], keys: bool, vals: bool) -> Any:
        h = self._hash_read(db, args[1])
        if h is None:
            return []
        if type(h) is ReplyError:
            return h
        self.effects.elements = len(h)
        if keys and vals:
            out: list[bytes] = []
            for f, v in h.items():
                out.append(f)
                out.append(v)
            return out
        return list(h) if keys else list(h.values())

    def _cmd_hgetall(self, db: Db, args: list[bytes]) -> Any:
        return self._hash_all(db, args, True, True)

    def _cmd_hkeys(self, db: Db, args: list[bytes]) -> Any:
        return self._hash_all(db, args, True, False)

    def _cmd_hvals(self, db: Db, args: list[bytes]) -> Any:
        return self._hash_all(db, args, False, True)

    def _cmd_hdel(self, db: Db, args: list[bytes]) -> Any:
        key = args[1]
        h = self._hash_write(db, key, False)
        if h is None:
            return 0
        if type(h) is ReplyError:
            return h
        deleted = 0
        for f in args[2:]:
            if type(h) is dict:
                self._lp_searched(lp_find_cost(h, f))
            if f in h:
                del h[f]
                deleted += 1
                if not h:
                    self._db_delete(db, key)
                    self._note_deleted(key)
                    break
        self.effects.dirty += deleted
        return deleted

    def _cmd_hexists(self, db: Db, args: list[bytes]) -> Any:
        h = self._hash_read(db, args[1])
        if h is None:
            return 0
        if type(h) is ReplyError:
            return h
        if type(h) is dict:
            self._lp_searched(lp_find_cost(h, args[2]))
        return 1 if args[2] in h else 0

    def _cmd_hlen(self, db: Db, args: list[bytes]) -> Any:
        h = self._hash_read(db, args[1])
        if h is None:
            return 0
        if type(h) is ReplyError:
            return h
        return len(h)

    def _cmd_hincrby(self, db: Db, args: list[bytes]) -> Any:
        incr = parse_ll(args[3])
        if incr is None:
            return E_NOTINT
        h = self._hash_write(db, args[1], True)
        if type(h) is ReplyError:
            return h
        if type(h) is dict:  # hashTypeGetValue's search, then hashTypeSet's
            self._lp_searched(2 * lp_find_cost(h, args[2]))
        cur = h.get(args[2])
        if cur is None:
            old = 0
        else:
            parsed = parse_ll(cur)
            if parsed is None:
                return ReplyError("ERR hash value is not an integer")
            old = parsed
        new = old + incr
        if new > LLONG_MAX or new < LLONG_MIN:
            return E_OVERFLOW
        h[args[2]] = nb = b"%d" % new
        self._hash_converted(db, args[1], h, max(len(args[2]), len(nb)))
        self.effects.dirty += 1
        return new

    # ------------------------------------------------------------------------------------------
    # Lists (t_list.c)
    # ------------------------------------------------------------------------------------------
    def _push(self, db: Db, args: list[bytes], left: bool) -> Any:
        key = args[1]
        val = self._lookup_write(db, key)
        self._touch(key)
        if val is None:
            val = Quicklist((), quicklist_fill(self.list_max_listpack_size))
            self._db_add(db, key, val)
        elif type(val) is not Quicklist:
            return E_WRONGTYPE
        items = args[2:]
        if left:
            val.extendleft(items)
        else:
            val.extend(items)
        fx = self.effects
        fx.dirty += len(items)
        fx.elements = len(items)
        fx.value_bytes += sum(map(len, items))
        return len(val)

    def _cmd_lpush(self, db: Db, args: list[bytes]) -> Any:
        return self._push(db, args, True)

    def _cmd_rpush(self, db: Db, args: list[bytes]) -> Any:
        return self._push(db, args, False)

    def _pop(self, db: Db, args: list[bytes], left: bool) -> Any:
        n = len(args)
        if n > 3:
            return ReplyError(f"ERR wrong number of arguments for '{self.effects.name}' command")
        count = 0
        if n == 3:
            c = parse_ll(args[2])
            if c is None or c < 0:  # getPositiveLongFromObjectOrReply: one message for both
                return E_POSITIVE
            count = c
        key = args[1]
        val = self._lookup_write(db, key)
        self._touch(key)
        if val is None:
            return None
        if type(val) is not Quicklist:
            return E_WRONGTYPE
        if n == 3 and count == 0:
            return []
        fx = self.effects
        if n == 2:
            item = val.popleft() if left else val.pop()
            out: Any = item
            popped = 1
        else:
            popped = min(count, len(val))
            pop = val.popleft if left else val.pop
            out = [pop() for _ in range(popped)]
            fx.elements = popped
        if not val:
            self._db_delete(db, key)
            self._note_deleted(key)
        fx.dirty += popped
        return out

    def _cmd_lpop(self, db: Db, args: list[bytes]) -> Any:
        return self._pop(db, args, True)

    def _cmd_rpop(self, db: Db, args: list[bytes]) -> Any:
        return self._pop(db, args, False)

    def _cmd_lrange(self, db: Db, args: list[bytes]) -> Any:
        start = parse_ll(args[2])
        end = parse_ll(args[3])
        if start is None or end is None:
            return E_NOTINT
        val = self._lookup_read(db, args[1])
        self._touch(args[1])
        if val is None:
            return []
        if type(val) is not Quicklist:
            return E_WRONGTYPE
        llen = len(val)
        if start < 0:
            start += llen
        if end < 0:
            end += llen
        if start < 0:
            start = 0
        if start > end or start >= llen:
            return []
        if end >= llen:
            end = llen - 1
        out = list(val) if start == 0 and end == llen - 1 else list(islice(val, start, end + 1))
        self.effects.elements = len(out)
        return out

    def _cmd_llen(self, db: Db, args: list[bytes]) -> Any:
        val = self._lookup_read(db, args[1])
        self._touch(args[1])
        if val is None:
            return 0
        if type(val) is not Quicklist:
            return E_WRONGTYPE
        return len(val)


_SELECT_HANDLER: Final = Keyspace._cmd_select
_SPEC_GET: Final = COMMANDS["get"]
_SPEC_SET: Final = COMMANDS["set"]
_SPEC_INCR: Final = COMMANDS["incr"]
_SPEC_PING: Final = COMMANDS["ping"]
#: execute()'s fast paths by exact bytes spelling (others take _execute); keyed by bytes,
#: looked up with whatever the line's first element is (a str misses).
_F_GET: Final = 0
_F_SET: Final = 1
_F_INCR: Final = 2
_F_PING: Final = 3
_FAST: Final[dict[bytes | str, int]] = {
    b"GET": _F_GET, b"get": _F_GET,
    b"SET": _F_SET, b"set": _F_SET,
    b"INCR": _F_INCR, b"incr": _F_INCR,
    b"PING": _F_PING, b"ping": _F_PING,
}
#: SET's relative TTL options as the fast path takes them: milliseconds per unit.
_TTL_UNIT: Final = {b"PX": 1, b"px": 1, b"EX": 1000, b"ex": 1000}


def shared_word(word: bytes) -> bytes:
    """The keyspace's own object for a command name or option its fast paths look up
    (GET, SET, PX...), else ``word`` itself. A client that builds its command lines from
    these objects is matched by identity in those lookups, without comparing bytes."""
    for table in (_FAST, _TTL_UNIT):
        for k in table:
            if type(k) is bytes and k == word:
                return k
    return word


#: Commands whose handlers leave keys_scanned/keys_returned/buckets_visited/elements alone.
_HOT: Final = frozenset({"get", "set", "incr", "decr", "incrby", "decrby", "ping", "echo"})

# SET / GETEX option flags (server.h OBJ_SET_* / OBJ_*)
_NX: Final = 1 << 0
_XX: Final = 1 << 1
_EX: Final = 1 << 2
_PX: Final = 1 << 3
_KEEPTTL: Final = 1 << 4
_GET: Final = 1 << 5
_EXAT: Final = 1 << 6
_PXAT: Final = 1 << 7
_PERSIST: Final = 1 << 8

_INFO_ORDER = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
]
_INFO_DEFAULT = {
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
}
_INFO_TITLES = {
    "cpu": "CPU",
    "commandstats": "Commandstats",
    "errorstats": "Errorstats",
    "latencystats": "Latencystats",
}

_SPACES = b" \t\n\v\f\r"


def _parse_cursor(raw: bytes) -> int | None:
    """``parseScanCursorOrReply``: strtoul base 10, no leading space, all consumed."""
    s = _cstr(raw)
    if s[:1] and s[0] in _SPACES:
        return None
    if not s:
        return 0
    neg = False
    body = s
    if body[0] in b"+-":
        neg = body[0] == 45
        body = body[1:]
    if not body.isdigit():
        return None
    v = int(body)
    if v > ULONG_MAX:
        return None  # ERANGE
    return ((-v) & ULONG_MAX) if neg else v
