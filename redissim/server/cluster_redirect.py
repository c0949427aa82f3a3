"""A cluster master's check of a command's keys before it runs: ``-CROSSSLOT``.

Models ``cluster.c:getNodeByQuery`` as ``server.c:processCommand`` calls it on a
cluster-enabled Redis 7.0 (after the unknown-command and arity checks, before maxmemory's
OOM and the MISCONF checks): every key the command names must hash to one slot, or the
command is refused with ``-CROSSSLOT Keys in request don't hash to the same slot`` and
counted in its ``rejected_calls``. The same key given twice is one key; different keys in
one slot (a shared ``{hash tag}``) are allowed. A command without keys passes.

Only commands that can name several keys are checked here (MGET, MSET, MSETNX, DEL,
UNLINK, EXISTS, RENAME, RENAMENX): a single-key command is always in one slot, and the
clients route every request to the master of its first key's slot (``sim/cluster.py``), so
the check's other answers -- ``-MOVED`` to the slot's owner, ``-ASK`` and ``-TRYAGAIN``
during a resharding, ``-CLUSTERDOWN`` -- cannot arise in the model and are not modelled.
"""

from __future__ import annotations

from typing import Any, Final

from redissim.server.cluster_slots import key_hash_slot
from redissim.server.commands import COMMANDS, arity_ok, lookup
from redissim.server.resp import ReplyError

__all__ = ["CROSSSLOT", "MULTI_KEY_COMMANDS", "cross_slot", "check_cross_slot"]

#: clusterRedirectClient's reply for CLUSTER_REDIR_CROSS_SLOT
CROSSSLOT: Final = ReplyError("CROSSSLOT Keys in request don't hash to the same slot",
                              rejected=True)

#: the commands of the table whose key positions can name more than one key
MULTI_KEY_COMMANDS: Final = tuple(
    name for name, spec in COMMANDS.items()
    if spec.first_key and (spec.last_key < 0 or spec.last_key > spec.first_key))


def cross_slot(args: list[Any]) -> bool:
    """True when the keys of the command line ``args`` are not all in one hash slot.

    A line the command table does not know, or with the wrong number of arguments, is
    not this check's business (processCommand refuses it before)."""
    spec = lookup(args[0]) if args and isinstance(args[0], bytes | str) else None
    if spec is None or not arity_ok(spec, len(args)):
        return False
    first: bytes | None = None
    slot = -1
    for i in spec.key_positions(len(args)):
        raw = args[i]
        key = raw if type(raw) is bytes else str(raw).encode()
        if first is None:
            first, slot = key, key_hash_slot(key)
        elif key != first and key_hash_slot(key) != slot:
            return True
    return False


def check_cross_slot(conn: Any, args: list[Any], t: float) -> tuple[float, Any]:
    """The event loop's processCommand hook (``EventLoop.add_before_command``)."""
    return t, (CROSSSLOT if cross_slot(args) else None)
