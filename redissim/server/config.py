"""CONFIG GET: the server's configuration as Redis 7.0 answers it (``config.c``), for the
parameters the model runs with.

``configGetCommand`` takes one or more arguments. One without ``*``, ``?`` or ``[`` is
looked up directly, case-insensitively, and answered under the spelling it was asked in; a
pattern is matched against the name of every parameter and every alias (``stringmatch``
with nocase: ``MAXMEMORY*`` finds ``maxmemory``). Each parameter is answered once, however
many arguments match it. Redis collects the answers in a dict and replies in its hash order,
which no run can reproduce; here they come in the table's order, so only the pairs compare.

The table holds the scenario's ``server:`` settings under their redis.conf names, the
listpack limits the memory model applies (``server/listpack.py``), ``lazyfree-lazy-expire``
and ``cluster-enabled``. Redis 7.0 has some two hundred parameters; the others (port, dir,
timeouts, ...) are no part of the model, and a pattern does not find them.

CONFIG SET, RESETSTAT and REWRITE answer that they are not modelled: the scenario fixes the
configuration before the run, and the mechanisms read it when they are built (maxmemory
decides whether every key's size is kept, for one), so a change in the middle of a run would
need each of them re-planned.
"""

from __future__ import annotations

from typing import Any

from redissim.server.commands import SUBCOMMANDS
from redissim.server.glob import stringmatch
from redissim.server.keyspace import Keyspace
from redissim.server.listpack import (
    HASH_MAX_LISTPACK_ENTRIES,
    HASH_MAX_LISTPACK_VALUE,
    QUICKLIST_NODE_BYTES,
)
from redissim.server.resp import ReplyError

__all__ = ["ConfigCommand", "parameters"]

#: list-max-listpack-size for a size limit per node: -1 is 4 KiB, -2 8 KiB ... -5 64 KiB
_LIST_SIZE = {4096: -1, 8192: -2, 16384: -3, 32768: -4, 65536: -5}

#: names Redis 7.0 still accepts for the listpack parameters (``createIntConfig``'s alias)
ALIASES = {
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
}


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
        "hash-max-listpack-entries": str(HASH_MAX_LISTPACK_ENTRIES),
        "hash-max-listpack-value": str(HASH_MAX_LISTPACK_VALUE),
        "list-max-listpack-size": str(_LIST_SIZE[QUICKLIST_NODE_BYTES]),
        # (the model's quicklists are never compressed)
        "list-compress-depth": "0",
        "lazyfree-lazy-expire": _yes_no(keyspace.lazyfree_lazy_expire),
        "cluster-enabled": _yes_no(cluster),
    }
    for alias, name in ALIASES.items():
        params[alias] = params[name]
    return params


class ConfigCommand:
    """The CONFIG command, answered before the keyspace (a loop's before-command hook)."""

    def __init__(self, server: Any, keyspace: Keyspace, loop: Any, cluster: bool = False):
        self.server = server
        self.ks = keyspace
        self.loop = loop
        self.cluster = cluster

    def __call__(self, conn: Any, args: list, t: float) -> tuple[float, Any]:
        reply = self._reply(args)
        if not (isinstance(reply, ReplyError) and reply.rejected):
            # the command ran: its cost in the profile (the loop charges a refusal itself)
            t += self.loop.c_cmd.get("config", self.loop.c_default)
        return t, reply

    def _reply(self, args: list) -> Any:
        # processCommand: the container's arity (-2), its subcommand (unknown: rejected,
        # no command chosen), the subcommand's arity
        words = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        if len(words) < 2:
            return ReplyError("ERR wrong number of arguments for 'config' command",
                              rejected=True)
        sub = words[1].lower()
        arity = SUBCOMMANDS["config"].get(sub.decode("utf-8", "replace"))
        if arity is None:
            shown = words[1][:128].decode("utf-8", "replace")
            return ReplyError(f"ERR unknown subcommand '{shown}'. Try CONFIG HELP.",
                              rejected=True)
        if (len(words) != arity) if arity > 0 else (len(words) < -arity):
            return ReplyError(f"ERR wrong number of arguments for 'config|{sub.decode()}' "
                              "command", rejected=True)
        if sub != b"get":
            return ReplyError(f"ERR CONFIG {sub.decode().upper()} is not modelled by redissim "
                              "(set the server's configuration in the scenario)")
        return self._get(words[2:])

    def _get(self, asked: list[bytes]) -> list[bytes]:
        params = parameters(self.server, self.ks, self.cluster)
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
