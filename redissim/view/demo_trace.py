"""A SYNTHETIC trace generator for tests of the view and as a fallback demo.

This is not the simulator and its numbers are not results: it fakes a plausible sequence of
events in the trace format (``sim/trace.py``) so the view can be built and tested without
the engine. It follows the order of one ``ae.c:aeProcessEvents`` iteration (epoll_wait ->
read ready clients -> execute their commands one by one -> serverCron when due ->
beforeSleep: AOF write, then replies), with sampled eviction (``evict.c``), lazy and active
expiry, a BGSAVE fork with a child reporting progress, AOF fsyncs in a background thread,
one blocking ``KEYS *``, and a PostgreSQL backend walking parse -> plan -> buffer cache ->
disk -> index -> result.

Time is COMPRESSED so that everything happens within ~60 ms: serverCron every 5 ms instead
of 100 ms, an "everysec" fsync every 10 ms, a snapshot that takes ~15 ms. Use the real
engine (``redissim.sim.engine.simulate``) for anything quantitative.
"""

from __future__ import annotations

import heapq
import random

from redissim.sim import trace as tr
from redissim.view.model import Caption, ServerSettings, ViewInput

US = 1e-6
MS = 1e-3

DEMO_LABELS = {0: "FastAPI server 1", 1: "FastAPI server 2", 2: "Worker process"}
PG_CLIENT = 100


def make_demo_trace(
    seed: int = 0,
    duration_s: float = 0.06,
    n_clients: int = 3,
    n_keys: int = 260,
    capacity: int = 200,
    with_keys_command: bool = True,
    with_fork: bool = True,
    with_postgres: bool = True,
) -> tr.Trace:
    """Build a synthetic trace (see module docstring); deterministic for a given seed."""
    rng = random.Random(seed)
    t_ = tr.Trace(limit=500_000)
    emit = t_.emit
    keys = [f"user:{i}" if i % 4 else f"session:{i}" for i in range(n_keys)]
    weights = [1.0 / (i + 1) ** 0.8 for i in range(n_keys)]
    # Preloaded dataset: the first `capacity - 8` keys exist at t = 0.
    present: dict[str, float] = {}  # key -> last touch
    ttl: dict[str, float] = {}      # key -> expiry time
    for k in keys[: capacity - 8]:
        emit(0.0, tr.K_TOUCH, -1, k)
        present[k] = 0.0
        if k.startswith("session:"):
            ttl[k] = rng.uniform(5 * MS, duration_s * 1.5)

    # Client requests: (arrive time, client, send time, command tuple).
    arrivals: list[tuple[float, int, tuple[str, str, float]]] = []
    keys_at = 0.035 if with_keys_command else None

    def next_command(c: int, t: float) -> tuple[str, str, float]:
        nonlocal keys_at
        if keys_at is not None and c == n_clients - 1 and t >= keys_at:
            keys_at = None
            return ("KEYS", "*", 4 * MS)
        r = rng.random()
        if r < 0.75:
            k = rng.choices(keys, weights)[0]  # reads are skewed to hot keys
            return ("GET", k, rng.uniform(0.8, 1.6) * US)
        k = rng.choice(keys)  # writes spread over the keyspace (new keys -> evictions)
        if k.startswith("session:"):
            return ("SETEX", k, rng.uniform(1.5, 2.5) * US)
        return ("SET", k, rng.uniform(1.5, 2.5) * US)

    def send(c: int, t: float) -> None:
        cmd = next_command(c, t)
        emit(t, tr.K_SEND, c, 1)
        a = t + rng.uniform(40, 70) * US
        emit(a, tr.K_ARRIVE, c, 1)
        heapq.heappush(arrivals, (a, c, cmd))

    for c in range(n_clients):
        send(c, rng.uniform(0, 60) * US)

    now = 0.0
    next_cron = 5 * MS
    next_fsync = 10 * MS
    fork_at = 0.02 if with_fork else None
    aof_pending = 0
    pending_replies: list[int] = []
    while now < duration_s:
        # beforeSleep: flush the AOF buffer, then write replies (redis-internals §1.3).
        emit(now, tr.K_BEFORE_SLEEP)
        now += 1 * US
        if aof_pending:
            emit(now, tr.K_AOF_WRITE, -1, aof_pending)
            aof_pending = 0
            now += 3 * US
            if now >= next_fsync:
                emit(now, tr.K_FSYNC_START)
                emit(now + rng.uniform(1.0, 2.0) * MS, tr.K_FSYNC_END)  # BIO thread
                next_fsync = now + 10 * MS
        for c in reversed(pending_replies):  # the pending-write list is LIFO
            emit(now, tr.K_WRITE, c, 40)
            now += 2 * US
            r = now + rng.uniform(40, 70) * US
            emit(r, tr.K_RECV, c, 1)
            send(c, r + rng.uniform(20, 120) * US)
        pending_replies = []
        # epoll_wait until a socket is readable or the next timer is due.
        wake = min(arrivals[0][0] if arrivals else duration_s, next_cron)
        if wake > now:
            emit(now, tr.K_IDLE)
            now = wake
        ready: list[tuple[float, int, tuple[str, str, float]]] = []
        while arrivals and arrivals[0][0] <= now:
            ready.append(heapq.heappop(arrivals))
        emit(now, tr.K_ITER, -1, len(ready))
        for _a, c, (name, key, cpu) in ready:
            emit(now, tr.K_READ, c, 1)
            now += 2 * US
            if name in ("SET", "SETEX") and key not in present and len(present) >= capacity:
                # performEvictions: sample 5 keys, evict the idlest (allkeys-lru).
                sample = rng.sample(sorted(present), 5)
                victim = min(sample, key=lambda k: present[k])
                emit(now, tr.K_EVICT, -1, (victim, tuple(sample)))
                del present[victim]
                ttl.pop(victim, None)
                now += 1 * US
            emit(now, tr.K_EXEC, c, (name, key, cpu))
            if name == "GET" and key in ttl and ttl[key] <= now:
                emit(now, tr.K_EXPIRE, -1, key)  # lazy expiry on access
                present.pop(key, None)
                del ttl[key]
            elif name == "GET" and key in present:
                emit(now, tr.K_TOUCH, -1, key)
                present[key] = now
            elif name in ("SET", "SETEX"):
                emit(now, tr.K_TOUCH, -1, key)
                present[key] = now
                if name == "SETEX":
                    ttl[key] = now + rng.uniform(5, 30) * MS
                aof_pending += 60 + len(key)
            now += cpu
            pending_replies.append(c)
        if now >= next_cron:
            cpu = rng.uniform(40, 120) * US
            emit(now, tr.K_CRON, -1, cpu)
            # Active expire cycle: sample keys with a TTL, delete the expired ones.
            for k in sorted(ttl)[:20]:
                if ttl[k] <= now:
                    emit(now, tr.K_EXPIRE, -1, k)
                    present.pop(k, None)
                    del ttl[k]
            now += cpu
            next_cron = now + 5 * MS
            if fork_at is not None and now >= fork_at:
                stall = 1.2 * MS
                emit(now, tr.K_FORK, -1, stall)
                start = now + stall
                for i in range(1, 11):  # the child reports progress (another emitter)
                    emit(start + i * 1.5 * MS, tr.K_SNAPSHOT, -1, i / 10)
                now += stall
                fork_at = None

    if with_postgres:
        stages = (("parse", 250, 400), ("plan", 300, 700), ("buffer cache", 40, 120),
                  ("disk", 2500, 7000), ("index", 150, 400), ("result", 80, 200))
        t = 0.5 * MS
        while t < duration_s:
            for name, lo, hi in stages:
                if name == "disk" and rng.random() < 0.3:
                    continue  # all pages were in shared_buffers: no disk read
                emit(t, tr.K_PG_STAGE, PG_CLIENT, (name, "enter"))
                t += rng.uniform(lo, hi) * US
                emit(t, tr.K_PG_STAGE, PG_CLIENT, (name, "leave"))
            t += rng.uniform(100, 400) * US
    return t_


