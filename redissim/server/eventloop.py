"""The Redis main thread: one ae event loop (``src/ae.c:aeMain``/``aeProcessEvents``).

One SimPy wake-up per ae iteration, not per command, because that is how Redis works
(reference section 1.1/1.10):

1. ``epoll_wait`` returns the clients whose sockets are readable;
2. each ready client is read once (``networking.c:readQueryFromClient``: one ``read(2)`` of
   up to 16 KiB) and every complete command in that read runs back to back
   (``processInputBuffer`` -> ``call``);
3. due timers run (``processTimeEvents``): ``serverCron`` every 1000/hz ms, re-armed from the
   *end* of the callback, with ``dynamic-hz``;
4. ``beforeSleep`` writes the replies (``handleClientsWithPendingWrites``: clients in LIFO
   order, at most 64 KiB each, ``NET_MAX_WRITES_PER_EVENT``), then the loop sleeps again.

Within an iteration time is plain arithmetic: CPU costs from the cost profile are added to a
local clock ``t`` and the SimPy process sleeps once, until the iteration's end or the next
readable socket or timer. Replies are handed to the network at the moment of their
``write(2)``; clients receive them after the network delay. The replies of commands run in
iteration *k* therefore wait for every other command of that iteration, for the timers, and
for the writes to the clients served before them -- the batching that makes Redis latency
what it is.

``model.loop: fcfs`` switches to an idealised server for checking against queueing theory:
commands run in arrival order, each reply leaves when its command ends, and only command
costs are charged.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any, Final

import numpy as np
import simpy
from mypy_extensions import mypyc_attr

from redissim.profile import CostProfile
from redissim.server.commands import MISS_REPLIES, stat_name
from redissim.server.commands import lookup as lookup_command
from redissim.server.keyspace import Keyspace, Session
from redissim.server.resp import NIL_BULK, ReplyError, reply_size
from redissim.sim import trace as tr
from redissim.sim.clock import EPOCH_MS
from redissim.sim.metrics import CommandStats, LatencyHistogram
from redissim.sim.network import Link

#: ``PROTO_IOBUF_LEN``: bytes one read(2) asks for (networking.c).
PROTO_IOBUF_LEN: Final = 16 * 1024
#: ``NET_MAX_WRITES_PER_EVENT``: bytes written per client per beforeSleep (networking.c).
NET_MAX_WRITES_PER_EVENT: Final = 64 * 1024
#: dynamic-hz: double hz while clients/hz exceeds this (``MAX_CLIENTS_PER_CLOCK_TICK``).
MAX_CLIENTS_PER_CLOCK_TICK: Final = 200
CONFIG_MAX_HZ: Final = 500
#: a processCommand hook: (conn, args, t) -> (t advanced, reply or None)
PreHook = Callable[["Conn", list, float], tuple[float, Any]]
#: ``STATS_METRIC_SAMPLES``: instantaneous_* are the mean of the last 16 samples.
STATS_METRIC_SAMPLES: Final = 16


@mypyc_attr(allow_interpreted_subclasses=True)
class CommandObserver:
    """What ``call()`` does once a command has run, for the mechanism that propagates it
    (``server.c:call`` -> ``alsoPropagate``: the AOF, the dirty counter, a fork's
    copy-on-write). The loop calls one such object directly: compiled, a method of a native
    class is a C call with its arguments unboxed, a ``Callable`` attribute a generic call."""

    def after_command(self, conn: Conn, args: list, t: float) -> None:
        """``args`` ran on ``conn`` and finished at ``t``; the keyspace's effects say what
        it did."""


class Batch:
    """What a client wrote in one go (a pipeline of ``n`` commands) and is waiting for."""

    __slots__ = ("conn", "t_send", "n", "remaining")

    def __init__(self, conn: Conn, t_send: float, n: int):
        self.conn = conn
        self.t_send = t_send
        self.n = n
        self.remaining = n


class CommandEntry:
    """What processCommand needs for one spelling of a command name, looked up once: the
    hooks that run before it, the command, its cmdstat and its base cost. (A native class:
    compiled, its fields are read unboxed, a tuple's are not.)"""

    __slots__ = ("hooks", "spec", "st", "cost", "miss_cost", "miss_reply", "kind")

    def __init__(self, hooks: tuple[PreHook, ...], spec: Any, st: CommandStats, cost: float,
                 miss_cost: float, miss_reply: object, kind: int):
        self.hooks = hooks
        self.spec = spec
        self.st = st
        self.cost = cost
        #: the cost when the key was missing; < 0: the same as ``cost``
        self.miss_cost = miss_cost
        #: the very object the command replies when its key is missing (MISS_REPLIES)
        self.miss_reply = miss_reply
        #: the keyspace's fast path for the name (Keyspace.fast_kind)
        self.kind = kind


#: (a reply no command gives: the miss reply of commands without one)
_NEVER: Final = object()

#: a reply queued on a connection: (label, the request's batch, reply bytes, reply, args)
OutRecord = tuple[str, "Batch", int, Any, list]
#: a request read from a connection: (args, request bytes, label, the client's batch)
InRecord = tuple[list, int, str, "Batch"]


class Conn:
    """A client connection as the server sees it (``client`` struct in server.h)."""

    __slots__ = ("id", "driver", "session", "inq", "inq_bytes", "ready", "out", "out_bytes",
                 "pending_write", "label", "closed", "recv_wakeup")

    def __init__(self, cid: int, driver: Any, label: str, recv_wakeup: float = 0.0):
        self.id = cid
        self.driver = driver
        #: added to the replies' arrival: the client's wake-up when its CPU is not modelled
        #: (assumed asleep waiting for them); 0 when its threads add it themselves if idle
        self.recv_wakeup = recv_wakeup
        self.session = Session()
        #: arrived, unread commands: (args, nbytes, label, batch)
        self.inq: list[InRecord] = []
        self.inq_bytes = 0
        self.ready = False
        #: replies produced, not yet written: (label, batch, nbytes, reply, args)
        self.out: list[OutRecord] = []
        self.out_bytes = 0
        self.pending_write = False
        self.label = label
        self.closed = False


class Arrival:
    """What a client wrote, on the wire: it reaches the server's socket at ``t``. Ordered
    by (``t``, ``seq``), ``seq`` being the order of the writes."""

    __slots__ = ("t", "seq", "conn", "recs", "nbytes")

    def __init__(self, t: float, seq: int, conn: Conn, recs: list[InRecord], nbytes: int):
        self.t = t
        self.seq = seq
        self.conn = conn
        self.recs = recs
        self.nbytes = nbytes

    def __lt__(self, other: Arrival) -> bool:
        return self.t < other.t or (self.t == other.t and self.seq < other.seq)


def _timeval(seconds: float) -> str:
    """A ``struct timeval`` as INFO prints it (``%ld.%06ld``): whole microseconds."""
    us = int(seconds * 1e6)
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


class EventLoop:
    """The single-threaded server: keyspace + ae loop + counters (INFO stats)."""

    # INFO stats, set by reset_stats()
    total_commands_processed: int
    total_reads_processed: int
    total_writes_processed: int
    total_net_input_bytes: int
    total_net_output_bytes: int
    total_error_replies: int
    #: INFO errorstats: error replies by code (``errorstat_ERR:count=N``)
    errorstats: dict[str, int]
    eventloop_cycles: int
    eventloop_duration_sum: float  # seconds (INFO shows usec)
    eventloop_duration_max: float
    eventloop_cmd_per_cycle_max: int
    eventloop_duration_cron_sum: float
    #: wake-ups from a blocking epoll_wait, and the system time of serverCron's own work
    #: (for INFO's CPU section)
    wakeups: int
    cron_sys: float
    _inst_samples: list[tuple[float, float]]
    _inst_last: tuple[float, int] | None
    instantaneous_ops_per_sec: int

    def __init__(self, env: simpy.Environment, keyspace: Keyspace, profile: CostProfile,
                 link: Link, *, hz: int = 10, dynamic_hz: bool = True, loop_mode: str = "ae",
                 rng: np.random.Generator | None = None, trace: tr.Trace | None = None):
        self.env = env
        self.ks = keyspace
        self.profile = profile
        self.link = link
        #: a sleeping loop runs this long after the bytes that wake it arrive (Link.wakeup)
        self.wakeup = link.wakeup
        self.config_hz = hz
        self.hz = hz
        self.dynamic_hz = dynamic_hz
        self.fcfs = loop_mode == "fcfs"
        self.trace = trace
        self.rng = rng if rng is not None else np.random.default_rng(0)

        us = 1e-6
        lc = profile.loop
        zero = self.fcfs
        self.c_iter = 0.0 if zero else lc.iteration_us * us
        self.c_wakeup = 0.0 if zero else lc.wakeup_us * us
        self._slept = False
        self.c_read = 0.0 if zero else lc.read_us * us
        self.c_read_byte = 0.0 if zero else lc.read_per_kb_us * us / 1024
        self.c_parse = 0.0 if zero else lc.parse_us * us
        self.c_write = 0.0 if zero else lc.write_us * us
        self.c_write_byte = 0.0 if zero else lc.write_per_kb_us * us / 1024
        self.c_cron = 0.0 if zero else lc.cron_us * us
        self.c_cron_100ms = 0.0 if zero else lc.cron_100ms_us * us
        self.c_cron_client = 0.0 if zero else lc.cron_per_client_us * us
        #: the kernel's shares of the costs (INFO's CPU section; cpu_fields)
        self.kshare = profile.kernel_share
        self.c_cron_sys = self.c_cron * self.kshare.cron
        self.c_cron_client_sys = self.c_cron_client * self.kshare.cron
        self.c_cron_100ms_sys = self.c_cron_100ms * self.kshare.cron
        cc = profile.commands
        self.c_default = cc.default_us * us
        self.c_cmd = {k: v * us for k, v in cc.per_command_us.items()}
        self.c_miss = {k: v * us for k, v in cc.per_command_miss_us.items()}
        self.c_elem = cc.per_element_us * us
        self.c_keys_scanned = cc.keys_per_key_scanned_us * us
        self.c_keys_returned = cc.keys_per_key_returned_us * us
        self.c_scan_bucket = cc.scan_per_bucket_us * us
        self.c_scan_key = cc.scan_per_key_us * us
        self.c_lp_entry = cc.listpack_per_entry_us * us
        self.exp_costs = cc.distribution == "exponential"
        #: unit exponential factors for ``distribution: exponential``, drawn 65536 at a
        #: time when needed, and the next one to use (see _unit_exponential)
        self._exp_buf: list[float] = []
        self._exp_i = 0
        #: what the CPU's caches make of a key command's cost at the dataset's current size
        #: (model.cpu-caches, server/cpu_caches.py keeps it up); 1.0: the profile's costs
        self.key_cost_factor = 1.0

        self.conns: list[Conn] = []
        #: connections not closed (INFO connected_clients)
        self.connected = 0
        #: requests on the wire (Arrival), taken in (time, write order) from two queues.
        #: Most requests arrive in the order they are written (an open-loop source's times
        #: only grow; closed-loop clients write at the loop's own, growing, clock): those go
        #: to a FIFO, O(1) each way. A request that would overtake the FIFO's last one (a
        #: smaller or slower write) goes to a heap.
        self._fifo: list[Arrival] = []
        self._fifo_head = 0  # (a list and an index: compiled, cheaper than a deque)
        self._arrivals: list[Arrival] = []
        self._seq = 0
        self._write_list: list[Conn] = []       # clients with replies to write (LIFO)
        self._write_later: list[Conn] = []      # clients over the 64 KiB cap: next iteration
        self._ready_later: list[Conn] = []      # clients with unread bytes (level-triggered)
        self._sleeping = False
        self._wake_at = float("inf")
        #: the event the sleeping loop waits on (its timer), and the end of the iteration
        #: before the sleep: an early wake-up (_rewake) replaces the one and starts from the
        #: other
        self._wait: Any = None
        self._t_slept = 0.0
        self.process: simpy.Process | None = None
        #: the main thread's CPU that counters zeroed by CONFIG RESETSTAT accounted for
        #: (_cpu_counted's terms), and the connections made before it
        self._cpu_before: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
        self._conns_before = 0
        #: run() may move SimPy's clock itself (SimPy 4 keeps it in ``_now``, which ``now``
        #: reads and ``schedule`` adds to; tests/test_engine.py checks that this holds)
        self._skip_ok = hasattr(env, "_now")

        # Timers (ae time events). serverCron's first run is 1 ms after start (server.c).
        self.next_cron = 0.001
        self.cronloops = 0
        #: extension points for the mechanisms that run inside the loop (expiry, eviction,
        #: persistence): each takes the loop's local clock and returns it advanced by its CPU.
        self.cron_hooks: list[Callable[[float], float]] = []
        self.before_sleep_hooks: list[Callable[[float], float]] = []
        self.after_command: Callable[[Conn, list, float], None] | None = None
        #: the propagation of commands (persistence), called after ``after_command``
        self.propagate: CommandObserver | None = None
        #: processCommand's checks before call(), in registration order: (hook, names), where
        #: a hook returns the advanced clock and either None (go on) or a reply that answers
        #: the command instead of call(), and ``names`` (lower-case) limits it to those
        #: commands (None: every command). See ``add_before_command``.
        self._pre_hooks: list[tuple[PreHook, frozenset[bytes] | None]] = []
        #: per spelling of a command name seen (bounded): the hooks that apply, the command
        #: spec, its cmdstat, its base cost and the keyspace's fast path (see _call)
        self._pre: dict[Any, CommandEntry] = {}
        #: called when replies are written: (conn, [(label, batch, bytes, reply, args)], t_recv)
        self.reply_hooks: list[Callable[[Conn, list, float], None]] = []
        #: 0 ms timers (evictionTimeProc): objects with ``pending() -> bool`` and
        #: ``timer(t) -> t``; while one is pending the loop does not sleep
        self.zero_timers: list[Any] = []
        #: more INFO fields by section, from the mechanisms plugged into the loop
        self.info_providers: list[Callable[[], dict[str, dict[str, object]]]] = []
        #: called when a restarted process starts: the mechanisms zero their INFO counters
        self.restart_hooks: list[Callable[[], None]] = []
        #: the time other mechanisms charged this process's loop, by kind (see cpu_fields)
        self.cpu_accounts: list[Callable[[], dict[str, float]]] = []
        self.restarts = 0

        # INFO stats (names as in Redis 7.0/7.2 INFO; declared in the class body): from zero
        # here and again when a restarted process starts (reset_stats).
        self.busy_time = 0.0
        self.cmdstats: dict[str, CommandStats] = {}
        self.reset_stats()
        #: latencies of the replies of the current time-series interval (the sampler resets it)
        self.window_hist = LatencyHistogram(precision=0.01)
        self.served = 0  # commands whose reply was written (for queue length)
        #: the clients' formatted keys, shared by the workloads that use the same prefix
        #: and offset (see workload.KeyPicker): client-side, kept here for the simulation
        self.key_tables: dict[tuple[bytes, int], list[bytes | None]] = {}
        self.arrived = 0  # commands that reached the socket

        keyspace.info_hook = self.info_fields
        self._fx = keyspace.effects  # (the keyspace keeps one Effects object for good)

    # ------------------------------------------------------------------ hooks
    def add_before_command(self, hook: PreHook, names: Iterable[str] | None = None) -> None:
        """Run ``hook`` before each command named in ``names`` (any case), or before every
        command. Commands no hook names pay only one dict lookup: GET and SET do not go
        through a MEMORY/BGSAVE check on the per-command path."""
        sel = None if names is None else frozenset(n.lower().encode() for n in names)
        self._pre_hooks.append((hook, sel))
        self._pre.clear()

    def remove_before_command(self, hook: PreHook) -> None:
        for i, (h, _names) in enumerate(self._pre_hooks):
            if h == hook:
                del self._pre_hooks[i]
                break
        self._pre.clear()

    @property
    def before_command(self) -> list[PreHook]:
        """The registered processCommand hooks, in order (for inspection)."""
        return [h for h, _names in self._pre_hooks]

    def _hooks_for(self, first: Any) -> tuple[PreHook, ...]:
        """The processCommand hooks that run before a command spelled ``first``."""
        name = (first if type(first) is bytes else str(first).encode()).lower()
        return tuple(h for h, names in self._pre_hooks if names is None or name in names)

    def _entry_for(self, first: Any) -> CommandEntry:
        """The hooks, command spec, cmdstat and base cost of a spelling of a name."""
        spec = lookup_command(first) if type(first) in (bytes, str) else None
        name = spec.name if spec is not None else ""
        st, cost = self._stats_and_cost(name)
        entry = CommandEntry(self._hooks_for(first), spec, st, cost, self.c_miss.get(name, -1.0),
                             MISS_REPLIES.get(name, _NEVER), self.ks.fast_kind(first))
        if len(self._pre) < 4096:  # remember the spelling, bounded
            self._pre[first] = entry
        return entry

    def _stats_and_cost(self, name: str) -> tuple[CommandStats, float]:
        st = self.cmdstats.get(name)
        if st is None:
            st = self.cmdstats[name] = CommandStats()
        return st, self.c_cmd.get(name, self.c_default)

    def add_command_cost(self, us: float) -> None:
        """Charge every command ``us`` microseconds more: what cluster mode adds to a master
        (processCommand's getNodeByQuery slot check, 7.0's slot-to-key bookkeeping)."""
        extra = us * 1e-6
        self.c_default += extra
        self.c_cmd = {k: v + extra for k, v in self.c_cmd.items()}
        self.c_miss = {k: v + extra for k, v in self.c_miss.items()}
        self._pre.clear()  # (the entries cache each command's base cost)

    # ------------------------------------------------------------------ clients
    def connect(self, driver: Any, label: str, cid: int = -1) -> Conn:
        """A new client connection; ``cid`` its id (default: the next of this server's;
        a cluster's clients bound to one master are numbered across the masters)."""
        # A client that handles its replies on its modelled threads wakes itself (if idle);
        # any other is taken to be asleep in its own epoll_wait when they arrive.
        wake = 0.0 if getattr(driver, "reads_on_cpu", False) else self.link.wakeup
        conn = Conn(len(self.conns) if cid < 0 else cid, driver, label, wake)
        self.conns.append(conn)
        self.connected += 1
        return conn

    def disconnect(self, conn: Conn) -> None:
        """The client closed its connection (freeClient: its buffers go too)."""
        if not conn.closed:
            conn.closed = True
            self.connected -= 1

    def submit(self, conn: Conn, t_send: float, cmds: list[tuple[list, int, str]],
               batch: Batch | None = None) -> Batch:
        """A client writes ``cmds`` (args, request bytes, label) at ``t_send``.

        ``batch``: a Batch the client reuses (its previous one, whose replies have all
        arrived), already set to ``t_send`` and ``len(cmds)``; None makes a new one."""
        if batch is None:
            batch = Batch(conn, t_send, len(cmds))
        if len(cmds) == 1:
            args, nbytes, label = cmds[0]
            recs: list[InRecord] = [(args, nbytes, label, batch)]
        else:
            nbytes = 0
            recs = []
            for args, size, label in cmds:
                nbytes += size
                recs.append((args, size, label, batch))
        self.submit_records(conn, t_send, recs, nbytes)
        return batch

    def submit_records(self, conn: Conn, t_send: float, recs: list[InRecord],
                       nbytes: int) -> None:
        """submit() of request records already made: (args, request bytes, label, batch),
        ``nbytes`` their bytes in all. The list is the loop's from now on."""
        up = self.link.up  # Direction.transmit, inlined (the per-command path)
        t_arr = t_send + nbytes / up.bandwidth + up.one_way
        self._seq += 1
        fifo = self._fifo
        if len(fifo) == self._fifo_head or t_arr >= fifo[-1].t:
            fifo.append(Arrival(t_arr, self._seq, conn, recs, nbytes))
        else:
            heapq.heappush(self._arrivals, Arrival(t_arr, self._seq, conn, recs, nbytes))
        if self.trace is not None:
            # recorded ahead of time: the bytes reach the socket at t_arr whatever the loop
            # is doing then (the view sorts events by time)
            self.trace.emit(t_send, tr.K_SEND, conn.id, len(recs))
            self.trace.emit(t_arr, tr.K_ARRIVE, conn.id, len(recs))
        if (self._sleeping and self._slept and t_arr + self.wakeup < self._wake_at
                and self.process is not None):
            # The loop, asleep in epoll_wait, must wake earlier than planned. (Not when it
            # is still busy with an iteration, whose end is its wake-up: it cannot wake
            # before that, and _next_wake would give the same time again.) Its wake-up is
            # re-planned in an urgent event of its own, where SimPy would deliver an
            # interrupt: after the rest of this step's writes (they may bring it earlier
            # still), before any other event of this instant. (An interrupt did the same,
            # for several times the CPU: an exception thrown into the loop's generator.)
            self._sleeping = False
            ev = simpy.Event(self.env)
            ev._ok = True
            ev._value = None
            ev.callbacks.append(self._rewake)
            self.env.schedule(ev, simpy.events.URGENT)

    # ------------------------------------------------------------------ costs
    def command_cost(self, name: str, fx: Any) -> float:
        c = self.c_cmd.get(name, self.c_default)
        if fx.keys_scanned:
            c += fx.keys_scanned * self.c_keys_scanned + fx.keys_returned * self.c_keys_returned
        elif fx.buckets_visited:
            c += fx.buckets_visited * self.c_scan_bucket + fx.keys_returned * self.c_scan_key
        elif fx.elements > 1:
            c += (fx.elements - 1) * self.c_elem
        c += fx.lp_entries * self.c_lp_entry
        if self.exp_costs:
            c *= self._unit_exponential()
        return c

    def _unit_exponential(self) -> float:
        """The next unit exponential factor of a command's cost."""
        i = self._exp_i
        if i >= len(self._exp_buf):
            self._exp_buf = self.rng.exponential(1.0, 65536).tolist()
            i = 0
        self._exp_i = i + 1
        return self._exp_buf[i]

    # ------------------------------------------------------------------ the loop
    def run(self):
        """The SimPy process: one iteration per wake-up (a wake-up that no other process
        could come before is taken without yielding to SimPy, see below)."""
        env = self.env
        while True:
            t0 = env.now
            t = self._iteration(t0)
            self.busy_time += t - t0
            # One timeout covers the iteration's CPU and the sleep in epoll_wait that follows.
            wake = self._plan_wake(t)
            if self._skip_ok and wake < env.peek():
                # Nothing else in the simulation happens before this wake-up, so no one can
                # write to the server meanwhile: skip SimPy's round trip (an event, a heap
                # push and pop, a generator resume) and move its clock exactly as its step()
                # would have, to now + (wake - now).
                env._now = env._now + (wake - env._now)
                continue
            self._sleeping = True
            self._t_slept = t
            self._wait = env.timeout(wake - env.now)
            # (woken by this timer or by the one _rewake put in its place)
            yield self._wait
            self._wait = None
            self._sleeping = False

    def _plan_wake(self, t: float) -> float:
        """When the loop, idle from ``t`` (an iteration's end), wakes next: epoll_wait's
        return (_next_wake), marked in the trace when it sleeps at all."""
        wake = self._next_wake(t)
        if wake > t and self.trace is not None:
            self.trace.emit(t, tr.K_IDLE)
        self._wake_at = wake
        self._slept = wake > t
        return wake

    def _rewake(self, _event: Any) -> None:
        """A client wrote earlier than the sleeping loop's planned wake-up: plan it again
        from now (_plan_wake, as the loop does), and move the loop's wait to a timer at the
        new time. The old timer stays in SimPy's
        queue, with nothing waiting on it."""
        old = self._wait
        proc = self.process
        if old is None or proc is None:
            return  # the process was halted in the meantime
        env = self.env
        t = self._t_slept
        if env.now > t:
            t = env.now
        wake = self._plan_wake(t)
        self._t_slept = t
        new = env.timeout(wake - env.now)
        new.callbacks = old.callbacks
        old.callbacks = []
        proc._target = new
        self._wait = new
        self._sleeping = True

    def _next_wake(self, t: float) -> float:
        """When epoll_wait returns: now if work is pending, else the next socket or timer."""
        if self._ready_later or self._write_later:
            return t
        for timer in self.zero_timers:
            if timer.pending():
                return t
        nxt = self.next_cron
        # The next request: taken now if it is already there; if not, the loop sleeps in
        # epoll_wait and runs again its wake-up after the request's bytes arrive.
        first = nxt
        if self._fifo_head < len(self._fifo) and self._fifo[self._fifo_head].t < first:
            first = self._fifo[self._fifo_head].t
        if self._arrivals and self._arrivals[0].t < first:
            first = self._arrivals[0].t
        if first <= t:
            return t
        if first < nxt:
            nxt = first + self.wakeup
            if nxt > self.next_cron:
                nxt = self.next_cron
        return nxt if nxt > t else t

    def _pop_arrival(self, t: float) -> Arrival | None:
        """The first request on the wire if it has arrived by ``t``: the earlier head of
        the FIFO and the heap, by (time, tie-breaker), as if they were one queue."""
        fifo = self._fifo
        heap = self._arrivals
        i = self._fifo_head
        if i < len(fifo):
            f = fifo[i]
            if heap:
                h = heap[0]
                if h.t < f.t or (h.t == f.t and h.seq < f.seq):
                    return heapq.heappop(heap) if h.t <= t else None
            if f.t > t:
                return None
            i += 1
            if i == len(fifo):
                fifo.clear()
                i = 0
            elif i >= 16 and 2 * i >= len(fifo):
                # Drop the entries taken (the list holds them until then, and with them
                # their requests: garbage the cycle collector would keep scanning). Each
                # entry left is moved at most once per halving: amortised O(1).
                del fifo[:i]
                i = 0
            self._fifo_head = i
            return f
        if heap and heap[0].t <= t:
            return heapq.heappop(heap)
        return None

    def _collect(self, t: float) -> list[Conn]:
        """epoll_wait: every connection with unread bytes at ``t``, in arrival order."""
        ready: list[Conn] = []
        if self._ready_later:
            ready = self._ready_later
            self._ready_later = []
        while (a := self._pop_arrival(t)) is not None:
            conn = a.conn
            recs = a.recs
            nbytes = a.nbytes
            if conn.inq:
                conn.inq.extend(recs)
            else:
                conn.inq = recs  # (the request's own list: nothing else holds it now)
            conn.inq_bytes += nbytes
            self.arrived += len(recs)
            if not conn.ready:
                conn.ready = True
                ready.append(conn)
        return ready

    def _iteration(self, t: float) -> float:
        if self.fcfs:
            return self._fcfs_iteration(t)
        t_start = t
        trace = self.trace
        ready = self._collect(t)
        if trace is not None:
            trace.emit(t, tr.K_ITER, -1, len(ready))
        t += self.c_iter
        if self._slept:
            t += self.c_wakeup  # the thread was descheduled in epoll_wait
            self._slept = False
            self.wakeups += 1
        ncmds = self.total_commands_processed
        # Sockets that became writable for replies left over from the last beforeSleep.
        if self._write_later:
            later = self._write_later
            self._write_later = []
            for conn in later:
                t = self._write(conn, t)
        c_parse = self.c_parse
        for conn in ready:
            conn.ready = False
            inq = conn.inq
            # One read(2): up to 16 KiB, at least one whole command (big arguments are read
            # to their end, PROTO_MBULK_BIG_ARG).
            nbytes = conn.inq_bytes
            batch_cmds: list[InRecord] | None = None
            if len(inq) == 1:  # one command (no pipelining): no list to build
                args, _size, label, batch = inq[0]
                inq.clear()
                conn.inq_bytes = 0
            elif nbytes <= PROTO_IOBUF_LEN:  # all of it fits one read: take the list
                batch_cmds = inq
                conn.inq = []
                conn.inq_bytes = 0
            else:
                nbytes = 0
                n = 0
                for rec in inq:
                    size = rec[1]
                    if nbytes and nbytes + size > PROTO_IOBUF_LEN:
                        break
                    nbytes += size
                    n += 1
                batch_cmds = inq[:n]
                del inq[:n]
                conn.inq_bytes -= nbytes
                if inq:
                    conn.ready = True
                    self._ready_later.append(conn)
            t += self.c_read + nbytes * self.c_read_byte
            self.total_reads_processed += 1
            self.total_net_input_bytes += nbytes
            if trace is not None:
                trace.emit(t, tr.K_READ, conn.id, 1 if batch_cmds is None else len(batch_cmds))
            # processInputBuffer: each command is parsed, then run, then the next parsed
            if batch_cmds is None:
                t = self._call(conn, args, label, batch, t + c_parse)
            else:
                for args, _size, label, batch in batch_cmds:
                    t = self._call(conn, args, label, batch, t + c_parse)
            if not conn.pending_write and conn.out:
                conn.pending_write = True
                self._write_list.append(conn)
        ncmds = self.total_commands_processed - ncmds
        # Timers: serverCron when due (its period counts from the end of the callback).
        if t >= self.next_cron:
            tc = t
            t = self._server_cron(t)
            self.eventloop_duration_cron_sum += t - tc
            self.next_cron = t + 1.0 / self.hz
        for timer in self.zero_timers:
            t = timer.timer(t)
        # beforeSleep: mechanisms (fast expire, AOF flush), then replies, LIFO.
        if trace is not None and (self._write_list or self.before_sleep_hooks):
            trace.emit(t, tr.K_BEFORE_SLEEP)
        for hook in self.before_sleep_hooks:
            t = hook(t)
        if self._write_list:
            wl = self._write_list
            self._write_list = []
            for conn in reversed(wl):
                conn.pending_write = False
                t = self._write(conn, t)
        dur = t - t_start
        self.eventloop_cycles += 1
        self.eventloop_duration_sum += dur
        if dur > self.eventloop_duration_max:
            self.eventloop_duration_max = dur
        if ncmds > self.eventloop_cmd_per_cycle_max:
            self.eventloop_cmd_per_cycle_max = ncmds
        return t

    def _call(self, conn: Conn, args: list, label: str, batch: Batch, t: float) -> float:
        """processCommand + call() of one command; its reply is queued on the connection."""
        # What this spelling of the name needs, looked up once: processCommand's checks before
        # call() (eviction and OOM, MISCONF, commands the mechanisms answer themselves:
        # MEMORY, BGSAVE...; most commands have none), the command, its stats, its cost.
        first = args[0] if args else b""
        entry = self._pre.get(first)
        if entry is None:
            entry = self._entry_for(first)
        spec = entry.spec
        st = entry.st
        cost = entry.cost
        reply: Any = None
        answered_in = 0.0  # (the time the hook that answered the command took)
        if entry.hooks:
            for hook in entry.hooks:
                before = t
                t, reply = hook(conn, args, t)
                if reply is not None:
                    answered_in = t - before
                    break
        if reply is None:
            fx = self._fx
            reply = self.ks.execute_kind(entry.kind, args, EPOCH_MS + int(t * 1000.0 + 1e-9),
                                         conn.session)
            if fx.cmd is not spec:  # a spelling the command table reads otherwise
                spec = fx.cmd
                st, cost = self._stats_and_cost(spec.name if spec is not None else "")
            elif reply is entry.miss_reply and entry.miss_cost >= 0.0 and not fx.expired:
                # GET, EXISTS, TTL, DEL... of a missing key: cheaper than a hit (a key it
                # found expired and deleted costs what a hit does: the delete is not the
                # lookup's saving)
                cost = entry.miss_cost
            if fx.keys_scanned or fx.buckets_visited or fx.elements > 1 or fx.lp_entries:
                cost = self.command_cost(spec.name if spec is not None else "", fx)
            elif self.exp_costs:
                cost *= self._unit_exponential()
            if self.key_cost_factor != 1.0 and fx.touched:
                cost *= self.key_cost_factor
            if self.trace is not None:
                key = args[1] if len(args) > 1 else b""
                hit = reply is not None and not fx.error
                if hit and type(reply) is list:
                    # an array reply is about the key shown, the first: MGET's first value,
                    # HGETALL's or LRANGE's elements (none: the key is missing)
                    hit = bool(reply) and reply[0] is not None
                self.trace.emit(t, tr.K_EXEC, conn.id, (spec.name if spec is not None else "",
                                                        _as_str(key), cost, hit))
            t += cost
            if fx.error and isinstance(reply, ReplyError) and reply.rejected:
                # processCommand refused it (unknown command, wrong number of arguments):
                # call() never ran, so neither its calls nor total_commands_processed count
                if spec is not None:
                    st.rejected_calls += 1
                self._error_reply(reply)
            else:
                self.total_commands_processed += 1
                st.calls += 1
                st.usec += cost * 1e6
                if fx.error:
                    st.failed_calls += 1
                    self._error_reply(reply)
            if self.after_command is not None:
                self.after_command(conn, args, t)
            if self.propagate is not None:
                self.propagate.after_command(conn, args, t)
        else:
            if reply is NIL_BULK:
                reply = None  # a mechanism answered nil itself
            name = stat_name(args)
            # (no cmdstat for a container's unknown subcommand: no command was chosen)
            st = self._stats_and_cost(name)[0] if name is not None else CommandStats()
            if isinstance(reply, ReplyError) and reply.rejected:
                st.rejected_calls += 1  # refused before call(): OOM, MISCONF, CROSSSLOT...
                # A refusal costs about what the command would have: measured, MGET of two
                # keys refused -CROSSSLOT took the server 0.207 us of its own CPU, a GET
                # 0.207 us too, a wrong arity 0.157 (benchmarks/calibrate_refusals.py)
                t += cost
            else:
                # answered by a mechanism's own command (MEMORY, BGSAVE...): it ran, for
                # the time its hook charged
                self.total_commands_processed += 1
                st.calls += 1
                st.usec += answered_in * 1e6
                if isinstance(reply, ReplyError):
                    st.failed_calls += 1
            if isinstance(reply, ReplyError):
                self._error_reply(reply)
            if self.trace is not None:
                # the view shows it handled too: a refusal by its error code (MSET
                # -CROSSSLOT), neither a hit nor a miss, and no key touched
                shown = name or _as_str(args[0]).lower()
                spent = 0.0
                if isinstance(reply, ReplyError) and reply.rejected:
                    shown += " -" + reply.code
                    spent = cost
                self.trace.emit(t - spent, tr.K_EXEC, conn.id, (shown, "", spent, False))
        cls = type(reply)
        if cls is bytes:  # reply_size's common cases, inlined
            n = len(reply)
            rsize = n + 6 if n < 10 else n + 7 if n < 100 else reply_size(reply)
        elif reply is None:
            rsize = 5
        else:
            rsize = _STATUS_SIZE.get(reply, 0) if cls is str else 0
            if not rsize:
                rsize = reply_size(reply)
        conn.out.append((label, batch, rsize, reply, args))
        conn.out_bytes += rsize
        return t

    def _error_reply(self, reply: Any) -> None:
        """``afterErrorReply``: count an error reply, in all and by its code."""
        self.total_error_replies += 1
        code = reply.code if isinstance(reply, ReplyError) else "ERR"
        self.errorstats[code] = self.errorstats.get(code, 0) + 1

    def _fcfs_iteration(self, t: float) -> float:
        """``model.loop: fcfs``: serve every request that has arrived by the time the
        previous one ends, strictly in arrival order, each reply leaving at its command's end
        -- one busy period per SimPy wake-up, no per-iteration or syscall costs."""
        t_start = t
        while (a := self._pop_arrival(t)) is not None:
            conn = a.conn
            recs = a.recs
            self.arrived += len(recs)
            for args, _size, label, batch in recs:
                t = self._call(conn, args, label, batch, t)
                t = self._write(conn, t)
        if t >= self.next_cron:
            t = self._server_cron(t)
            self.next_cron = t + 1.0 / self.hz
        for hook in self.before_sleep_hooks:
            t = hook(t)
        self.eventloop_cycles += 1
        self.eventloop_duration_sum += t - t_start
        return t

    def _write(self, conn: Conn, t: float) -> float:
        """writeToClient: one write of at most 64 KiB; the rest waits for the next iteration."""
        out = conn.out
        if not out:
            return t
        if conn.out_bytes <= NET_MAX_WRITES_PER_EVENT:
            # The usual case: everything pending fits in one write.
            sent = out
            nbytes = conn.out_bytes
            n = len(out)
            conn.out = []
            conn.out_bytes = 0
        else:
            nbytes = 0
            n = 0
            for rec in out:
                if nbytes and nbytes + rec[2] > NET_MAX_WRITES_PER_EVENT:
                    break
                nbytes += rec[2]
                n += 1
            sent = out[:n]
            del out[:n]
            conn.out_bytes -= nbytes
            if out:  # the rest when the socket is writable again
                self._write_later.append(conn)
        t += self.c_write + nbytes * self.c_write_byte
        self.total_writes_processed += 1
        self.total_net_output_bytes += nbytes
        self.served += n
        # Direction.transmit, inlined
        t_recv = t + nbytes / self.link.down.bandwidth + self.link.down.one_way + conn.recv_wakeup
        if self.trace is not None:
            self.trace.emit(t, tr.K_WRITE, conn.id, nbytes)
            self.trace.emit(t_recv, tr.K_RECV, conn.id, n)
        for hook in self.reply_hooks:
            hook(conn, sent, t_recv)
        conn.driver.on_replies(conn, sent, t_recv)
        return t

    # ------------------------------------------------------------------ serverCron
    def _server_cron(self, t: float) -> float:
        """serverCron (server.c): dynamic hz, instantaneous metrics, clientsCron, hooks."""
        if self.trace is not None:
            self.trace.emit(t, tr.K_CRON, -1, None)
        if self.dynamic_hz:
            hz = self.config_hz
            nclients = self.connected
            while nclients // hz > MAX_CLIENTS_PER_CLOCK_TICK:
                hz *= 2
                if hz > CONFIG_MAX_HZ:
                    hz = CONFIG_MAX_HZ
                    break
            self.hz = hz
        # trackInstantaneousMetric every 100 ms (run_with_period(100)).
        period_ms = 1000 // self.hz
        if period_ms >= 100 or self.cronloops % max(1, 100 // period_ms) == 0:
            self._track_instantaneous(t)
            t += self.c_cron_100ms
            self.cron_sys += self.c_cron_100ms_sys
        # clientsCron visits max(clients/hz, min(clients, 5)) clients per tick.
        n = self.connected
        visited = max(n // self.hz, min(n, 5))
        t += self.c_cron + visited * self.c_cron_client
        self.cron_sys += self.c_cron_sys + visited * self.c_cron_client_sys
        for hook in self.cron_hooks:
            t = hook(t)
        self.cronloops += 1
        return t

    def _track_instantaneous(self, t: float) -> None:
        cur = (t, self.total_commands_processed)
        if self._inst_last is not None:
            dt = cur[0] - self._inst_last[0]
            if dt > 0:
                rate = (cur[1] - self._inst_last[1]) / dt
                self._inst_samples.append((t, rate))
                if len(self._inst_samples) > STATS_METRIC_SAMPLES:
                    self._inst_samples.pop(0)
                self.instantaneous_ops_per_sec = int(
                    sum(r for _, r in self._inst_samples) / len(self._inst_samples))
        self._inst_last = cur

    # ------------------------------------------------------------------ INFO
    def in_system(self, t: float) -> int:
        """Commands that reached the server by ``t`` and whose replies are not yet written."""
        pending = sum(len(a.recs) for a in self._arrivals if a.t <= t)
        pending += sum(len(a.recs) for a in self._fifo[self._fifo_head:] if a.t <= t)
        return self.arrived + pending - self.served

    def info_fields(self) -> dict[str, dict[str, object]]:
        """Server-wide INFO fields the event loop owns, by section."""
        us = 1e6
        fields: dict[str, dict[str, object]] = {
            "server": {"hz": self.hz, "configured_hz": self.config_hz},
            "clients": {"connected_clients": self.connected},
            "stats": {
                "total_connections_received": len(self.conns) - self._conns_before,
                "total_commands_processed": self.total_commands_processed,
                "instantaneous_ops_per_sec": self.instantaneous_ops_per_sec,
                "total_net_input_bytes": self.total_net_input_bytes,
                "total_net_output_bytes": self.total_net_output_bytes,
                "total_error_replies": self.total_error_replies,
                "total_reads_processed": self.total_reads_processed,
                "total_writes_processed": self.total_writes_processed,
                "eventloop_cycles": self.eventloop_cycles,
                "eventloop_duration_sum": int(self.eventloop_duration_sum * us),
                # the CPU of command procs: the cmdstats' usec (call() adds both alike),
                # rounded: a sum of float microseconds lands a hair off whole values
                "eventloop_duration_cmd_sum": round(sum(st.usec for st in self.cmdstats.values())),
            },
            "debug": {
                "eventloop_duration_cron_sum": int(self.eventloop_duration_cron_sum * us),
                "eventloop_duration_max": int(self.eventloop_duration_max * us),
                "eventloop_cmd_per_cycle_max": self.eventloop_cmd_per_cycle_max,
            },
        }
        # INFO commandstats and errorstats, as Redis 7.0 prints them (usec are whole
        # microseconds there; its command table's hash order is not reproducible: by name)
        cmds: dict[str, object] = {}
        for name in sorted(self.cmdstats):
            st = self.cmdstats[name]
            if name and (st.calls or st.failed_calls or st.rejected_calls):
                usec = round(st.usec)
                per = usec / st.calls if st.calls else 0.0
                cmds[f"cmdstat_{name}"] = (f"calls={st.calls},usec={usec},"
                                           f"usec_per_call={per:.2f},rejected_calls="
                                           f"{st.rejected_calls},failed_calls={st.failed_calls}")
        fields["cpu"] = self.cpu_fields()
        fields["commandstats"] = cmds
        fields["errorstats"] = {f"errorstat_{code}": f"count={n}"
                                for code, n in sorted(self.errorstats.items())}
        for provider in self.info_providers:
            for section, more in provider().items():
                fields.setdefault(section, {}).update(more)
        return fields

    def cpu_fields(self) -> dict[str, object]:
        """INFO's CPU section: ``getrusage`` of the process, of its reaped children and of the
        main thread (``genRedisInfoString``, server.c), in seconds to the microsecond.

        The main thread's CPU is the time its loop was busy since this process started, less
        the waits on the disk inside it (an fsync under ``appendfsync always``, SAVE's
        writes), plus a restarted process's startup and loading, which come before its loop.
        It is split by the profile's kernel shares: the syscalls' share of the read(2) and
        write(2) costs (clients' and AOF's), the loop's share of its iterations and
        wake-ups, serverCron's share of its own work, the whole of a fork's stall, the
        child's share of SAVE's serialising, the loading's share of the startup and loading;
        the rest (the commands, their parse, expiry, eviction) is user time. The process has
        no other thread that the model gives CPU to, so its figures are the main thread's."""
        ks = self.kshare
        acct = {"wait": 0.0, "fork": 0.0, "syscalls": 0.0, "child_work": 0.0, "children": 0.0,
                "load": 0.0}
        for provider in self.cpu_accounts:
            for kind, seconds in provider().items():
                acct[kind] += seconds
        busy, io, loop, cron_sys = (a + b for a, b in zip(self._cpu_counted(), self._cpu_before,
                                                           strict=True))
        main = max(0.0, busy - acct["wait"]) + acct["load"]
        io += acct["syscalls"]
        system = (ks.syscalls * io + ks.loop * loop + cron_sys + acct["fork"]
                  + ks.child * acct["child_work"] + ks.load * acct["load"])
        system = min(system, main)
        user = main - system
        child_sys = ks.child * acct["children"]
        child_user = acct["children"] - child_sys
        return {"used_cpu_sys": _timeval(system), "used_cpu_user": _timeval(user),
                "used_cpu_sys_children": _timeval(child_sys),
                "used_cpu_user_children": _timeval(child_user),
                "used_cpu_sys_main_thread": _timeval(system),
                "used_cpu_user_main_thread": _timeval(user)}

    def _cpu_counted(self) -> tuple[float, float, float, float]:
        """The main thread's CPU the model derives from the loop's INFO counters: its busy
        time, its read(2)s and write(2)s, its iterations and wake-ups, serverCron's kernel
        share (for cpu_fields)."""
        io = (self.total_reads_processed * self.c_read
              + self.total_net_input_bytes * self.c_read_byte
              + self.total_writes_processed * self.c_write
              + self.total_net_output_bytes * self.c_write_byte)
        loop = self.eventloop_cycles * self.c_iter + self.wakeups * self.c_wakeup
        return self.eventloop_duration_sum, io, loop, self.cron_sys

    def resetstat(self) -> None:
        """CONFIG RESETSTAT (``resetServerStats``, ``resetCommandTableStats``,
        ``resetErrorTableStats``): the loop's INFO counters, commandstats and errorstats from
        zero, connections counted from now. Not the process's CPU, which Redis reads from
        getrusage and the model from those counters: what they account for so far is kept
        apart and goes on counting in cpu_fields."""
        self._cpu_before = tuple(a + b for a, b in zip(self._cpu_counted(), self._cpu_before,
                                                      strict=True))
        self.reset_stats()
        self._conns_before = len(self.conns)

    # ------------------------------------------------------------------ crash / restart
    # Added for redissim/server/faults.py (persistence and crashes, issue 6). A killed
    # redis-server makes no progress at all: its SimPy process is detached from the event it
    # waits on, so it never resumes; a restart starts a fresh process.
    def halt(self, t: float, error: Any) -> int:
        """The process dies at ``t`` (kill -9, power loss, exit on a fatal AOF error).

        Replies produced but not written are lost: their clients see the connection drop,
        delivered to the driver as ``error`` at ``t`` plus the network delay. Commands that
        arrived but were not executed stay queued: clients resend them once they reconnect.
        Returns the number of requests failed that way."""
        proc = self.process
        if proc is not None and proc.is_alive:
            target = proc.target
            if target is not None:
                target.callbacks[:] = [cb for cb in target.callbacks
                                       if getattr(cb, "__self__", None) is not proc]
        self.process = None
        self._sleeping = False
        self._wait = None
        failed = 0
        for conn in self.conns:
            if conn.out:
                recs = [(label, batch, 0, error, args) for label, batch, _n, _r, args in conn.out]
                conn.out.clear()
                conn.out_bytes = 0
                self.served += len(recs)
                failed += len(recs)
                conn.driver.on_replies(conn, recs,
                                       self.link.down.transmit(t, 0) + conn.recv_wakeup)
            conn.pending_write = False
        self._write_list = []
        self._write_later = []
        return failed

    def resume(self, t: float) -> None:
        """A restarted server starts serving at ``t`` (serverCron's first run 1 ms later).

        It is a new process: its INFO counters start from zero (``resetServerStats``), the
        loop's own and those of the mechanisms in ``restart_hooks``."""
        self.next_cron = t + 0.001
        self.cronloops = 0
        self.restarts += 1
        self.reset_stats()
        self._cpu_before = (0.0, 0.0, 0.0, 0.0)
        for hook in self.restart_hooks:
            hook()
        self.process = self.env.process(self._resume_at(t))

    def reset_stats(self) -> None:
        """Zero the loop's INFO counters and commandstats (in place: the command table
        holds the CommandStats objects). ``busy_time``, ``arrived`` and ``served`` are the
        simulator's own run totals and go on."""
        self.total_commands_processed = 0
        self.total_reads_processed = 0
        self.total_writes_processed = 0
        self.total_net_input_bytes = 0
        self.total_net_output_bytes = 0
        self.total_error_replies = 0
        self.errorstats = {}
        self.eventloop_cycles = 0
        self.eventloop_duration_sum = 0.0
        self.eventloop_duration_max = 0.0
        self.eventloop_cmd_per_cycle_max = 0
        self.eventloop_duration_cron_sum = 0.0
        self.wakeups = 0
        self.cron_sys = 0.0
        for st in self.cmdstats.values():
            st.calls = 0
            st.usec = 0.0
            st.failed_calls = 0
            st.rejected_calls = 0
        self._inst_samples = []
        self._inst_last = None
        self.instantaneous_ops_per_sec = 0

    def _resume_at(self, t: float):
        if t > self.env.now:
            yield self.env.timeout(t - self.env.now)
        yield from self.run()


#: RESP sizes of the status replies most commands give ("+OK\r\n")
_STATUS_SIZE: Final = {"OK": 5, "PONG": 7, "QUEUED": 9}


def _as_str(key: Any) -> str:
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    return str(key)


__all__ = ["Batch", "CommandObserver", "Conn", "EventLoop", "ReplyError"]
