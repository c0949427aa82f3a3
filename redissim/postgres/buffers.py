"""shared_buffers: the buffer mapping table and clock-sweep replacement with usage_count.

Models ``storage/buffer/bufmgr.c`` (``BufferAlloc``, ``PinBuffer``, ``UnpinBuffer``) and
``storage/buffer/freelist.c:StrategyGetBuffer`` / ``ClockSweepTick``:

* a lookup of a tag (relation, block) in the mapping table (``buf_table.c``); a hit pins the
  buffer and bumps its ``usage_count`` up to ``BM_MAX_USAGE_COUNT`` = 5
  (``include/storage/buf_internals.h``);
* a miss takes a never-used buffer while there is one (the free list after startup), else runs
  the clock hand: a pinned buffer is skipped, a buffer with usage_count > 0 is decremented and
  skipped, the first unpinned buffer with usage_count 0 is the victim. If it is dirty the
  backend must write it out first (counted as ``buffers_backend``, pg_stat_bgwriter).
* the new page arrives pinned with usage_count 1 (PinBuffer on a fresh buffer).

Only the replacement decision and the bookkeeping live here; the I/O (OS page cache, device)
and its time are driven by ``pipeline.py``. A buffer whose read is in progress is pinned and
carries an event other backends wait on (``BM_IO_IN_PROGRESS`` / ``WaitIO``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import simpy

BM_MAX_USAGE_COUNT = 5

Tag = Hashable


class NoUnpinnedBuffers(RuntimeError):
    """PostgreSQL's 'no unpinned buffers available' (every buffer is pinned)."""


@dataclass
class Lookup:
    """Result of ``SharedBuffers.lookup``."""

    buf: int
    hit: bool
    #: set on a miss: the tag and dirty flag of the evicted page, if any
    evicted: Tag | None = None
    evicted_dirty: bool = False
    #: on a hit whose read is still in progress: the event to wait on
    io_wait: simpy.Event | None = None


class SharedBuffers:
    """A pool of ``nbuffers`` 8 kB buffers with clock-sweep replacement."""

    def __init__(self, nbuffers: int):
        if nbuffers < 1:
            raise ValueError("nbuffers must be >= 1")
        self.nbuffers = nbuffers
        self.tags: list[Tag | None] = [None] * nbuffers
        self.usage: list[int] = [0] * nbuffers
        self.pins: list[int] = [0] * nbuffers
        self.dirty: list[bool] = [False] * nbuffers
        self.io_in_progress: dict[int, simpy.Event] = {}
        self.table: dict[Tag, int] = {}
        self.next_victim = 0
        self._never_used = 0          # buffers 0.._never_used-1 have been handed out
        # Counters (pg_stat_database / pg_stat_bgwriter names).
        self.blks_hit = 0
        self.blks_read = 0
        self.buffers_alloc = 0
        self.buffers_backend = 0      # dirty victims written by a backend
        self.clock_ticks = 0          # hand advances (complete passes = ticks / nbuffers)

    def __len__(self) -> int:
        return len(self.table)

    def __contains__(self, tag: Tag) -> bool:
        return tag in self.table

    def warm(self, tags: Iterable[Tag], usage_count: int = 1) -> int:
        """Load pages without I/O (a warm start, as after pg_prewarm). Returns how many."""
        n = 0
        for tag in tags:
            if self._never_used >= self.nbuffers:
                break
            if tag in self.table:
                continue
            b = self._never_used
            self._never_used += 1
            self.tags[b] = tag
            self.usage[b] = min(usage_count, BM_MAX_USAGE_COUNT)
            self.table[tag] = b
            n += 1
        return n

    def _victim(self) -> int:
        if self._never_used < self.nbuffers:
            b = self._never_used
            self._never_used += 1
            return b
        # Each pass decrements every unpinned usage_count, so 5 + 1 full passes always find
        # a victim unless everything is pinned.
        for _ in range((BM_MAX_USAGE_COUNT + 1) * self.nbuffers + 1):
            b = self.next_victim
            self.next_victim = (b + 1) % self.nbuffers
            self.clock_ticks += 1
            if self.pins[b]:
                continue
            if self.usage[b] > 0:
                self.usage[b] -= 1
                continue
            return b
        raise NoUnpinnedBuffers("no unpinned buffers available")

    def lookup(self, tag: Tag) -> Lookup:
        """Find or allocate a buffer for ``tag`` and pin it. The caller must ``unpin``."""
        b = self.table.get(tag)
        if b is not None:
            self.pins[b] += 1
            if self.usage[b] < BM_MAX_USAGE_COUNT:
                self.usage[b] += 1
            self.blks_hit += 1
            return Lookup(b, True, io_wait=self.io_in_progress.get(b))
        b = self._victim()
        old = self.tags[b]
        old_dirty = self.dirty[b]
        if old is not None:
            del self.table[old]
            if old_dirty:
                self.buffers_backend += 1
        self.tags[b] = tag
        self.table[tag] = b
        self.usage[b] = 1
        self.pins[b] = 1
        self.dirty[b] = False
        self.blks_read += 1
        self.buffers_alloc += 1
        return Lookup(b, False, evicted=old, evicted_dirty=old_dirty)

    def start_io(self, buf: int, event: simpy.Event) -> None:
        self.io_in_progress[buf] = event

    def finish_io(self, buf: int) -> None:
        ev = self.io_in_progress.pop(buf, None)
        if ev is not None and not ev.triggered:
            ev.succeed()

    def unpin(self, buf: int) -> None:
        if self.pins[buf] <= 0:
            raise RuntimeError(f"buffer {buf} is not pinned")
        self.pins[buf] -= 1

    def mark_dirty(self, buf: int) -> None:
        self.dirty[buf] = True

    @property
    def hit_ratio(self) -> float:
        total = self.blks_hit + self.blks_read
        return self.blks_hit / total if total else 0.0
