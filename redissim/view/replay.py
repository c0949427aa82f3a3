"""Index a trace once so the state of the scene at any simulated time is a few bisects away.

The trace (``sim/trace.py``) is a flat log written by the model of Redis's event loop
(``ae.c:aeProcessEvents``, ``networking.c:readQueryFromClient``/``writeToClient``,
``server.c:call``, ``evict.c:performEvictions``, ``expire.c:activeExpireCycle``,
``aof.c:flushAppendOnlyFile``, ``rdb.c:rdbSaveBackground``) and of the PostgreSQL pipeline
(``tcop/postgres.c``). Playback seeks backwards as easily as forwards, so instead of carrying
mutable state frame to frame this module turns the log into sorted arrays and intervals in
one pass; each query is then a bisect, never a scan of the whole trace.

How the log is read:

* Requests are matched per client in FIFO order: the k-th ``send`` of a client goes with its
  k-th ``arrive``; a ``read`` consumes every batch of that client that has arrived; a
  ``write`` covers every batch of that client already read; a ``recv`` completes the oldest
  written batch. Latency = recv - send (what the client measures, like redis-benchmark).
* A key is present after a ``touch`` and absent after an ``evict`` or ``expire``.
* A read command (GET, MGET, EXISTS, ...) counts as a hit when its key is present when it
  runs, unless an ``expire`` of that key follows before the next command (lazy expiry found
  it dead). If ``exec`` data carries a 4th element (True/False) that flag wins.
* A PostgreSQL query runs from ``enter`` of its first stage to ``leave`` of ``result``.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict, deque
from dataclasses import dataclass, field

import numpy as np

from redissim.server.commands import COMMANDS
from redissim.sim import trace as tr
from redissim.view.model import ViewInput

#: Phase shown by the event-loop panel for each trace kind (ae.c iteration order).
PHASE_OF_KIND: dict[str, str] = {
    tr.K_IDLE: "epoll_wait",
    tr.K_ITER: "read",
    tr.K_READ: "read",
    tr.K_EXEC: "execute",
    tr.K_CRON: "serverCron",
    tr.K_BEFORE_SLEEP: "beforeSleep",
    tr.K_WRITE: "beforeSleep",
    tr.K_FORK: "fork",
}
PHASES: tuple[str, ...] = ("epoll_wait", "read", "execute", "serverCron", "beforeSleep")
PHASES_ALL: tuple[str, ...] = PHASES + ("fork", "down")

#: Commands that only read a key (a hit or a miss).
READ_COMMANDS = frozenset(
    {"GET", "MGET", "EXISTS", "HGET", "HGETALL", "LRANGE", "SMEMBERS", "ZRANGE", "TTL",
     "STRLEN", "GETRANGE", "HMGET", "SISMEMBER", "ZSCORE", "TYPE"}
)
#: Commands that modify a key (dirty a page during a fork: copy-on-write): those the command
#: table flags ``write``.
WRITE_COMMANDS = frozenset(name.upper() for name, spec in COMMANDS.items() if spec.write)
#: Canonical PostgreSQL lane order (lesson 12.1 diagram); unknown stages are appended.
PG_STAGES: tuple[str, ...] = ("parse", "plan", "buffer cache", "disk", "index", "result")

#: Keys that share one 4 KiB page in the copy-on-write picture (small strings: ~64 B each
#: would be 64 per page; 8 keeps the picture readable on a grid of a few hundred keys).
KEYS_PER_PAGE = 8

KEY_NEVER, KEY_PRESENT, KEY_EVICTED, KEY_EXPIRED = 0, 1, 2, 3

#: Latency histogram bins: 4 per decade from 1 us to 1 s.
HIST_LO_EXP, HIST_HI_EXP, HIST_PER_DECADE = -6, 0, 4
HIST_BINS = (HIST_HI_EXP - HIST_LO_EXP) * HIST_PER_DECADE


#: the engine's PostgreSQL stages (postgres/pipeline.py STAGES) on the lesson's six lanes
_PG_LANE = {
    "pool_wait": "parse", "cpu_wait": "parse", "recv": "parse", "parse": "parse",
    "analyze": "parse", "plan": "plan", "bind": "plan", "executor": "index",
    "index": "index", "heap": "buffer cache", "disk": "disk", "lock_wait": "result",
    "commit": "result", "wal_flush": "result", "send": "result",
}
#: the stage whose ``leave`` ends a query
_PG_LAST = frozenset({"send", "result"})


def normalise_stage(name: str) -> str:
    raw = str(name).strip().lower()
    return _PG_LANE.get(raw, raw.replace("_", " "))


class IntervalIndex:
    """Half-open intervals [start, end) with payloads; which are active at time t.

    Sorted by start; a query bisects the window [t - longest finite interval, t] and filters
    by end. Intervals never closed by the trace (end = inf) are kept apart so one stuck
    request cannot widen every query to the whole trace.
    """

    def __init__(self, items: list[tuple[float, float, object]]) -> None:
        # Sort on times only: payloads need not be comparable.
        fin = sorted(((s, e, p) for s, e, p in items if math.isfinite(e)),
                     key=lambda x: (x[0], x[1]))
        self._starts = [s for s, _, _ in fin]
        self._ends = [e for _, e, _ in fin]
        self._payloads = [p for _, _, p in fin]
        self._maxlen = max((e - s for s, e, _ in fin), default=0.0)
        opn = sorted(((s, p) for s, e, p in items if not math.isfinite(e)), key=lambda x: x[0])
        self._open_starts = [s for s, _ in opn]
        self._open_payloads = [p for _, p in opn]

    def __len__(self) -> int:
        return len(self._starts) + len(self._open_starts)

    def active(self, t: float) -> list[tuple[float, float, object]]:
        hi = bisect_right(self._starts, t)
        lo = bisect_left(self._starts, t - self._maxlen)
        out = [
            (self._starts[k], self._ends[k], self._payloads[k])
            for k in range(lo, hi)
            if self._ends[k] > t
        ]
        n_open = bisect_right(self._open_starts, t)
        out.extend(
            (self._open_starts[k], math.inf, self._open_payloads[k]) for k in range(n_open)
        )
        return out


@dataclass
class _Req:
    client: int
    n: int
    t_send: float
    t_arrive: float = math.inf
    t_read: float = math.inf
    t_write: float = math.inf
    t_recv: float = math.inf
    #: when the client's thread got to the replies (client-read-share; inf: on arrival)
    t_seen: float = math.inf


@dataclass
class ExecInfo:
    t: float
    client: int
    name: str
    key: str
    cpu: float


@dataclass
class StepSeries:
    """A right-continuous step function given by change points."""

    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    initial: float = 0.0

    def add(self, t: float, v: float) -> None:
        if self.times and self.times[-1] == t:
            self.values[-1] = v
        else:
            self.times.append(t)
            self.values.append(v)

    def at(self, t: float) -> float:
        i = bisect_right(self.times, t) - 1
        return self.initial if i < 0 else self.values[i]


class Replay:
    """All per-time queries the panels make, precomputed from a :class:`ViewInput`."""

    def __init__(self, vi: ViewInput) -> None:
        self.vi = vi
        self._pct_cache: dict[tuple[int, tuple[float, ...]], list[float]] = {}
        events = vi.trace.sorted_events()
        self.events = events
        self.end_t = vi.end_time()
        self.event_times: list[float] = sorted({e[0] for e in events})
        self._index_requests(events)
        self._index_loop(events)
        self._index_keys(events)
        self._index_persistence(events)
        self._index_postgres(events)
        self._index_notables_and_captions(events)

    # ------------------------------------------------------------------ requests
    def _index_requests(self, events: list[tr.TraceEvent]) -> None:
        reqs: list[_Req] = []
        wait_arrive: dict[int, deque[_Req]] = defaultdict(deque)
        wait_read: dict[int, deque[_Req]] = defaultdict(deque)
        wait_write: dict[int, deque[_Req]] = defaultdict(deque)
        wait_recv: dict[int, deque[_Req]] = defaultdict(deque)
        wait_seen: dict[int, deque[_Req]] = defaultdict(deque)
        clients: dict[int, None] = {}
        for t, kind, c, data in events:
            if kind == tr.K_SEND:
                r = _Req(c, int(data or 1), t)
                reqs.append(r)
                wait_arrive[c].append(r)
                clients[c] = None
            elif kind == tr.K_ARRIVE:
                if wait_arrive[c]:
                    r = wait_arrive[c].popleft()
                    r.t_arrive = t
                    wait_read[c].append(r)
            elif kind == tr.K_READ:
                while wait_read[c]:
                    r = wait_read[c].popleft()
                    r.t_read = t
                    wait_write[c].append(r)
            elif kind == tr.K_WRITE:
                while wait_write[c]:
                    r = wait_write[c].popleft()
                    r.t_write = t
                    wait_recv[c].append(r)
            elif kind == tr.K_RECV:
                if wait_recv[c]:
                    r = wait_recv[c].popleft()
                    r.t_recv = t
                    wait_seen[c].append(r)
            elif kind == tr.K_CLIENT_READ:
                if wait_seen[c]:
                    wait_seen[c].popleft().t_seen = t
        for c in self.vi.client_labels:
            clients.setdefault(c, None)
        self.clients: list[int] = sorted(clients)
        self.requests = reqs
        self.net_out = IntervalIndex([(r.t_send, r.t_arrive, r) for r in reqs])
        self.sock_queue = IntervalIndex(
            [(r.t_arrive, r.t_read, r) for r in reqs if math.isfinite(r.t_arrive)]
        )
        self.net_back = IntervalIndex(
            [(r.t_write, r.t_recv, r) for r in reqs if math.isfinite(r.t_write)]
        )
        self.waiting = IntervalIndex([(r.t_send, r.t_recv, r) for r in reqs])
        #: replies in the client's socket that its busy thread has not got to yet
        self.unread = IntervalIndex([(r.t_recv, r.t_seen, r) for r in reqs
                                     if math.isfinite(r.t_seen)])
        # A latency ends where the client's loop gets to the reply (as redis-benchmark
        # stamps it, and the run's histograms count it), on arrival without a loop.
        done = sorted((r.t_seen, r.t_seen - r.t_send) if math.isfinite(r.t_seen)
                      else (r.t_recv, r.t_recv - r.t_send)
                      for r in reqs if math.isfinite(r.t_recv))
        self.done_times = [d[0] for d in done]
        self.latencies = np.array([d[1] for d in done], dtype=float)
        lat = np.clip(self.latencies, 10.0**HIST_LO_EXP, 10.0**HIST_HI_EXP * 0.999)
        self.lat_bins = (
            np.floor((np.log10(lat) - HIST_LO_EXP) * HIST_PER_DECADE).astype(np.int64)
            if len(lat) else np.zeros(0, dtype=np.int64)
        )

    def completed_count(self, t: float) -> int:
        return bisect_right(self.done_times, t)

    def latency_percentiles(self, t: float, qs: tuple[float, ...] = (50, 99)) -> list[float]:
        """Percentiles of the latencies of requests completed by t (several panels ask)."""
        k = self.completed_count(t)
        if k == 0:
            return [math.nan for _ in qs]
        key = (k, qs)
        hit = self._pct_cache.get(key)
        if hit is None:
            if len(self._pct_cache) > 64:
                self._pct_cache.clear()
            hit = [float(v) for v in np.percentile(self.latencies[:k], qs)]
            self._pct_cache[key] = hit
        return list(hit)

    def latency_hist(self, t0: float, t1: float) -> np.ndarray:
        lo, hi = bisect_right(self.done_times, t0), bisect_right(self.done_times, t1)
        return np.bincount(self.lat_bins[lo:hi], minlength=HIST_BINS)[:HIST_BINS]

    # ------------------------------------------------------------------ event loop
    def _index_loop(self, events: list[tr.TraceEvent]) -> None:
        pt: list[float] = []
        pk: list[str] = []
        pc: list[int] = []
        self.execs: list[ExecInfo] = []
        self.iter_times: list[float] = []
        self.iter_exec_start: list[int] = []
        self.crons: list[tuple[float, float]] = []
        self._fork_starts: list[float] = []
        self._fork_ends: list[float] = []
        #: (start, end, fault kind, what the restart loaded) while no process runs
        self.downs: list[tuple[float, float, str, str]] = []
        for t, kind, c, data in events:
            if kind == tr.K_DOWN:
                self.downs.append((t, math.inf, str(data), ""))
                continue
            if kind == tr.K_UP:
                if self.downs and self.downs[-1][1] == math.inf:
                    t0, _, why, _ = self.downs[-1]
                    self.downs[-1] = (t0, t, why, str(data))
                continue
            ph = PHASE_OF_KIND.get(kind)
            if ph is None:
                continue
            if kind == tr.K_EXEC:
                name, key, cpu = _exec_fields(data)
                self.execs.append(ExecInfo(t, c, name, key, cpu))
            if kind == tr.K_ITER:
                self.iter_times.append(t)
                self.iter_exec_start.append(len(self.execs))
            if kind == tr.K_CRON:
                self.crons.append((t, float(data or 0.0)))
            if kind == tr.K_FORK:
                # fork() blocks the main thread while the page table is copied
                # (rdb.c:rdbSaveBackground -> redisFork); shown as its own phase.
                self._fork_starts.append(t)
                self._fork_ends.append(t + float(data or 0.0))
                continue
            pt.append(t)
            pk.append(ph)
            pc.append(c)
        self.phase_times = pt
        self.phase_kinds = pk
        self.phase_clients = pc
        self.exec_times = [x.t for x in self.execs]
        # Running maximum of command CPU time (what SLOWLOG would single out).
        self._slowest_idx: list[int] = []
        best = -1
        for i, x in enumerate(self.execs):
            if best < 0 or x.cpu > self.execs[best].cpu:
                best = i
            self._slowest_idx.append(best)

    def down_at(self, t: float) -> tuple[float, float, str, str] | None:
        """The outage (start, end, fault kind, what the restart loaded) t falls in, if any."""
        for d in self.downs:
            if d[0] <= t < d[1]:
                return d
        return None

    def phase_at(self, t: float) -> tuple[str, int]:
        """The loop's phase at t and the client it serves (-1 if none)."""
        if self.downs and self.down_at(t) is not None:
            return "down", -1
        f = bisect_right(self._fork_starts, t) - 1
        if f >= 0 and t < self._fork_ends[f]:
            return "fork", -1
        i = bisect_right(self.phase_times, t) - 1
        if i < 0:
            return "epoll_wait", -1
        return self.phase_kinds[i], self.phase_clients[i]

    def phase_codes(self, ts: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`phase_at`: index into ``PHASES_ALL`` for each time in ts."""
        if not hasattr(self, "_phase_np"):
            code = {p: i for i, p in enumerate(PHASES_ALL)}
            self._phase_np = np.asarray(self.phase_times, dtype=float)
            self._phase_code_np = np.asarray([code[k] for k in self.phase_kinds], dtype=np.int64)
            self._fork_s_np = np.asarray(self._fork_starts, dtype=float)
            self._fork_e_np = np.asarray(self._fork_ends, dtype=float)
        ts = np.asarray(ts, dtype=float)
        if len(self._phase_np) == 0:
            out = np.zeros(len(ts), dtype=np.int64)
        else:
            i = np.searchsorted(self._phase_np, ts, side="right") - 1
            out = np.where(i >= 0, self._phase_code_np[np.maximum(i, 0)], 0)
        if len(self._fork_s_np):
            f = np.searchsorted(self._fork_s_np, ts, side="right") - 1
            in_fork = (f >= 0) & (ts < self._fork_e_np[np.maximum(f, 0)])
            out = np.where(in_fork, PHASES_ALL.index("fork"), out)
        for t0, t1, _, _ in self.downs:
            out = np.where((ts >= t0) & (ts < t1), PHASES_ALL.index("down"), out)
        return out

    def current_exec(self, t: float) -> int:
        """Index of the last command started at or before t (-1 if none)."""
        return bisect_right(self.exec_times, t) - 1

    def iteration_execs(self, t: float) -> tuple[int, int]:
        """[lo, hi) indices into ``execs`` of the iteration running at t."""
        i = bisect_right(self.iter_times, t) - 1
        if i < 0:
            return 0, 0
        lo = self.iter_exec_start[i]
        hi = self.iter_exec_start[i + 1] if i + 1 < len(self.iter_exec_start) else len(self.execs)
        return lo, hi

    def slowest_exec(self, t: float) -> ExecInfo | None:
        """The command with the most CPU time among those started by t."""
        i = self.current_exec(t)
        return self.execs[self._slowest_idx[i]] if i >= 0 else None

    def iterations_between(self, t0: float, t1: float) -> int:
        return bisect_right(self.iter_times, t1) - bisect_right(self.iter_times, t0)

    def ops_per_sec(self, t: float, window: float) -> float:
        t0 = max(self.vi.start_s, t - window)  # (nothing was recorded before the trace began)
        span = t - t0
        if span <= 0:
            return 0.0
        n = bisect_right(self.exec_times, t) - bisect_right(self.exec_times, t0)
        return n / span

    # ------------------------------------------------------------------ keyspace
    def _index_keys(self, events: list[tr.TraceEvent]) -> None:
        order: dict[str, None] = dict.fromkeys(self.vi.keys or [])
        kt: dict[str, list[float]] = defaultdict(list)
        ks: dict[str, list[int]] = defaultdict(list)
        present: set[str] = set()
        self.live = StepSeries()
        self.evictions: list[tuple[float, str, tuple[str, ...]]] = []
        hits = misses = 0
        self.hit_series = StepSeries()
        self.miss_series = StepSeries()
        pending_read: str | None = None
        pending_time = 0.0
        # A trace without keyspace events still shows keys: every key a command names
        # stands in for a touch. Whether a read hit is then unknown (the preloaded data set
        # is not in the trace), so hits and misses are not counted at all.
        self.touches_from_commands = not any(e[1] == tr.K_TOUCH for e in events)
        # The engine's exec events carry whether the key was found (4th field): then hits
        # and misses are known even without touch events.
        flagged = any(e[1] == tr.K_EXEC and isinstance(e[3], tuple) and len(e[3]) >= 4
                      and isinstance(e[3][3], bool) for e in events[:2000])
        self.hits_known = flagged or not self.touches_from_commands
        for t, kind, _c, data in events:
            if kind == tr.K_EXEC and self.touches_from_commands:
                name, key, _ = _exec_fields(data)
                if key and name not in ("KEYS", "SCAN"):
                    order.setdefault(key, None)
                    if key not in present:
                        present.add(key)
                        self.live.add(t, len(present))
                    kt[key].append(t)
                    ks[key].append(KEY_PRESENT)
            if kind == tr.K_EXEC:
                name, key, _ = _exec_fields(data)
                pending_read = None
                flag = data[3] if isinstance(data, tuple) and len(data) >= 4 else None
                if name in READ_COMMANDS and key and self.hits_known:
                    hit = bool(flag) if isinstance(flag, bool) else key in present
                    if hit:
                        hits += 1
                        pending_read, pending_time = key, t
                    else:
                        misses += 1
                    self.hit_series.add(t, hits)
                    self.miss_series.add(t, misses)
                continue
            if kind == tr.K_TOUCH:
                key = str(data)
                order.setdefault(key, None)
                if key not in present:
                    present.add(key)
                    self.live.add(t, len(present))
                kt[key].append(t)
                ks[key].append(KEY_PRESENT)
            elif kind in (tr.K_EVICT, tr.K_EXPIRE):
                if kind == tr.K_EVICT:
                    key, sampled = _evict_fields(data)
                    self.evictions.append((t, key, sampled))
                    for s in sampled:
                        order.setdefault(s, None)
                else:
                    key = str(data)
                    if pending_read == key:
                        # The read found the key logically expired (db.c:expireIfNeeded).
                        hits -= 1
                        misses += 1
                        # Rewrite the count recorded at the read itself.
                        self.hit_series.add(pending_time, hits)
                        self.miss_series.add(pending_time, misses)
                        pending_read = None
                order.setdefault(key, None)
                if key in present:
                    present.discard(key)
                    self.live.add(t, len(present))
                kt[key].append(t)
                ks[key].append(KEY_EVICTED if kind == tr.K_EVICT else KEY_EXPIRED)
        self.key_order: list[str] = list(order)
        self.key_index = {k: i for i, k in enumerate(self.key_order)}
        self._kt = dict(kt)
        self._ks = dict(ks)
        self.evict_times = [e[0] for e in self.evictions]
        self.expire_count = StepSeries()
        n = 0
        for t, kind, _c, _d in events:
            if kind == tr.K_EXPIRE:
                n += 1
                self.expire_count.add(t, n)

    def key_states(self, n: int, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`key_state` for the first ``n`` keys of ``key_order``."""
        if not hasattr(self, "_kv_comp"):
            span = max(self.end_t, max((ts[-1] for ts in self._kt.values()), default=0.0))
            self._kv_span = span * 2.0 + 1.0  # keys' time ranges never overlap
            comp: list[float] = []
            states: list[int] = []
            times: list[float] = []
            starts: list[int] = []
            for i, key in enumerate(self.key_order):
                starts.append(len(comp))
                for tt, ss in zip(self._kt.get(key, []), self._ks.get(key, []), strict=True):
                    comp.append(i * self._kv_span + tt)
                    states.append(ss)
                    times.append(tt)
            self._kv_comp = np.asarray(comp, dtype=float)
            self._kv_state = np.asarray(states + [KEY_NEVER], dtype=np.int64)
            self._kv_time = np.asarray(times + [0.0], dtype=float)
            self._kv_start = np.asarray(starts, dtype=np.int64)
        n = min(n, len(self.key_order))
        if n == 0 or len(self._kv_comp) == 0:
            return np.zeros(n, dtype=np.int64), np.zeros(n)
        q = np.arange(n) * self._kv_span + t
        j = np.searchsorted(self._kv_comp, q, side="right") - 1
        valid = j >= self._kv_start[:n]
        j = np.where(valid, j, len(self._kv_comp))  # sentinel: KEY_NEVER, time 0
        return self._kv_state[j], self._kv_time[j]

    def key_state(self, key: str, t: float) -> tuple[int, float]:
        """(state, time of the last transition) of a key at t."""
        times = self._kt.get(key)
        if not times:
            return KEY_NEVER, 0.0
        i = bisect_right(times, t) - 1
        if i < 0:
            return KEY_NEVER, 0.0
        return self._ks[key][i], times[i]

    def hit_ratio(self, t: float) -> tuple[int, int]:
        """(keyspace_hits, keyspace_misses) counted up to t."""
        return int(self.hit_series.at(t)), int(self.miss_series.at(t))

    def evictions_between(self, t0: float, t1: float) -> list[tuple[float, str, tuple[str, ...]]]:
        lo, hi = bisect_right(self.evict_times, t0), bisect_right(self.evict_times, t1)
        return self.evictions[lo:hi]

    def evicted_count(self, t: float) -> int:
        return bisect_right(self.evict_times, t)

    def dbsize(self, t: float) -> int | None:
        """DBSIZE at ``t`` from the samples (the first one before it was taken), or None."""
        samples = self.vi.dbsize
        if not samples:
            return None
        i = bisect_right([d[0] for d in samples], t) - 1
        return samples[i][1] if i >= 0 else samples[0][1]

    def used_memory(self, t: float) -> int | None:
        vi = self.vi
        if vi.memory:
            i = bisect_right([m[0] for m in vi.memory], t) - 1
            return vi.memory[i][1] if i >= 0 else vi.memory[0][1]
        if vi.key_bytes:
            return int(self.live.at(t)) * vi.key_bytes
        return None

    # ------------------------------------------------------------------ persistence
    def _index_persistence(self, events: list[tr.TraceEvent]) -> None:
        self.aof_times: list[float] = []
        self.aof_cum: list[int] = []
        total = 0
        fs_open: deque[float] = deque()
        fsyncs: list[tuple[float, float, object]] = []
        self.forks: list[tuple[float, float]] = []
        #: the forks whose child rewrites the AOF (the others write dump.rdb), by fork time
        self.rewrite_forks: set[float] = set()
        self.snap_times: list[float] = []
        self.snap_frac: list[float] = []
        for t, kind, _c, data in events:
            if kind == tr.K_AOF_WRITE:
                total += int(data or 0)
                self.aof_times.append(t)
                self.aof_cum.append(total)
            elif kind == tr.K_FSYNC_START:
                fs_open.append(t)
            elif kind == tr.K_FSYNC_END and fs_open:
                s = fs_open.popleft()
                fsyncs.append((s, t, None))
            elif kind == tr.K_FORK:
                self.forks.append((t, float(data or 0.0)))
            elif kind == tr.K_REWRITE:
                self.rewrite_forks.add(t)
            elif kind == tr.K_SNAPSHOT:
                self.snap_times.append(t)
                self.snap_frac.append(float(data or 0.0))
        fsyncs.extend((s, math.inf, None) for s in fs_open)
        self.fsync_idx = IntervalIndex(fsyncs)
        fin = sorted((s, e) for s, e, _ in fsyncs if math.isfinite(e))
        self.fsync_done_by_end = sorted(fin, key=lambda x: x[1])
        self.fsync_end_times = [e for _, e in self.fsync_done_by_end]
        self.fork_times = [f[0] for f in self.forks]
        # Copy-on-write: the first write to each page after each fork, while its child runs.
        self.cow: list[tuple[list[float], list[int]]] = []
        for fi, (ft, _stall) in enumerate(self.forks):
            end = self._child_end(fi)
            lo = bisect_left(self.exec_times, ft)
            hi = bisect_right(self.exec_times, end) if math.isfinite(end) else len(self.execs)
            seen: set[int] = set()
            times: list[float] = []
            pages: list[int] = []
            for x in self.execs[lo:hi]:
                if x.name in WRITE_COMMANDS and x.key in self.key_index:
                    p = self.key_index[x.key] // KEYS_PER_PAGE
                    if p not in seen:
                        seen.add(p)
                        times.append(x.t)
                        pages.append(p)
            self.cow.append((times, pages))

    def _child_end(self, fork_i: int) -> float:
        ft = self.forks[fork_i][0]
        nxt = self.forks[fork_i + 1][0] if fork_i + 1 < len(self.forks) else math.inf
        i = bisect_left(self.snap_times, ft)
        while i < len(self.snap_times) and self.snap_times[i] < nxt:
            if self.snap_frac[i] >= 1.0 or self.snap_frac[i] < 0:  # done, or killed
                return self.snap_times[i]
            i += 1
        return math.inf

    def aof_bytes(self, t: float) -> int:
        i = bisect_right(self.aof_times, t) - 1
        return self.aof_cum[i] if i >= 0 else 0

    def last_aof_write(self, t: float) -> tuple[float, int] | None:
        i = bisect_right(self.aof_times, t) - 1
        if i < 0:
            return None
        prev = self.aof_cum[i - 1] if i > 0 else 0
        return self.aof_times[i], self.aof_cum[i] - prev

    def fsync_active(self, t: float) -> tuple[float, float] | None:
        act = self.fsync_idx.active(t)
        if not act:
            return None
        s, e, _ = max(act, key=lambda a: a[0])
        return s, e

    def unsynced_bytes(self, t: float) -> int:
        """Bytes written to the AOF since the start of the last fsync completed by t."""
        i = bisect_right(self.fsync_end_times, t) - 1
        base = 0 if i < 0 else self.aof_bytes(self.fsync_done_by_end[i][0])
        return self.aof_bytes(t) - base

    def fsync_count(self, t: float) -> int:
        return bisect_right(self.fsync_end_times, t)

    def child_at(self, t: float) -> tuple[int, float, float] | None:
        """(fork index, fork time, fraction written) if a child runs at t (an RDB's or an AOF
        rewrite's: :meth:`is_rewrite`)."""
        i = bisect_right(self.fork_times, t) - 1
        if i < 0:
            return None
        end = self._child_end(i)
        if t >= end:
            return None
        j = bisect_right(self.snap_times, t) - 1
        frac = self.snap_frac[j] if j >= 0 and self.snap_times[j] >= self.fork_times[i] else 0.0
        return i, self.fork_times[i], frac

    def is_rewrite(self, fork_i: int) -> bool:
        """Whether the child of fork ``fork_i`` rewrites the AOF (else it writes dump.rdb)."""
        return self.forks[fork_i][0] in self.rewrite_forks

    def cow_pages(self, fork_i: int, t: float) -> list[int]:
        times, pages = self.cow[fork_i]
        return pages[: bisect_right(times, t)]

    # ------------------------------------------------------------------ postgres
    def _index_postgres(self, events: list[tr.TraceEvent]) -> None:
        stages: dict[str, None] = {}
        open_: dict[int, tuple[str, float]] = {}
        items: list[tuple[float, float, object]] = []
        q_start: dict[int, float] = {}
        q_lat: list[tuple[float, float]] = []
        for t, kind, c, data in events:
            if kind != tr.K_PG_STAGE:
                continue
            name, what = data
            st = normalise_stage(name)
            stages[st] = None
            if what == "enter":
                if c in open_:  # an unclosed stage ends when the next one starts
                    ps, pt = open_.pop(c)
                    items.append((pt, t, (c, ps)))
                open_[c] = (st, t)
                if c not in q_start:
                    q_start[c] = t
            else:
                if c in open_ and open_[c][0] == st:
                    ps, pt = open_.pop(c)
                    items.append((pt, t, (c, ps)))
                if str(name).strip().lower() in _PG_LAST and c in q_start:
                    q_lat.append((t, t - q_start.pop(c)))
        for c, (ps, pt) in open_.items():
            items.append((pt, math.inf, (c, ps)))
        known = [s for s in PG_STAGES]
        self.pg_stages = known + [s for s in stages if s not in known]
        self.pg_idx = IntervalIndex(items)
        self.pg_clients = sorted({p[0] for _, _, p in items})  # type: ignore[index]
        q_lat.sort()
        self.pg_done_times = [q[0] for q in q_lat]
        self.pg_latencies = np.array([q[1] for q in q_lat], dtype=float)

    def pg_active(self, t: float) -> list[tuple[float, float, int, str]]:
        return [(s, e, p[0], p[1]) for s, e, p in self.pg_idx.active(t)]  # type: ignore[index]

    def pg_p50(self, t: float) -> float:
        k = bisect_right(self.pg_done_times, t)
        return float(np.median(self.pg_latencies[:k])) if k else math.nan

    def pg_done(self, t: float) -> int:
        return bisect_right(self.pg_done_times, t)

    # ------------------------------------------------------------------ notables, captions
    def _index_notables_and_captions(self, events: list[tr.TraceEvent]) -> None:
        nt: list[float] = []
        labels: list[str] = []
        first_kind: dict[str, float] = {}
        for t, kind, _c, data in events:
            first_kind.setdefault(kind, t)
            if kind == tr.K_EXEC:
                name = _exec_fields(data)[0]
                first_kind.setdefault(f"exec:{name}", t)
                if name == "KEYS":
                    nt.append(t)
                    labels.append("KEYS")
            elif kind in tr.NOTABLE_KINDS:
                nt.append(t)
                labels.append(kind)
        self.notable_times = nt
        self.notable_labels = labels
        caps: list[tuple[float, float, str]] = []
        self.unresolved_captions: list[str] = []
        for cap in self.vi.captions:
            t0 = cap.at if cap.at is not None else first_kind.get(str(cap.on))
            if t0 is None:
                self.unresolved_captions.append(cap.text)
                continue
            caps.append((float(t0), cap.hold_s if cap.hold_s is not None else math.inf, cap.text))
        for t, kind, _c, data in events:
            if kind == tr.K_NOTE:
                caps.append((t, math.inf, str(data)))
        caps.sort(key=lambda x: x[0])
        self.captions = caps
        self.caption_times = [c[0] for c in caps]

    def caption_at(self, t: float) -> str | None:
        i = bisect_right(self.caption_times, t) - 1
        if i < 0:
            return None
        t0, hold, text = self.captions[i]
        return text if t < t0 + hold else None


def _exec_fields(data: object) -> tuple[str, str, float]:
    if isinstance(data, tuple):
        name = str(data[0]).upper() if len(data) > 0 else "?"
        key = str(data[1]) if len(data) > 1 and data[1] is not None else ""
        cpu = float(data[2]) if len(data) > 2 and data[2] is not None else 0.0
        return name, key, cpu
    return str(data).upper(), "", 0.0


def _evict_fields(data: object) -> tuple[str, tuple[str, ...]]:
    if isinstance(data, tuple):
        key = str(data[0])
        sampled = tuple(str(s) for s in data[1]) if len(data) > 1 and data[1] else ()
        return key, sampled
    return str(data), ()
