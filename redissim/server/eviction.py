"""maxmemory eviction as Redis 7.0 does it: clocks, sampling, the eviction pool, the time budget.

Models ``src/evict.c`` (``getLRUClock``, ``estimateObjectIdleTime``, ``LFUGetTimeInMinutes``,
``LFUTimeElapsed``, ``LFULogIncr``, ``LFUDecrAndReturn``, ``evictionPoolPopulate``,
``evictionTimeLimitUs``, ``performEvictions``, ``evictionTimeProc``), ``src/db.c:updateLFU``,
and the two sampling routines of ``src/dict.c``: ``dictGetSomeKeys`` (7.0.15, with reservoir
sampling inside the last chain) and ``dictGetRandomKey``.

Everything here works against small protocols so that the same code runs on the replay's own
bucket table (``redissim/replay.py``) and, later, on the keyspace:

* :class:`BucketTable` -- ``size`` (power of two, 0 when empty), ``bucket_keys(i)`` (the chain of
  bucket ``i``, head first, as dict.c links new entries at the head) and ``len()``.
* :class:`EvictionDB` -- one database: ``main`` and ``expires`` tables, ``__contains__``-style
  membership through the tables, the 24-bit ``lru`` field of a key's value and its expire time.
* :class:`EvictionHost` -- the server: ``dbs``, ``used_memory()``, ``not_counted_memory()`` and
  ``evict_key(dbid, key)``, which deletes the key synchronously and returns the CPU seconds that
  took (the host also propagates DEL and fires the "evicted" keyspace event).

Simplifications (documented, measured where it matters):

* One bucket array per table: the keyspace's tables rehash instantly (server/hashtable.py), so
  dict.c's walk of both arrays during an incremental rehash is not modelled. A table that did
  rehash incrementally could present ``size`` = the larger array and ``bucket_keys(i)`` = chain
  of ht[0][i] (when i >= rehashidx) followed by ht[1][i]: the same keys in the same order, with
  empty runs counted per index rather than per array.
* Wall-clock time inside performEvictions is the sum of the CPU costs the host reports for each
  deletion plus ``sample_cost_s`` per sampled key (both from the cost profile).
* With lazyfree-lazy-eviction, Redis waits (sleeping in 1 ms steps, up to the time budget) for
  pending background frees before reporting EVICT_FAIL; that wait is not modelled.
* Pointers vs names: the pool stores key names, as the 7.0 pool does (it copies the sds), and a
  popped name that is no longer in the candidate dict is a "ghost" and skipped.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from redissim.sim.clock import unix_ms, unix_s

# --------------------------------------------------------------------------------------------
# Policies

NOEVICTION = "noeviction"
ALLKEYS_LRU = "allkeys-lru"
VOLATILE_LRU = "volatile-lru"
ALLKEYS_LFU = "allkeys-lfu"
VOLATILE_LFU = "volatile-lfu"
ALLKEYS_RANDOM = "allkeys-random"
VOLATILE_RANDOM = "volatile-random"
VOLATILE_TTL = "volatile-ttl"

POLICIES: tuple[str, ...] = (
    VOLATILE_LRU,
    VOLATILE_LFU,
    VOLATILE_RANDOM,
    VOLATILE_TTL,
    ALLKEYS_LRU,
    ALLKEYS_LFU,
    ALLKEYS_RANDOM,
    NOEVICTION,
)
LRU_POLICIES = frozenset({ALLKEYS_LRU, VOLATILE_LRU})
LFU_POLICIES = frozenset({ALLKEYS_LFU, VOLATILE_LFU})
RANDOM_POLICIES = frozenset({ALLKEYS_RANDOM, VOLATILE_RANDOM})
#: Policies that go through the eviction pool (LRU, LFU and volatile-ttl).
POOL_POLICIES = LRU_POLICIES | LFU_POLICIES | {VOLATILE_TTL}


def is_allkeys(policy: str) -> bool:
    """allkeys-* sample the main dict; volatile-* sample only keys with a TTL."""
    return policy.startswith("allkeys-")


# --------------------------------------------------------------------------------------------
# LRU clock (server.h LRU_BITS / LRU_CLOCK_RESOLUTION; evict.c getLRUClock)

LRU_BITS = 24
LRU_CLOCK_MAX = (1 << LRU_BITS) - 1
LRU_CLOCK_RESOLUTION_MS = 1000


def lru_clock(unix_ms_now: int) -> int:
    """The 24-bit LRU clock: whole seconds of unix time, wrapping every ~194 days."""
    return (unix_ms_now // LRU_CLOCK_RESOLUTION_MS) & LRU_CLOCK_MAX


def estimate_idle_ms(lruclock: int, obj_lru: int) -> int:
    """Idle time of an object from the cached clock and its ``lru`` field, wrap-aware."""
    if lruclock >= obj_lru:
        return (lruclock - obj_lru) * LRU_CLOCK_RESOLUTION_MS
    return (lruclock + (LRU_CLOCK_MAX - obj_lru)) * LRU_CLOCK_RESOLUTION_MS


#: Commands whose key lookups use LOOKUP_NOTOUCH in 7.0.15 (db.c existsCommand, typeCommand,
#: expire.c ttlGenericCommand, object.c objectCommandLookup); SCAN's TYPE filter also looks up
#: without touching. Their lookups must not call Evictor.touch.
NOTOUCH_COMMANDS = frozenset({"EXISTS", "TYPE", "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME",
                              "OBJECT", "SCAN"})


def lookup_touches(command: str, fork_child_active: bool) -> bool:
    """db.c:lookupKey updates the access clock unless a fork child exists (to avoid copy-on-
    write) or the lookup is NOTOUCH. Reads and writes (lookupKeyWrite) both touch."""
    return not fork_child_active and command.upper() not in NOTOUCH_COMMANDS


# --------------------------------------------------------------------------------------------
# LFU (evict.c LFU*; db.c updateLFU). The 24-bit field: 16 bits of minutes, 8 bits of counter.

LFU_INIT_VAL = 5


def lfu_minutes(unix_s_now: int) -> int:
    """LFUGetTimeInMinutes: unix minutes modulo 2^16 (wraps every ~45.5 days)."""
    return (unix_s_now // 60) & 65535


def lfu_time_elapsed(now_min: int, ldt: int) -> int:
    """Minutes since the last decrement time ``ldt``, allowing one wrap (as LFUTimeElapsed)."""
    if now_min >= ldt:
        return now_min - ldt
    return 65535 - ldt + now_min


def lfu_init_field(now_min: int) -> int:
    """The lru field of a new object under an LFU policy: (minutes << 8) | 5."""
    return (now_min << 8) | LFU_INIT_VAL


def lfu_decr_and_return(lru_field: int, now_min: int, decay_time: int) -> int:
    """Counter after decay: minus one per elapsed ``lfu-decay-time`` period, floored at 0.

    (The 7.0 comments say "halve"; the code subtracts one per period. 0 disables decay.)
    The result is not stored: sampling for eviction only reads it.
    """
    ldt = lru_field >> 8
    counter = lru_field & 255
    periods = lfu_time_elapsed(now_min, ldt) // decay_time if decay_time else 0
    if periods:
        counter = 0 if periods > counter else counter - periods
    return counter


def lfu_log_incr(counter: int, r: float, log_factor: int) -> int:
    """Logarithmic increment: p = 1 / ((counter - 5) * factor + 1), r uniform in [0, 1]."""
    if counter == 255:
        return 255
    base = counter - LFU_INIT_VAL
    if base < 0:
        base = 0
    if r < 1.0 / (base * log_factor + 1):
        counter += 1
    return counter


def lfu_update(lru_field: int, now_min: int, r: float, log_factor: int, decay_time: int) -> int:
    """updateLFU: decay, then increment, then store (now_minutes << 8) | counter."""
    counter = lfu_decr_and_return(lru_field, now_min, decay_time)
    counter = lfu_log_incr(counter, r, log_factor)
    return (now_min << 8) | counter


# --------------------------------------------------------------------------------------------
# Protocols


class BucketTable(Protocol):
    """A chained power-of-two hash table as dictGetSomeKeys sees it."""

    size: int

    def bucket_keys(self, i: int) -> Sequence[Hashable]: ...

    def __len__(self) -> int: ...

    def __contains__(self, key: object) -> bool: ...


class EvictionDB(Protocol):
    """One Redis database as performEvictions sees it."""

    main: BucketTable
    expires: BucketTable

    def lru_field(self, key: Hashable) -> int:
        """The 24-bit ``robj.lru`` of the key's value (LRU clock or LFU minutes+counter)."""
        ...

    def expire_ms(self, key: Hashable) -> int:
        """Absolute unix-ms expire time of a key that has a TTL."""
        ...


