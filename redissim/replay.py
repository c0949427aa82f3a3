"""Fast cache replay: hit ratios of Redis maxmemory policies without SimPy timing.

Models what a Redis 7.0 instance with ``maxmemory`` does to a stream of ``GET key`` requests
where every miss is followed by ``SET key`` (a read-through cache), using the mechanisms of
``src/evict.c`` as implemented in :mod:`redissim.server.eviction` (the eviction pool, the
``dictGetSomeKeys`` sampler over a power-of-two bucket table, LFU counters, ``dictGetRandomKey``)
and the allocation sizes of :mod:`redissim.server.memory`. Also computes a true-LRU miss-ratio
curve for every cache size at once from LRU stack distances (Mattson et al., 1970).

Order of events per request, as in ``server.c:processCommand``: eviction runs *before* the
command whenever used memory is over maxmemory (evicting until it is under, or nothing is left);
a miss then inserts the key, so memory may overshoot by one command's allocation until the next
request. When eviction fails (``noeviction``, or a volatile policy with no TTL keys left) the SET
is refused (the denyoom OOM error) and the key is not cached; GETs still run.

Time: Redis measures idle time with a 1-second clock; a replay has no wall clock, so the caller
chooses ``time_mode``:

* ``"requests"`` (default): LRU idle time is the exact number of requests since the last access
  (this is what theory.md's reference table uses);
* ``"clock"``: request ``t`` happens at ``t / request_rate`` seconds; objects are stamped with the
  24-bit LRU clock cached by serverCron (refreshed ``hz`` times per second), so keys touched in the
  same second tie, exactly as in Redis.

In both modes LFU minutes (decay) and TTLs use the ``request_rate`` time axis.

Capacity: in keys (each key costs 1) or, when ``key_cost`` gives each key's allocation in bytes
(see :func:`redis_key_costs`), in bytes of ``used_memory`` including the bucket arrays of the main
and expires tables (instant rehash: the old array is freed at once, not after an incremental
rehash) plus an optional fixed ``baseline``.

Not modelled: the tenacity time budget (replay always evicts to completion, like tenacity 100),
active expiry (TTL keys expire lazily when accessed), several databases, lazy free.
"""

from __future__ import annotations

import csv
import math
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from redissim.server import eviction as ev
from redissim.server import memory as mem
from redissim.sim.clock import EPOCH_MS

#: Policy name of the exact LRU baseline (an OrderedDict); not a Redis policy.
TRUE_LRU = "lru"
REPLAY_POLICIES: tuple[str, ...] = (TRUE_LRU, *ev.POLICIES)


# --------------------------------------------------------------------------------------------
# Request streams


def zipf_requests(n_keys: int, alpha: float, n_requests: int, seed: int) -> np.ndarray:
    """IRM requests over key ids 0..n_keys-1 with P(id = i) proportional to (i + 1)^-alpha."""
    p = zipf_probabilities(n_keys, alpha)
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    u = np.random.default_rng(seed).random(n_requests)
    return np.searchsorted(cdf, u, side="right").astype(np.int64)


def zipf_probabilities(n_keys: int, alpha: float) -> np.ndarray:
    w = np.arange(1, n_keys + 1, dtype=np.float64) ** -alpha
    return w / w.sum()


def keys_to_ids(keys: Iterable[str | bytes | int]) -> tuple[np.ndarray, list[str | bytes | int]]:
    """Map arbitrary keys to dense ids in order of first appearance; returns (ids, names)."""
    index: dict[str | bytes | int, int] = {}
    ids = [index.setdefault(k, len(index)) for k in keys]
    return np.asarray(ids, dtype=np.int64), list(index)


