"""Redis's power-of-two chained hash table, as far as SCAN and key sampling can observe it.

Models ``src/dict.c`` (Redis 7.0): a table of ``size`` buckets (a power of two, 0 before the
first insert, initial size 4), a key living in bucket ``hash(key) & (size - 1)``, new keys
put at the head of their bucket's chain, growth when an insert finds ``used >= size``
(``_dictExpandIfNeeded``: to the next power of two >= used + 1; while a fork child exists
resizing is "avoided" and only happens when ``used / size > 5``), shrinking only when
asked (``htNeedsResize`` / ``dictResize``, driven by ``databasesCron``), and the
reverse-binary cursor of ``dictScan``.

What is simplified, deliberately:

* Hashing is ``zlib.crc32`` of the key, deterministic across runs (Redis uses SipHash with
  a random per-process seed, so no run-to-run order could be matched anyway).
* Rehashing is instantaneous: a growth or shrink re-buckets every key at once instead of
  moving one bucket per operation. Only one table ever exists, so ``dictScan``'s
  two-table walk is not needed; SCAN's guarantees (every key present for a whole iteration
  is returned) hold the same way because the cursor is reverse-binary.
* The Python ``dict`` in :attr:`Table.data` is the source of truth for lookups (so GET/SET
  stay fast); the bucket index is built only when something first needs buckets (SCAN,
  sampling, the active expire cycle) and is maintained incrementally from then on. Until
  then only ``size`` is tracked, which costs one comparison per insert. A re-bucketing drops
  the index, and the next bucket access builds it in the new size. The index is the
  bucket array itself, a list of ``size`` slots: like ``dictEntry **table`` it costs a
  pointer per bucket, and a key's chain is one list index away (no hashing of the bucket
  number, no int objects), which matters because every add and delete of an indexed table
  finds its chain. A slot holds ``None`` (empty), the key itself when it is alone in its
  bucket (most are, at a load factor of at most 1: no list to allocate, and one pointer
  less to follow when the expire cycle samples it), or a list of two or more keys, oldest
  first.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

__all__ = ["Table", "INITIAL_SIZE", "FORCE_RESIZE_RATIO", "key_hash", "next_cursor"]

#: ``DICT_HT_INITIAL_SIZE`` (1 << DICT_HT_INITIAL_EXP) in dict.h.
INITIAL_SIZE = 4
#: ``dict_force_resize_ratio``: with resizing avoided (fork child alive) a table still
#: grows once it holds more than 5 keys per bucket.
FORCE_RESIZE_RATIO = 5
#: ``HASHTABLE_MIN_FILL`` (server.h): below 10 % fill the cron shrinks a table.
MIN_FILL_PERCENT = 10

_MASK64 = (1 << 64) - 1

#: one bucket of the index: empty, one key, or two or more keys (oldest first)
Slot = bytes | list[bytes] | None

key_hash: Final[Callable[[bytes], int]] = zlib.crc32
"""The deterministic 32-bit hash used for bucket placement."""


def _next_power(n: int) -> int:
    """Smallest power of two >= n, at least INITIAL_SIZE (dict.c:_dictNextExp)."""
    if n <= INITIAL_SIZE:
        return INITIAL_SIZE
    return 1 << (n - 1).bit_length()


_REV16: list[int] = []


def _rev16_table() -> list[int]:
    if not _REV16:
        _REV16.extend(int(f"{i:016b}"[::-1], 2) for i in range(1 << 16))
    return _REV16


def _rev64(v: int) -> int:
    t = _rev16_table()
    return (
        (t[v & 0xFFFF] << 48)
        | (t[(v >> 16) & 0xFFFF] << 32)
        | (t[(v >> 32) & 0xFFFF] << 16)
        | t[(v >> 48) & 0xFFFF]
    )


def rev_bits(v: int, bits: int) -> int:
    """Reverse the low ``bits`` bits of ``v`` (bits <= 32)."""
    t = _rev16_table()
    r = (t[v & 0xFFFF] << 16) | t[(v >> 16) & 0xFFFF]
    return r >> (32 - bits)


def next_cursor(cursor: int, size: int) -> int:
    """The cursor ``dictScan`` returns after visiting bucket ``cursor & (size-1)``.

    Sets the bits above the mask, reverses the 64-bit word, adds one and reverses back:
    the high-order bit of the bucket index is incremented first, which is what lets a
    table grow or shrink between calls without losing buckets.
    """
    if size == 0:
        return 0
    mask = size - 1
    v = (cursor | (~mask & _MASK64)) & _MASK64
    v = (_rev64(v) + 1) & _MASK64
    return _rev64(v)


def _chain_add(index: list[Slot], b: int, key: bytes) -> None:
    """Put ``key`` at the head of bucket ``b``'s chain (the end of its list)."""
    slot = index[b]
    if slot is None:
        index[b] = key
    elif isinstance(slot, bytes):
        index[b] = [slot, key]
    else:
        slot.append(key)