class EvictionHost(Protocol):
    """The server state performEvictions needs."""

    dbs: Sequence[EvictionDB]

    def used_memory(self) -> int: ...

    def not_counted_memory(self) -> int:
        """AOF buffer + replication buffers beyond the backlog (freeMemoryGetNotCountedMemory)."""
        ...

    def evict_key(self, dbid: int, key: Hashable) -> float:
        """Delete ``key`` synchronously (or UNLINK with lazyfree-lazy-eviction), propagate the
        deletion, fire the "evicted" event, and return the CPU seconds it cost."""
        ...


# --------------------------------------------------------------------------------------------
# Sampling (dict.c)


def get_some_keys(table: BucketTable, count: int, rng: random.Random) -> list[Hashable]:
    """dictGetSomeKeys (7.0.15): up to ``count`` keys from consecutive buckets.

    Start at a random bucket and walk forward, taking whole chains; when the chain that
    reaches ``count`` is longer than needed, keep walking it with reservoir sampling so its
    tail can be chosen too. More than ``count`` (and at least 5) empty buckets in a row make
    it jump to a new random bucket. At most 10 * count buckets are visited, so fewer keys may
    come back. Keys are not de-duplicated across a jump (a revisited chain adds them again).
    """
    n = len(table)
    if n < count:
        count = n
    if count <= 0:
        return []
    mask = table.size - 1
    bucket_keys = table.bucket_keys
    getrandbits = rng.getrandbits
    out: list[Hashable] = []
    stored = 0
    maxsteps = count * 10
    i = getrandbits(64) & mask
    emptylen = 0
    while stored < count and maxsteps > 0:
        maxsteps -= 1
        chain = bucket_keys(i)
        if not chain:
            emptylen += 1
            if emptylen >= 5 and emptylen > count:
                i = getrandbits(64) & mask
                emptylen = 0
        else:
            emptylen = 0
            for key in chain:
                if stored < count:
                    out.append(key)
                else:
                    r = getrandbits(64) % (stored + 1)
                    if r < count:
                        out[r] = key
                stored += 1
            if stored >= count:
                break
        i = (i + 1) & mask
    return out


