"""A cluster master's check of a command's keys before it runs: ``-CROSSSLOT``, ``-MOVED``.

Models ``cluster.c:getNodeByQuery`` as ``server.c:processCommand`` calls it on a
cluster-enabled Redis 7.0 (after the unknown-command and arity checks, before maxmemory's
OOM and the MISCONF checks): every key the command names must hash to one slot, or the
command is refused with ``-CROSSSLOT Keys in request don't hash to the same slot``; and
that slot must be this master's, or the command is refused with ``-MOVED <slot>
<host>:<port>`` naming the master that owns it (``clusterRedirectClient``). Both count in
the command's ``rejected_calls`` and in errorstats. The same key given twice is one key;
different keys in one slot (a shared ``{hash tag}``) are allowed. A command without keys
passes.

Cluster-aware clients send every request to the master of its slot, so only a command whose
keys span slots can be refused: then only the commands that can name several keys are
checked (MGET, MSET, MSETNX, DEL, UNLINK, EXISTS, RENAME, RENAMENX). A client that knows no
slot map (``routing: redirect``, redis-cli -c) can knock on any master: then every command
is checked. The masters' addresses are 127.0.0.1:30001 and up, the ports of Redis's
``utils/create-cluster`` script. ``-ASK`` and ``-TRYAGAIN`` (a resharding in progress) and
``-CLUSTERDOWN`` cannot arise in the model and are not modelled.
"""

from __future__ import annotations

from typing import Any, Final

from redissim.server.cluster_slots import key_hash_slot
from redissim.server.commands import COMMANDS, arity_ok, lookup
from redissim.server.resp import ReplyError

__all__ = ["CROSSSLOT", "MULTI_KEY_COMMANDS", "FIRST_PORT", "NO_KEYS", "CROSS", "query_slot",
           "moved", "ClusterCheck"]

#: clusterRedirectClient's reply for CLUSTER_REDIR_CROSS_SLOT
CROSSSLOT: Final = ReplyError("CROSSSLOT Keys in request don't hash to the same slot",
                              rejected=True)
#: the first master's port (utils/create-cluster: 30001, 30002, ...)
FIRST_PORT: Final = 30001

#: the commands of the table whose key positions can name more than one key
MULTI_KEY_COMMANDS: Final = tuple(
    name for name, spec in COMMANDS.items()
    if spec.first_key and (spec.last_key < 0 or spec.last_key > spec.first_key))

#: query_slot's answers that are not a slot
NO_KEYS: Final = -1
CROSS: Final = -2


def query_slot(args: list[Any]) -> int:
    """The hash slot all the keys of the command line ``args`` are in; NO_KEYS for a line
    without keys, CROSS when they are in several slots.

    A line the command table does not know, or with the wrong number of arguments, has no
    keys here (processCommand refuses it before this check)."""
    spec = lookup(args[0]) if args and isinstance(args[0], bytes | str) else None
    if spec is None or not arity_ok(spec, len(args)):
        return NO_KEYS
    first: bytes | None = None
    slot = NO_KEYS
    for i in spec.key_positions(len(args)):
        raw = args[i]
        key = raw if type(raw) is bytes else str(raw).encode()
        if first is None:
            first, slot = key, key_hash_slot(key)
        elif key != first and key_hash_slot(key) != slot:
            return CROSS
    return slot


def moved(slot: int, node: int) -> ReplyError:
    """``-MOVED <slot> 127.0.0.1:<port>``: the slot is master ``node``'s (from 0)."""
    return ReplyError(f"MOVED {slot} 127.0.0.1:{FIRST_PORT + node}", rejected=True)


class ClusterCheck:
    """The check on master ``node`` (from 0) of a cluster whose slots ``owner`` maps to
    masters: CROSSSLOT, then MOVED (the event loop's processCommand hook,
    ``EventLoop.add_before_command``)."""

    def __init__(self, node: int, owner: list[int]):
        self.node = node
        self.owner = owner

    def __call__(self, conn: Any, args: list[Any], t: float) -> tuple[float, Any]:
        slot = query_slot(args)
        if slot == CROSS:
            return t, CROSSSLOT
        if slot >= 0 and self.owner[slot] != self.node:
            return t, moved(slot, self.owner[slot])
        return t, None
