"""CONFIG GET and CONFIG SET: the server's configuration as Redis 7.0 answers and changes it
(``config.c``), for the parameters the model runs with.

``configGetCommand`` takes one or more arguments. One without ``*``, ``?`` or ``[`` is
looked up directly, case-insensitively, and answered under the spelling it was asked in; a
pattern is matched against the name of every parameter and every alias (``stringmatch``
with nocase: ``MAXMEMORY*`` finds ``maxmemory``). Each parameter is answered once, however
many arguments match it. Redis collects the answers in a dict and replies in its hash order,
which no run can reproduce; here they come in the table's order, so only the pairs compare.

The table holds the scenario's ``server:`` settings under their redis.conf names (the
encoding limits of hashes and lists among them), ``list-compress-depth`` (0: the model's
lists are never compressed), ``lazyfree-lazy-expire`` and ``cluster-enabled``. Redis 7.0 has
some two hundred parameters; the others (port, dir, timeouts, ...) are no part of the
model, and a pattern does not find them.

``configSetCommand`` takes name-value pairs and sets all of them or none. It first looks at
the names, in order, and stops at the first problem: a name Redis does not have, an immutable
parameter (``databases``, ``cluster-enabled``), the same parameter twice (an alias counts as
its name). Then it parses each value by the parameter's type -- yes/no, one of an enum's
names, an integer within bounds, a memory value with a unit (``64mb``), ``save``'s pairs --
and stops at the first that fails, naming the parameter. Only then does it change anything;
``hz`` is clamped to 1..500 as ``updateHZ`` does, and CONFIG GET answers the clamped value.

The model can change, during a run, the parameters its mechanisms read as they go: ``hz``
and ``dynamic-hz`` (serverCron's next tick follows), ``active-expire-effort``, the eviction
knobs, the persistence settings, ``lazyfree-lazy-expire`` and the encoding limits (for
what follows: a stored hash keeps its encoding until its next write, a list the node size
it was created with, and a restart loads hashes under the config file's limits);
``maxmemory`` only in a run
that started with a limit (a run without one does not keep every key's size), and
``maxmemory-policy`` there too, to an LRU or LFU policy only if the run started with one
(the objects' lru fields are kept only then). ``appendonly`` starts or stops the AOF inside
the command, as Redis does (a rewrite's fork; a final write and fsync); a restart loads the
AOF or dump.rdb by the config file's value, not the process's. The rest of its parameters
(``list-compress-depth``) and Redis's other parameters answer that they are not modelled. A
restarted process starts again from the scenario's configuration, as Redis does from its
config file; CONFIG REWRITE writes the values set so far into that file (the scenario's
settings stand for it), so a restart keeps them.

CONFIG RESETSTAT zeroes what ``resetServerStats`` does, in the mechanisms that keep such
counters (the loop's, with commandstats and errorstats; the keyspace's hits, misses and
expired keys; the expire cycle's; evictions; forks, saves and rewrites): not the memory peak,
not ``rdb_changes_since_last_save``, not the process's CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redissim.server.commands import SUBCOMMANDS
from redissim.server.glob import stringmatch
from redissim.server.keyspace import Keyspace, parse_ll
from redissim.server.resp import ReplyError

__all__ = ["ConfigCommand", "parameters", "parse_value"]

#: names Redis 7.0 still accepts for the listpack parameters (``createIntConfig``'s alias)
ALIASES = {
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
}


#: every parameter name and alias of Redis 7.0 (``standardConfig`` in config.c): CONFIG SET
#: of one the model does not run with is "not modelled"; of any other name, unknown
REDIS_7_0_PARAMETERS = frozenset({
    "acl-pubsub-default", "aclfile", "acllog-max-len", "active-defrag-cycle-max",
    "active-defrag-cycle-min", "active-defrag-ignore-bytes", "active-defrag-max-scan-fields",
    "active-defrag-threshold-lower", "active-defrag-threshold-upper", "active-expire-effort",
    "activedefrag", "activerehashing", "always-show-logo", "aof-disable-auto-gc",
    "aof-load-truncated", "aof-rewrite-incremental-fsync", "aof-timestamp-enabled",
    "aof-use-rdb-preamble", "aof_rewrite_cpulist", "appenddirname", "appendfilename",
    "appendfsync", "appendonly", "auto-aof-rewrite-min-size", "auto-aof-rewrite-percentage",
    "bgsave_cpulist", "bind", "bind-source-addr", "bio_cpulist", "busy-reply-threshold",
    "client-output-buffer-limit", "client-query-buffer-limit",
    "cluster-allow-pubsubshard-when-down", "cluster-allow-reads-when-down",
    "cluster-allow-replica-migration", "cluster-announce-bus-port",
    "cluster-announce-hostname", "cluster-announce-ip", "cluster-announce-port",
    "cluster-announce-tls-port", "cluster-config-file", "cluster-enabled",
    "cluster-link-sendbuf-limit", "cluster-migration-barrier", "cluster-node-timeout",
    "cluster-port", "cluster-preferred-endpoint-type", "cluster-replica-no-failover",
    "cluster-replica-validity-factor", "cluster-require-full-coverage",
    "cluster-slave-no-failover", "cluster-slave-validity-factor", "crash-log-enabled",
    "crash-memcheck-enabled", "daemonize", "databases", "dbfilename", "dir", "disable-thp",
    "dynamic-hz", "enable-debug-command", "enable-module-command", "enable-protected-configs",
    "hash-max-listpack-entries", "hash-max-listpack-value", "hash-max-ziplist-entries",
    "hash-max-ziplist-value", "hll-sparse-max-bytes", "hz", "ignore-warnings", "io-threads",
    "io-threads-do-reads", "jemalloc-bg-thread", "key-load-delay", "latency-monitor-threshold",
    "latency-tracking", "latency-tracking-info-percentiles", "lazyfree-lazy-eviction",
    "lazyfree-lazy-expire", "lazyfree-lazy-server-del", "lazyfree-lazy-user-del",
    "lazyfree-lazy-user-flush", "lfu-decay-time", "lfu-log-factor", "list-compress-depth",
    "list-max-listpack-size", "list-max-ziplist-size", "loading-process-events-interval-bytes",
    "logfile", "loglevel", "lua-time-limit", "masterauth", "masteruser", "maxclients",
    "maxmemory", "maxmemory-clients", "maxmemory-eviction-tenacity", "maxmemory-policy",
    "maxmemory-samples", "min-replicas-max-lag", "min-replicas-to-write", "min-slaves-max-lag",
    "min-slaves-to-write", "no-appendfsync-on-rewrite", "notify-keyspace-events",
    "oom-score-adj", "oom-score-adj-values", "pidfile", "port", "proc-title-template",
    "propagation-error-behavior", "protected-mode", "proto-max-bulk-len", "rdb-del-sync-files",
    "rdb-key-save-delay", "rdb-save-incremental-fsync", "rdbchecksum", "rdbcompression",
    "repl-backlog-size", "repl-backlog-ttl", "repl-disable-tcp-nodelay", "repl-diskless-load",
    "repl-diskless-sync", "repl-diskless-sync-delay", "repl-diskless-sync-max-replicas",
    "repl-ping-replica-period", "repl-ping-slave-period", "repl-timeout",
    "replica-announce-ip", "replica-announce-port", "replica-announced",
    "replica-ignore-disk-write-errors", "replica-ignore-maxmemory", "replica-lazy-flush",
    "replica-priority", "replica-read-only", "replica-serve-stale-data", "replicaof",
    "requirepass", "sanitize-dump-payload", "save", "server_cpulist", "set-max-intset-entries",
    "set-proc-title", "shutdown-on-sigint", "shutdown-on-sigterm", "shutdown-timeout",
    "slave-announce-ip", "slave-announce-port", "slave-ignore-maxmemory", "slave-lazy-flush",
    "slave-priority", "slave-read-only", "slave-serve-stale-data", "slaveof",
    "slowlog-log-slower-than", "slowlog-max-len", "socket-mark-id",
    "stop-writes-on-bgsave-error", "stream-node-max-bytes", "stream-node-max-entries",
    "supervised", "syslog-enabled", "syslog-facility", "syslog-ident", "tcp-backlog",
    "tcp-keepalive", "timeout", "tls-auth-clients", "tls-ca-cert-dir", "tls-ca-cert-file",
    "tls-cert-file", "tls-ciphers", "tls-ciphersuites", "tls-client-cert-file",
    "tls-client-key-file", "tls-client-key-file-pass", "tls-cluster", "tls-dh-params-file",
    "tls-key-file", "tls-key-file-pass", "tls-port", "tls-prefer-server-ciphers",
    "tls-protocols", "tls-replication", "tls-session-cache-size", "tls-session-cache-timeout",
    "tls-session-caching", "tracking-table-max-keys", "unixsocket", "unixsocketperm",
    "use-exit-on-panic", "watchdog-period", "zset-max-listpack-entries",
    "zset-max-listpack-value", "zset-max-ziplist-entries", "zset-max-ziplist-value",
})

#: parameters CONFIG GET answers whose value the model cannot change, and why
FIXED = {"list-compress-depth": "the model's lists are never compressed"}

#: IMMUTABLE_CONFIG among the model's parameters
IMMUTABLE = frozenset({"databases", "cluster-enabled"})

INT_MAX = 2**31 - 1
LLONG_MAX = 2**63 - 1
ULLONG_MAX = 2**64 - 1
#: CONFIG_MIN_HZ, CONFIG_MAX_HZ (server.h): updateHZ clamps ``hz`` to them
MIN_HZ, MAX_HZ = 1, 500


@dataclass(frozen=True)
class Spec:
    """How CONFIG SET parses one parameter (its ``create*Config`` line in config.c)."""

    kind: str  # "bool", "enum", "int" (string2ll), "memory" (memtoull) or "save"
    lo: int = 0
    hi: int = 0
    #: an unsigned C type (ULongLong, SizeT, UInt): the bounds are compared unsigned
    unsigned: bool = False
    choices: tuple[str, ...] = ()


#: the model's parameters CONFIG SET can change, by type and bounds as Redis 7.0 declares them
SPECS: dict[str, Spec] = {
    "hz": Spec("int", 0, INT_MAX),
    "dynamic-hz": Spec("bool"),
    "active-expire-effort": Spec("int", 1, 10),
    "maxmemory": Spec("memory", 0, ULLONG_MAX, unsigned=True),
    # (maxmemory_policy_enum's order, which the error lists)
    "maxmemory-policy": Spec("enum", choices=(
        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru",
        "allkeys-lfu", "allkeys-random", "noeviction")),
    "maxmemory-samples": Spec("int", 1, INT_MAX),
    "maxmemory-eviction-tenacity": Spec("int", 0, 100),
    "lfu-log-factor": Spec("int", 0, INT_MAX),
    "lfu-decay-time": Spec("int", 0, INT_MAX),
    "appendfsync": Spec("enum", choices=("everysec", "always", "no")),  # (aof_fsync_enum order)
    "save": Spec("save"),
    "auto-aof-rewrite-percentage": Spec("int", 0, INT_MAX),
    "auto-aof-rewrite-min-size": Spec("memory", 0, LLONG_MAX),
    "no-appendfsync-on-rewrite": Spec("bool"),
    "stop-writes-on-bgsave-error": Spec("bool"),
    "rdbcompression": Spec("bool"),
    "lazyfree-lazy-expire": Spec("bool"),
    "appendonly": Spec("bool"),
    # (size_t parameters, bounded by LONG_MAX; the value one takes memory units)
    "hash-max-listpack-entries": Spec("int", 0, LLONG_MAX, unsigned=True),
    "hash-max-listpack-value": Spec("memory", 0, LLONG_MAX, unsigned=True),
    "list-max-listpack-size": Spec("int", -INT_MAX - 1, INT_MAX),
}


def _memtoull(s: str) -> int | None:
    """``memtoull`` (util.c): digits, then nothing or a unit (b, k, kb, m, mb, g, gb, in any
    case; k is 1000 and kb 1024), as an unsigned 64-bit number (it wraps as C's does)."""
    if s.startswith("-"):
        return None
    i = 0
    while i < len(s) and s[i].isascii() and s[i].isdigit():
        i += 1
    mul = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2,
           "g": 1000**3, "gb": 1024**3}.get(s[i:].lower())
    if mul is None or i >= 128:
        return None
    # strtoull of the digits: none reads as 0 (glibc reports no error), too many saturate
    val = min(int(s[:i]), ULLONG_MAX) if i else 0
    return (val * mul) & ULLONG_MAX