def get_random_key(table: BucketTable, rng: random.Random) -> Hashable | None:
    """dictGetRandomKey: a random non-empty bucket, then a random element of its chain.

    Not uniform over keys: keys in short chains are more likely (the Redis behaviour).
    """
    if len(table) == 0:
        return None
    mask = table.size - 1
    bucket_keys = table.bucket_keys
    getrandbits = rng.getrandbits
    while True:
        chain = bucket_keys(getrandbits(64) & mask)
        if chain:
            break
    if len(chain) == 1:
        return chain[0]
    return chain[rng.randrange(len(chain))]


# --------------------------------------------------------------------------------------------
# The eviction pool (evict.c evictionPoolPopulate)

EVPOOL_SIZE = 16


class EvictionPool:
    """The 16-entry pool, sorted by ascending score; the best candidate is the rightmost.

    Redis keeps a fixed array whose filled slots always form a prefix (entries are popped from
    the right), so the array is stored here as the filled prefix only. The insertion rule is
    Redis's: find the first slot whose score is >= the candidate's (or empty); if the pool is
    full and that is slot 0, drop the candidate; if there is room, shift the right part and
    insert; otherwise shift the left part out (dropping the lowest score) and insert at k - 1.
    There is no de-duplication, and scores are not refreshed: a key sampled earlier keeps its
    old score until it is popped. tests/test_eviction_pool.py checks this against a literal
    16-slot transcription.
    """

    __slots__ = ("scores", "keys", "capacity")

    def __init__(self, capacity: int = EVPOOL_SIZE) -> None:
        self.capacity = capacity
        self.scores: list[float] = []
        self.keys: list[tuple[int, Hashable]] = []  # (dbid, key)

    def __len__(self) -> int:
        return len(self.keys)

    def insert(self, key: Hashable, score: float, dbid: int = 0) -> None:
        scores = self.scores
        if len(scores) >= self.capacity and score <= scores[0]:
            return  # full and not better than the worst entry: the k == 0 case below
        k = bisect_left(scores, score)
        if len(scores) < self.capacity:
            scores.insert(k, score)
            self.keys.insert(k, (dbid, key))
        elif k == 0:
            return  # worse than everything in a full pool
        else:
            del scores[0]
            del self.keys[0]
            scores.insert(k - 1, score)
            self.keys.insert(k - 1, (dbid, key))

    def pop_best(self, exists: Callable[[int, Hashable], bool]) -> tuple[int, Hashable] | None:
        """Pop entries from the best end; return the first whose key still exists.

        Entries whose key has gone since it was sampled ("ghosts") are discarded.
        """
        scores = self.scores
        keys = self.keys
        while keys:
            scores.pop()
            dbid, key = keys.pop()
            if exists(dbid, key):
                return dbid, key
        return None

    def clear(self) -> None:
        self.scores.clear()
        self.keys.clear()