def _chain_find(chain: list[bytes], key: bytes) -> int:
    """Where ``key`` is in a chain of two or more keys. The chain usually holds the very
    object (a key's object is shared by both tables and the workload's key table), so
    identity is tried over the whole chain first: comparing bytes would read every other
    key's object."""
    n = len(chain)
    for i in range(n - 1, -1, -1):
        if chain[i] is key:
            return i
    for i in range(n - 1, -1, -1):
        if chain[i] == key:
            return i
    raise KeyError(key)  # not in its chain: the index is out of step with the dict


def _chain_to_head(chain: list[bytes], key: bytes) -> None:
    """Move ``key`` to the head of its chain (the end of the list), the keys after it one
    place down: what ``list.remove`` + ``append`` do, without their generic calls and
    comparisons (116 instructions fewer per re-set TTL, callgrind, benchmarks/RESULTS.md).
    The keys before it keep their places."""
    last = len(chain) - 1
    i = _chain_find(chain, key)
    while i < last:
        chain[i] = chain[i + 1]
        i += 1
    chain[last] = key


def _chain_remove(index: list[Slot], b: int, key: bytes) -> None:
    """Take ``key`` out of bucket ``b``'s chain. The keys before it keep their places in
    the list (the expire cycle, walking a chain from its end, relies on that); a list
    left with one key gives way to the key itself."""
    slot = index[b]
    if slot is None or isinstance(slot, bytes):
        index[b] = None
    else:
        # to the end, then popped: a generic ``del slot[i]`` cost about 240 instructions
        # more per delete from a shared bucket (callgrind, benchmarks/RESULTS.md)
        _chain_to_head(slot, key)
        slot.pop()
        if len(slot) == 1:
            index[b] = slot[0]


def _head_first(slot: Slot) -> list[bytes]:
    """A bucket's keys, head of the chain (the most recently added) first."""
    if slot is None:
        return []
    if isinstance(slot, bytes):
        return [slot]
    return slot[::-1]


