"""The command table: name, arity, flags and key positions of every modelled command.

Models Redis 7.0's command table (``src/commands.c``, generated from
``src/commands/*.json``) and the checks ``src/server.c:processCommand`` makes with it
before a command runs: unknown command, wrong number of arguments. The flags are the ones
Redis declares (``write``, ``readonly``, ``denyoom``, ``fast``, ...), so later stages can
decide like Redis does: ``denyoom`` commands are refused over ``maxmemory``, a command that
changed ``server.dirty`` is fed to the AOF and replicas, ``fast`` commands feed the
latency monitor's "fast-command" class.

Arity follows Redis: a positive arity is the exact number of arguments including the
command name, a negative one is a minimum. Key positions are the legacy
``(first_key, last_key, key_step)`` triple (``last_key`` -1 = the last argument).

Only the commands the keyspace implements are listed; any other name is answered with
Redis's "unknown command" error by the keyspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CommandSpec", "COMMANDS", "SUBCOMMANDS", "lookup", "arity_ok", "stat_name"]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One entry of the command table."""

    name: str  #: lower-case name, as ``fullname`` in Redis ("get")
    arity: int
    flags: frozenset[str]
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    acl_categories: frozenset[str] = field(default_factory=frozenset)
    # Frequently tested flags as plain attributes (cheaper than a set lookup).
    write: bool = False
    readonly: bool = False
    denyoom: bool = False
    fast: bool = False

    def key_positions(self, argc: int) -> range:
        """Indexes of the key arguments in a command line of ``argc`` arguments."""
        if self.first_key == 0:
            return range(0)
        last = self.last_key if self.last_key >= 0 else argc + self.last_key
        return range(self.first_key, last + 1, self.key_step)


def _c(name: str, arity: int, flags: str, keys: tuple[int, int, int] = (0, 0, 0), acl: str = "") -> CommandSpec:
    fl = frozenset(flags.split(",")) if flags else frozenset()
    return CommandSpec(
        name=name,
        arity=arity,
        flags=fl,
        first_key=keys[0],
        last_key=keys[1],
        key_step=keys[2],
        acl_categories=frozenset(acl.split(",")) if acl else frozenset(),
        write="write" in fl,
        readonly="readonly" in fl,
        denyoom="denyoom" in fl,
        fast="fast" in fl,
    )


_K1 = (1, 1, 1)
_ALL = (1, -1, 1)

# Arity and flags as declared in redis 7.0.15 src/commands/*.json ("command_flags").
_TABLE: list[CommandSpec] = [
    # strings
    _c("get", 2, "readonly,fast", _K1, "string"),
    _c("set", -3, "write,denyoom", _K1, "string"),
    _c("getdel", 2, "write,fast", _K1, "string"),
    _c("getex", -2, "write,fast", _K1, "string"),
    _c("getset", 3, "write,denyoom,fast", _K1, "string"),
    _c("setex", 4, "write,denyoom", _K1, "string"),
    _c("psetex", 4, "write,denyoom", _K1, "string"),
    _c("setnx", 3, "write,denyoom,fast", _K1, "string"),
    _c("mset", -3, "write,denyoom", (1, -1, 2), "string"),
    _c("msetnx", -3, "write,denyoom", (1, -1, 2), "string"),
    _c("mget", -2, "readonly,fast", _ALL, "string"),
    _c("append", 3, "write,denyoom,fast", _K1, "string"),
    _c("strlen", 2, "readonly,fast", _K1, "string"),
    _c("setrange", 4, "write,denyoom", _K1, "string"),
    _c("getrange", 4, "readonly", _K1, "string"),
    _c("substr", 4, "readonly", _K1, "string"),
    _c("incr", 2, "write,denyoom,fast", _K1, "string"),
    _c("incrby", 3, "write,denyoom,fast", _K1, "string"),
    _c("decr", 2, "write,denyoom,fast", _K1, "string"),
    _c("decrby", 3, "write,denyoom,fast", _K1, "string"),
    _c("incrbyfloat", 3, "write,denyoom,fast", _K1, "string"),
    # generic keyspace
    _c("exists", -2, "readonly,fast", _ALL, "keyspace"),
    _c("del", -2, "write", _ALL, "keyspace"),
    _c("unlink", -2, "write,fast", _ALL, "keyspace"),
    _c("type", 2, "readonly,fast", _K1, "keyspace"),
    _c("rename", 3, "write", (1, 2, 1), "keyspace"),
    _c("renamenx", 3, "write,fast", (1, 2, 1), "keyspace"),
    _c("expire", -3, "write,fast", _K1, "keyspace"),
    _c("pexpire", -3, "write,fast", _K1, "keyspace"),
    _c("expireat", -3, "write,fast", _K1, "keyspace"),
    _c("pexpireat", -3, "write,fast", _K1, "keyspace"),
    _c("persist", 2, "write,fast", _K1, "keyspace"),
    _c("ttl", 2, "readonly,fast", _K1, "keyspace"),
    _c("pttl", 2, "readonly,fast", _K1, "keyspace"),
    _c("expiretime", 2, "readonly,fast", _K1, "keyspace"),
    _c("pexpiretime", 2, "readonly,fast", _K1, "keyspace"),
    _c("keys", 2, "readonly", acl="keyspace,dangerous"),
    _c("scan", -2, "readonly,touches_arbitrary_keys", acl="keyspace"),
    _c("dbsize", 1, "readonly,fast", acl="keyspace"),
    _c("flushall", -1, "write", acl="keyspace,dangerous"),
    _c("flushdb", -1, "write", acl="keyspace,dangerous"),
    # connection / server
    _c("select", 2, "loading,stale,fast", acl="connection"),
    _c("ping", -1, "fast,sentinel", acl="connection"),
    _c("echo", 2, "loading,stale,fast", acl="connection"),
    _c("time", 1, "loading,stale,fast"),
    _c("info", -1, "loading,stale,sentinel", acl="dangerous"),
    _c("debug", -2, "admin,noscript,loading,stale,protected"),
    # hashes
    _c("hset", -4, "write,denyoom,fast", _K1, "hash"),
    _c("hmset", -4, "write,denyoom,fast", _K1, "hash"),
    _c("hsetnx", 4, "write,denyoom,fast", _K1, "hash"),
    _c("hget", 3, "readonly,fast", _K1, "hash"),
    _c("hmget", -3, "readonly,fast", _K1, "hash"),
    _c("hgetall", 2, "readonly", _K1, "hash"),
    _c("hkeys", 2, "readonly", _K1, "hash"),
    _c("hvals", 2, "readonly", _K1, "hash"),
    _c("hdel", -3, "write,fast", _K1, "hash"),
    _c("hexists", 3, "readonly,fast", _K1, "hash"),
    _c("hincrby", 4, "write,denyoom,fast", _K1, "hash"),
    _c("hlen", 2, "readonly,fast", _K1, "hash"),
    # lists
    _c("lpush", -3, "write,denyoom,fast", _K1, "list"),
    _c("rpush", -3, "write,denyoom,fast", _K1, "list"),
    _c("lpop", -2, "write,fast", _K1, "list"),
    _c("rpop", -2, "write,fast", _K1, "list"),
    _c("lrange", 4, "readonly", _K1, "list"),
    _c("llen", 2, "readonly,fast", _K1, "list"),
]