def load_key_trace(path: str | Path, column: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Read a key trace: one key per line, or a CSV file with a header and a key column.

    CSV is detected by a ``.csv`` suffix or when ``column`` is given; the column defaults to
    ``key``. Blank lines are skipped. Returns dense ids (first appearance order) and names.
    """
    path = Path(path)
    with path.open(newline="") as f:
        if column is not None or path.suffix.lower() == ".csv":
            reader = csv.DictReader(f)
            col = column or "key"
            if reader.fieldnames is None or col not in reader.fieldnames:
                raise ValueError(f"{path}: no column {col!r} (columns: {reader.fieldnames})")
            ids, names = keys_to_ids(row[col] for row in reader if row[col] != "")
        else:
            ids, names = keys_to_ids(line.rstrip("\r\n") for line in f if line.strip())
    return ids, [str(n) for n in names]


def redis_key_costs(
    key_lens: Sequence[int] | np.ndarray,
    value_lens: Sequence[int] | np.ndarray,
    lg_quantum: int = mem.UPSTREAM_LG_QUANTUM,
) -> list[int]:
    """Bytes per key id (dictEntry + key sds + string value) for a bytes-capacity replay."""
    cache: dict[tuple[int, int], int] = {}
    out = []
    for kl, vl in zip(key_lens, value_lens, strict=True):
        t = (int(kl), int(vl))
        c = cache.get(t)
        if c is None:
            c = cache[t] = mem.key_alloc_sizes(t[0], t[1], lg_quantum=lg_quantum)
        out.append(c)
    return out


# --------------------------------------------------------------------------------------------
# The replay's bucket table


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A fixed 64-bit mixer standing in for dict.c's seeded siphash (deterministic here)."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def key_hashes(n_keys: int, seed: int = 0) -> list[int]:
    """Deterministic 64-bit hashes of key ids 0..n_keys-1 (seeded like dict's hash seed)."""
    with np.errstate(over="ignore"):
        h = _splitmix64(np.arange(n_keys, dtype=np.uint64) + np.uint64(seed * 0x1000003))
    return h.tolist()


class KeyTable:
    """A dict.c-like chained table of integer key ids (the :class:`eviction.BucketTable`).

    Power-of-two size, initial 4, expanded to the next power of two >= used + 1 when an insert
    finds used >= size (``_dictExpandIfNeeded``); new entries go to the head of their chain;
    rehashing moves chains bucket by bucket, head first, each entry to the head of its new
    chain (``dictRehash``) but all at once. Never shrinks (a cache at capacity does not).
    """

    __slots__ = ("hashes", "buckets", "size", "mask", "used", "bucket_keys", "lg_quantum",
                 "count_bytes")

    def __init__(self, hashes: Sequence[int], *, count_bytes: bool = False,
                 lg_quantum: int = mem.UPSTREAM_LG_QUANTUM) -> None:
        self.hashes = hashes
        self.buckets: list[list[int]] = []
        self.size = 0
        self.mask = -1
        self.used = 0
        self.bucket_keys = self.buckets.__getitem__
        self.count_bytes = count_bytes
        self.lg_quantum = lg_quantum

    def __len__(self) -> int:
        return self.used

    def __contains__(self, key: object) -> bool:
        if self.size == 0 or not isinstance(key, int):
            return False
        return key in self.buckets[self.hashes[key] & self.mask]

    def bucket_bytes(self) -> int:
        return mem.bucket_array_alloc(self.size, self.lg_quantum) if self.count_bytes else 0

    def _expand(self, new_size: int) -> int:
        before = self.bucket_bytes()
        old = self.buckets
        self.buckets = [[] for _ in range(new_size)]
        self.size = new_size
        self.mask = new_size - 1
        self.bucket_keys = self.buckets.__getitem__
        hashes, buckets, mask = self.hashes, self.buckets, self.mask
        for chain in old:
            for k in chain:
                buckets[hashes[k] & mask].insert(0, k)
        return self.bucket_bytes() - before

    def add(self, k: int) -> int:
        """Insert a key not present; return the bytes the bucket arrays grew by."""
        delta = 0
        if self.size == 0:
            delta = self._expand(mem.DICT_HT_INITIAL_SIZE)
        elif self.used >= self.size:
            delta = self._expand(mem.table_size_for(self.used + 1))
        self.buckets[self.hashes[k] & self.mask].insert(0, k)
        self.used += 1
        return delta

    def remove(self, k: int) -> None:
        self.buckets[self.hashes[k] & self.mask].remove(k)
        self.used -= 1


# --------------------------------------------------------------------------------------------
# Replay


@dataclass
class ReplayResult:
    policy: str
    capacity: int
    unit: str  # "keys" or "bytes"
    samples: int
    use_pool: bool
    requests: int
    measured: int  # requests after warm-up
    hits: int
    evictions: int
    oom_rejections: int
    expired: int
    seconds: float  # wall time of the replay loop
    cpu_seconds: float  # process CPU time of the replay loop (robust to a busy machine)
    #: Largest used - maxmemory seen after a command, and the largest single command allocation
    #: (only tracked when track_overshoot=True).
    max_overshoot: int = 0
    max_command_alloc: int = 0
    #: Keys cached at the end (only with keep_keys=True).
    final_keys: frozenset[int] | None = None

    @property
    def misses(self) -> int:
        return self.measured - self.hits

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.measured if self.measured else math.nan

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else math.inf


class _State:
    """Everything a replay segment needs; segments copy fields into locals for speed."""

    def __init__(self) -> None:
        self.used = 0
        self.evictions = 0
        self.oom = 0
        self.expired = 0
        self.max_over = -(1 << 62)
        self.max_alloc = 0
        self.table_size = 0  # bucket count of the OrderedDict baseline's modelled table


@dataclass
class _Clock:
    lru: list[int] | range  # per request: LRU stamp (request index or 24-bit clock seconds)
    unix_ms: list[int]
    lfu_min: list[int]


def _clock(n: int, time_mode: str, rate: float, hz: int, need_ms: bool) -> _Clock:
    t_s = np.arange(n, dtype=np.float64) / rate
    ms = EPOCH_MS + np.floor(t_s * 1000.0 + 1e-9).astype(np.int64)
    if time_mode == "requests":
        lru: list[int] | range = range(n)
    elif time_mode == "clock":
        # server.lruclock is refreshed by serverCron every 1/hz s: stamp with the last tick.
        tick_ms = EPOCH_MS + (np.floor(t_s * hz + 1e-9) * (1000.0 / hz)).astype(np.int64)
        lru = ((tick_ms // ev.LRU_CLOCK_RESOLUTION_MS) & ev.LRU_CLOCK_MAX).tolist()
        if n / rate > ev.LRU_CLOCK_MAX:
            raise ValueError("replay spans more than one LRU clock wrap")
    else:
        raise ValueError("time_mode must be 'requests' or 'clock'")
    mins = ((ms // 1000 // 60) & 65535).tolist()
    return _Clock(lru, ms.tolist() if need_ms else [], mins)


def replay(
    requests: np.ndarray | Sequence[int],
    capacity: int,
    policy: str = ev.ALLKEYS_LRU,
    *,
    samples: int = 5,
    use_pool: bool = True,
    warmup: int = 0,
    seed: int = 0,
    time_mode: str = "requests",
    request_rate: float = 100_000.0,
    hz: int = 10,
    lfu_log_factor: int = 10,
    lfu_decay_time: int = 1,
    key_cost: Sequence[int] | None = None,
    baseline: int = 0,
    lg_quantum: int = mem.UPSTREAM_LG_QUANTUM,
    volatile: Sequence[bool] | np.ndarray | None = None,
    ttl_s: float | None = None,
    n_keys: int | None = None,
    track_overshoot: bool = False,
    sampler: str = "dict",
    keep_keys: bool = False,
) -> ReplayResult:
    """Replay GET-then-SET-on-miss requests (key ids) against one maxmemory setting.

    ``capacity`` is in keys, or in bytes when ``key_cost`` is given. ``volatile[k]`` marks the
    keys written with a TTL of ``ttl_s`` seconds (needed by volatile-* policies). ``seed``
    drives sampling, LFU increments and the table's hash seed. Hits are counted after the first
    ``warmup`` requests.

    ``sampler="dict"`` (default) samples as Redis does (``dictGetSomeKeys`` for the pool,
    ``dictGetRandomKey`` for random policies); ``sampler="uniform"`` draws keys uniformly (K
    distinct keys, or one key) instead, to measure what Redis's bucket walk costs.
    """
    if sampler not in ("dict", "uniform"):
        raise ValueError("sampler must be 'dict' or 'uniform'")
    if policy not in REPLAY_POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose from {REPLAY_POLICIES}")
    keys = requests.tolist() if isinstance(requests, np.ndarray) else list(requests)
    n = len(keys)
    if n_keys is None:
        n_keys = (max(keys) + 1) if keys else 0
    warmup = min(max(0, warmup), n)
    bytes_mode = key_cost is not None
    has_ttl = volatile is not None
    if policy.startswith("volatile-") and not has_ttl:
        raise ValueError(f"{policy} needs `volatile` (which keys get a TTL)")
    if has_ttl and ttl_s is None:
        ttl_s = math.inf
    cost = list(key_cost) if key_cost is not None else [1] * n_keys
    st = _State()
    st.used = baseline if bytes_mode else 0
    clk = _clock(n, time_mode, request_rate, hz, need_ms=has_ttl)
    rng = random.Random(seed)
    hashes = key_hashes(n_keys, seed)
    segs = ((0, warmup), (warmup, n))
    t0 = time.perf_counter()
    c0 = time.process_time()
    hits = 0
    fast = not has_ttl and not track_overshoot and sampler == "dict"
    final: frozenset[int] | None = None
    if policy == TRUE_LRU:
        od: OrderedDict[int, None] = OrderedDict()
        for a, b in segs:
            h = _seg_true_lru(st, od, keys[a:b], cost, capacity, bytes_mode, lg_quantum)
            hits += h if a == warmup else 0
        final = frozenset(od)
    elif fast and policy == ev.ALLKEYS_LRU and use_pool:
        table = KeyTable(hashes, count_bytes=bytes_mode, lg_quantum=lg_quantum)
        pool = ev.EvictionPool()
        last: dict[int, int] = {}
        for a, b in segs:
            h = _seg_allkeys_lru(st, last, table, pool, keys[a:b], clk.lru[a:b], cost,
                                 capacity, samples, rng)
            hits += h if a == warmup else 0
        final = frozenset(last)
    elif fast and policy == ev.ALLKEYS_RANDOM:
        table = KeyTable(hashes, count_bytes=bytes_mode, lg_quantum=lg_quantum)
        present: set[int] = set()
        for a, b in segs:
            h = _seg_allkeys_random(st, present, table, keys[a:b], cost, capacity, rng)
            hits += h if a == warmup else 0
        final = frozenset(present)
    else:
        g = _Generic(policy, capacity, samples, use_pool, rng, hashes, cost, bytes_mode,
                     lg_quantum, volatile, ttl_s, lfu_log_factor, lfu_decay_time,
                     track_overshoot, st, sampler)
        for a, b in segs:
            h = g.run(keys, clk, a, b)
            hits += h if a == warmup else 0
        final = frozenset(g.field)
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    return ReplayResult(
        policy=policy, capacity=capacity, unit="bytes" if bytes_mode else "keys",
        samples=samples, use_pool=use_pool, requests=n, measured=n - warmup, hits=hits,
        evictions=st.evictions, oom_rejections=st.oom, expired=st.expired, seconds=seconds,
        cpu_seconds=cpu_seconds,
        max_overshoot=max(st.max_over, 0) if track_overshoot else 0,
        max_command_alloc=st.max_alloc,
        final_keys=final if keep_keys else None,
    )


def _seg_true_lru(st: _State, od: OrderedDict[int, None], keys: list[int], cost: list[int],
                  limit: int, count_bytes: bool, lg_quantum: int) -> int:
    """Exact LRU with an OrderedDict: the reference the sampled policies are compared to.

    In bytes mode it also pays for a dict.c-sized bucket array (same growth rule as KeyTable),
    so that it is compared with the sampled policies at equal memory.
    """
    used = st.used
    evictions = 0
    hits = 0
    move = od.move_to_end
    popitem = od.popitem
    for k in keys:
        if used > limit:
            while used > limit and od:
                v, _ = popitem(last=False)
                used -= cost[v]
                evictions += 1
        if k in od:
            move(k)
            hits += 1
        elif used > limit:
            st.oom += 1
        else:
            if count_bytes and len(od) >= st.table_size:
                new = mem.table_size_for(len(od) + 1)
                used += (mem.bucket_array_alloc(new, lg_quantum)
                         - mem.bucket_array_alloc(st.table_size, lg_quantum))
                st.table_size = new
            od[k] = None
            used += cost[k]
    st.used = used
    st.evictions += evictions
    return hits


def _seg_allkeys_lru(st: _State, last: dict[int, int], table: KeyTable, pool: ev.EvictionPool,
                     keys: list[int], stamps: Sequence[int], cost: list[int], limit: int,
                     samples: int, rng: random.Random) -> int:
    """allkeys-lru with the pool, no TTLs: the hot path, kept small on purpose."""
    used = st.used
    hits = 0
    # The eviction module is typed for any Hashable key; here every key is an int id (the
    # table and the pool only ever hold the ints of ``keys``).
    get_some = cast(Callable[[KeyTable, int, random.Random], list[int]], ev.get_some_keys)
    insert = pool.insert
    pop_best = cast(Callable[[Callable[[int, int], bool]], tuple[int, int] | None],
                    pool.pop_best)
    pscores = pool.scores  # the pool's sorted scores, read to skip hopeless candidates
    cap = pool.capacity
    add = table.add
    remove = table.remove

    def exists(_db: int, key: int) -> bool:
        return key in last

    for k, now in zip(keys, stamps, strict=True):
        if used > limit:
            while used > limit and table.used:
                best = None
                while best is None:
                    for s in get_some(table, samples, rng):
                        sc = now - last[s]
                        # Same outcome as insert(): a full pool drops scores <= its worst.
                        if len(pscores) < cap or sc > pscores[0]:
                            insert(s, sc)
                    best = pop_best(exists)
                v = best[1]
                del last[v]
                remove(v)
                used -= cost[v]
                st.evictions += 1
        if k in last:
            last[k] = now
            hits += 1
        elif used > limit:
            st.oom += 1
        else:
            last[k] = now
            used += cost[k] + add(k)
    st.used = used
    return hits


def _seg_allkeys_random(st: _State, present: set[int], table: KeyTable, keys: list[int],
                        cost: list[int], limit: int, rng: random.Random) -> int:
    """allkeys-random without TTLs: dictGetRandomKey until under the limit."""
    used = st.used
    hits = 0
    # An int key id: the table holds only ints, and is not empty when it is called (so
    # never None).
    rand_key = cast(Callable[[KeyTable, random.Random], int], ev.get_random_key)
    add = table.add
    remove = table.remove
    for k in keys:
        if used > limit:
            while used > limit and table.used:
                v = rand_key(table, rng)
                present.discard(v)
                remove(v)
                used -= cost[v]
                st.evictions += 1
        if k in present:
            hits += 1
        elif used > limit:
            st.oom += 1
        else:
            present.add(k)
            used += cost[k] + add(k)
    st.used = used
    return hits


class _UniformKeys:
    """A set with O(1) uniform random choice (swap-remove), for sampler="uniform"."""

    __slots__ = ("items", "pos")

    def __init__(self) -> None:
        self.items: list[int] = []
        self.pos: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, k: int) -> None:
        self.pos[k] = len(self.items)
        self.items.append(k)

    def remove(self, k: int) -> None:
        i = self.pos.pop(k)
        last = self.items.pop()
        if last != k:
            self.items[i] = last
            self.pos[last] = i

    def sample(self, count: int, rng: random.Random) -> list[int]:
        n = len(self.items)
        if count >= n:
            return list(self.items)
        return [self.items[i] for i in rng.sample(range(n), count)]

    def choice(self, rng: random.Random) -> int:
        return self.items[rng.randrange(len(self.items))]


class _Generic:
    """Every policy, TTLs and overshoot tracking; slower than the specialised loops."""

    def __init__(self, policy: str, limit: int, samples: int, use_pool: bool,
                 rng: random.Random, hashes: list[int], cost: list[int], bytes_mode: bool,
                 lg_quantum: int, volatile: Sequence[bool] | np.ndarray | None,
                 ttl_s: float | None, lfu_log_factor: int, lfu_decay_time: int,
                 track: bool, st: _State, sampler: str = "dict") -> None:
        self.policy = policy
        self.limit = limit
        self.samples = samples
        self.use_pool = use_pool
        self.rng = rng
        self.cost = cost
        self.main = KeyTable(hashes, count_bytes=bytes_mode, lg_quantum=lg_quantum)
        self.exp_table = KeyTable(hashes, count_bytes=bytes_mode, lg_quantum=lg_quantum)
        self.volatile = None if volatile is None else [bool(x) for x in volatile]
        self.ttl_ms = None if ttl_s is None else (math.inf if math.isinf(ttl_s)
                                                    else int(round(ttl_s * 1000)))
        self.expire: dict[int, float] = {}
        self.field: dict[int, int] = {}  # robj.lru: LRU stamp or LFU (minutes << 8 | counter)
        self.pool = ev.EvictionPool()
        self.lfu_factor = lfu_log_factor
        self.lfu_decay = lfu_decay_time
        self.entry_cost = mem.jemalloc_size(mem.DICT_ENTRY_SIZE, lg_quantum) if bytes_mode else 0
        self.track = track
        self.st = st
        self.is_lru = policy in ev.LRU_POLICIES
        self.is_lfu = policy in ev.LFU_POLICIES
        self.candidates = self.main if ev.is_allkeys(policy) else self.exp_table
        self.uniform = _UniformKeys() if sampler == "uniform" else None

    # -- deletion ------------------------------------------------------------------------
    def _delete(self, k: int) -> int:
        """Remove key k everywhere; return the bytes (or key units) freed."""
        freed = self.cost[k]
        del self.field[k]
        self.main.remove(k)
        volatile = k in self.expire
        if volatile:
            del self.expire[k]
            self.exp_table.remove(k)
            freed += self.entry_cost
        if self.uniform is not None and (volatile or self.candidates is self.main):
            self.uniform.remove(k)
        return freed

    def _sample(self, cand: KeyTable) -> list[int]:
        if self.uniform is not None:
            return self.uniform.sample(self.samples, self.rng)
        return ev.get_some_keys(cand, self.samples, self.rng)  # type: ignore[return-value]

    # -- eviction (performEvictions without the time budget) ------------------------------
    def _score(self, k: int, now: int, now_min: int) -> float:
        if self.is_lru:
            return now - self.field[k]
        if self.is_lfu:
            return 255 - ev.lfu_decr_and_return(self.field[k], now_min, self.lfu_decay)
        return -self.expire[k]

    def _victim(self, now: int, now_min: int) -> int | None:
        cand = self.candidates
        if len(cand) == 0:
            return None
        if self.policy in ev.RANDOM_POLICIES:
            if self.uniform is not None:
                return self.uniform.choice(self.rng)
            return ev.get_random_key(cand, self.rng)  # type: ignore[return-value]
        if not self.use_pool:
            # dictGetSomeKeys may come back empty from a sparse table (it gives up after
            # 10 x count buckets); like performEvictions, sample again until a key turns up
            # (the table is not empty).
            while True:
                best, best_score = None, -math.inf
                for s in self._sample(cand):
                    sc = self._score(s, now, now_min)
                    if sc > best_score:
                        best, best_score = s, sc
                if best is not None:
                    return best  # type: ignore[return-value]
        members = self.field if cand is self.main else self.expire
        while True:
            for s in self._sample(cand):
                self.pool.insert(s, self._score(s, now, now_min))
            got = self.pool.pop_best(lambda _d, key: key in members)
            if got is not None:
                return got[1]  # type: ignore[return-value]

    def _evict(self, used: int, now: int, now_min: int) -> int:
        if self.policy == ev.NOEVICTION:
            return used
        while used > self.limit:
            v = self._victim(now, now_min)
            if v is None:
                break
            used -= self._delete(v)
            self.st.evictions += 1
        return used

    # -- the request loop -----------------------------------------------------------------
    def run(self, keys: list[int], clk: _Clock, a: int, b: int) -> int:
        st = self.st
        used = st.used
        limit = self.limit
        field = self.field
        expire = self.expire
        volatile = self.volatile
        ttl_ms = self.ttl_ms
        is_lru, is_lfu = self.is_lru, self.is_lfu
        rng = self.rng
        track = self.track
        hits = 0
        for t in range(a, b):
            k = keys[t]
            now = clk.lru[t]
            now_min = clk.lfu_min[t]
            if used > limit:
                used = self._evict(used, now, now_min)
            f = field.get(k)
            if f is not None and expire:
                e = expire.get(k)
                if e is not None and clk.unix_ms[t] >= e:  # lazy expiry (expireIfNeeded)
                    used -= self._delete(k)
                    st.expired += 1
                    f = None
            if f is not None:
                hits += 1
                if is_lru:
                    field[k] = now
                elif is_lfu:
                    field[k] = ev.lfu_update(f, now_min, rng.random(), self.lfu_factor,
                                             self.lfu_decay)
            elif used > limit:
                st.oom += 1  # SET refused: OOM command not allowed ...
            else:
                alloc = self.cost[k] + self.main.add(k)
                field[k] = ev.lfu_init_field(now_min) if is_lfu else now
                with_ttl = volatile is not None and volatile[k]
                if with_ttl:
                    expire[k] = clk.unix_ms[t] + ttl_ms  # type: ignore[operator]
                    alloc += self.entry_cost + self.exp_table.add(k)
                if self.uniform is not None and (with_ttl or self.candidates is self.main):
                    self.uniform.add(k)
                used += alloc
                if track:
                    if alloc > st.max_alloc:
                        st.max_alloc = alloc
                    if used - limit > st.max_over:
                        st.max_over = used - limit
        st.used = used
        return hits


def replay_grid(
    requests: np.ndarray | Sequence[int],
    capacities: Sequence[int],
    policies: Sequence[str],
    **kwargs: object,
) -> list[ReplayResult]:
    """:func:`replay` for every (policy, capacity) pair, in that order."""
    return [replay(requests, c, p, **kwargs) for p in policies for c in capacities]  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# One-pass LRU miss-ratio curve (stack distances)


def _greater_to_the_left(p: np.ndarray) -> np.ndarray:
    """For each i, how many j < i have p[j] > p[i] (values distinct, non-negative).

    Bottom-up merge sort, vectorised per level: at block size s every element of a right block
    counts the larger elements of its left partner with one global ``searchsorted`` on keys
    ``pair * BIG + value``; then the pairs are merged by sorting on the same keys.
    """
    n = len(p)
    counts = np.zeros(n, dtype=np.int64)
    if n < 2:
        return counts
    big = np.int64(int(p.max()) + 1)
    vals = p.astype(np.int64)
    idx = np.arange(n, dtype=np.int64)
    pos = np.arange(n, dtype=np.int64)
    s = 1
    while s < n:
        block = pos // s
        pair = block >> 1
        right = (block & 1).astype(bool)
        left = ~right
        lkeys = pair[left] * big + vals[left]
        rpair = pair[right]
        ins = np.searchsorted(lkeys, rpair * big + vals[right], side="right")
        # Left blocks before pair q are all full, so q's left block ends at q*s + s in lkeys.
        counts[idx[right]] += rpair * s + s - ins
        order = np.argsort(pair * big + vals, kind="stable")
        vals = vals[order]
        idx = idx[order]
        s <<= 1
    return counts


def lru_stack_distances(requests: np.ndarray | Sequence[int]) -> np.ndarray:
    """LRU stack distance of each request: distinct other keys since its previous access.

    -1 for first accesses. A request hits in an LRU cache of C keys iff 0 <= d < C.
    d(t) = (t - prev(t) - 1) - #{reuses t' < t with prev(t') > prev(t)}: the requests between
    the two accesses minus those that re-reference a key already counted in that window.
    """
    r = np.asarray(requests, dtype=np.int64)
    n = len(r)
    d = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return d
    order = np.argsort(r, kind="stable")
    same = r[order[1:]] == r[order[:-1]]
    prev = np.full(n, -1, dtype=np.int64)
    prev[order[1:][same]] = order[:-1][same]
    reuse = np.nonzero(prev >= 0)[0]  # increasing time order
    p = prev[reuse]
    d[reuse] = reuse - p - 1 - _greater_to_the_left(p)
    return d


def lru_hit_ratio_curve(
    requests: np.ndarray | Sequence[int], sizes: Sequence[int], warmup: int = 0
) -> np.ndarray:
    """True-LRU hit ratio for every cache size in ``sizes`` (keys), from one pass.

    Hits are counted over requests ``warmup..end``; the cache state still reflects the warm-up.
    """
    d = lru_stack_distances(requests)[warmup:]
    measured = len(d)
    if measured == 0:
        return np.full(len(sizes), np.nan)
    finite = np.sort(d[d >= 0])
    hits = np.searchsorted(finite, np.asarray(sizes, dtype=np.int64), side="left")
    return hits / measured