# --------------------------------------------------------------------------------------------
# Time budget (evict.c evictionTimeLimitUs)


def eviction_time_limit_us(tenacity: int) -> float:
    """maxmemory-eviction-tenacity to a per-call time budget in microseconds.

    0..10: 50 us per step (10 -> 500 us); 11..99: 500 * 1.15^(t - 10); 100: unlimited.
    """
    if not 0 <= tenacity <= 100:
        raise ValueError("maxmemory-eviction-tenacity must be in 0..100")
    if tenacity <= 10:
        return 50.0 * tenacity
    if tenacity < 100:
        return float(int(500.0 * math.pow(1.15, tenacity - 10.0)))
    return math.inf


# --------------------------------------------------------------------------------------------
# performEvictions

EVICT_OK = "ok"
EVICT_RUNNING = "running"
EVICT_FAIL = "fail"

#: Keys evicted between two checks of the time budget.
EVICTION_CHECK_EVERY = 16


@dataclass
class EvictionConfig:
    """The redis.conf knobs eviction reads (names as in redis.conf, '-' -> '_')."""

    maxmemory: int = 0
    maxmemory_policy: str = NOEVICTION
    maxmemory_samples: int = 5
    maxmemory_eviction_tenacity: int = 10
    lfu_log_factor: int = 10
    lfu_decay_time: int = 1
    #: CPU seconds charged per sampled key (dictGetSomeKeys walk + score + pool insert); from
    #: the cost profile. 0 means sampling is free and only deletions cost time.
    sample_cost_s: float = 0.0
    #: False = Redis 2.8 behaviour (no pool: evict the best of each sample). For experiments.
    use_pool: bool = True
    #: lazyfree-lazy-eviction: the host UNLINKs victims (memory may drop later, in the BIO
    #: thread), and every 16 evictions the loop stops early if memory is already under the limit.
    lazyfree_lazy_eviction: bool = False

    def __post_init__(self) -> None:
        if self.maxmemory_policy not in POLICIES:
            raise ValueError(f"unknown maxmemory-policy {self.maxmemory_policy!r}")
        if self.maxmemory_samples < 1:
            raise ValueError("maxmemory-samples must be >= 1")
        eviction_time_limit_us(self.maxmemory_eviction_tenacity)


@dataclass
class EvictResult:
    """What one performEvictions call did. ``cpu_s`` must be charged to the event loop."""

    status: str
    cpu_s: float = 0.0
    keys_evicted: int = 0
    bytes_freed: int = 0
    #: True when the 0 ms eviction timer (evictionTimeProc) must be (or stay) scheduled.
    timer_running: bool = False


@dataclass
class EvictionStats:
    """INFO fields: evicted_keys, total/current_eviction_exceeded_time (reported in ms)."""

    evicted_keys: int = 0
    total_eviction_exceeded_time_s: float = 0.0
    #: Simulated time when memory first stayed over the limit after a call; None when OK.
    exceeded_since_s: float | None = None

    def info(self, now_s: float) -> dict[str, int]:
        current = 0.0 if self.exceeded_since_s is None else now_s - self.exceeded_since_s
        return {
            "evicted_keys": self.evicted_keys,
            "total_eviction_exceeded_time": int(self.total_eviction_exceeded_time_s * 1000),
            "current_eviction_exceeded_time": int(current * 1000),
        }


