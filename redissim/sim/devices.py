"""Storage and memory latency tiers, as queueing SimPy devices, plus the OS page cache.

Models the hardware below both servers: Redis persistence (``aof.c:flushAppendOnlyFile`` does
``write(2)`` then ``fdatasync``; ``rdb.c`` writes the snapshot and fsyncs every 4 MB) and the
PostgreSQL buffer manager (``storage/buffer/bufmgr.c:ReadBuffer_common`` falls back to
``smgrread`` -> ``pread`` on a shared-buffer miss; ``access/transam/xlog.c:XLogFlush`` writes
and fsyncs WAL). The kernel side -- the page cache, ``dirty_expire_centisecs`` writeback and
what a power loss throws away -- is ``OSPageCache`` (Linux ``mm/filemap.c``,
``mm/page-writeback.c:wb_workfn``).

A device has a read latency, a write latency plus a bandwidth term, and an fsync latency, each
drawn from a lognormal distribution with a given mean and coefficient of variation (cv = 0 is a
constant). Requests queue for ``queue_depth`` slots (the device's parallelism, e.g. NVMe 32+,
an HDD 1 head), and fsyncs are serialised per device (one fsync at a time per file, which is
what one AOF or WAL file sees: the kernel holds the inode lock during ``fdatasync``).

Times are float seconds (``sim/clock.py``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Generator, Hashable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import simpy
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from redissim.units import parse_bandwidth, parse_time

SimGen = Generator[simpy.Event, Any, Any]

KiB = 1024
MiB = 1024 * 1024
GiB = 1024 * MiB


class LatencyDist(BaseModel):
    """A positive latency: lognormal with ``mean_s`` and coefficient of variation ``cv``.

    A scenario may write just a time ("100us", 0.0001): a constant latency.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean_s: Annotated[float, BeforeValidator(parse_time)] = Field(ge=0.0)
    cv: float = Field(default=0.0, ge=0.0)

    @model_validator(mode="before")
    @classmethod
    def _from_scalar(cls, data: Any) -> Any:
        if isinstance(data, str | int | float) and not isinstance(data, bool):
            return {"mean_s": parse_time(data)}
        return data

    def sample(self, rng: np.random.Generator) -> float:
        if self.cv == 0.0 or self.mean_s == 0.0:
            return self.mean_s
        # Lognormal with the requested mean and cv: sigma^2 = ln(1 + cv^2), mu = ln m - s^2/2.
        s2 = math.log1p(self.cv * self.cv)
        return float(rng.lognormal(math.log(self.mean_s) - s2 / 2.0, math.sqrt(s2)))


Bandwidth = Annotated[float, BeforeValidator(parse_bandwidth), Field(gt=0)]

DeviceName = Literal["cpu-cache", "ram", "nvme", "ssd", "hdd", "cloud"]