def demo_view_input(seed: int = 0, duration_s: float = 0.06, **kw: object) -> ViewInput:
    """A :class:`ViewInput` around :func:`make_demo_trace`, with captions and labels."""
    trace = make_demo_trace(seed=seed, duration_s=duration_s, **kw)  # type: ignore[arg-type]
    n_clients = int(kw.get("n_clients", 3))  # type: ignore[call-overload]
    labels = {c: DEMO_LABELS.get(c, f"client {c}") for c in range(n_clients)}
    key_bytes = 4096
    capacity = int(kw.get("capacity", 200))  # type: ignore[call-overload]
    captions = [
        Caption("SYNTHETIC demo trace (time compressed). Three apps share one Redis; "
                "each request is an orange token.", at=0.0),
        Caption("The single thread reads a socket, runs one command at a time, then writes "
                "replies in beforeSleep.", at=0.004),
        Caption("maxmemory reached: Redis samples 5 keys and evicts the idlest "
                "(allkeys-lru).", on=tr.K_EVICT),
        Caption("appendfsync everysec: the AOF is fsynced in the background; until then "
                "the last writes are only in the page cache.", on=tr.K_FSYNC_START),
        Caption("BGSAVE: fork() blocks the loop while the page table is copied, then the "
                "child writes the snapshot (copy-on-write).", on=tr.K_FORK),
        Caption("KEYS * scans every key on the only thread: all clients wait. Use SCAN.",
                on="exec:KEYS"),
    ]
    return ViewInput(
        trace=trace,
        client_labels=labels,
        captions=captions,
        settings=ServerSettings(hz=10, maxmemory=capacity * key_bytes,
                                maxmemory_policy="allkeys-lru", maxmemory_samples=5,
                                appendonly=True, appendfsync="everysec"),
        key_bytes=key_bytes,
        duration_s=duration_s,
        title="SYNTHETIC demo trace",
    )