def _strtoll(word: str) -> tuple[int, str]:
    """C's ``strtoll(word, &end, 10)``: the value and what is left after the number (the
    whole word when it starts with no number)."""
    i, n = 0, len(word)
    while i < n and word[i] in " \t\n\v\f\r":
        i += 1
    j = i + 1 if i < n and word[i] in "+-" else i
    k = j
    while k < n and word[k].isascii() and word[k].isdigit():
        k += 1
    if k == j:
        return 0, word
    return max(-LLONG_MAX - 1, min(int(word[i:k]), LLONG_MAX)), word[k:]


def parse_value(spec: Spec, raw: str) -> tuple[Any, str] | str:
    """CONFIG SET's parse of ``raw``: (the value, as CONFIG GET then prints it), or the
    error text Redis gives."""
    if spec.kind == "bool":
        low = raw.lower()
        if low not in ("yes", "no"):
            return "argument must be 'yes' or 'no'"
        return low == "yes", low
    if spec.kind == "enum":
        if raw.lower() in spec.choices:
            return raw.lower(), raw.lower()
        return "argument(s) must be one of the following: " + ", ".join(spec.choices)
    if spec.kind == "save":
        # split on single spaces (two make an empty word, which strtoll reads as 0); no
        # words, or one empty one, is no save points
        words = raw.split(" ") if raw else []
        if words == [""]:
            words = []
        if len(words) % 2:
            return "Invalid save parameters"
        pairs: list[tuple[int, int]] = []
        for i in range(0, len(words), 2):
            seconds, rest_s = _strtoll(words[i])
            changes, rest_c = _strtoll(words[i + 1])
            if rest_s or rest_c or seconds < 1 or changes < 0:
                return "Invalid save parameters"
            pairs.append((seconds, changes))
        return pairs, " ".join(f"{s} {c}" for s, c in pairs)
    if spec.kind == "memory":
        mem = _memtoull(raw)
        if mem is None:
            return "argument must be a memory value"
        v = mem if spec.unsigned or mem <= LLONG_MAX else mem - 2**64  # (a signed C type)
    else:
        parsed = parse_ll(raw.encode())
        if parsed is None:
            return "argument couldn't be parsed into an integer"
        v = parsed & ULLONG_MAX if spec.unsigned else parsed
    if not spec.lo <= v <= spec.hi:
        return f"argument must be between {spec.lo} and {spec.hi} inclusive"
    return v, str(v)