class DeviceSpec(BaseModel):
    """One storage/memory tier. Scenarios name a ``preset`` and may override any field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: DeviceName | None = None
    name: str = "custom"
    #: random read of ``block_size`` bytes (time to first byte + transfer of one block)
    read_latency: LatencyDist = LatencyDist(mean_s=100e-6)
    #: extra seconds per byte read beyond one block = 1 / read bandwidth
    read_bandwidth_bps: Bandwidth = 500 * MiB
    #: fixed cost of a write request, plus nbytes / write_bandwidth
    write_latency: LatencyDist = LatencyDist(mean_s=20e-6)
    write_bandwidth_bps: Bandwidth = 500 * MiB
    #: fdatasync of already-written data (cache flush / FUA round trip)
    fsync_latency: LatencyDist = LatencyDist(mean_s=1e-3)
    #: requests the device services in parallel (NCQ/NVMe queue depth, 1 for a disk head)
    queue_depth: int = Field(default=32, ge=1)
    block_size: int = Field(default=4096, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset"):
            if data["preset"] not in PRESETS:
                raise ValueError(f"unknown device preset {data['preset']!r}; "
                                 f"choose one of {', '.join(PRESETS)}")
            base = dict(PRESETS[data["preset"]])
            base.update(data)
            return base
        return data


# Presets. Every figure is an order-of-magnitude default with its source; calibrate a real
# machine with benchmarks/pg_calibrate.py (pg_test_fsync) and override fields in a scenario.
PRESETS: dict[str, dict[str, Any]] = {
    # L1/L2 hit ~1 ns: lesson memory ladder "CPU Cache ~1 nanosecond"; Jeff Dean's "latency
    # numbers every programmer should know" (L1 0.5 ns, L2 7 ns). Bandwidth ~100 GB/s per core.
    "cpu-cache": {
        "name": "cpu-cache", "read_latency": {"mean_s": 1e-9},
        "read_bandwidth_bps": 100 * GiB, "write_latency": {"mean_s": 1e-9},
        "write_bandwidth_bps": 100 * GiB, "fsync_latency": {"mean_s": 0.0},
        "queue_depth": 64, "block_size": 64,
    },
    # DRAM reference ~100 ns: lesson ladder and tools-and-sizing.md 4.4; ~10-20 GB/s streaming.
    "ram": {
        "name": "ram", "read_latency": {"mean_s": 100e-9},
        "read_bandwidth_bps": 10 * GiB, "write_latency": {"mean_s": 100e-9},
        "write_bandwidth_bps": 10 * GiB, "fsync_latency": {"mean_s": 0.0},
        "queue_depth": 64, "block_size": 64,
    },
    # NVMe: 4 KiB random read ~16 us (tools-and-sizing.md 4.4; redis-internals 8.2 gives
    # 50-150 us for NVMe/SSD including the kernel path), ~2 GB/s sequential write; consumer
    # NVMe without power-loss protection needs a cache flush per fdatasync, ~0.2-1 ms
    # (pg_test_fsync figures on such drives); datacenter NVMe with PLP is ~20-50 us.
    "nvme": {
        "name": "nvme", "read_latency": {"mean_s": 20e-6, "cv": 0.3},
        "read_bandwidth_bps": 3 * GiB, "write_latency": {"mean_s": 10e-6, "cv": 0.3},
        "write_bandwidth_bps": 2 * GiB, "fsync_latency": {"mean_s": 300e-6, "cv": 0.5},
        "queue_depth": 32, "block_size": 4096,
    },
    # SATA SSD: ~100 us random read (lesson ladder "SSD ~100 microseconds"), AHCI queue depth
    # 32 (NCQ), ~500 MB/s (SATA III ceiling), fdatasync a flush of the drive cache ~1-2 ms.
    "ssd": {
        "name": "ssd", "read_latency": {"mean_s": 100e-6, "cv": 0.3},
        "read_bandwidth_bps": 500 * MiB, "write_latency": {"mean_s": 50e-6, "cv": 0.3},
        "write_bandwidth_bps": 450 * MiB, "fsync_latency": {"mean_s": 1.5e-3, "cv": 0.5},
        "queue_depth": 32, "block_size": 4096,
    },
    # 7200 rpm HDD: seek + half a rotation ~10 ms (lesson ladder "HDD ~10 milliseconds";
    # tools-and-sizing 4.4 "seek 2-10 ms"), one head -> queue depth 1, ~150 MB/s sequential;
    # an fsync waits for a seek plus rotation too (~8-10 ms).
    "hdd": {
        "name": "hdd", "read_latency": {"mean_s": 10e-3, "cv": 0.4},
        "read_bandwidth_bps": 150 * MiB, "write_latency": {"mean_s": 100e-6, "cv": 0.3},
        "write_bandwidth_bps": 150 * MiB, "fsync_latency": {"mean_s": 8e-3, "cv": 0.4},
        "queue_depth": 1, "block_size": 4096,
    },
    # Cloud network block volume (EBS gp3-like): ~150 us 4 KiB read (tools-and-sizing 4.4),
    # 125 MB/s baseline throughput (gp3), fsync is a network round trip to replicated storage
    # ~1 ms (gp3 documents "single-digit millisecond" latency).
    "cloud": {
        "name": "cloud", "read_latency": {"mean_s": 150e-6, "cv": 0.5},
        "read_bandwidth_bps": 125 * MiB, "write_latency": {"mean_s": 150e-6, "cv": 0.5},
        "write_bandwidth_bps": 125 * MiB, "fsync_latency": {"mean_s": 1e-3, "cv": 0.5},
        "queue_depth": 16, "block_size": 4096,
    },
}


def device_spec(preset: str, **overrides: Any) -> DeviceSpec:
    """The spec of a named preset with optional field overrides."""
    return DeviceSpec.model_validate({"preset": preset, **overrides})


@dataclass
class DeviceStats:
    """Counters of one device (iostat-like)."""

    reads: int = 0
    writes: int = 0
    fsyncs: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    busy_time_s: float = 0.0        # sum of service times (can exceed elapsed with depth > 1)
    read_wait_s: float = 0.0        # time read requests spent queued for a slot
    fsync_wait_s: float = 0.0       # time fsyncs spent waiting for the previous fsync


class StorageDevice:
    """A device with ``queue_depth`` parallel slots; reads, writes and fsyncs take time.

    ``read``, ``write`` and ``fsync`` are generators: ``yield from dev.read(8192)`` inside a
    SimPy process (or ``yield env.process(dev.read(8192))``). Each returns the seconds the
    request took from call to completion, queueing included.
    """

    def __init__(self, env: simpy.Environment, spec: DeviceSpec, rng: np.random.Generator):
        self.env = env
        self.spec = spec
        self.rng = rng
        self.slots = simpy.Resource(env, capacity=spec.queue_depth)
        # One fdatasync at a time (per file; the model has one data file per device user).
        self.fsync_lock = simpy.Resource(env, capacity=1)
        self.stats = DeviceStats()

    def read_service_time(self, nbytes: int) -> float:
        extra = max(0, nbytes - self.spec.block_size)
        return self.spec.read_latency.sample(self.rng) + extra / self.spec.read_bandwidth_bps

    def write_service_time(self, nbytes: int) -> float:
        return self.spec.write_latency.sample(self.rng) + nbytes / self.spec.write_bandwidth_bps

    def read(self, nbytes: int) -> SimGen:
        t0 = self.env.now
        with self.slots.request() as req:
            yield req
            self.stats.read_wait_s += self.env.now - t0
            service = self.read_service_time(nbytes)
            yield self.env.timeout(service)
        self.stats.reads += 1
        self.stats.bytes_read += nbytes
        self.stats.busy_time_s += service
        return self.env.now - t0

    def write(self, nbytes: int) -> SimGen:
        t0 = self.env.now
        with self.slots.request() as req:
            yield req
            service = self.write_service_time(nbytes)
            yield self.env.timeout(service)
        self.stats.writes += 1
        self.stats.bytes_written += nbytes
        self.stats.busy_time_s += service
        return self.env.now - t0

    def fsync(self) -> SimGen:
        t0 = self.env.now
        with self.fsync_lock.request() as lock:
            yield lock
            self.stats.fsync_wait_s += self.env.now - t0
            with self.slots.request() as req:
                yield req
                service = self.spec.fsync_latency.sample(self.rng)
                yield self.env.timeout(service)
        self.stats.fsyncs += 1
        self.stats.busy_time_s += service
        return self.env.now - t0


PageKey = Hashable


@dataclass
class PageCacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    writeback_pages: int = 0      # dirty pages written back by the flusher (age-based)
    fsync_pages: int = 0          # dirty pages written by an explicit fsync
    lost_on_power_loss: int = 0


class OSPageCache:
    """The Linux page cache in front of one ``StorageDevice``.

    * ``read(key)``: a hit costs a memory copy (``copy_s``); a miss reads the page from the
      device and inserts it, evicting the least recently used clean page (the kernel's
      active/inactive LRU lists, simplified to one LRU).
    * ``write(key)``: a buffered ``write(2)``: the page becomes dirty in memory, no device I/O.
    * ``fsync(keys)``: writes the given dirty pages (one file's) and flushes the device cache.
    * While dirty pages exist, a flusher process wakes every ``writeback_interval_s``
      (``dirty_writeback_centisecs`` = 500 -> 5 s) and writes back pages dirty for longer than
      ``dirty_expire_s``
      (``dirty_expire_centisecs`` = 3000 -> 30 s). Redis's docs: with ``appendfsync no`` the
      kernel flushes "normally every 30 seconds".
    * ``power_loss()`` drops every dirty page, returning the keys lost.

    Pages are identified by any hashable key, e.g. ``(file, block_no)``; one key = one cache
    unit of ``page_size`` bytes (PostgreSQL reads 8 kB blocks, i.e. two 4 KiB kernel pages
    always read together here; readahead is not modelled).
    """

    def __init__(self, env: simpy.Environment, device: StorageDevice, capacity_pages: int,
                 page_size: int = 4096, copy_s: float = 1.0e-6,
                 dirty_expire_s: float = 30.0, writeback_interval_s: float = 5.0,
                 start_flusher: bool = True):
        if capacity_pages < 1:
            raise ValueError("capacity_pages must be >= 1")
        self.env = env
        self.device = device
        self.capacity = capacity_pages
        self.page_size = page_size
        self.copy_s = copy_s
        self.dirty_expire_s = dirty_expire_s
        self.writeback_interval_s = writeback_interval_s
        self._lru: OrderedDict[PageKey, None] = OrderedDict()
        self.dirty: dict[PageKey, float] = {}  # key -> time it became dirty
        self._inflight: dict[PageKey, simpy.Event] = {}
        self.stats = PageCacheStats()
        # The flusher runs only while there are dirty pages, so an idle cache schedules no
        # events and ``env.run()`` without ``until`` still ends.
        self._flusher_enabled = start_flusher and writeback_interval_s > 0
        self._flusher_running = False

    def __contains__(self, key: PageKey) -> bool:
        return key in self._lru

    def __len__(self) -> int:
        return len(self._lru)

    def warm(self, keys: Any) -> None:
        """Pre-load pages (a warm cache), most recently used last, up to capacity."""
        for k in keys:
            if len(self._lru) >= self.capacity:
                break
            self._lru[k] = None

    def _insert(self, key: PageKey) -> None:
        self._lru[key] = None
        self._lru.move_to_end(key)
        while len(self._lru) > self.capacity:
            # Prefer a clean victim (dirty pages must be written first; the kernel throttles
            # writers instead). Scan from the cold end.
            victim = next((k for k in self._lru if k not in self.dirty), None)
            if victim is None:
                victim = next(iter(self._lru))
                self.dirty.pop(victim, None)
                self.stats.writeback_pages += 1
            del self._lru[victim]
            self.stats.evictions += 1

    def lookup(self, key: PageKey) -> bool:
        """A cache hit without the copy time (the caller charges ``copy_s`` as CPU): True if
        the page is cached (and marks it recently used), False otherwise."""
        if key in self._lru:
            self._lru.move_to_end(key)
            self.stats.hits += 1
            return True
        return False

    def mark_dirty(self, key: PageKey) -> None:
        """A buffered write without the copy time (the caller charges ``copy_s``)."""
        self._insert(key)
        self.dirty.setdefault(key, self.env.now)
        if self._flusher_enabled and not self._flusher_running:
            self._flusher_running = True
            self.env.process(self._flusher())

    def read(self, key: PageKey) -> SimGen:
        """Read one page; returns True on a cache hit, False when the device was read."""
        if key in self._lru:
            self._lru.move_to_end(key)
            self.stats.hits += 1
            if self.copy_s:
                yield self.env.timeout(self.copy_s)
            return True
        pending = self._inflight.get(key)
        if pending is not None:  # someone is already reading it: wait for that I/O
            self.stats.hits += 1
            yield pending
            return True
        self.stats.misses += 1
        ev = self.env.event()
        self._inflight[key] = ev
        yield from self.device.read(self.page_size)
        del self._inflight[key]
        self._insert(key)
        ev.succeed()
        return False

    def write(self, key: PageKey) -> SimGen:
        """Buffered write of one page: it becomes dirty in memory."""
        self.mark_dirty(key)
        if self.copy_s:
            yield self.env.timeout(self.copy_s)

    def fsync(self, keys: Any = None) -> SimGen:
        """Write back the dirty pages among ``keys`` (all dirty pages if None), then flush."""
        todo = list(self.dirty) if keys is None else [k for k in keys if k in self.dirty]
        for k in todo:
            self.dirty.pop(k, None)
        if todo:
            self.stats.fsync_pages += len(todo)
            yield from self.device.write(len(todo) * self.page_size)
        yield from self.device.fsync()

    def _flusher(self) -> SimGen:
        while self.dirty:
            yield self.env.timeout(self.writeback_interval_s)
            cutoff = self.env.now - self.dirty_expire_s
            old = [k for k, t in self.dirty.items() if t <= cutoff]
            if old:
                for k in old:
                    del self.dirty[k]
                self.stats.writeback_pages += len(old)
                yield from self.device.write(len(old) * self.page_size)
        self._flusher_running = False

    def power_loss(self) -> list[PageKey]:
        """The machine loses power: dirty pages never reached the device. Returns them."""
        lost = list(self.dirty)
        for k in lost:
            self._lru.pop(k, None)
        self.dirty.clear()
        self.stats.lost_on_power_loss += len(lost)
        return lost