class Table:
    """One dict of a database (the main keyspace or the expires table).

    Public attributes and methods (used by SCAN here and by eviction / active expiry):

    * ``data`` -- the plain ``dict`` of key -> value; read it directly, but add or remove
      keys only through the keyspace (it keeps ``size`` and the bucket index right).
    * ``size`` -- number of buckets (0 or a power of two >= 4); ``used`` -- ``len(data)``.
    * ``bucket_of(key)``, ``bucket_keys(i)`` (head of chain first), ``iter_buckets()``.
    * ``scan(cursor) -> (keys, next_cursor)`` -- one ``dictScan`` step.
    * ``needs_resize()`` / ``shrink_to_fit()`` / ``expand(n)`` -- what the cron and
      DEBUG POPULATE call.
    """

    __slots__ = ("data", "size", "_trigger", "_index", "resize_allowed", "rehashes")

    def __init__(self) -> None:
        self.data: dict[bytes, Any] = {}
        self.size = 0
        # Inserts call note_add() only when len(data) > _trigger: the table must grow
        # (trigger = size) or the index must learn the key (trigger = -1).
        self._trigger = 0
        self._index: list[Slot] | None = None
        #: False while a fork child exists (dict_can_resize = 0 in 7.0).
        self.resize_allowed = True
        #: How many times the table was re-bucketed (growth or shrink), for the view.
        self.rehashes = 0

    # -- size bookkeeping -------------------------------------------------------------------
    @property
    def used(self) -> int:
        return len(self.data)

    @property
    def indexed(self) -> bool:
        """True once the bucket index exists (built on first bucket access)."""
        return self._index is not None

    def _set_trigger(self) -> None:
        if self._index is not None:
            self._trigger = -1
        elif self.resize_allowed:
            self._trigger = self.size
        else:
            # Growth then needs used_before // size > 5, i.e. used_after > 6 * size.
            self._trigger = self.size * (FORCE_RESIZE_RATIO + 1)

    def set_resize_allowed(self, allowed: bool) -> None:
        """Enable/disable growth at ``used >= size`` (disabled while a child process runs)."""
        self.resize_allowed = allowed
        self._set_trigger()
        self._grow_if_needed()

    def note_add(self, key: bytes) -> None:
        """Called after ``key`` was inserted into ``data`` (only when the trigger fires)."""
        index = self._index
        if index is None:
            self._grow_if_needed()
            return
        size = self.size
        if len(self.data) > size:  # _grow_if_needed's first test, inlined: rarely true
            before = self.rehashes
            self._grow_if_needed()
            if self.rehashes != before:
                return  # re-bucketed: the index is rebuilt, with this key, when next needed
        _chain_add(index, key_hash(key) & (size - 1), key)

    def note_readd(self, key: bytes) -> None:
        """Called after ``key`` was removed from ``data`` and inserted again (a TTL replaced:
        ``removeExpire`` + ``setExpire``): it moves to the head of its chain. The count is
        unchanged, so -- like note_delete + note_add -- the table cannot grow here."""
        index = self._index
        if index is None:
            return
        b = key_hash(key) & (self.size - 1)
        slot = index[b]
        if slot is None or isinstance(slot, bytes):
            index[b] = key
        else:
            _chain_to_head(slot, key)

    def note_delete(self, key: bytes) -> None:
        """Called after ``key`` was removed from ``data`` (only when indexed)."""
        index = self._index
        if index is None:
            return
        _chain_remove(index, key_hash(key) & (self.size - 1), key)

    def note_delete_in(self, key: bytes, b: int) -> None:
        """note_delete for a caller that knows the key's bucket ``b`` (a walk over the
        buckets: the active expire cycle), which spares hashing the key again."""
        index = self._index
        if index is None:
            return
        _chain_remove(index, b, key)

    def _grow_if_needed(self) -> None:
        used = len(self.data)
        size = self.size
        if size == 0:
            if used:
                self._rebucket(_next_power(used))
            return
        # _dictExpandIfNeeded runs before an insert with the old count: it expands when
        # used_before >= size, i.e. used_after > size; the new size fits used_before + 1.
        if used > size and (self.resize_allowed or (used - 1) // size > FORCE_RESIZE_RATIO):
            self._rebucket(_next_power(used))

    def expand(self, n: int) -> None:
        """``dictExpand(d, n)``: grow to the power of two >= n (never shrinks)."""
        target = _next_power(n)
        if target > self.size:
            self._rebucket(target)

    def needs_resize(self) -> bool:
        """``htNeedsResize``: more than 4 buckets and less than 10 % of them used."""
        size = self.size
        return size > INITIAL_SIZE and len(self.data) * 100 // size < MIN_FILL_PERCENT

    def shrink_to_fit(self) -> bool:
        """``dictResize``: shrink to the smallest power of two >= max(used, 4).

        Returns True if the size changed. Refused while resizing is disallowed.
        """
        if not self.resize_allowed:
            return False
        target = _next_power(len(self.data))
        if target >= self.size:
            return False
        self._rebucket(target)
        return True

    def clear(self) -> None:
        """``dictEmpty``: drop every key and the table itself (size back to 0)."""
        self.data.clear()
        self.size = 0
        if self._index is not None:
            self._index = []
        self._set_trigger()

    def _rebucket(self, new_size: int) -> None:
        self.size = new_size
        self.rehashes += 1
        # The index in the new size is built when buckets are next needed, not now: a table
        # filling up doubles several times between two expire cycles, and until the next
        # one every add and delete skips the index. A rebuild gives the chains an
        # incremental index would have, since both follow the dict's order (_build_index).
        self._index = None
        self._set_trigger()

    # -- buckets ------------------------------------------------------------------------------
    def _build_index(self) -> list[Slot]:
        # Keys are chained in the dict's order, oldest first. The incremental updates keep
        # the same order: a new key goes to the end of the dict and of its chain, a replaced
        # TTL (delete and re-add) to the end of both, and a delete takes it out of both.
        mask = self.size - 1
        index: list[Slot] = [None] * self.size
        for key in self.data:
            _chain_add(index, key_hash(key) & mask, key)
        self._index = index
        self._set_trigger()
        return index

    def _ensure_index(self) -> list[Slot]:
        index = self._index
        if index is None:
            if self.size == 0 and self.data:
                self.size = _next_power(len(self.data))
            index = self._build_index()
        return index

    def drop_index(self) -> None:
        """Forget the bucket index (saves memory; it is rebuilt on the next bucket access)."""
        self._index = None
        self._set_trigger()

    def bucket_of(self, key: bytes) -> int:
        """Bucket index of ``key`` in the current table (``hash & mask``)."""
        return key_hash(key) & (self.size - 1) if self.size else 0

    def bucket_keys(self, i: int) -> Sequence[bytes]:
        """Keys chained in bucket ``i`` (head first: the most recently added key first)."""
        index = self._ensure_index()
        return _head_first(index[i]) if i < len(index) else []

    def chains(self) -> list[Slot]:
        """The live bucket array: ``size`` slots, each None, a key alone in its bucket, or
        a list of two or more keys (oldest first). Read-only for callers; it changes as
        keys come and go, and is replaced when the table is re-bucketed."""
        return self._ensure_index()

    def nonempty_buckets(self) -> int:
        """How many buckets hold at least one key."""
        index = self._ensure_index()
        return len(index) - index.count(None)

    def iter_buckets(self) -> Iterator[tuple[int, Sequence[bytes]]]:
        """(bucket, keys) for every non-empty bucket, in bucket order (what KEYS walks)."""
        index = self._ensure_index()
        for b, slot in enumerate(index):
            if slot is not None:
                yield b, _head_first(slot)

    def scan_many(self, cursor: int, count: int, max_steps: int) -> tuple[list[bytes], int, int]:
        """SCAN's loop in one call: dictScan steps until >= ``count`` keys were collected,
        the cursor wrapped to 0, or ``max_steps`` steps were made.

        Returns (keys, next cursor, steps). Works in bit-reversed space so that each step
        costs one reversal (the cursor order is increasing reversed bucket index).
        """
        if not self.data:
            return [], 0, 0
        index = self._ensure_index()
        size = self.size
        bits = size.bit_length() - 1
        if bits == 0:
            # A one-bucket table cannot occur (minimum 4), kept for completeness.
            return _head_first(index[0]), 0, 1
        r = rev_bits(cursor & (size - 1), bits)
        out: list[bytes] = []
        steps = 0
        while True:
            slot = index[rev_bits(r, bits)]
            steps += 1
            if slot is not None:
                if isinstance(slot, bytes):
                    out.append(slot)
                else:
                    out.extend(reversed(slot))
            r += 1
            if r == size:
                return out, 0, steps
            if steps > max_steps or len(out) >= count:
                return out, rev_bits(r, bits), steps

    def scan(self, cursor: int) -> tuple[Sequence[bytes], int]:
        """One ``dictScan`` step: the keys of bucket ``cursor & mask`` and the next cursor."""
        if not self.data:
            return (), 0
        index = self._ensure_index()
        size = self.size
        return _head_first(index[cursor & (size - 1)]), next_cursor(cursor, size)
