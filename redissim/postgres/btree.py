"""Geometry of a table and its B-tree primary-key index: pages, depth, and which pages a
point lookup touches.

Models ``access/nbtree`` (``nbtsort.c`` bulk build from ``CREATE INDEX`` / pgbench -i, leaf
fillfactor ``BTREE_DEFAULT_FILLFACTOR`` 90, internal pages ``BTREE_NONLEAF_FILLFACTOR`` 70, both
in ``include/access/nbtree.h``) and the heap layout of ``access/heap/hio.c`` (tuples appended in
insertion order, ``fillfactor`` percent of each page used). Reference: redis-internals.md 8.4.

Sizes (``include/storage/bufpage.h``, ``include/access/htup_details.h``, ``itup.h``):
page header 24 B, B-tree special space 16 B, line pointer 4 B, index tuple header 8 B, heap
tuple header 23 B, all tuples MAXALIGNed to 8 B. For an int4 key: index tuple 16 B + 4 B
pointer = 20 B -> 407 per page -> 366 per leaf (90 %), 285 per internal page (70 %), giving the
depths of 8.4: <= ~367 rows -> 1 level, <= ~100 k -> 2, <= ~30 M -> 3, <= ~8 G -> 4.

The metapage (block 0) is read once and cached in the relcache (``_bt_getroot`` uses
``rd_amcache``), so a lookup touches ``depth`` index pages plus one heap page.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

BLCKSZ = 8192
PAGE_HEADER = 24           # SizeOfPageHeaderData
BT_SPECIAL = 16            # MAXALIGN(sizeof(BTPageOpaqueData))
LINE_POINTER = 4           # sizeof(ItemIdData)
INDEX_TUPLE_HEADER = 8     # sizeof(IndexTupleData)
HEAP_TUPLE_HEADER = 23     # SizeofHeapTupleHeader
MAXALIGN = 8
LEAF_FILLFACTOR = 90
NONLEAF_FILLFACTOR = 70


def maxalign(n: int) -> int:
    return (n + MAXALIGN - 1) // MAXALIGN * MAXALIGN


def index_tuples_per_page(key_width: int) -> int:
    """Index tuples that fit in an empty B-tree page (no fillfactor)."""
    usable = BLCKSZ - PAGE_HEADER - BT_SPECIAL
    return usable // (maxalign(INDEX_TUPLE_HEADER + key_width) + LINE_POINTER)


def _build_capacity(key_width: int, fillfactor: int) -> int:
    # nbtsort.c starts a new page once the free space left is below
    # BLCKSZ * (100 - fillfactor) / 100 (``btps_full``), checked before each add.
    per_tuple = maxalign(INDEX_TUPLE_HEADER + key_width) + LINE_POINTER
    usable = BLCKSZ - PAGE_HEADER - BT_SPECIAL
    full = BLCKSZ * (100 - fillfactor) // 100
    return max(2, (usable - full) // per_tuple + 1)


def leaf_capacity(key_width: int = 4) -> int:
    """Tuples per leaf page at build time (fillfactor 90 %): 367 for int4."""
    return _build_capacity(key_width, LEAF_FILLFACTOR)


def internal_capacity(key_width: int = 4) -> int:
    """Downlinks per internal page at build time (fillfactor 70 %): 285 for int4."""
    return _build_capacity(key_width, NONLEAF_FILLFACTOR)


def heap_rows_per_page(row_width: int, fillfactor: int = 100) -> int:
    """Rows per heap page: the 23 B header padded to 8 (``t_hoff``), then the data, the whole
    tuple MAXALIGNed, plus a line pointer each. pgbench_accounts (97 B) -> 61 rows/page."""
    usable = (BLCKSZ - PAGE_HEADER) * fillfactor // 100
    tuple_len = maxalign(maxalign(HEAP_TUPLE_HEADER) + row_width)
    return max(1, usable // (tuple_len + LINE_POINTER))


def btree_level_pages(rows: int, key_width: int = 4) -> list[int]:
    """Pages per level, leaf level first, root level (one page) last."""
    leaf_cap, int_cap = leaf_capacity(key_width), internal_capacity(key_width)
    pages = [max(1, math.ceil(rows / leaf_cap))]
    while pages[-1] > 1:
        pages.append(math.ceil(pages[-1] / int_cap))
    return pages


def btree_depth(rows: int, key_width: int = 4) -> int:
    """Levels from root to leaf inclusive (pageinspect's root ``level`` + 1)."""
    return len(btree_level_pages(rows, key_width))


@dataclass(frozen=True)
class TableGeometry:
    """Page layout of one table and its primary-key index, keys 0..rows-1 in order.

    Buffer tags are ``(relation, block)`` with relation ``name`` for the heap and
    ``name + "_pkey"`` for the index, like PostgreSQL's (relfilenode, block number).
    """

    name: str
    rows: int
    row_width: int
    key_width: int = 4
    fillfactor: int = 100

    @cached_property
    def rows_per_page(self) -> int:
        return heap_rows_per_page(self.row_width, self.fillfactor)

    @cached_property
    def heap_pages(self) -> int:
        return math.ceil(self.rows / self.rows_per_page)

    @cached_property
    def level_pages(self) -> list[int]:
        return btree_level_pages(self.rows, self.key_width)

    @cached_property
    def depth(self) -> int:
        return len(self.level_pages)

    @cached_property
    def index_pages(self) -> int:
        return 1 + sum(self.level_pages)  # + metapage

    @property
    def index_rel(self) -> str:
        return self.name + "_pkey"

    @cached_property
    def _caps(self) -> tuple[int, int]:
        return leaf_capacity(self.key_width), internal_capacity(self.key_width)

    @cached_property
    def _level_offsets(self) -> list[int]:
        # Block numbers: 0 = metapage, then the leaf level, then each level above.
        offs, b = [], 1
        for n in self.level_pages:
            offs.append(b)
            b += n
        return offs

    def index_path(self, key: int) -> list[tuple[str, int]]:
        """Index pages a descent to ``key`` reads, root first."""
        if not 0 <= key < self.rows:
            raise KeyError(f"key {key} outside 0..{self.rows - 1}")
        leaf_cap, int_cap = self._caps
        offs = self._level_offsets
        path = []
        span = leaf_cap
        for level in range(self.depth):
            path.append((self.index_rel, offs[level] + key // span))
            span *= int_cap
        path.reverse()
        return path

    def heap_page(self, key: int) -> tuple[str, int]:
        if not 0 <= key < self.rows:
            raise KeyError(f"key {key} outside 0..{self.rows - 1}")
        return (self.name, key // self.rows_per_page)

    def prewarm_order(self) -> Iterator[tuple[str, int]]:
        """Pages in the order a warm start loads them: index root..leaves, then the heap
        (what ``pg_prewarm`` of the index then the table leaves behind). Lazy: a cache
        stops consuming when it is full."""
        offs = self._level_offsets
        for level in reversed(range(self.depth)):
            for i in range(self.level_pages[level]):
                yield (self.index_rel, offs[level] + i)
        for b in range(self.heap_pages):
            yield (self.name, b)