def _yes_no(v: bool) -> str:
    return "yes" if v else "no"


def parameters(server: Any, keyspace: Keyspace, cluster: bool) -> dict[str, str]:
    """Every parameter the model answers, by name, as CONFIG GET prints its value."""
    save = server.save.split()
    params = {
        "hz": str(server.hz),
        "dynamic-hz": _yes_no(server.dynamic_hz),
        "databases": str(server.databases),
        "active-expire-effort": str(server.active_expire_effort),
        "maxmemory": str(server.maxmemory),
        "maxmemory-policy": server.maxmemory_policy,
        "maxmemory-samples": str(server.maxmemory_samples),
        "maxmemory-eviction-tenacity": str(server.maxmemory_eviction_tenacity),
        "lfu-log-factor": str(server.lfu_log_factor),
        "lfu-decay-time": str(server.lfu_decay_time),
        "appendonly": _yes_no(server.appendonly),
        "appendfsync": server.appendfsync,
        # (redis.conf's pairs, printed back one space apart)
        "save": " ".join(save),
        "auto-aof-rewrite-percentage": str(server.auto_aof_rewrite_percentage),
        "auto-aof-rewrite-min-size": str(server.auto_aof_rewrite_min_size),
        "no-appendfsync-on-rewrite": _yes_no(server.no_appendfsync_on_rewrite),
        "stop-writes-on-bgsave-error": _yes_no(server.stop_writes_on_bgsave_error),
        "rdbcompression": _yes_no(server.rdbcompression),
        "hash-max-listpack-entries": str(server.hash_max_listpack_entries),
        "hash-max-listpack-value": str(server.hash_max_listpack_value),
        "list-max-listpack-size": str(server.list_max_listpack_size),
        # (the model's quicklists are never compressed)
        "list-compress-depth": "0",
        "lazyfree-lazy-expire": _yes_no(keyspace.lazyfree_lazy_expire),
        "cluster-enabled": _yes_no(cluster),
    }
    for alias, name in ALIASES.items():
        params[alias] = params[name]
    return params


