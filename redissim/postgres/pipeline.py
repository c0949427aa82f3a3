"""The simulated PostgreSQL 15 server: backends on N cores running the query pipeline.

Models the path of a query (docs "The Path of a Query"; ``tcop/postgres.c``):
receive -> parse -> analyze/rewrite -> plan (or Bind with a cached plan) -> execute -> send,
with the executor descending the primary-key B-tree (``access/nbtree/nbtsearch.c:_bt_search``)
and fetching one heap tuple (``access/heap/heapam.c``). Every page goes through shared_buffers
(``buffers.py``), then the OS page cache, then the storage device (``sim/devices.py``). An
UPDATE also locks the row, updates it in place (HOT), inserts WAL, and at commit waits for the
WAL flush with group commit (``wal.py``).

Scheduling. Each backend is a process; with ``pool_size`` unset there is one backend per client
connection (``postmaster.c`` forks one), otherwise a pool of ``pool_size`` backends serves the
connections in FIFO order (a PgBouncer-like transaction pool). A running backend holds one of
``cores`` CPU cores (FIFO run queue) for its consecutive CPU work and gives the core up whenever
it sleeps: a device read, a row-lock wait, the WAL flush. This is run-to-block scheduling;
time slicing between CPU-bound backends is not modelled (queries are tens of microseconds,
shorter than a scheduler slice).

Time accounting. Every instant of a query's response time is charged to exactly one stage
(``STAGES``), so the stages add up to the response time by construction; tier times (shared
buffers, OS cache, device) are reported beside them as subsets of the index/heap stages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import simpy

from redissim.postgres.backend import Backend
from redissim.postgres.btree import TableGeometry
from redissim.postgres.buffers import SharedBuffers
from redissim.postgres.config import BLCKSZ, PostgresConfig
from redissim.postgres.profile import CostProfile, CostSampler, parse_profile
from redissim.postgres.wal import Wal
from redissim.sim import trace as tr
from redissim.sim.devices import OSPageCache, StorageDevice

SimGen = Generator[simpy.Event, Any, Any]
QueryKind = Literal["select_pk", "update_pk"]

#: Stages a query's response time is split into (seconds each), in pipeline order.
STAGES: tuple[str, ...] = (
    "pool_wait",   # waiting for a pooled backend (pool_size set)
    "cpu_wait",    # runnable, waiting for a core (OS run queue)
    "recv",        # reading the client's message
    "parse",       # raw parsing (simple protocol, or first use of a prepared statement)
    "analyze",     # parse analysis + rewrite
    "plan",        # planning (simple, custom, or building the generic plan)
    "bind",        # extended-protocol Bind (prepared statements)
    "executor",    # ExecutorStart/Run/End fixed part
    "index",       # B-tree descent: buffer lookups, page reads, in-page search
    "heap",        # heap page read and tuple fetch (and the UPDATE with its WAL record)
    "lock_wait",   # waiting for a row lock held by another transaction (UPDATE)
    "commit",      # commit CPU (commit record)
    "wal_flush",   # waiting for the WAL fsync (group commit)
    "send",        # result rows, CommandComplete, ReadyForQuery
)


class TooManyConnections(RuntimeError):
    """FATAL: sorry, too many clients already (max_connections reached)."""


@dataclass
class QueryResult:
    """Timing and counts of one query, as seen at the server (no network)."""

    conn_id: int
    kind: str
    key: int
    prepared: bool
    start_s: float
    end_s: float = 0.0
    backend_id: int = -1
    plan_kind: str = ""
    stages: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    buffer_hits: int = 0       # pages found in shared_buffers
    os_cache_hits: int = 0     # shared-buffer misses served by the OS page cache
    disk_reads: int = 0        # shared-buffer misses read from the device
    buffer_time_s: float = 0.0     # CPU spent on buffer lookups (inside index/heap)
    os_cache_time_s: float = 0.0   # copying pages from the OS cache (inside index/heap)
    disk_time_s: float = 0.0       # waiting for device reads (inside index/heap)

    @property
    def response_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def execute_s(self) -> float:
        s = self.stages
        return s["executor"] + s["index"] + s["heap"]


class _Q:
    """Per-query scheduling state (which core is held, where time is charged).

    CPU work on a held core is accumulated in ``pending`` and turned into one SimPy timeout
    only when the backend is about to block or give up its core: a core is exclusive, so
    nothing else can happen on it meanwhile, and one event per CPU burst instead of one per
    stage keeps the model fast. Stage charges use the virtual time ``env.now + pending``.
    """

    __slots__ = ("qr", "last", "core", "core_since", "pending")

    def __init__(self, qr: QueryResult, now: float):
        self.qr = qr
        self.last = now
        self.core: int | None = None
        self.core_since = 0.0
        self.pending = 0.0


class PostgresServer:
    """A PostgreSQL 15 server: ``yield from server.query(conn, kind, key, prepared)``."""

    def __init__(self, env: simpy.Environment, config: PostgresConfig,
                 profile: dict[str, Any] | CostProfile, rng: np.random.Generator,
                 device: StorageDevice, trace: tr.Trace | None = None,
                 os_cache: OSPageCache | None = None):
        self.env = env
        self.config = config
        self.profile = parse_profile(profile)
        self.cpu = self.profile.cpu
        self.rng = rng
        self._draw = CostSampler(rng).draw
        self.device = device
        self.trace = trace
        t = config.table
        self.table = TableGeometry(t.name, t.rows, t.row_width, t.key_width, t.fillfactor)
        self.buffers = SharedBuffers(config.nbuffers)
        self.os_cache = os_cache if os_cache is not None else OSPageCache(
            env, device, config.os_cache_pages, page_size=BLCKSZ,
            copy_s=self.profile.os_cache_copy.mean_us * 1e-6)
        # (the pipeline charges the copy itself, as CPU of the backend, from the profile)
        self.os_cache_copy_s = self.profile.os_cache_copy.mean_us * 1e-6
        self.wal = Wal(env, device)
        if config.cache_state == "warm":
            self.buffers.warm(self.table.prewarm_order())
            self.os_cache.warm(self.table.prewarm_order())
        # CPU cores: a FIFO store of core ids (the run queue).
        self.cores = simpy.Store(env, capacity=config.cores)
        self.cores.items.extend(range(config.cores))
        self.core_busy_s = [0.0] * config.cores
        # Backends.
        self.backends: dict[int, Backend] = {}
        self._conn_slots: dict[int, simpy.Resource] = {}
        self._pool: simpy.Store | None = None
        if config.pool_size is not None:
            self._pool = simpy.Store(env, capacity=config.pool_size)
            for i in range(config.pool_size):
                b = Backend(i, config.plan_cache_mode)
                self.backends[i] = b
                self._pool.items.append(b)
        self._row_locks: dict[int, deque[simpy.Event]] = {}
        # pg_stat_database-style counters (blks_hit/blks_read live on self.buffers).
        self.xact_commit = 0
        self.tup_returned = 0
        self.tup_fetched = 0
        self.tup_updated = 0
        self.blk_read_time_s = 0.0   # track_io_timing: time in pread of data pages
        self.os_cache_hits = 0
        self.disk_reads = 0
        self.queries = 0
        self.stage_totals: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.response_total_s = 0.0
        self.tier_totals: dict[str, float] = {"buffer_time_s": 0.0, "os_cache_time_s": 0.0,
                                              "disk_time_s": 0.0}
        self.tier_counts: dict[str, int] = {"buffer_hits": 0, "os_cache_hits": 0,
                                            "disk_reads": 0}

    # ---- counters ---------------------------------------------------------------------
    @property
    def blks_hit(self) -> int:
        return self.buffers.blks_hit

    @property
    def blks_read(self) -> int:
        return self.buffers.blks_read

    @property
    def numbackends(self) -> int:
        return len(self.backends)

    @property
    def buffer_hit_ratio(self) -> float:
        return self.buffers.hit_ratio

    def stats(self) -> dict[str, Any]:
        """A flat snapshot of the counters (pg_stat_database / pg_stat_wal names)."""
        d = self.device.stats
        return {
            "numbackends": self.numbackends, "xact_commit": self.xact_commit,
            "blks_hit": self.blks_hit, "blks_read": self.blks_read,
            "buffer_hit_ratio": self.buffer_hit_ratio,
            "tup_returned": self.tup_returned, "tup_fetched": self.tup_fetched,
            "tup_updated": self.tup_updated, "blk_read_time_s": self.blk_read_time_s,
            "os_cache_hits": self.os_cache_hits, "disk_reads": self.disk_reads,
            "buffers_alloc": self.buffers.buffers_alloc,
            "buffers_backend": self.buffers.buffers_backend,
            "wal_records": self.wal.wal_records, "wal_bytes": self.wal.wal_bytes,
            "wal_write": self.wal.wal_write, "wal_sync": self.wal.wal_sync,
            "wal_sync_time_s": self.wal.wal_sync_time_s,
            "core_busy_s": list(self.core_busy_s), "queries": self.queries,
            "stage_totals_s": dict(self.stage_totals),
            "device_reads": d.reads, "device_writes": d.writes, "device_fsyncs": d.fsyncs,
        }

    def breakdown(self) -> dict[str, float]:
        """Mean per completed query: seconds per stage (``STAGES``, they add up to
        ``response_s``), the tier times inside index/heap (``buffer_time_s``,
        ``os_cache_time_s``, ``disk_time_s``) and page counts per tier (``buffer_hits``,
        ``os_cache_hits``, ``disk_reads``) -- the lesson's diagram in measured numbers."""
        n = self.queries
        if n == 0:
            return {}
        out = {k: v / n for k, v in self.stage_totals.items()}
        out["response_s"] = self.response_total_s / n
        out.update({k: v / n for k, v in self.tier_totals.items()})
        out.update({k: v / n for k, v in self.tier_counts.items()})
        return out

    # ---- scheduling helpers -----------------------------------------------------------
    def _charge(self, q: _Q, stage: str) -> None:
        now = self.env.now + q.pending
        q.qr.stages[stage] += now - q.last
        q.last = now

    def _mark(self, q: _Q, stage: str, what: str) -> None:
        if self.trace is not None:
            self.trace.emit(self.env.now + q.pending, tr.K_PG_STAGE, q.qr.conn_id, (stage, what))

    def _flush(self, q: _Q) -> SimGen:
        """Let the accumulated CPU time of the current burst elapse."""
        if q.pending > 0.0:
            yield self.env.timeout(q.pending)
            q.pending = 0.0

    def _acquire_core(self, q: _Q) -> SimGen:
        if q.core is None:
            q.core = yield self.cores.get()
            q.core_since = self.env.now
            self._charge(q, "cpu_wait")

    def _release_core(self, q: _Q) -> SimGen:
        yield from self._flush(q)
        if q.core is not None:
            self.core_busy_s[q.core] += self.env.now - q.core_since
            self.cores.put(q.core)
            q.core = None

    def _run(self, q: _Q, stage: str, seconds: float) -> None:
        """CPU work on the held core, charged to ``stage``."""
        q.pending += seconds
        self._charge(q, stage)

    def _read_page(self, q: _Q, tag: tuple[str, int], stage: str) -> SimGen:
        """Buffer lookup (and I/O on a miss) for one page; returns the pinned buffer id."""
        qr = q.qr
        cost = self._draw(self.cpu.buffer_lookup)
        self._run(q, stage, cost)
        qr.buffer_time_s += cost
        lk = self.buffers.lookup(tag)
        if lk.hit:
            qr.buffer_hits += 1
            if lk.io_wait is not None:   # another backend is reading it in: WaitIO
                yield from self._release_core(q)
                t1 = self.env.now
                yield lk.io_wait
                qr.disk_time_s += self.env.now - t1
                self._charge(q, stage)
                yield from self._acquire_core(q)
            return lk.buf
        io_done = self.env.event()
        self.buffers.start_io(lk.buf, io_done)
        copy = self.os_cache_copy_s
        if lk.evicted_dirty and lk.evicted is not None:
            # FlushBuffer: the backend writes the dirty victim to the kernel first.
            self.os_cache.mark_dirty(lk.evicted)
            self._run(q, stage, copy)
            qr.os_cache_time_s += copy
        if self.os_cache.lookup(tag):
            self._run(q, stage, copy)              # pread served by a memory copy
            qr.os_cache_hits += 1
            self.os_cache_hits += 1
            qr.os_cache_time_s += copy
            self.blk_read_time_s += copy
        else:
            yield from self._release_core(q)       # sleep in pread until the device answers
            t1 = self.env.now
            self._mark(q, "disk", "enter")
            hit = yield from self.os_cache.read(tag)
            self._mark(q, "disk", "leave")
            if hit:   # another process's read of the same page completed meanwhile
                qr.os_cache_hits += 1
                self.os_cache_hits += 1
            else:
                qr.disk_reads += 1
                self.disk_reads += 1
            qr.disk_time_s += self.env.now - t1
            self.blk_read_time_s += self.env.now - t1
            self._charge(q, stage)
            yield from self._acquire_core(q)
        self.buffers.finish_io(lk.buf)
        return lk.buf

    def _lock_row(self, q: _Q, key: int) -> SimGen:
        waiters = self._row_locks.get(key)
        if waiters is None:
            self._row_locks[key] = deque()
            return
        ev = self.env.event()
        waiters.append(ev)
        yield from self._release_core(q)
        self._mark(q, "lock_wait", "enter")
        yield ev                                   # ownership is handed over on unlock
        self._charge(q, "lock_wait")
        self._mark(q, "lock_wait", "leave")
        yield from self._acquire_core(q)

    def _unlock_row(self, key: int) -> None:
        waiters = self._row_locks[key]
        if waiters:
            waiters.popleft().succeed()
        else:
            del self._row_locks[key]

    def _get_backend(self, q: _Q, conn_id: int) -> SimGen:
        if self._pool is not None:
            backend = yield self._pool.get()
            self._charge(q, "pool_wait")
            return backend, None
        backend = self.backends.get(conn_id)
        if backend is None:
            if len(self.backends) >= self.config.max_connections:
                raise TooManyConnections("sorry, too many clients already")
            backend = self.backends[conn_id] = Backend(conn_id, self.config.plan_cache_mode)
            self._conn_slots[conn_id] = simpy.Resource(self.env, capacity=1)
        # One query at a time per connection (the protocol is request/response).
        req = self._conn_slots[conn_id].request()
        yield req
        self._charge(q, "pool_wait")
        return backend, req

    def disconnect(self, conn_id: int) -> None:
        """Close a connection: its backend exits (backend-per-connection mode)."""
        if self._pool is None:
            self.backends.pop(conn_id, None)
            self._conn_slots.pop(conn_id, None)

    # ---- the pipeline -----------------------------------------------------------------
    def query(self, conn_id: int, kind: QueryKind, key: int, prepared: bool) -> SimGen:
        """Run one statement; returns a QueryResult. ``key`` is in 0..rows-1.

        select_pk: ``SELECT abalance FROM t WHERE aid = $1``;
        update_pk: ``UPDATE t SET abalance = abalance + $2 WHERE aid = $1`` (autocommit).
        """
        if kind not in ("select_pk", "update_pk"):
            raise ValueError(f"unknown query kind {kind!r}")
        env, cpu, draw = self.env, self.cpu, self._draw
        qr = QueryResult(conn_id, kind, key, prepared, env.now)
        q = _Q(qr, env.now)
        index_path = self.table.index_path(key)   # validates the key before any waiting
        heap_tag = self.table.heap_page(key)

        self._mark(q, "pool_wait", "enter")
        backend, slot = yield from self._get_backend(q, conn_id)
        qr.backend_id = backend.backend_id
        yield from self._acquire_core(q)
        self._mark(q, "pool_wait", "leave")

        self._stage(q, "recv", draw(cpu.recv))
        steps = backend.steps(kind, prepared)
        qr.plan_kind = steps.plan_kind
        if steps.parse:
            self._stage(q, "parse", draw(cpu.parse))
        if steps.analyze:
            self._stage(q, "analyze", draw(cpu.analyze))
        if steps.plan:
            self._stage(q, "plan", draw(cpu.plan))
        if steps.bind:
            self._stage(q, "bind", draw(cpu.bind))
        self._stage(q, "executor", draw(cpu.executor))

        self._mark(q, "index", "enter")
        for tag in index_path:
            buf = yield from self._read_page(q, tag, "index")
            self._run(q, "index", draw(cpu.index_page))
            self.buffers.unpin(buf)
        self._mark(q, "index", "leave")
        self.tup_returned += 1

        if kind == "update_pk":
            # Row lock taken before the heap page is pinned (PostgreSQL pins first and
            # waits on the holder's transaction; the waiting time is the same).
            yield from self._lock_row(q, key)
        self._mark(q, "heap", "enter")
        buf = yield from self._read_page(q, heap_tag, "heap")
        self._run(q, "heap", draw(cpu.heap_tuple))
        self.tup_fetched += 1
        if kind == "update_pk":
            self._run(q, "heap", draw(cpu.heap_update) + draw(cpu.wal_insert))
            self.buffers.mark_dirty(buf)
            self.wal.insert(self.profile.wal.update_record_bytes)
            self.tup_updated += 1
        self.buffers.unpin(buf)
        self._mark(q, "heap", "leave")

        if kind == "update_pk":
            self._stage(q, "commit", draw(cpu.commit) + draw(cpu.wal_insert))
            commit_lsn = self.wal.insert(self.profile.wal.commit_record_bytes, commit=True)
            if self.config.synchronous_commit:
                yield from self._release_core(q)
                self._mark(q, "wal_flush", "enter")
                yield from self.wal.flush(commit_lsn)
                self._charge(q, "wal_flush")
                self._mark(q, "wal_flush", "leave")
                yield from self._acquire_core(q)
            else:
                self.wal.async_commit(self.config.wal_writer_delay)
            self._unlock_row(key)
        else:
            # A read-only transaction writes no commit record and does not flush WAL.
            self._stage(q, "commit", draw(cpu.commit))
        self.xact_commit += 1

        self._stage(q, "send", draw(cpu.send))
        yield from self._release_core(q)
        if self._pool is not None:
            self._pool.put(backend)
        elif slot is not None:
            self._conn_slots[conn_id].release(slot)
        qr.end_s = env.now
        self.queries += 1
        self.response_total_s += qr.response_s
        for k, v in qr.stages.items():
            self.stage_totals[k] += v
        tt, tc = self.tier_totals, self.tier_counts
        tt["buffer_time_s"] += qr.buffer_time_s
        tt["os_cache_time_s"] += qr.os_cache_time_s
        tt["disk_time_s"] += qr.disk_time_s
        tc["buffer_hits"] += qr.buffer_hits
        tc["os_cache_hits"] += qr.os_cache_hits
        tc["disk_reads"] += qr.disk_reads
        return qr

    def _stage(self, q: _Q, stage: str, seconds: float) -> None:
        self._mark(q, stage, "enter")
        self._run(q, stage, seconds)
        self._mark(q, stage, "leave")
