"""Clients: what sends commands to the server, and when.

* ``closed``: connections that behave like ``redis-benchmark`` (``src/redis-benchmark.c``):
  each writes ``pipeline`` commands, waits until every reply has arrived, optionally thinks,
  and writes again, until the workload's ``requests`` (shared by all its connections, like
  ``-n``) or ``duration`` are used up. Latency of a command = its reply's arrival minus the
  moment its batch was written, as redis-benchmark measures it.
* ``open``: Poisson arrivals at ``rate``, spread round-robin over ``clients`` connections,
  generated in numpy chunks (no SimPy process per request); a request's latency runs from its
  arrival time, whatever the server is doing.
* ``script``: one connection sending a timed list of commands (each after the previous reply),
  keeping every reply so a scenario can show them.
* ``scan``: one connection walking the keyspace with SCAN, each call taking the cursor from
  the previous reply, until the cursor returns to 0 (or again and again with ``repeat``).
* ``read-modify-write``: connections that increment counters in the application: GET, then
  SET of the value + 1 once the GET's reply is in (lost updates, against INCR).

Keys are ``prefix + index`` with the index drawn uniform, zipf(alpha) (rank 0 hottest),
sequential, or hotspot (``hot_probability`` of requests to the first ``hot_fraction`` of keys).
A workload with ``fields`` draws the field of its hash commands (and of ``{field}`` slots) the
same way, from a random stream spawned for it, so its keys are the draws they would be
without it.
"""

from __future__ import annotations

import copy
import shlex
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any, Final

import numpy as np
from mypy_extensions import mypyc_attr
from simpy.events import NORMAL

from redissim.scenario import CommandSpec, KeysConfig, Workload
from redissim.server.eventloop import Batch, Conn, EventLoop, InRecord, OutRecord
from redissim.server.keyspace import shared_word
from redissim.server.resp import ReplyError, bulk_size, decimal_digits, request_size
from redissim.sim.metrics import BUFFER, LatencyHistogram
from redissim.sim.trace import K_CLIENT_READ

CHUNK: Final = 8192
KEY_TABLE_MAX: Final = 1 << 18
#: keys taken from the key table at a time (see KeyPicker._resolve)
KEY_WINDOW: Final = 32
#: draws at a time of a connection's own command mix (workload sequence per-connection)
CONN_CHUNK: Final = 256


class KeyPicker:
    """Draws key indices in chunks from the workload's distribution."""

    def __init__(self, cfg: KeysConfig, rng: np.random.Generator,
                 tables: dict[tuple[bytes, int], list[bytes | None]] | None = None,
                 chunk: int = CHUNK, cdf: np.ndarray | None = None):
        self.cfg = cfg
        self.rng = rng
        self.chunk = chunk
        self.prefix = cfg.prefix.encode()
        #: the current chunk: its keys formatted in one go (no key table), or its key indices
        #: (with a key table, see below), and where we are in it (an index, not an
        #: iterator: compiled, ``next(it)`` is a generic call, this is not)
        self._keys: list[bytes] = []
        self._idx: list[int] = []
        self._ii = 0
        self._ki = 0
        self._n = 0
        self._seq = 0
        self.fixed = cfg.fixed.encode() if cfg.fixed is not None else None
        self.offset = cfg.offset
        #: zipf's cumulative distribution over the key space (given: another picker's, the
        #: same distribution: per-connection pickers share one)
        self.cdf: np.ndarray | None = cdf
        #: every key formatted so far, by index (+1: powerlaw's indices run to ``space``),
        #: shared through ``tables`` with the simulation's other workloads of the same
        #: prefix and offset. Formatting a key costs more than the rest of building its
        #: command, and a key written once is then the very object the keyspace holds
        #: (lookups match it by identity, without comparing bytes). Key spaces up to
        #: KEY_TABLE_MAX keys only: at most 2 MB of slots per prefix, plus the keys (about
        #: 40 bytes each, most of them the objects the keyspace holds anyway). A chunk keeps
        #: indices, taken from the table KEY_WINDOW at a time (see _resolve).
        self._table: list[bytes | None] | None = None
        if cfg.space <= KEY_TABLE_MAX and self.fixed is None:
            shared = (self.prefix, self.offset)
            table = tables.get(shared) if tables is not None else None
            if table is None:
                table = []
                if tables is not None:
                    tables[shared] = table
            if len(table) < cfg.space + 1:
                table.extend([None] * (cfg.space + 1 - len(table)))
            self._table = table
        if cfg.distribution == "zipf" and self.cdf is None:
            ranks = np.arange(1, cfg.space + 1, dtype=np.float64)
            w = ranks ** (-cfg.alpha)
            self.cdf = np.cumsum(w) / w.sum()

    def _refill(self) -> None:
        cfg, rng, n = self.cfg, self.rng, self.chunk
        if cfg.distribution == "uniform":
            arr = rng.integers(0, cfg.space, n)
        elif cfg.distribution == "zipf":
            assert self.cdf is not None
            arr = np.minimum(np.searchsorted(self.cdf, rng.random(n), side="right"),
                             cfg.space - 1)
        elif cfg.distribution == "powerlaw":
            # redis-cli's powerLawRand(1, space, alpha) (LRUTestGenKey): inverse transform of
            # a power law, folded so that low indices are the popular ones
            lo, hi, a1 = 1.0, cfg.space + 1.0, cfg.alpha + 1.0
            r = rng.random(n)
            pl = ((hi ** a1 - lo ** a1) * r + lo ** a1) ** (1.0 / a1)
            arr = (hi - 1 - np.floor(pl)).astype(np.int64) + 1
        elif cfg.distribution == "sequential":
            arr = (np.arange(self._seq, self._seq + n)) % cfg.space
            self._seq += n
        else:  # hotspot
            hot_n = max(1, int(cfg.space * cfg.hot_fraction))
            hot = rng.random(n) < cfg.hot_probability
            cold_n = max(1, cfg.space - hot_n)
            arr = np.where(hot, rng.integers(0, hot_n, n),
                           hot_n + rng.integers(0, cold_n, n)) % cfg.space
        if self._table is None:
            if self.offset:
                arr = arr + self.offset
            prefix = self.prefix
            self._keys = [b"%s%d" % (prefix, i) for i in arr.tolist()]
            self._n = len(self._keys)
        else:
            self._idx = arr.tolist()
            self._ii = 0
            self._resolve()
        self._ki = 0

    def _resolve(self) -> None:
        """The next KEY_WINDOW keys of the chunk's indices, from the key table (formatted
        the first time). A few at a time, not all 8192 at refill, so that the key objects
        are still in the CPU caches when their commands are built and run: taken at refill,
        each was out of the caches again 8192 commands later (perf put 14 % of the P=16
        benchmark's samples in the key picker then, 8 % after). Measured in alternating
        runs: P=1 9 % faster, P=16 no change beyond the noise."""
        table = self._table
        assert table is not None
        idx = self._idx
        ii = self._ii
        end = min(ii + KEY_WINDOW, len(idx))
        keys = self._keys
        keys.clear()
        prefix = self.prefix
        offset = self.offset
        while ii < end:
            j = idx[ii]
            k = table[j]
            if k is None:
                k = table[j] = b"%s%d" % (prefix, j + offset)
            keys.append(k)
            ii += 1
        self._ii = ii
        self._n = len(keys)
        self._ki = 0

    def next_key(self) -> bytes:
        """The next key."""
        i = self._ki
        if i >= self._n:  # (the chunk stays empty with a fixed key)
            if self.fixed is not None:
                return self.fixed
            if self._table is not None and self._ii < len(self._idx):
                self._resolve()
            else:
                self._refill()
            i = 0
        self._ki = i + 1
        return self._keys[i]


