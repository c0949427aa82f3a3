"""The buffer of a string value that APPEND (or SETRANGE) grows: ``src/sds.c`` and the string
objects of ``src/object.c``, as far as ``MEMORY USAGE`` and ``used_memory`` can observe them.

SET stores a short value in one allocation with its object (``embstr``) or as an integer;
nothing of it can be appended to in place. The first APPEND to an existing key therefore
goes through ``dbUnshareStringValue`` (db.c): an ``int`` or ``embstr`` value is copied into a
fresh ``raw`` SDS of exactly its length (``sdsnewlen``), and a ``raw`` value, which only values
over 44 bytes are, is appended to where it is. ``sdscatlen`` then calls ``sdsMakeRoomFor``,
which allocates *twice* the new length (plus 1 MiB instead, from 1 MiB up): the next appends
of a growing string then fit without a copy. So a string built by APPEND can take up to twice
what the same value stored by SET takes, and stays ``raw`` even when short or numeric. Only
a new value (SET, INCR...) or a reload gives it back its compact form. SETRANGE unshares and
grows a string the same way (``sdsgrowzero`` calls ``sdsMakeRoomFor``); on a missing key it
makes a ``raw`` buffer of exactly the length it writes.

A buffer is ``(cap, usable)``: the SDS's ``alloc`` field (the bytes it can hold without
growing) and the allocator's usable size of its allocation (what ``zmalloc`` counts).
"""

from __future__ import annotations

from redissim.server.memory import EMBSTR_SIZE_LIMIT, jemalloc_size, sds_header_size

#: SDS_MAX_PREALLOC (sds.h): past 1 MiB the greedy growth adds 1 MiB instead of doubling.
SDS_MAX_PREALLOC = 1024 * 1024

#: sdsTypeMaxSize by header size: what the ``alloc`` field of each header type can hold.
_TYPE_MAX = {1: (1 << 5) - 1, 3: (1 << 8) - 1, 5: (1 << 16) - 1, 9: (1 << 32) - 1,
             17: (1 << 64) - 1}

Buffer = tuple[int, int]

#: the ``cap`` Db.strings records for a value that is an embstr whatever it reads as
#: (INCRBYFLOAT's result): no buffer of its own, the string lives in its object's allocation
EMBSTR = -1


def new(length: int, lg_quantum: int) -> Buffer:
    """``sdsnewlen``: a buffer of exactly ``length`` bytes (the allocator may round up; the
    ``alloc`` field records that slack, except in the 1-byte sdshdr5 of a string under 32
    bytes, which has no ``alloc`` field and so never any room to grow)."""
    hdr = sds_header_size(length)
    usable = jemalloc_size(hdr + length + 1, lg_quantum)
    if hdr == 1:
        return length, usable
    return min(usable - hdr - 1, _TYPE_MAX[hdr]), usable


def stored_by_set(length: int, lg_quantum: int) -> Buffer:
    """The buffer of a value over 44 bytes as SET stores it: the argument's ``sdsnewlen``
    buffer, whose slack ``tryObjectEncoding`` trims (``trimStringObjectIfNeeded``: more than a
    tenth of the length free). Trimming sets ``alloc`` to the length; the allocation keeps its
    size class, which already fitted the length."""
    cap, usable = new(length, lg_quantum)
    if cap - length > length // 10:
        cap = length
    return cap, usable


def unshared(value: bytes, lg_quantum: int) -> Buffer:
    """The buffer ``dbUnshareStringValue`` leaves a value in before its first APPEND: a copy
    of exactly its length for an ``int`` or ``embstr`` value, the value's own for ``raw``."""
    if len(value) <= EMBSTR_SIZE_LIMIT:
        return new(len(value), lg_quantum)
    return stored_by_set(len(value), lg_quantum)


def cat(length: int, buf: Buffer, addlen: int, lg_quantum: int) -> Buffer:
    """``sdscatlen`` of ``addlen`` bytes to a string of ``length`` bytes in ``buf``:
    in place when the room is there, else ``sdsMakeRoomFor``'s greedy growth (the header
    type follows the new size, never sdshdr5)."""
    cap, usable = buf
    if cap - length >= addlen:
        return buf
    newlen = length + addlen
    newlen = newlen * 2 if newlen < SDS_MAX_PREALLOC else newlen + SDS_MAX_PREALLOC
    hdr = max(sds_header_size(newlen), 3)
    usable = jemalloc_size(hdr + newlen + 1, lg_quantum)
    return min(usable - hdr - 1, _TYPE_MAX[hdr]), usable