@dataclass
class Evictor:
    """Per-server eviction state: config, the cached LRU clock, the pool, stats and the RNG.

    How the server uses it (see the module docstring for the protocols):

    * serverCron: ``ev.cron(now_s)`` refreshes the cached LRU clock (server.lruclock).
    * object creation: ``field = ev.new_object_field(now_s)``.
    * each non-NOTOUCH lookup (not while a fork child exists): ``field = ev.touch(field, now_s)``.
    * before every command when maxmemory != 0: ``r = ev.perform(host, now_s)``; charge
      ``r.cpu_s``; if ``r.status == EVICT_FAIL`` reject denyoom commands (and commands queued
      in MULTI) with ``OOM_ERROR``; if ``r.timer_running`` keep a 0 ms timer that calls
      ``ev.timer_proc(host, now_s)`` once per event-loop iteration while it returns True.
    """

    config: EvictionConfig = field(default_factory=EvictionConfig)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    lruclock: int = 0
    pool: EvictionPool = field(default_factory=EvictionPool)
    stats: EvictionStats = field(default_factory=EvictionStats)
    timer_running: bool = False
    _next_db: int = 0
    #: the keys of the most recent evictionPoolPopulate sample
    last_sample: list = field(default_factory=list)

    # ---- object clocks -------------------------------------------------------------------
    def cron(self, now_s: float) -> None:
        """serverCron: server.lruclock = getLRUClock()."""
        self.lruclock = lru_clock(unix_ms(now_s))

    def new_object_field(self, now_s: float) -> int:
        """createObject: LFU policies store (minutes << 8) | 5, others the cached LRU clock."""
        if self.config.maxmemory_policy in LFU_POLICIES:
            return lfu_init_field(lfu_minutes(unix_s(now_s)))
        return self.lruclock

    def touch(self, lru_field: int, now_s: float) -> int:
        """lookupKey's access update: updateLFU under LFU policies, else the cached clock."""
        c = self.config
        if c.maxmemory_policy in LFU_POLICIES:
            return lfu_update(
                lru_field,
                lfu_minutes(unix_s(now_s)),
                self.rng.random(),
                c.lfu_log_factor,
                c.lfu_decay_time,
            )
        return self.lruclock

    def object_freq(self, lru_field: int, now_s: float) -> int:
        """OBJECT FREQ: the decayed counter (not stored)."""
        return lfu_decr_and_return(
            lru_field, lfu_minutes(unix_s(now_s)), self.config.lfu_decay_time
        )

    def object_idletime_s(self, lru_field: int) -> int:
        """OBJECT IDLETIME: estimated idle seconds from the cached clock."""
        return estimate_idle_ms(self.lruclock, lru_field) // 1000

    # ---- scoring ---------------------------------------------------------------------------
    def _score(self, db: EvictionDB, key: Hashable, now_min: int) -> float:
        policy = self.config.maxmemory_policy
        if policy in LRU_POLICIES:
            return estimate_idle_ms(self.lruclock, db.lru_field(key))
        if policy in LFU_POLICIES:
            return 255 - lfu_decr_and_return(
                db.lru_field(key), now_min, self.config.lfu_decay_time
            )
        # volatile-ttl: ULLONG_MAX - expire; only the order matters, so sooner = larger.
        return -db.expire_ms(key)

    def _populate(self, dbid: int, db: EvictionDB, table: BucketTable, now_min: int) -> int:
        sample = get_some_keys(table, self.config.maxmemory_samples, self.rng)
        self.last_sample = sample  # what the view outlines when a key is evicted
        insert = self.pool.insert
        for key in sample:
            insert(key, self._score(db, key, now_min), dbid)
        return len(sample)

    def _best_without_pool(
        self, dbs: Sequence[EvictionDB], allkeys: bool, now_min: int
    ) -> tuple[tuple[int, Hashable] | None, int]:
        """Redis 2.8 style: the best of a fresh sample from each DB, no memory across calls."""
        best: tuple[int, Hashable] | None = None
        best_score = -math.inf
        sampled = 0
        for dbid, db in enumerate(dbs):
            table = db.main if allkeys else db.expires
            if len(table) == 0:
                continue
            sample = get_some_keys(table, self.config.maxmemory_samples, self.rng)
            sampled += len(sample)
            for key in sample:
                s = self._score(db, key, now_min)
                if s > best_score:
                    best_score, best = s, (dbid, key)
        return best, sampled

    def _select(self, host: EvictionHost, now_s: float) -> tuple[tuple[int, Hashable] | None, int]:
        """Pick the next victim (dbid, key); also return how many keys were sampled."""
        policy = self.config.maxmemory_policy
        dbs = host.dbs
        allkeys = is_allkeys(policy)
        if policy in RANDOM_POLICIES:
            n = len(dbs)
            for _ in range(n):
                self._next_db += 1
                j = self._next_db % n
                table = dbs[j].main if allkeys else dbs[j].expires
                if len(table):
                    return (j, get_random_key(table, self.rng)), 1
            return None, 0
        now_min = lfu_minutes(unix_s(now_s))
        if not self.config.use_pool:
            return self._best_without_pool(dbs, allkeys, now_min)
        sampled = 0

        def exists(dbid: int, key: Hashable) -> bool:
            db = dbs[dbid]
            return key in (db.main if allkeys else db.expires)

        while True:
            total = 0
            for dbid, db in enumerate(dbs):
                table = db.main if allkeys else db.expires
                if len(table):
                    sampled += self._populate(dbid, db, table, now_min)
                    total += len(table)
            if total == 0:
                return None, sampled
            best = self.pool.pop_best(exists)
            if best is not None:
                return best, sampled

    def _memory_to_free(self, host: EvictionHost) -> int:
        """getMaxmemoryState: bytes over the limit after discounting not-counted buffers.

        The host is asked for the not-counted part first: only this check asks for it, so a
        host (a test's) can tell the checks from the measurements around each deletion."""
        not_counted = host.not_counted_memory()
        used = host.used_memory() - not_counted
        return used - self.config.maxmemory if used > self.config.maxmemory else 0

    def perform(self, host: EvictionHost, now_s: float) -> EvictResult:
        """performEvictions: evict until under maxmemory, the budget runs out, or nothing is left.

        Returns the status, the CPU seconds spent (to be charged to the event loop) and whether
        the eviction timer must run. Memory freed is measured as the drop of used_memory around
        each deletion, as Redis does.
        """
        c = self.config
        if c.maxmemory == 0:
            return EvictResult(EVICT_OK)
        tofree = self._memory_to_free(host)
        if tofree == 0:
            result = EvictResult(EVICT_OK, timer_running=self.timer_running)
            self._update_exceeded(result.status, now_s)
            return result
        if c.maxmemory_policy == NOEVICTION:
            result = EvictResult(EVICT_FAIL, timer_running=self.timer_running)
            self._update_exceeded(result.status, now_s)
            return result
        limit_s = eviction_time_limit_us(c.maxmemory_eviction_tenacity) / 1e6
        elapsed = 0.0
        freed = 0
        keys_freed = 0
        cant_free = False
        while freed < tofree:
            victim, sampled = self._select(host, now_s + elapsed)
            elapsed += sampled * c.sample_cost_s
            if victim is None:
                cant_free = True  # nothing evictable
                break
            before = host.used_memory()
            elapsed += host.evict_key(victim[0], victim[1])
            freed += before - host.used_memory()
            self.stats.evicted_keys += 1
            keys_freed += 1
            if keys_freed % EVICTION_CHECK_EVERY == 0:
                if c.lazyfree_lazy_eviction and self._memory_to_free(host) == 0:
                    break  # background frees already brought memory under the limit
                if elapsed > limit_s:
                    self.timer_running = True  # startEvictionTimeProc: go on from a 0 ms timer
                    break
        # As in Redis, a call made while the timer exists reports RUNNING even if it got under.
        if cant_free:
            status = EVICT_FAIL
        else:
            status = EVICT_RUNNING if self.timer_running else EVICT_OK
        result = EvictResult(status, elapsed, keys_freed, freed, self.timer_running)
        self._update_exceeded(status, now_s + elapsed)
        return result

    def timer_proc(self, host: EvictionHost, now_s: float) -> EvictResult:
        """evictionTimeProc: one performEvictions call per event-loop iteration.

        Returns the call's result; ``result.timer_running`` False means the timer is removed.
        """
        result = self.perform(host, now_s)
        if result.status != EVICT_RUNNING:
            self.timer_running = False
            result.timer_running = False
        return result

    def _update_exceeded(self, status: str, end_s: float) -> None:
        st = self.stats
        if status in (EVICT_RUNNING, EVICT_FAIL):
            if st.exceeded_since_s is None:
                st.exceeded_since_s = end_s
        elif st.exceeded_since_s is not None:
            st.total_eviction_exceeded_time_s += end_s - st.exceeded_since_s
            st.exceeded_since_s = None


#: The error reply for denyoom commands when performEvictions returns EVICT_FAIL.
OOM_ERROR = "OOM command not allowed when used memory > 'maxmemory'."