#: argument templates of the commands a workload can name without ``args``.
_TEMPLATES: dict[str, list[str]] = {
    "GET": ["GET", "{key}"], "SET": ["SET", "{key}", "{value}"],
    "SETEX": ["SETEX", "{key}", "{ttl_s}", "{value}"], "SETNX": ["SETNX", "{key}", "{value}"],
    "GETDEL": ["GETDEL", "{key}"], "INCR": ["INCR", "{key}"], "DECR": ["DECR", "{key}"],
    "INCRBY": ["INCRBY", "{key}", "1"], "APPEND": ["APPEND", "{key}", "{value}"],
    "STRLEN": ["STRLEN", "{key}"], "DEL": ["DEL", "{key}"], "UNLINK": ["UNLINK", "{key}"],
    "EXISTS": ["EXISTS", "{key}"], "TYPE": ["TYPE", "{key}"], "TTL": ["TTL", "{key}"],
    "PTTL": ["PTTL", "{key}"], "EXPIRE": ["EXPIRE", "{key}", "{ttl_s}"],
    "PERSIST": ["PERSIST", "{key}"], "PING": ["PING"],
    "HSET": ["HSET", "{key}", "field", "{value}"], "HGET": ["HGET", "{key}", "field"],
    "HGETALL": ["HGETALL", "{key}"], "LPUSH": ["LPUSH", "{key}", "{value}"],
    "RPUSH": ["RPUSH", "{key}", "{value}"], "LPOP": ["LPOP", "{key}"],
    "RPOP": ["RPOP", "{key}"], "LLEN": ["LLEN", "{key}"],
    "LRANGE": ["LRANGE", "{key}", "0", "99"], "MGET": ["MGET", "{key}"],
}


class Builder:
    """Builds one command line of a template with no slot to fill: (args, request bytes,
    label). The subclasses fill keys. (Native classes, not closures: compiled, a method
    of a native class is a direct C call, a closure behind a ``Callable`` a generic one.)"""

    def __init__(self, enc: list[bytes], size: int, label: str):
        self.enc = enc
        self.size = size
        self.label = label

    def build(self) -> tuple[list, int, str]:
        return list(self.enc), self.size, self.label

    def record(self, batch: Batch) -> InRecord:
        """The same line as a request record of ``batch`` (what EventLoop.submit_records
        takes): no intermediate tuple on the closed-loop clients' path."""
        return list(self.enc), self.size, self.label, batch


class OneKeyBuilder(Builder):
    """A template with one key slot (GET, SET, INCR...): ``size`` is the request's bytes
    without the key's bulk string."""

    def __init__(self, enc: list[bytes], size: int, label: str, keys: KeyPicker, ki: int):
        super().__init__(enc, size, label)
        self.keys = keys
        self.ki = ki

    def build(self) -> tuple[list, int, str]:
        k = self.keys.next_key()
        args = self.enc.copy()
        args[self.ki] = k
        return args, self.size + bulk_size(len(k)), self.label

    def record(self, batch: Batch) -> InRecord:
        k = self.keys.next_key()
        args = self.enc.copy()
        args[self.ki] = k
        return args, self.size + bulk_size(len(k)), self.label, batch


class SlotBuilder(Builder):
    """A template with several slots (MSET-like lines written with ``args``, hash commands
    with a ``{field}``): each slot draws from its picker (keys or fields), in the
    template's order."""

    def __init__(self, enc: list[bytes], size: int, label: str,
                 slots: list[tuple[int, KeyPicker]]):
        super().__init__(enc, size, label)
        self.slots = slots

    def build(self) -> tuple[list, int, str]:
        args = self.enc.copy()
        size = self.size
        for i, picker in self.slots:
            k = picker.next_key()
            args[i] = k
            size += bulk_size(len(k))
        return args, size, self.label

    def record(self, batch: Batch) -> InRecord:
        args, size, label = self.build()
        return args, size, label, batch


#: the hash commands' templates when the workload draws fields (``fields``)
_FIELD_TEMPLATES: dict[str, list[str]] = {
    "HSET": ["HSET", "{key}", "{field}", "{value}"], "HGET": ["HGET", "{key}", "{field}"],
    "HDEL": ["HDEL", "{key}", "{field}"], "HEXISTS": ["HEXISTS", "{key}", "{field}"],
    "HINCRBY": ["HINCRBY", "{key}", "{field}", "1"],
    "HSETNX": ["HSETNX", "{key}", "{field}", "{value}"],
}


