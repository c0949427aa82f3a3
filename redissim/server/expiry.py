"""Active expiry: Redis 7.0's ``activeExpireCycle`` (``src/expire.c``) and the table resizing
of ``databasesCron`` (``src/server.c``), charged to the event loop.

Lazy expiry (a key found past its TTL on lookup is deleted then and there) lives in the
keyspace (``db.c:expireIfNeeded``). Keys nobody reads would stay forever, so Redis also walks
the ``expires`` table in the background:

* the **slow** cycle runs from serverCron at every tick, and may use ``25%`` of the tick
  (25 ms at hz 10): ``timelimit = slow_time_perc * 1e6 / hz / 100`` microseconds;
* the **fast** cycle runs from beforeSleep, at most 1 ms, never within 2 ms of the previous
  fast cycle, and -- because ``stat_expired_stale_perc`` is a fraction compared against an
  integer percentage -- in practice only after a cycle that ran out of time;
* per database it loops: take ``keys_per_loop`` (20) keys by walking buckets of ``expires``
  from ``db->expires_cursor`` (whole chains, at most 20 x num buckets), delete the expired
  ones, and repeat while more than 10% of the sample was expired; every 16 loops it checks
  the time limit;
* databases are visited round-robin (16 per call, all of them after a timed-out call).

The walk here follows 7.0, which advances ``expires_cursor`` bucket by bucket (7.2 walks the
same buckets with ``dictScan``). The cycle's CPU time comes from the cost profile: a cost per
bucket visited, per key sampled and per key expired (the delete, the DEL propagation, the
keyspace notification). Because the simulated clock advances with that CPU, the 25 ms budget
and the every-16-loops check behave as they do in Redis, and the replies waiting in the
loop are delayed by exactly the cycle's length.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, cast

from redissim.server.keyspace import Keyspace
from redissim.sim import trace as tr
from redissim.sim.clock import EPOCH_MS

ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP: Final = 20
ACTIVE_EXPIRE_CYCLE_FAST_DURATION_US: Final = 1000
ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC: Final = 25
ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE: Final = 10
CRON_DBS_PER_CALL: Final = 16
DICT_HT_INITIAL_SIZE: Final = 4

SLOW: Final = "slow"
FAST: Final = "fast"


class ActiveExpire:
    """The state ``activeExpireCycle`` keeps in statics, and its INFO counters."""

    # the limits active-expire-effort sets (set_effort)
    keys_per_loop: int
    fast_duration: float
    slow_time_perc: int
    acceptable_stale: int
    # statics of activeExpireCycle (reset), and the INFO stats (reset_stats)
    current_db: int
    timelimit_exit: bool
    last_fast_cycle: float
    stat_expired_stale_perc: float
    stat_expired_time_cap_reached_count: int
    stat_expire_cycle_time_used: float  # seconds

    def __init__(self, keyspace: Keyspace, *, hz: Callable[[], int], effort: int = 1,
                 cost_bucket_us: float = 0.0, cost_sample_us: float = 0.0,
                 cost_expire_us: float = 0.0, trace: tr.Trace | None = None,
                 on_expired: Callable[[int, list[bytes], float], None] | None = None):
        self.ks = keyspace
        self.hz = hz
        self.set_effort(effort)
        self.c_bucket = cost_bucket_us * 1e-6
        self.c_sample = cost_sample_us * 1e-6
        self.c_expire = cost_expire_us * 1e-6
        self.trace = trace
        #: called with (db, propagated DEL argv, time) for every key the cycle expires
        self.on_expired = on_expired
        self.reset()
        self.cycles = {SLOW: 0, FAST: 0}
        #: (start, duration, kind, expired) of recent cycles, for tests and the view
        self.history: list[tuple[float, float, str, int]] = []
        self.history_limit = 10_000

    def set_effort(self, effort: int) -> None:
        """``active-expire-effort`` (1..10): activeExpireCycle derives its limits from it at
        every call, so a CONFIG SET takes effect at the next cycle."""
        e = effort - 1
        self.keys_per_loop = ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP + \
            ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP // 4 * e
        self.fast_duration = (ACTIVE_EXPIRE_CYCLE_FAST_DURATION_US +
                              ACTIVE_EXPIRE_CYCLE_FAST_DURATION_US // 4 * e) * 1e-6
        self.slow_time_perc = ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC + 2 * e
        self.acceptable_stale = ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE - e

    def reset(self) -> None:
        """A new or restarted process: activeExpireCycle's statics and the INFO stats from zero
        (the cycle history, kept for the view, goes on)."""
        self.current_db = 0
        self.timelimit_exit = False
        self.last_fast_cycle = -1.0
        self.reset_stats()

    def reset_stats(self) -> None:
        """The INFO stats from zero (CONFIG RESETSTAT, and a restart). The stale share is
        also what lets the fast cycle run: Redis zeroes it too."""
        self.stat_expired_stale_perc = 0.0
        self.stat_expired_time_cap_reached_count = 0
        self.stat_expire_cycle_time_used = 0.0

    # serverCron -> databasesCron -> activeExpireCycle(SLOW)
    def slow_cycle(self, t: float) -> float:
        if not self.ks.active_expire_enabled:
            return t
        return self._cycle(t, SLOW)

    # beforeSleep -> activeExpireCycle(FAST)
    def fast_cycle(self, t: float) -> float:
        if not self.ks.active_expire_enabled:
            return t
        # The quirk of 7.0: a fraction (0..1) compared with a percentage (10), so only a
        # timed-out previous cycle lets the fast cycle run.
        if not self.timelimit_exit and self.stat_expired_stale_perc < self.acceptable_stale:
            return t
        if t < self.last_fast_cycle + 2 * self.fast_duration:
            return t
        self.last_fast_cycle = t
        return self._cycle(t, FAST)

    def _cycle(self, t: float, kind: str) -> float:
        ks = self.ks
        dbs = ks.dbs
        ndb = len(dbs)
        start = t
        dbs_per_call = CRON_DBS_PER_CALL
        if dbs_per_call > ndb or self.timelimit_exit:
            dbs_per_call = ndb
        timelimit = self.slow_time_perc * 1e6 / self.hz() / 100 * 1e-6
        if timelimit <= 0:
            timelimit = 1e-6
        if kind == FAST:
            timelimit = self.fast_duration
        self.timelimit_exit = False
        total_sampled = total_expired = 0
        iteration = 0
        c_bucket, c_sample, c_expire = self.c_bucket, self.c_sample, self.c_expire
        per_loop = self.keys_per_loop
        stale = self.acceptable_stale
        trace = self.trace
        on_expired = self.on_expired
        j = 0
        while j < dbs_per_call and not self.timelimit_exit:
            db = dbs[self.current_db % ndb]
            self.current_db += 1
            j += 1
            expires = db.expires
            while True:
                iteration += 1
                num = len(db.exp)
                if num == 0:
                    db.avg_ttl = 0
                    break
                slots = expires.size
                now_ms = EPOCH_MS + int(t * 1000.0 + 1e-9)
                # Below 1% fill, sampling is too expensive: wait for the resize.
                if slots > DICT_HT_INITIAL_SIZE and num * 100 // slots < 1:
                    break
                if num > per_loop:
                    num = per_loop
                sampled = expired = 0
                ttl_sum = ttl_samples = 0
                max_buckets = num * 20
                exp = db.exp
                # (deletions below edit it in place, never replace it; its slots are read as
                # plain objects, so that an empty one is told by one comparison)
                chains: list[Any] = expires.chains()
                mask = expires.size - 1  # (slots, unless building the index just sized it)
                first = db.expires_cursor
                # Bucket by bucket from the cursor until num keys were sampled (whole chains)
                # or max_buckets buckets were looked at; most buckets of a sparse table are
                # empty, so an empty one costs only the loop step and one list read.
                for cursor in range(first, first + max_buckets):
                    raw = chains[cursor & mask]
                    if raw is None:
                        continue
                    slot = cast("bytes | list[bytes]", raw)
                    # A key alone in its bucket, or a list walked from its end (the head of
                    # the chain) down. Deleting the key at i leaves the keys before it where
                    # they are in the list, so the walk needs no copy.
                    i = 1 if isinstance(slot, bytes) else len(slot)
                    while i:
                        i -= 1
                        key = slot if isinstance(slot, bytes) else slot[i]
                        found = exp.get(key)
                        if found is None:
                            continue
                        when: int = found  # (unboxed once, not at each use below)
                        if now_ms > when:
                            expired += 1
                            if trace is not None:
                                trace.emit(t, tr.K_EXPIRE, -1, key.decode("utf-8", "replace"))
                            if on_expired is not None:
                                on_expired(db.id, ks.delete_expired(db, key, cursor & mask), t)
                            else:
                                ks.reclaim_expired(db, key, cursor & mask)
                        elif when > now_ms:
                            ttl_sum += when - now_ms
                            ttl_samples += 1
                        sampled += 1
                    if sampled >= num:
                        cursor += 1
                        break
                else:
                    cursor = first + max_buckets
                checked = cursor - first
                db.expires_cursor = cursor
                t += checked * c_bucket + sampled * c_sample + expired * c_expire
                total_sampled += sampled
                total_expired += expired
                if ttl_samples:
                    avg = ttl_sum // ttl_samples
                    if db.avg_ttl == 0:
                        db.avg_ttl = avg
                    db.avg_ttl = (db.avg_ttl // 50) * 49 + avg // 50
                if (iteration & 0xF) == 0 and t - start > timelimit:
                    self.timelimit_exit = True
                    self.stat_expired_time_cap_reached_count += 1
                    break
                if not (sampled == 0 or expired * 100 // sampled > stale):
                    break
        elapsed = t - start
        self.stat_expire_cycle_time_used += elapsed
        current = total_expired / total_sampled if total_sampled else 0.0
        self.stat_expired_stale_perc = current * 0.05 + self.stat_expired_stale_perc * 0.95
        self.cycles[kind] += 1
        if total_expired and len(self.history) < self.history_limit:
            self.history.append((start, elapsed, kind, total_expired))
        return t

    def databases_cron_resize(self, t: float) -> float:
        """``tryResizeHashTables``: shrink tables under 10% fill (the cron's other job here;
        rehashing is instantaneous in the table model, see ``server/hashtable.py``)."""
        for db in self.ks.dbs[:CRON_DBS_PER_CALL]:
            for table in (db.main, db.expires):
                if table.needs_resize():
                    table.shrink_to_fit()
        return t

    def info_fields(self) -> dict[str, dict[str, object]]:
        return {"stats": {
            "expired_stale_perc": f"{self.stat_expired_stale_perc * 100:.2f}",
            "expired_time_cap_reached_count": self.stat_expired_time_cap_reached_count,
            "expire_cycle_cpu_milliseconds": int(self.stat_expire_cycle_time_used * 1000),
        }}