#: name (lower case) -> spec
COMMANDS: dict[str, CommandSpec] = {c.name: c for c in _TABLE}


def lookup(name: bytes | str) -> CommandSpec | None:
    """Case-insensitive lookup, like ``lookupCommand`` (a NUL ends a C string)."""
    if isinstance(name, bytes):
        try:
            name = name.decode("ascii")
        except UnicodeDecodeError:
            return None
    return COMMANDS.get(name.lower())


#: Redis 7's container commands answered by the memory model (server/maxmemory.py) and by
#: server/config.py, and the arity of each subcommand (``src/commands/memory-*.json``,
#: ``object-*.json``, ``config-*.json``). A container itself has arity -2; its subcommands
#: count in INFO commandstats as ``memory|usage``.
SUBCOMMANDS: dict[str, dict[str, int]] = {
    "memory": {"usage": -3, "stats": 2, "doctor": 2, "malloc-stats": 2, "purge": 2, "help": 2},
    "object": {"encoding": 3, "freq": 3, "idletime": 3, "refcount": 3, "help": 2},
    "config": {"get": -3, "set": -4, "resetstat": 2, "rewrite": 2, "help": 2},
}


def stat_name(args: list) -> str | None:
    """The name a command line counts under in INFO commandstats: the command's, or
    ``container|sub`` for a container's subcommand; None for an unknown subcommand, which
    processCommand rejects before any command is chosen (no cmdstat)."""
    first = args[0] if args else b""
    name = (first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)).lower()
    subs = SUBCOMMANDS.get(name)
    if subs is None or len(args) < 2:
        return name
    raw = args[1]
    sub = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).lower()
    return f"{name}|{sub}" if sub in subs else None


def arity_ok(spec: CommandSpec, argc: int) -> bool:
    """``processCommand``'s arity rule: exact for positive arity, minimum for negative."""
    arity = spec.arity
    return argc == arity if arity > 0 else argc >= -arity


#: What a command answers when its key does not exist, for the commands whose miss the cost
#: profile may price apart (``commands.per-command-miss-us``): nil, or a small integer. The
#: event loop tells a miss by identity, one pointer comparison on the per-command path: None,
#: and the integers -5..256 CPython keeps one object of, are the very objects every producer
#: of the reply returns.
MISS_REPLIES: dict[str, object] = {"get": None, "hget": None, "exists": 0, "del": 0,
                                   "unlink": 0, "ttl": -2, "pttl": -2}