class CommandMix:
    """Builds command lines from a weighted mix of templates."""

    def __init__(self, wl: Workload, rng: np.random.Generator,
                 key_tables: dict[tuple[bytes, int], list[bytes | None]] | None = None,
                 chunk: int = CHUNK, cdf: np.ndarray | None = None):
        self.rng = rng
        #: random draws made at a time (a connection's own mix draws fewer: see ClosedDriver)
        self.chunk = chunk
        self.keys = KeyPicker(wl.keys, rng, key_tables, chunk, cdf)
        #: the hash fields' picker, on a stream of its own (spawned: the keys' draws are
        #: the same with or without it)
        self.fields: KeyPicker | None = None
        if wl.fields is not None:
            self.fields = KeyPicker(wl.fields, rng.spawn(1)[0], None, chunk)
        self.value = b"x" * wl.value_size
        ttl = wl.ttl
        self.ttl_s = b"%d" % max(1, round(ttl)) if ttl else b"0"
        self.ttl_ms = b"%d" % max(1, round(ttl * 1000)) if ttl else b"0"
        self.builders: list[Builder] = [self._builder(spec, ttl) for spec in wl.commands]
        w = np.array([s.weight for s in wl.commands], dtype=np.float64)
        self._cum = np.cumsum(w) / w.sum()
        self._choice: list[int] = []
        self._ci = 0
        self.batches = wl.mix == "batches"
        self._turn = 0
        #: mix ratio: the builders in turn, each repeated its weight's number of times
        self._cycle: list[Builder] | None = None
        if wl.mix == "ratio" and len(self.builders) > 1:
            self._cycle = [b for b, spec in zip(self.builders, wl.commands, strict=True)
                           for _ in range(int(spec.weight))]
        #: the builder of a single-command mix (a mix of several draws first)
        self.single: Builder | None = self.builders[0] if len(self.builders) == 1 else None

    def next(self) -> tuple[list, int, str]:
        """One command line: (args, request bytes, label)."""
        if self.single is not None:
            return self.single.build()
        return self._drawn().build()

    def next_batch(self, n: int) -> list[tuple[list, int, str]]:
        """``n`` command lines: from the weighted mix, or all of the next command in turn."""
        if self.batches:
            b = self.builders[self._turn % len(self.builders)]
            self._turn += 1
            return [b.build() for _ in range(n)]
        if self.single is not None:
            b = self.single
            return [b.build() for _ in range(n)]
        return [self._drawn().build() for _ in range(n)]

    def next_record(self, batch: Batch) -> InRecord:
        """next() as a request record of ``batch``."""
        if self.single is not None:
            return self.single.record(batch)
        return self._drawn().record(batch)

    def next_records(self, n: int, batch: Batch) -> tuple[list[InRecord], int]:
        """next_batch(n) as request records of ``batch``, and their bytes in all."""
        recs: list[InRecord] = []
        nbytes = 0
        b: Builder | None = self.single
        if self.batches:
            b = self.builders[self._turn % len(self.builders)]
            self._turn += 1
        for _ in range(n):
            rec = (b if b is not None else self._drawn()).record(batch)
            nbytes += rec[1]
            recs.append(rec)
        return recs, nbytes

    def _builder(self, spec: CommandSpec, ttl: float | None) -> Builder:
        name = spec.cmd.upper()
        if spec.args is not None:
            parts = spec.args
        elif self.fields is not None and name in _FIELD_TEMPLATES:
            parts = list(_FIELD_TEMPLATES[name])
        elif name in _TEMPLATES:
            parts = list(_TEMPLATES[name])
            if name == "SET" and ttl:
                parts += ["PX", "{ttl_ms}"]
        else:
            parts = shlex.split(spec.cmd)
            name = parts[0].upper()
        label = spec.cmd.upper() if spec.args is None and (
            name in _TEMPLATES or name in _FIELD_TEMPLATES and self.fields is not None) else name
        enc = [shared_word(p.encode()) for p in parts]
        slots = [(i, p) for i, p in enumerate(parts) if p.startswith("{") and p.endswith("}")]
        if not slots:
            return Builder(enc, request_size(enc), label)
        fill = {"{value}": self.value, "{ttl_s}": self.ttl_s, "{ttl_ms}": self.ttl_ms}
        # Everything but the key is fixed: its share of the request size is computed once
        # (the per-command path is the simulator's hot path).
        for i, p in slots:
            if p != "{key}":
                enc[i] = fill.get(p, enc[i])
        key_slots = [i for i, p in slots if p == "{key}"]
        drawn = [i for i, p in slots if p == "{key}" or p == "{field}"]
        base = request_size([a for i, a in enumerate(enc) if i not in drawn]) \
            - decimal_digits(len(enc) - len(drawn)) + decimal_digits(len(enc))
        if len(drawn) == 1 and key_slots:
            return OneKeyBuilder(enc, base, label, self.keys, key_slots[0])
        fields = self.fields
        return SlotBuilder(enc, base, label, [(i, self.keys if i in key_slots or fields is None
                                                else fields) for i in drawn])

    def _drawn(self) -> Builder:
        """The builder of the next command of the weighted mix (or of the ratio's turn)."""
        cycle = self._cycle
        if cycle is not None:
            b = cycle[self._turn]
            self._turn = (self._turn + 1) % len(cycle)
            return b
        if self._ci >= len(self._choice):
            self._choice = np.searchsorted(self._cum, self.rng.random(self.chunk),
                                           side="right").tolist()
            self._ci = 0
        k = self._choice[self._ci]
        self._ci += 1
        return self.builders[min(k, len(self.builders) - 1)]