class ConfigCommand:
    """The CONFIG command, answered before the keyspace (a loop's before-command hook).

    The mechanisms that can take a new value during a run register how with :meth:`on_set`
    (the engine does, once they are built); CONFIG SET of any other parameter of the model
    answers that it is not modelled.
    """

    def __init__(self, server: Any, keyspace: Keyspace, loop: Any, cluster: bool = False):
        self.server = server
        self.ks = keyspace
        self.loop = loop
        self.cluster = cluster
        #: the configuration the process started with (the scenario's), and the current one,
        #: by canonical name as CONFIG GET prints it
        self.start = {k: v for k, v in parameters(server, keyspace, cluster).items()
                      if k not in ALIASES}
        self.settings = dict(self.start)
        self.appliers: dict[str, Callable[[Any], None]] = {}
        #: appliers that act inside the command, taking its time and returning when the
        #: loop can go on (a fork, an fsync on the main thread)
        self.timed: dict[str, Callable[[Any, float], float]] = {}
        self.checks: dict[str, Callable[[Any], str | None]] = {}
        #: what CONFIG RESETSTAT zeroes, each mechanism's INFO counters (on_resetstat)
        self.resetters: list[Callable[[], None]] = []

    def on_resetstat(self, reset: Callable[[], None]) -> None:
        """Let CONFIG RESETSTAT call ``reset``, which zeroes a mechanism's INFO counters."""
        self.resetters.append(reset)

    def on_set(self, name: str, apply: Callable[[Any], None],
               check: Callable[[Any], str | None] | None = None) -> None:
        """Let CONFIG SET change ``name``: ``apply`` receives the parsed value (a bool, an
        enum's name, an int, or save's [(seconds, changes), ...]) once it has changed.
        ``check``, if given, says why the model cannot take a value Redis would (None if it
        can); it runs with the parsing, before anything is changed."""
        if name not in SPECS:
            raise ValueError(f"no CONFIG SET parser for {name!r}")
        self.appliers[name] = apply
        if check is not None:
            self.checks[name] = check

    def on_set_timed(self, name: str, apply: Callable[[Any, float], float],
                     at_restart: Callable[[Any], None],
                     check: Callable[[Any], str | None] | None = None) -> None:
        """:meth:`on_set` for a change that takes the loop's time inside the command:
        ``apply(value, t)`` returns the time the command goes on from. A restarted process
        does not go through it: ``at_restart`` gets the config file's value instead."""
        self.on_set(name, at_restart, check)
        self.timed[name] = apply

    def restart(self) -> None:
        """A restarted process reads its config file again: what CONFIG SET changed goes
        back to the file's value, the scenario's or what CONFIG REWRITE wrote (a restart
        hook of the loop)."""
        for name, shown in self.start.items():
            if self.settings[name] != shown:
                parsed = parse_value(SPECS[name], shown)
                assert not isinstance(parsed, str), (name, shown, parsed)
                self.appliers[name](parsed[0])
                self.settings[name] = shown

    def __call__(self, conn: Any, args: list, t: float) -> tuple[float, Any]:
        t, reply = self._reply(args, t)
        if not (isinstance(reply, ReplyError) and reply.rejected):
            # the command ran: its cost in the profile (the loop charges a refusal itself)
            t += self.loop.c_cmd.get("config", self.loop.c_default)
        return t, reply

    def _reply(self, args: list, t: float) -> tuple[float, Any]:
        """The reply, and the time the command goes on from (a timed CONFIG SET moves it)."""
        # processCommand: the container's arity (-2), its subcommand (unknown: rejected,
        # no command chosen), the subcommand's arity
        words = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        if len(words) < 2:
            return t, ReplyError("ERR wrong number of arguments for 'config' command",
                                 rejected=True)
        sub = words[1].lower()
        arity = SUBCOMMANDS["config"].get(sub.decode("utf-8", "replace"))
        if arity is None:
            shown = words[1][:128].decode("utf-8", "replace")
            return t, ReplyError(f"ERR unknown subcommand '{shown}'. Try CONFIG HELP.",
                                 rejected=True)
        if (len(words) != arity) if arity > 0 else (len(words) < -arity):
            return t, ReplyError(f"ERR wrong number of arguments for 'config|{sub.decode()}' "
                                 "command", rejected=True)
        if sub == b"get":
            return t, self._get(words[2:])
        if sub == b"set":
            return self._set([w.decode("utf-8", "replace") for w in words[2:]], t)
        if sub == b"rewrite":
            # rewriteConfig: the config file gets the values the process runs with, so a
            # restart reads them (the scenario's server settings are that file)
            self.start = dict(self.settings)
            return t, "OK"
        if sub == b"resetstat":
            # configResetStatCommand: resetServerStats, then the command table's and the
            # error table's stats
            for reset in self.resetters:
                reset()
            return t, "OK"
        return t, ReplyError(f"ERR CONFIG {sub.decode().upper()} is not modelled by redissim "
                             "(set the server's configuration in the scenario)")

    def _get(self, asked: list[bytes]) -> list[bytes]:
        params = dict(self.settings)
        for alias, name in ALIASES.items():
            params[alias] = params[name]
        matched: dict[str, tuple[bytes, str]] = {}  # lower-case name -> (as answered, value)
        for raw in asked:
            if not any(c in raw for c in b"*?["):
                name = raw.decode("utf-8", "replace").lower()
                if name in params and name not in matched:
                    matched[name] = (raw, params[name])
                continue
            pattern = raw.lower()  # nocase: both sides lower-cased
            for name, value in params.items():
                if name not in matched and stringmatch(pattern, name.encode()):
                    matched[name] = (name.encode(), value)
        out: list[bytes] = []
        for shown, value in matched.values():
            out += [shown, value.encode()]
        return out

    def _set(self, words: list[str], t: float) -> tuple[float, Any]:
        """``configSetCommand``: the names first (the first problem wins), then the values
        (the first that does not parse names its parameter), then every change at once."""
        if len(words) % 2:
            return t, ReplyError("ERR syntax error")
        names: list[str] = []
        for i in range(0, len(words), 2):
            asked = words[i]
            low = asked.lower()
            name = ALIASES.get(low, low)
            if low not in REDIS_7_0_PARAMETERS:
                return t, ReplyError("ERR Unknown option or number of arguments for CONFIG SET "
                                     f"- '{asked}'")
            if name in IMMUTABLE:
                return t, ReplyError(f"ERR CONFIG SET failed (possibly related to argument "
                                     f"'{asked}') - can't set immutable config")
            if name not in self.appliers:
                if name == "maxmemory":
                    why = "this run keeps no key sizes: it started without maxmemory"
                elif name in FIXED:
                    why = FIXED[name]
                elif name in self.start:
                    why = "set it in the scenario's server settings"
                else:
                    why = "no part of the model"
                return t, ReplyError(f"ERR CONFIG SET {asked} is not modelled by redissim "
                                     f"during a run ({why})")
            if name in names:
                return t, ReplyError(f"ERR CONFIG SET failed (possibly related to argument "
                                     f"'{asked}') - duplicate parameter")
            names.append(name)
        parsed: list[tuple[Any, str]] = []
        for j, name in enumerate(names):
            got = parse_value(SPECS[name], words[2 * j + 1])
            if isinstance(got, str):
                return t, ReplyError(f"ERR CONFIG SET failed (possibly related to argument "
                                     f"'{name}') - {got}")
            check = self.checks.get(name)
            why_not = check(got[0]) if check is not None else None
            if why_not is not None:
                return t, ReplyError(f"ERR CONFIG SET {name} {got[1]} is not modelled by redissim "
                                     f"during this run ({why_not})")
            parsed.append(got)
        for name, (value, shown) in zip(names, parsed, strict=True):
            # Redis applies a parameter only when the value set differs from the one held
            # (save's setter always reports a change)
            if shown == self.settings[name] and name != "save":
                continue
            if name == "hz":  # updateHZ: any value is taken, then capped
                value = min(max(value, MIN_HZ), MAX_HZ)
                shown = str(value)
            timed = self.timed.get(name)
            if timed is not None:
                t = timed(value, t)  # inside the command (a fork, an fsync)
            else:
                self.appliers[name](value)
            self.settings[name] = shown
        return t, "OK"
