"""Listpacks and quicklist nodes, byte for byte, for sizing what an RDB file holds.

Models ``src/listpack.c`` (Redis 7.0: the compact encoding of small hashes and of every
list node) and the node filling of ``src/quicklist.c``. Redis writes a small hash, and each
node of a list, to an RDB file as the listpack's own bytes (one string, which it then tries
to LZF-compress), so the file's size depends on these bytes, not only on the elements'
lengths.

A listpack: 4 bytes of total size and 2 of element count (both little-endian), the
elements, and an end byte ``0xFF``. An element is its encoding and data, then a
"backlen": the length of the encoding and data, 7 bits per byte, written so that it can be
read from the end (the listpack is walked backwards as well as forwards). A string that is
a canonical 64-bit decimal integer is stored as an integer of 1, 2, 3, 4, 5 or 9 bytes;
any other string as a 1-, 2- or 5-byte length header and the bytes.

A list is a quicklist: a chain of listpack nodes. With the default ``list-max-listpack-size
-2`` a node takes a new element while its listpack's size plus the element's length plus 8
bytes stays within 8 KiB (``_quicklistNodeAllowInsert``); -1 and -3 .. -5 make that 4 KiB
and 16 .. 64 KiB, and a positive N at most N elements a node (within 8 KiB). A quicklist
keeps the setting it was created with (:class:`Quicklist`). The nodes here are those RPUSH
leaves when it builds the list from its first element to its last; a list built by LPUSH
is split from its other end, and pops and inserts move the boundaries again (against a
real server: 5,000 LPUSHed items give a file 7 bytes off in 24.7 KB).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Final

LP_HDR_SIZE: Final = 6
LP_EOF: Final = 0xFF
#: ``list-max-listpack-size -2``: at most 8 KiB per node (quicklist.c optimization_level)
QUICKLIST_NODE_BYTES: Final = 8192
#: ``list-max-listpack-size``'s default: a list's nodes hold at most 8 KiB
LIST_MAX_LISTPACK_SIZE: Final = -2
#: ``optimization_level``: the node sizes of fill -1 .. -5 (4 KiB .. 64 KiB)
OPTIMIZATION_LEVEL: Final = (4096, 8192, 16384, 32768, 65536)
#: ``SIZE_SAFETY_LIMIT``: a node limited by count still stops at 8 KiB
SIZE_SAFETY_LIMIT: Final = 8192
#: ``FILL_MAX``: the most elements a count limit can ask per node
FILL_MAX: Final = (1 << 15) - 1
#: ``hash-max-listpack-entries`` / ``hash-max-listpack-value`` (Redis 7.0 defaults)
HASH_MAX_LISTPACK_ENTRIES: Final = 512
HASH_MAX_LISTPACK_VALUE: Final = 64

_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1


def string_to_int64(s: bytes) -> int | None:
    """``lpStringToInt64``: the value if ``s`` is the canonical decimal form of a 64-bit
    integer (no sign but ``-``, no leading zero, shorter than 21 bytes), else None."""
    n = len(s)
    if n == 0 or n >= 21:
        return None
    if s == b"0":
        return 0
    digits = s[1:] if s[0] == 45 else s  # '-'
    if not digits or not digits.isdigit() or digits[0] == 48:  # (isdigit: ASCII only)
        return None
    v = int(s)
    return v if _INT64_MIN <= v <= _INT64_MAX else None


def _backlen(n: int) -> bytes:
    """``lpEncodeBacklen``: ``n`` in 1 to 5 bytes, the most significant 7 bits first, every
    byte but the first with its top bit set."""
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128,
                      (n & 127) | 128))
    return bytes((n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128,
                  ((n >> 7) & 127) | 128, (n & 127) | 128))


def entry(ele: bytes) -> bytes:
    """One element as ``lpInsert`` writes it: encoding, data, backlen."""
    v = string_to_int64(ele)
    if v is not None:
        if 0 <= v <= 127:
            enc = bytes((v,))
        elif -4096 <= v <= 4095:
            u = v & 0x1FFF
            enc = bytes(((u >> 8) | 0xC0, u & 0xFF))
        elif -32768 <= v <= 32767:
            enc = b"\xf1" + (v & 0xFFFF).to_bytes(2, "little")
        elif -8388608 <= v <= 8388607:
            enc = b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little")
        elif -2147483648 <= v <= 2147483647:
            enc = b"\xf3" + (v & 0xFFFFFFFF).to_bytes(4, "little")
        else:
            enc = b"\xf4" + (v & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
    else:
        n = len(ele)
        if n < 64:
            enc = bytes((0x80 | n,)) + ele
        elif n < 4096:
            enc = bytes((0xE0 | (n >> 8), n & 0xFF)) + ele
        else:
            enc = b"\xf0" + n.to_bytes(4, "little") + ele
    return enc + _backlen(len(enc))


def _backlen_size(n: int) -> int:
    return 1 if n <= 127 else 2 if n < 16383 else 3 if n < 2097151 else 4 if n < 268435455 else 5


def entry_size(ele: bytes) -> int:
    """``len(entry(ele))`` without building it."""
    v = string_to_int64(ele)
    if v is not None:
        if 0 <= v <= 127:
            enc = 1
        elif -4096 <= v <= 4095:
            enc = 2
        elif -32768 <= v <= 32767:
            enc = 3
        elif -8388608 <= v <= 8388607:
            enc = 4
        elif -2147483648 <= v <= 2147483647:
            enc = 5
        else:
            enc = 9
    else:
        n = len(ele)
        enc = 1 + n if n < 64 else 2 + n if n < 4096 else 5 + n
    return enc + _backlen_size(enc)


def listpack_size(elements: Iterable[bytes]) -> int:
    """``lpBytes`` of a listpack holding ``elements``."""
    return LP_HDR_SIZE + sum(entry_size(e) for e in elements) + 1


def listpack(elements: Iterable[bytes]) -> bytes:
    """The bytes of a listpack holding ``elements`` in order."""
    body = [entry(e) for e in elements]
    total = LP_HDR_SIZE + sum(len(b) for b in body) + 1
    count = min(len(body), 65535)  # LP_HDR_NUMELE_UNKNOWN from 65535 elements on
    return (total.to_bytes(4, "little") + count.to_bytes(2, "little") + b"".join(body)
            + bytes((LP_EOF,)))


#: ``SIZE_ESTIMATE_OVERHEAD``: what ``_quicklistNodeAllowInsert`` adds to an element's length
#: as its listpack overhead (an overestimate: at most 5 + 5 bytes, usually 2)
SIZE_ESTIMATE_OVERHEAD: Final = 8


def quicklist_fill(fill: int) -> int:
    """``quicklistSetFill``: list-max-listpack-size as a quicklist keeps it (at most
    FILL_MAX elements a node, and no size limit beyond -5's 64 KiB)."""
    return FILL_MAX if fill > FILL_MAX else -5 if fill < -5 else fill


def node_allows_insert(node_bytes: int, count: int, item_len: int, fill: int) -> bool:
    """``_quicklistNodeAllowInsert`` for a node of ``node_bytes`` (its listpack's lpBytes)
    holding ``count`` elements: whether one of ``item_len`` bytes joins it. A negative fill
    limits the node's estimated size (-1 4 KiB .. -5 64 KiB); a positive one its count, and
    then its size to 8 KiB as well; 0 gives every element a node of its own."""
    new_sz = node_bytes + item_len + SIZE_ESTIMATE_OVERHEAD
    if fill < 0:
        return new_sz <= OPTIMIZATION_LEVEL[-fill - 1]
    return new_sz <= SIZE_SAFETY_LIMIT and count < fill


def _node_bounds(items: Sequence[bytes], fill: int) -> list[tuple[int, int, int]]:
    """(start, end, lpBytes) of each node RPUSH of ``items`` leaves, head first."""
    bounds: list[tuple[int, int, int]] = []
    start = 0
    cur_sz = 0  # bytes of the current node's listpack (0: no node yet)
    for i, item in enumerate(items):
        size = entry_size(item)
        if cur_sz and node_allows_insert(cur_sz, i - start, len(item), fill):
            cur_sz += size
            continue
        if cur_sz:
            bounds.append((start, i, cur_sz))
        start = i
        cur_sz = LP_HDR_SIZE + 1 + size
    if cur_sz:
        bounds.append((start, len(items), cur_sz))
    return bounds


def quicklist_nodes(items: Sequence[bytes], fill: int = LIST_MAX_LISTPACK_SIZE) -> list[bytes]:
    """The listpacks of the nodes RPUSH of ``items`` (in order) leaves, head first, under a
    quicklist's ``fill`` (list-max-listpack-size, as :func:`quicklist_fill` keeps it)."""
    return [listpack(items[a:b]) for a, b, _ in _node_bounds(items, fill)]


def quicklist_node_sizes(items: Sequence[bytes], fill: int = LIST_MAX_LISTPACK_SIZE) -> list[int]:
    """``lpBytes`` of each node of :func:`quicklist_nodes`, without building them."""
    return [n for _, _, n in _node_bounds(items, fill)]


class Quicklist(deque):
    """A list value (7.0 has no other encoding of a list): its elements, and the fill its
    quicklist was created with (``quicklistCreate`` reads list-max-listpack-size then; a
    later CONFIG SET does not change the lists that exist). A load gives a list back the
    nodes it was saved with (``quicklistAppendListpack``), so a loaded list keeps its fill
    here too."""

    __slots__ = ("fill",)

    def __init__(self, items: Iterable[bytes] = (), fill: int = LIST_MAX_LISTPACK_SIZE):
        super().__init__(items)
        self.fill = fill

    def copy(self) -> Quicklist:
        return Quicklist(self, self.fill)

    def __copy__(self) -> Quicklist:
        return self.copy()

    def __reduce__(self) -> tuple[type, tuple[list[bytes], int]]:
        return Quicklist, (list(self), self.fill)


class HashTable(dict):
    """A hash Redis has converted to a hash table (``OBJ_ENCODING_HT``): ``hashTypeSet``
    converts a listpack hash once it holds more than hash-max-listpack-entries fields or is
    given a field or value longer than hash-max-listpack-value, and nothing converts it back
    while the process lives, however few fields remain. A load (an RDB, or an AOF's RDB
    preamble) builds the small ones as listpacks again (see :func:`loaded_hash`)."""

    __slots__ = ()

    def copy(self) -> HashTable:  # (dict's copy would give a plain dict: a listpack)
        return HashTable(self)


def hash_is_listpack(h: dict[bytes, bytes]) -> bool:
    """Whether a hash is listpack-encoded. The encoding is the object's state, as in Redis:
    a plain dict is a listpack, a :class:`HashTable` one that a write (or a load) found past
    the limits of its moment. A lowered limit converts no hash until its next write, so the
    encoding cannot be told from the fields and today's limits."""
    return type(h) is not HashTable


def loaded_hash(h: dict[bytes, bytes], max_entries: int = HASH_MAX_LISTPACK_ENTRIES,
                max_value: int = HASH_MAX_LISTPACK_VALUE) -> dict[bytes, bytes]:
    """The hash ``rdbLoadObject`` builds from a saved one under the loading process's limits:
    a listpack (a plain dict here) when it has at most ``max_entries`` fields and no field
    or value longer than ``max_value``, else a hash table (whichever encoding it was saved
    in)."""
    if len(h) <= max_entries and all(len(f) <= max_value and len(v) <= max_value
                                     for f, v in h.items()):
        return dict(h)
    return HashTable(h)