class ClientJob:
    """A job reaching a client's thread at a simulated time (its replies to read, or its next
    requests to write), as the entry of SimPy's event queue that
    ``env.timeout(d).callbacks.append(fn)`` makes: SimPy's ``step()`` reads only an entry's
    ``callbacks`` and ``_ok``. Built here, compiled, it costs neither Timeout's constructor nor
    ``schedule()`` in Python nor a closure, on a path taken once or twice per request; and
    the jobs that follow it in the queue run without SimPy's loop (run_jobs)."""

    def __init__(self, handler: Callable[[ClientJob], None], conn: Any, t: float, n: int,
                 sent: list[OutRecord] | None = None,
                 then: Callable[[float], None] | None = None) -> None:
        self.callbacks: list[Any] | None = _RUN_JOBS
        self._ok = True
        self.handler = handler
        self.conn = conn
        self.t = t
        self.n = n
        self.sent = sent
        self.then = then
        self.jobs: JobQueue | None = None  # (JobQueue.push's)


class JobQueue:
    """SimPy's event queue as the jobs go into it: the environment and the parts of it the
    push reads every time (its heap and event counter, which SimPy 4 never replaces), so
    that a push costs one generic attribute read (the clock) rather than three."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.heap: list[Any] = env._queue
        self.eid: Any = env._eid

    def push(self, job: ClientJob) -> None:
        """Put ``job`` in the queue for ``job.t`` (now, if that has passed): what
        ``env.timeout(job.t - env.now if job.t > env.now else 0.0)`` does, to the same time
        and order (SimPy's own event counter; tests/test_engine.py checks the internals
        this uses)."""
        now: float = self.env._now
        t = job.t
        job.jobs = self
        heappush(self.heap, (now + (t - now if t > now else 0.0), NORMAL, next(self.eid), job))


def run_jobs(job: ClientJob) -> None:
    """The callback SimPy's step() finds on every job: runs its handler, then every job at
    the head of the queue after it, as step() would, one at a time (popped, the clock moved
    to its time, its callbacks cleared, its handler run), until the head is something else
    (a timer of the loop, an interrupt, the end of the run): SimPy's own loop, in Python,
    costs more than most handlers. The order of everything is SimPy's."""
    job.handler(job)
    jobs = job.jobs
    assert jobs is not None
    env = jobs.env
    q = jobs.heap
    while q:
        head = q[0]
        nxt = head[3]
        if type(nxt) is not ClientJob:
            return
        heappop(q)
        env._now = head[0]
        nxt.callbacks = None
        nxt.handler(nxt)


#: every job's callbacks (step() replaces an event's list with None, it never edits it)
_RUN_JOBS: Final[list[Any]] = [run_jobs]


# AppDriver (sim/app.py, plain Python) derives from Driver, which mypyc compiles.
@mypyc_attr(allow_interpreted_subclasses=True)
class Driver:
    """Common bookkeeping of a workload: histograms, first send, last reply, completion."""

    def __init__(self, index: int, wl: Workload, loop: EventLoop, rng: np.random.Generator,
                 on_finish: Callable[[Driver, float], None]):
        self.index = index
        self.wl = wl
        self.name = wl.name or f"{wl.type}-{index}"
        self.loop = loop
        self.rng = rng
        self.on_finish = on_finish
        self.hist: dict[str, LatencyHistogram] = {}
        self.t_first = float("inf")
        self.t_last = 0.0
        self.t_start = 0.0
        self.finished = False
        self.issued = 0
        self.completed = 0
        self.records: list[dict[str, Any]] = []
        #: ``completed`` at which the hot paths bin their latency buffers next
        self._flush_at = BUFFER
        #: other systems this workload's clients talk to ("postgres", "device"), set by the
        #: engine before start()
        self.extra_targets: dict[str, Any] = {}
        #: a cluster's ClusterRouter (sim/cluster.py), set by the engine before start(); the
        #: drivers then connect and send through it (a cluster has no SCAN walker)
        self.router: Any = None
        #: where the client's jobs go (its thread's CPU, when modelled)
        self._jobs = JobQueue(loop.env)

    def _flush_hists(self) -> None:
        """Bin the latencies the hot paths appended to the histograms' buffers, the shared
        window's too (they inline ``record`` and call this every BUFFER replies): memory
        stays bounded."""
        self._flush_at = self.completed + BUFFER
        for h in self.hist.values():
            h.flush()
        self.loop.window_hist.flush()

    def _hist(self, label: str) -> LatencyHistogram:
        h = self.hist.get(label)
        if h is None:
            h = self.hist[label] = LatencyHistogram(hdr=True)
        return h

    def _finish(self, t: float) -> None:
        if not self.finished:
            self.finished = True
            if self.router is not None:
                homes = getattr(self, "conns", None)
                if homes is None:  # (a script's one connection)
                    one = getattr(self, "conn", None)
                    homes = [one] if one is not None else []
                for home in homes:
                    self.router.disconnect(home)
            else:
                for conn in self.loop.conns:
                    if conn.driver is self:
                        self.loop.disconnect(conn)
            self.on_finish(self, t)

    def _connect(self, label: str) -> Conn:
        """A client's connection: to the server, or (a cluster) to every master."""
        if self.router is not None:
            return self.router.connect(self, label)
        return self.loop.connect(self, label)

    def _submit(self, conn: Conn, t: float, cmds: list[tuple[list, int, str]]) -> None:
        """EventLoop.submit: to the server, or (a cluster) each command to its master."""
        if self.router is None:
            self.loop.submit(conn, t, cmds)
            return
        batch = Batch(conn, t, len(cmds))
        self.router.submit_records(conn, t, [(a, n, label, batch) for a, n, label in cmds],
                                   sum(n for _a, n, _label in cmds))

    def label_for(self, i: int) -> str:
        return self.wl.label or f"{self.name} {i + 1}"

    def start(self, t: float) -> None:
        """Begin the workload at simulated time ``t`` (each kind of driver defines it)."""
        raise NotImplementedError

    def _begin(self, t: float) -> None:
        """What every request-issuing workload sets up at its start: the command mix, when
        it stops (``duration``), how many requests it may send (``requests``, -1 = no cap)."""
        wl = self.wl
        self.t_start = t
        #: whether the client's CPU is modelled at all (read per request: a plain value, not
        #: the model's)
        self.client_cpu = wl.client_cpu + wl.client_cpu_per_batch
        #: client-cpu (per request) and client-cpu-per-batch split into the part before a
        #: batch is written and the part spent on its replies (client-read-share; 0: replies
        #: are handled on arrival, off the threads)
        share = wl.client_read_share
        self.write_cpu = wl.client_cpu * (1.0 - share)
        self.write_batch_cpu = wl.client_cpu_per_batch * (1.0 - share)
        self.read_cpu = wl.client_cpu * share
        self.read_batch_cpu = wl.client_cpu_per_batch * share
        self.reads_on_cpu = share > 0
        #: a thread idle when a job reaches it sleeps in epoll_wait: it starts the job this
        #: long after (Link.wakeup). Only for clients that handle replies on their threads:
        #: for the others the replies' arrival already carries it (Conn.recv_wakeup).
        self._wakeup = self.loop.link.wakeup if self.reads_on_cpu else 0.0
        #: when each client thread is next free, and a buffer of exponential draws (of mean 1,
        #: scaled by the cost of the job)
        self._cpu_free = [t] * wl.client_threads
        self._cpu_buf: list[float] = []
        #: (read per job: a plain value, not the model's attribute)
        self._cpu_constant = wl.client_cpu_distribution == "constant"
        self.mix = CommandMix(wl, self.rng, self.loop.key_tables)
        self.end_time = t + wl.duration if wl.duration is not None else float("inf")
        self.budget = wl.requests if wl.requests is not None else -1
        self._think_buf: list[float] = []
        self.thinks = wl.think_time != 0

    def _on_cpu(self, t: float, n: int, then: Callable[[float], None]) -> None:
        """Hand ``n`` requests the client decided at ``t`` to write to one of its threads:
        ``then(t_write)`` runs at ``t`` with the time the CPU is done. (At ``t``, not now:
        replies are handed over when the server writes them, ahead of their arrival, and the
        threads must take requests in the order they come, first come first served.)"""
        self._jobs.push(ClientJob(self._then_job, None, t, n, None, then))

    def _then_job(self, job: ClientJob) -> None:
        then = job.then
        assert then is not None
        then(self._cpu_span(job.t, job.n, self.write_cpu, self.write_batch_cpu)[1])

    def on_replies(self, conn: Conn, sent: list[OutRecord], t_recv: float) -> None:
        """Replies the server wrote, reaching the client at ``t_recv``: handled then, or
        (client-read-share) once the client's thread gets to them. The drivers without
        client CPU override it."""
        if self.reads_on_cpu:
            self._read_later(conn, sent, t_recv)
        else:
            self._replies(conn, sent, t_recv, t_recv)

    def _read_later(self, conn: Conn, sent: list[OutRecord], t: float) -> None:
        """Hand the replies that reach the client at ``t`` to one of its threads (with a
        client-read-share): at ``t`` the thread's FCFS queue, the same as the requests'
        (_on_cpu), gives the time it gets to them (where redis-benchmark's readHandler
        stamps their latency) and the time it is done with them (when the connection's next
        request is decided), and _replies runs with both (_read_job)."""
        self._jobs.push(ClientJob(self._read_job, conn, t, 0, sent))

    def _read_job(self, job: ClientJob) -> None:
        sent = job.sent
        assert sent is not None
        start, end = self._cpu_span(job.t, len(sent), self.read_cpu, self.read_batch_cpu)
        trace = self.loop.trace
        if trace is not None and self.router is None:  # (a cluster's masters trace apart)
            trace.emit(start, K_CLIENT_READ, job.conn.id, len(sent))
        self._replies(job.conn, sent, start, end)

    def _replies(self, conn: Conn, sent: list[OutRecord], t_recv: float, t_done: float) -> None:
        """Replies read at ``t_recv``, the next requests decided at ``t_done`` (the drivers
        with client CPU define it)."""
        raise NotImplementedError

    def _cpu_span(self, t: float, n: int, unit: float, fixed: float) -> tuple[float, float]:
        """When a thread (the one free first of ``client-threads``) starts and ends a job that
        reaches it at ``t``: ``fixed`` CPU for the job and ``unit`` for each of its ``n``
        requests or replies (constant, or each exponential with that mean). The threads
        serve the jobs in the order they come (FIFO); one that was idle starts after its
        wake-up."""
        free = self._cpu_free
        i = 0 if len(free) == 1 else free.index(min(free))
        start = t + self._wakeup if t > free[i] else free[i]
        if self._cpu_constant:
            cost = fixed + n * unit
        else:
            cost = 0.0
            if fixed:
                if not self._cpu_buf:
                    self._cpu_buf = self.rng.exponential(1.0, CHUNK).tolist()
                cost = self._cpu_buf.pop() * fixed
            if unit:
                for _ in range(n):
                    if not self._cpu_buf:
                        self._cpu_buf = self.rng.exponential(1.0, CHUNK).tolist()
                    cost += self._cpu_buf.pop() * unit
        free[i] = start + cost
        return start, free[i]

    def _think(self) -> float:
        """The next think time: constant, or exponential with mean ``think-time``."""
        wl = self.wl
        if wl.think_time == 0:
            return 0.0
        if wl.think_distribution == "constant":
            return wl.think_time
        if not self._think_buf:
            self._think_buf = self.rng.exponential(wl.think_time, CHUNK).tolist()
        return self._think_buf.pop()


class ClosedDriver(Driver):
    def start(self, t: float) -> None:
        wl = self.wl
        self._begin(t)
        self.active = 0
        self.conns = [self._connect(self.label_for(i)) for i in range(wl.clients)]
        #: keys whose GET missed, per connection, to SET next (fill-on-miss)
        self._fill: dict[int, list[bytes]] = {}
        #: each connection's Batch, reused: a new one is written only once every reply of
        #: the previous one has arrived
        self._batch: dict[int, Batch] = {}
        self.pipeline = wl.pipeline
        self.fill_on_miss = wl.fill_on_miss
        #: reply -> count (tally-replies), None when not asked for
        self.tally: dict[str, int] | None = {} if wl.tally_replies else None
        if wl.fill_on_miss:
            self._fill_args = [b"SET", b"", b"x" * wl.value_size]
            if wl.ttl:
                self._fill_args += [b"PX", b"%d" % max(1, round(wl.ttl * 1000))]
        #: sequence per-connection: each connection's own mix, all started from the same
        #: generator state (so they send the same commands and keys), and its requests left
        self._mixes: dict[int, CommandMix] | None = None
        self._quota: dict[int, int] = {}
        if wl.sequence == "per-connection":
            self._mixes = {}
            share, extra = divmod(wl.requests, wl.clients) if wl.requests is not None else (-1, 0)
            for i, conn in enumerate(self.conns):
                # (small chunks: a connection draws its own, and 200 connections x 8192
                # formatted keys would be hundreds of MB; one zipf distribution for all)
                self._mixes[conn.id] = CommandMix(wl, copy.deepcopy(self.rng),
                                                  self.loop.key_tables, CONN_CHUNK,
                                                  self.mix.keys.cdf)
                self._quota[conn.id] = share + (1 if i < extra else 0)
        for conn in self.conns:
            self._send(conn, t)
        if self.active:
            self.t_first = t  # every later batch is written after a reply, so later
        if self.active == 0:
            self._finish(t)

    def _send(self, conn: Conn, t: float) -> None:
        if t >= self.end_time or self.budget == 0:
            return
        n = self.pipeline
        if self._mixes is not None:
            # sequence per-connection: the connection's own share of the requests
            left = self._quota[conn.id]
            if left == 0:
                return
            if 0 < left < n:
                n = left
            if left > 0:
                self._quota[conn.id] = left - n
                self.budget -= n
        elif self.budget > 0:
            if n > self.budget:
                n = self.budget
            self.budget -= n
        if self._fill and self._fill.get(conn.id) and self.budget > 0:
            # cache-aside: this batch writes back what the last one missed (extra requests,
            # not counted against the workload's budget)
            self.budget += n
        self.active += 1
        if self.client_cpu:
            # (_on_cpu, without its closures)
            self._jobs.push(ClientJob(self._write_job, conn, t, n))
        else:
            self._write(conn, t, n)

    def _write_job(self, job: ClientJob) -> None:
        """The batch reaches the client's thread (_on_cpu): written once its CPU is done."""
        self._write(job.conn, self._cpu_span(job.t, job.n, self.write_cpu,
                                             self.write_batch_cpu)[1], job.n)

    def _write(self, conn: Conn, t: float, n: int) -> None:
        """Write the batch of ``n`` requests the connection decided on (at ``t``)."""
        batch = self._batch.get(conn.id)
        if batch is None:
            batch = self._batch[conn.id] = Batch(conn, t, n)
        fill = self._fill.get(conn.id) if self._fill else None
        if fill:
            # cache-aside: write back what the last batch missed (the budget was given back
            # in _send)
            todo, self._fill[conn.id] = fill[:n], fill[n:]
            recs: list[InRecord] = []
            nbytes = 0
            for key in todo:
                args = list(self._fill_args)
                args[1] = key
                size = request_size(args)
                recs.append((args, size, "SET", batch))
                nbytes += size
            n = len(recs)
        elif self._mixes is not None:
            recs, nbytes = self._mixes[conn.id].next_records(n, batch)
        else:
            recs, nbytes = self.mix.next_records(n, batch)
        self.issued += n
        batch.t_send = t
        batch.n = batch.remaining = n
        if self.router is None:
            self.loop.submit_records(conn, t, recs, nbytes)
        else:
            self.router.submit_records(conn, t, recs, nbytes)

    def _replies(self, conn: Conn, sent: list[OutRecord], t_recv: float, t_done: float) -> None:
        """The replies as the client reads them at ``t_recv`` (their latency ends there); the
        connection decides on its next requests at ``t_done``."""
        done_batch = None
        if self.router is not None:
            conn = self.router.home[conn]  # (the reply came on its connection to a master)
        wbuf = self.loop.window_hist.buf
        # LatencyHistogram.record, inlined: append to the buffers, bin them every BUFFER
        # (the histogram looked up again only when the label changes: a pipeline's replies
        # are mostly of one command)
        h: LatencyHistogram | None = None
        last = ""
        for label, batch, _size, reply, args in sent:
            lat = t_recv - batch.t_send
            if h is None or label is not last:
                h = self.hist.get(label)
                if h is None:
                    h = self._hist(label)
                last = label
            h.buf.append(lat)
            wbuf.append(lat)
            if reply is None and self.fill_on_miss and label == "GET":
                self._fill.setdefault(conn.id, []).append(args[1])
            if self.tally is not None:
                tally_reply(self.tally, reply)
            batch.remaining -= 1
            if batch.remaining == 0:
                done_batch = batch
        self.completed += len(sent)
        if self.completed >= self._flush_at:
            self._flush_hists()
        if t_recv > self.t_last:
            self.t_last = t_recv
        if done_batch is not None:
            self.active -= 1
            self._send(conn, t_done + self._think() if self.thinks else t_done)
            if self.active == 0:
                self._finish(self.t_last)


#: distinct reply values a tally keeps apart; the rest are counted together
TALLY_MAX: Final = 20


def tally_reply(tally: dict[str, int], reply: Any) -> None:
    """Count ``reply`` under its text: a number, a string, "nil", or the error's code."""
    if reply is None:
        key = "nil"
    elif isinstance(reply, bytes):
        key = reply.decode("utf-8", "replace")
    elif isinstance(reply, int | str):
        key = str(reply)
    elif isinstance(reply, ReplyError):
        key = "error " + str(reply).split(" ", 1)[0]
    else:
        key = type(reply).__name__
    if key not in tally and len(tally) >= TALLY_MAX:
        key = "(other)"
    tally[key] = tally.get(key, 0) + 1


class OpenDriver(Driver):
    """Poisson arrivals; chunks of arrival times are handed to the loop by one SimPy process."""

    def start(self, t: float) -> None:
        wl = self.wl
        self._begin(t)
        self.conns = [self._connect(self.label_for(i)) for i in range(wl.clients)]
        self._rr = 0
        self._fed_all = False
        self.t_first = t
        self.loop.env.process(self._feed(t))

    def _feed(self, t: float):
        env = self.loop.env
        rate = self.wl.rate
        if rate is None:  # the scenario model requires a rate for an open-loop workload
            raise ValueError(f"workload {self.name}: open loop without a rate")
        mean_gap = 1.0 / rate
        last = t
        conns = self.conns
        nconn = len(conns)
        mix = self.mix
        while True:
            n = CHUNK if self.budget < 0 else min(CHUNK, self.budget)
            if n <= 0:
                break
            times = last + np.cumsum(self.rng.exponential(mean_gap, n))
            if times[-1] >= self.end_time:
                times = times[times < self.end_time]
                n = len(times)
            if self.budget > 0:
                self.budget -= n
            loop = self.loop
            router = self.router
            for ts in times.tolist():
                conn = conns[self._rr]
                self._rr = (self._rr + 1) % nconn
                rec = mix.next_record(Batch(conn, ts, 1))
                if router is None:
                    loop.submit_records(conn, ts, [rec], rec[1])
                else:
                    router.submit_records(conn, ts, [rec], rec[1])
            self.issued += n
            if n == 0 or (self.end_time < float("inf") and len(times) < CHUNK):
                break
            last = float(times[-1])
            # Hand over the next chunk shortly before this one runs out.
            yield env.timeout(max(0.0, last - env.now))
        self._fed_all = True
        if self.issued == self.completed:
            self._finish(max(self.t_last, env.now))

    def on_replies(self, conn: Conn, sent: list[OutRecord], t_recv: float) -> None:
        wbuf = self.loop.window_hist.buf
        hists = self.hist
        for label, batch, _size, _reply, _args in sent:  # record(), inlined as in closed
            lat = t_recv - batch.t_send
            h = hists.get(label)
            if h is None:
                h = self._hist(label)
            h.buf.append(lat)
            wbuf.append(lat)
        self.completed += len(sent)
        if self.completed >= self._flush_at:
            self._flush_hists()
        if t_recv > self.t_last:
            self.t_last = t_recv
        if self._fed_all and self.completed == self.issued:
            self._finish(self.t_last)


class ScriptDriver(Driver):
    """One connection sending timed commands, each after the previous reply has arrived."""

    def start(self, t: float) -> None:
        self.t_start = t
        self.conn = self._connect(self.wl.label or self.name)
        self._waiting: Any = None
        self.loop.env.process(self._run(t))

    def _run(self, t0: float):
        env = self.loop.env
        for step in self.wl.steps:
            at = t0 + step.at
            if at > env.now:
                yield env.timeout(at - env.now)
            args = [a.encode() for a in (shlex.split(step.cmd) if isinstance(step.cmd, str)
                                         else step.cmd)]
            self._waiting = env.event()
            t_send = env.now
            self.t_first = min(self.t_first, t_send)
            self.issued += 1
            self._submit(self.conn, t_send, [(args, request_size(args), args[0].decode().upper())])
            t_recv, reply = yield self._waiting
            self.records.append({
                "t": round(t_send - t0, 9), "command": " ".join(a.decode("utf-8", "replace")
                                                                for a in args),
                "reply": _jsonable(reply), "latency_ms": (t_recv - t_send) * 1e3})
        self._finish(self.t_last)

    def on_replies(self, conn: Any, sent: list, t_recv: float) -> None:
        env = self.loop.env
        for label, batch, _size, reply, _args in sent:
            self._hist(label).record(t_recv - batch.t_send)
            self.completed += 1
            self.t_last = max(self.t_last, t_recv)
            ev = self._waiting

            def wake(_e: Any, ev: Any = ev, reply: Any = reply) -> None:
                ev.succeed((t_recv, reply))

            # Wake the script when the reply reaches it, not when the server wrote it.
            env.timeout(t_recv - env.now).callbacks.append(wake)


class ScanDriver(Driver):
    """SCAN cursor walker: the next call's cursor comes from the previous reply.

    Against a cluster it walks every master, as redis-py's ``RedisCluster.scan_iter`` does:
    a SCAN 0 to each master in turn, then round-robin over the masters whose cursor is not
    back at 0, one call at a time; a walk ends when every master's cursor has come back to
    0. Against one server that is the plain walk."""

    def start(self, t: float) -> None:
        wl = self.wl
        self.t_start = t
        self.end_time = t + wl.duration if wl.duration is not None else float("inf")
        self.conn = self._connect(wl.label or self.name)
        self.masters = len(self.router.loops) if self.router is not None else 1
        self.walks = 0
        self.keys_seen = 0
        self._new_walk()
        self._send(t)

    def _new_walk(self) -> None:
        #: each master's cursor, and the masters still walking, in the order they are asked
        self.cursors = [b"0"] * self.masters
        self.pending = list(range(self.masters))
        self.turn = 0

    def _send(self, t: float) -> None:
        node = self.pending[self.turn]
        args = [b"SCAN", self.cursors[node]]
        if self.wl.match:
            args += [b"MATCH", self.wl.match.encode()]
        args += [b"COUNT", b"%d" % self.wl.count]
        self.issued += 1
        self.t_first = min(self.t_first, t)
        cmds = [(args, request_size(args), "SCAN")]
        if self.router is None:
            self.loop.submit(self.conn, t, cmds)
        else:
            self.router.submit_to(self.conn, node, t, cmds)

    def on_replies(self, conn: Any, sent: list, t_recv: float) -> None:
        for label, batch, _size, reply, _args in sent:
            self._hist(label).record(t_recv - batch.t_send)
            self.completed += 1
            self.t_last = max(self.t_last, t_recv)
            cursor, keys = reply[0], reply[1]
            self.keys_seen += len(keys)
            self.cursors[self.pending[self.turn]] = cursor
            if cursor == b"0":
                del self.pending[self.turn]  # (the next master moves up to this turn)
                if self.pending:
                    self.turn %= len(self.pending)
                else:
                    self.walks += 1
                    if not self.wl.repeat:
                        self._finish(t_recv)
                        return
                    self._new_walk()
            else:
                self.turn = (self.turn + 1) % len(self.pending)
            t_next = t_recv + self.wl.think_time
            if t_next >= self.end_time:
                self._finish(t_recv)
                return
            self._send(t_next)


class ReadModifyWriteDriver(Driver):
    """An increment done by the application instead of the server: GET the key, add 1 to
    the value in the client, SET it back (``r.set(k, int(r.get(k) or 0) + 1)``).

    Each connection runs one increment at a time and waits for every reply, like a closed
    client at pipeline 1; ``requests`` counts increments (two commands each). Nothing holds
    the key between the GET and the SET, so another client's GET of the same key in between
    reads the same value, and of the two SETs that follow only one increment survives: the
    lost update that INCR (one command, run whole by the single-threaded server) cannot
    have. A value that is not a decimal integer, or an error reply, abandons that increment
    (counted in ``failed``), as the application's ``int()`` or its error handling would.
    """

    def start(self, t: float) -> None:
        wl = self.wl
        self._begin(t)
        self.keys = self.mix.keys
        #: increments finished (GET and SET both answered), abandoned
        self.increments = 0
        self.failed = 0
        #: per key: the first value any of the workload's GETs returned (the counter's start)
        self.first_read: dict[bytes, int] = {}
        #: per key: its value when the workload's last reply was written (None: not an
        #: integer, or gone), read from the server's keyspace for the report
        self.final: dict[bytes, int | None] = {}
        self.active = 0
        self.conns = [self._connect(self.label_for(i)) for i in range(wl.clients)]
        for conn in self.conns:
            self._get(conn, t)
        if self.active:
            self.t_first = t
        if self.active == 0:
            self._finish(t)

    def _get(self, conn: Conn, t: float) -> None:
        if t >= self.end_time or self.budget == 0:
            return
        if self.budget > 0:
            self.budget -= 1
        key = self.keys.next_key()
        args = [b"GET", key]
        self.issued += 1
        self.active += 1
        self._put(conn, t, [(args, request_size(args), "GET")])

    def _put(self, conn: Conn, t: float, cmds: list[tuple[list, int, str]]) -> None:
        """Write one command the client decided on at ``t``: at once, or once its CPU is done
        with it (client-cpu)."""
        if not self.client_cpu:
            self._submit(conn, t, cmds)
            return

        def write(t_write: float) -> None:
            self._submit(conn, t_write, cmds)

        self._on_cpu(t, 1, write)

    def _replies(self, conn: Conn, sent: list[OutRecord], t_recv: float, t_done: float) -> None:
        """As ClosedDriver._replies: read at ``t_recv``, the next command decided at
        ``t_done``."""
        if self.router is not None:
            conn = self.router.home[conn]  # (the reply came on its connection to a master)
        for label, batch, _size, reply, args in sent:
            self._hist(label).record(t_recv - batch.t_send)
            self.completed += 1
            if t_recv > self.t_last:
                self.t_last = t_recv
            if label == "GET":
                value = self._as_int(reply)
                if value is not None:
                    key = args[1]
                    if key not in self.first_read:
                        self.first_read[key] = value
                    line = [b"SET", key, b"%d" % (value + 1)]
                    self.issued += 1
                    self._put(conn, t_done, [(line, request_size(line), "SET")])
                    continue
                self.failed += 1
            elif isinstance(reply, str):  # the status reply OK
                self.increments += 1
            else:
                self.failed += 1
            self.active -= 1
            self._get(conn, t_done + self._think() if self.thinks else t_done)
        if self.active == 0 and not self.finished:
            # Every increment has its replies: the keys hold what this workload left. (Read
            # now, when the server wrote the last reply, or with a client-read-share when it
            # reached the client; later workloads may change them.)
            db = conn.session.db
            for key in self.first_read:
                ks = self.loop.ks if self.router is None else self.router.keyspace_of(key)
                self.final[key] = self._as_int(ks.dbs[db].data.get(key, b""))
            self._finish(self.t_last)

    def lost(self) -> int:
        """Increments that left no trace: those done, less what the keys gained."""
        gained = sum((self.final.get(k) or 0) - v for k, v in self.first_read.items())
        return self.increments - gained

    @staticmethod
    def _as_int(reply: Any) -> int | None:
        """The GET reply as the application reads it: nil is 0, a decimal integer its value,
        anything else (an error, a non-number) None."""
        if reply is None:
            return 0
        if isinstance(reply, bytes):
            try:
                return int(reply)
            except ValueError:
                return None
        return None


DRIVERS: dict[str, type[Driver]] = {
    "closed": ClosedDriver, "open": OpenDriver, "script": ScriptDriver, "scan": ScanDriver,
    "read-modify-write": ReadModifyWriteDriver,
}


#: longest array reply a script keeps in full: a map such as MEMORY STATS's (34 elements
#: with one database) whole, KEYS * on 1M keys cut short (it would not fit a report)
MAX_KEPT_ELEMENTS = 64


def _jsonable(reply: Any) -> Any:
    """A reply as JSON: bytes as text, errors as {"error": text}, long arrays cut short."""
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    if isinstance(reply, list):
        if len(reply) > MAX_KEPT_ELEMENTS:
            head = [_jsonable(r) for r in reply[:MAX_KEPT_ELEMENTS // 2]]
            return head + [f"... ({len(reply)} elements in all)"]
        return [_jsonable(r) for r in reply]
    if isinstance(reply, str | int) or reply is None:
        return reply
    return {"error": str(reply)}
