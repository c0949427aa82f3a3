"""Builds a SimPy environment from a Scenario, runs it, and returns a Result.

The model is pure: given a scenario and a seed it produces the same metrics and trace, bit
for bit, and never touches the screen or files (DESIGN.md). Randomness comes from one seed,
split per component by name (``stream``), so adding a component never shifts another's
random numbers.
"""

from __future__ import annotations

import gc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import simpy

from redissim.profile import CostProfile
from redissim.scenario import Scenario, build_profile
from redissim.server.cluster_redirect import MULTI_KEY_COMMANDS, ClusterCheck
from redissim.server.cluster_slots import allocate_slots, key_hash_slot, node_of_slot
from redissim.server.config import ConfigCommand
from redissim.server.cpu_caches import CacheScaling
from redissim.server.eventloop import EventLoop
from redissim.server.expiry import ActiveExpire
from redissim.server.faults import attach_faults
from redissim.server.keyspace import Keyspace, populate_value
from redissim.server.maxmemory import MaxMemory
from redissim.server.persistence import attach_persistence
from redissim.sim.app import AppDriver
from redissim.sim.client_stats import ClientStats
from redissim.sim.clock import EPOCH_MS, unix_ms
from redissim.sim.cluster import ClusterRouter
from redissim.sim.devices import StorageDevice
from redissim.sim.metrics import LatencyHistogram, TimeSeries
from redissim.sim.network import Link
from redissim.sim.trace import Trace
from redissim.sim.workload import DRIVERS, Driver, ReadModifyWriteDriver

SERIES_COLUMNS = ("ops_per_sec", "in_system", "busy_fraction", "p50_ms", "p99_ms", "dbsize",
                  "expires", "alive", "hits", "misses", "hit_ratio", "evicted_keys",
                  "used_memory", "cow_bytes", "aof_bytes")


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream for one named component."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def parse_info(text: bytes | str) -> dict[str, dict[str, Any]]:
    """INFO's text reply as {section: {field: value}}, numbers as int or float."""
    if isinstance(text, bytes):
        text = text.decode()
    out: dict[str, dict[str, Any]] = {}
    section: dict[str, Any] = {}
    for line in text.splitlines():
        if line.startswith("# "):
            section = out.setdefault(line[2:].strip().lower(), {})
        elif ":" in line:
            k, v = line.split(":", 1)
            section[k] = _number(v)
    return out


def info_keys(info: dict[str, dict[str, Any]]) -> int:
    """The keys INFO's keyspace section counts (``db0:keys=..,expires=..``), all databases
    together: what DBSIZE would sum to."""
    total = 0
    for v in (info.get("keyspace") or {}).values():
        fields = dict(f.split("=", 1) for f in str(v).split(",") if "=" in f)
        total += int(fields.get("keys", 0))
    return total


def _number(v: str) -> Any:
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v


@dataclass
class CommandResult:
    label: str
    calls: int
    throughput_rps: float
    latency: LatencyHistogram


@dataclass
class WorkloadResult:
    name: str
    type: str
    clients: int
    pipeline: int
    started: float
    finished: float
    commands: list[CommandResult]
    records: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    value_size: int = 0


@dataclass
class Result:
    scenario: Scenario
    seed: int
    sim_time: float
    workloads: list[WorkloadResult]
    info: dict[str, dict[str, Any]]
    series: TimeSeries
    trace: Trace | None
    client_labels: dict[int, str]
    variant: str | None = None
    #: the model's mechanisms for inspection (not serialised): {"expire": ActiveExpire}
    extra: dict[str, Any] = field(default_factory=dict)


def _preload(ks: Keyspace, pl: Any, seed: int, only: list[int] | None = None) -> None:
    """DEBUG POPULATE (or an HSET per key), then PEXPIREAT on every key if the preload has
    TTLs. ``only``: the numbers of the keys this server gets (a cluster's master: those of
    its slots)."""
    if pl.hash_fields:
        _preload_hashes(ks, pl, only)
    else:
        shared = None if pl.distinct_values else (b"value:0".ljust(pl.value_size, b"\0")
                                                  [:pl.value_size])
        ks.populate(pl.keys, pl.prefix, pl.value_size, shared_value=shared, only=only)
    if pl.ttl_min is None:
        return
    rng = stream(seed, "preload-ttl")
    lo, hi = int(pl.ttl_min * 1000), int(pl.ttl_max * 1000)
    whens = (EPOCH_MS + rng.integers(lo, hi + 1, pl.keys)).tolist()
    prefix = pl.prefix.encode()
    for i in (range(pl.keys) if only is None else only):
        ks.execute([b"PEXPIREAT", b"%s:%d" % (prefix, i), b"%d" % whens[i]], EPOCH_MS)


def _preload_hashes(ks: Keyspace, pl: Any, only: list[int] | None) -> None:
    """``HSET prefix:i field:0 v field:1 v ...`` for every key: the keyspace's own HSET, so
    each hash gets the encoding the server's listpack limits give it."""
    n = pl.hash_fields
    fields = [b"field:%d" % j for j in range(n)]
    prefix = pl.prefix.encode()
    for i in (range(pl.keys) if only is None else only):
        args = [b"HSET", b"%s:%d" % (prefix, i)]
        for j, f in enumerate(fields):
            args += [f, populate_value(i * n + j, pl.value_size)]
        ks.execute(args, EPOCH_MS)


def _preload_owners(pl: Any, masters: int) -> list[list[int]]:
    """The numbers of the preloaded keys (``prefix:N``) each master owns, by key slot."""
    owner = node_of_slot(allocate_slots(masters))
    out: list[list[int]] = [[] for _ in range(masters)]
    prefix = pl.prefix.encode()
    for i in range(pl.keys):
        out[owner[key_hash_slot(b"%s:%d" % (prefix, i))]].append(i)
    return out


class ServerNode:
    """One redis-server process: its keyspace, event loop, active expiry, maxmemory,
    persistence and faults, wired together. A scenario has one; a cluster one per master.
    Master 0's random streams have the single server's names, the others' carry their
    number (``node1-command-costs``), so that adding masters changes nothing of master 0's."""

    def __init__(self, sim: Simulation, index: int, only: list[int] | None = None):
        scenario = sim.scenario
        seed = scenario.seed
        srv = scenario.server
        self.index = index
        self.scenario = scenario
        self.env = sim.env
        self.profile = sim.profile
        self.link = sim.link
        #: the replay's trace follows one master (the view draws one server): the chosen
        #: one, or (busiest) each master records its own and the run keeps the busiest's
        traced = scenario.cluster.traced_master if scenario.cluster is not None else 1
        self.trace: Trace | None = None
        if sim.trace is not None:
            if traced == "busiest":
                self.trace = sim.trace if index == 0 else Trace(limit=sim.trace.limit,
                                                                start=sim.trace.start)
            elif index == int(traced) - 1:
                self.trace = sim.trace
        #: prefix of this process's random stream names (persistence.py reads it too)
        self.stream_prefix = f"node{index}-" if index else ""
        self.keyspace = Keyspace(srv.databases)
        self.keyspace.hash_max_listpack_entries = srv.hash_max_listpack_entries
        self.keyspace.hash_max_listpack_value = srv.hash_max_listpack_value
        self.keyspace.list_max_listpack_size = srv.list_max_listpack_size
        if scenario.preload and scenario.preload.keys:
            _preload(self.keyspace, scenario.preload, seed, only)
        self.loop = EventLoop(self.env, self.keyspace, self.profile, self.link,
                              hz=srv.hz, dynamic_hz=srv.dynamic_hz,
                              loop_mode=scenario.model.loop,
                              rng=stream(seed, self.stream_prefix + "command-costs"),
                              trace=self.trace)
        if scenario.cluster is not None:
            self.loop.add_command_cost(self.profile.cluster.per_command_us)
            # cluster-enabled yes: SELECT refused, and getNodeByQuery's CROSSSLOT check,
            # registered first because processCommand makes it before OOM and MISCONF
            self.keyspace.cluster_enabled = True
            # Clients that know the slot map send every command to its first key's master:
            # only a multi-key command can then be refused (CROSSSLOT), so only those pay
            # the check; clients that knock on any master (routing redirect) need it on
            # every command (MOVED).
            owner = node_of_slot(allocate_slots(scenario.cluster.masters))
            self.loop.add_before_command(
                ClusterCheck(index, owner),
                names=None if scenario.cluster.routing == "redirect" else MULTI_KEY_COMMANDS)
        # CONFIG GET and SET: the configuration this process runs with (what SET can change
        # is wired below, once the mechanisms exist)
        self.config = ConfigCommand(srv, self.keyspace, self.loop,
                                    cluster=scenario.cluster is not None)
        self.loop.add_before_command(self.config, names=("config",))
        pe = self.profile.expire
        self.expire = ActiveExpire(self.keyspace, hz=lambda: self.loop.hz,
                                   effort=srv.active_expire_effort, cost_bucket_us=pe.bucket_us,
                                   cost_sample_us=pe.sample_us, cost_expire_us=pe.expire_us,
                                   trace=self.trace)
        self.keyspace.active_expire_enabled = srv.active_expire
        self.loop.cron_hooks += [self.expire.slow_cycle, self.expire.databases_cron_resize]
        self.loop.before_sleep_hooks.append(self.expire.fast_cycle)
        self.loop.info_providers.append(self.expire.info_fields)
        pv = self.profile.eviction
        self.memory = MaxMemory(self.keyspace, self.loop, srv, rng_seed=seed + index,
                                sample_us=pv.sample_us, evict_us=pv.evict_us,
                                lg_quantum=scenario.model.jemalloc_lg_quantum, trace=self.trace,
                                cluster=scenario.cluster is not None)
        self.memory.attach(self.loop)
        if srv.maxmemory or self.memory.track_lru:
            # used_memory kept per key: every command and every key the active cycle
            # expires re-measure it (without maxmemory INFO measures every key instead)
            self.loop.after_command = self.memory.after_command
            self.expire.on_expired = self.memory.on_expired
        if srv.maxmemory:  # (evictionTimeProc runs only after performEvictions ran out of time)
            self.loop.zero_timers.append(self.memory)
        self.loop.cron_hooks.insert(0, self.memory.cron)
        if scenario.model.cpu_caches:
            scaling = cpu_cache_scaling(self.loop, self.memory, self.profile)
            scaling.cron(0.0)  # the preloaded dataset's, from the first command on
            self.loop.cron_hooks.insert(1, scaling.cron)
        self.loop.info_providers.append(self.memory.info_fields)
        # a restarted process (faults.py) counts from zero
        self.loop.restart_hooks += [self.keyspace.stats.reset, self.expire.reset,
                                    self.memory.reset_stats]
        # after MaxMemory: processCommand checks OOM before MISCONF
        self.persistence = attach_persistence(self)
        self.memory.aof_buffer = lambda: self.persistence.aof_buf_len
        self.faults = attach_faults(self, self.persistence)
        self._wire_config_set()

    def _wire_config_set(self) -> None:
        """What CONFIG SET can change during the run, and where each value goes: every one
        of these is read by its mechanism as it goes (server/config.py)."""
        cfg, loop, mm, p = self.config, self.loop, self.memory, self.persistence

        def set_hz(hz: int) -> None:  # updateHZ: the configured hz and the running one
            loop.config_hz = loop.hz = hz

        cfg.on_set("hz", set_hz)
        cfg.on_set("dynamic-hz", partial(setattr, loop, "dynamic_hz"))
        cfg.on_set("active-expire-effort", self.expire.set_effort)
        if self.scenario.server.maxmemory:  # (the hooks that keep used_memory exist)
            cfg.on_set("maxmemory", mm.set_maxmemory)
            cfg.on_set("maxmemory-policy", mm.set_policy, check=mm.policy_refused)
        for name in ("maxmemory-samples", "maxmemory-eviction-tenacity", "lfu-log-factor",
                     "lfu-decay-time"):
            cfg.on_set(name, partial(setattr, mm.config, name.replace("-", "_")))
        cfg.on_set("appendfsync", partial(setattr, p, "appendfsync"))
        cfg.on_set("save", p.set_save)
        cfg.on_set("auto-aof-rewrite-percentage", partial(setattr, p, "aof_rewrite_perc"))
        cfg.on_set("auto-aof-rewrite-min-size", partial(setattr, p, "aof_rewrite_min_size"))
        cfg.on_set("no-appendfsync-on-rewrite", partial(setattr, p, "no_fsync_on_rewrite"))
        cfg.on_set("stop-writes-on-bgsave-error",
                   partial(setattr, p, "stop_writes_on_bgsave_err"))
        cfg.on_set("rdbcompression", partial(setattr, p, "rdbcompression"))
        # a restart loads the AOF or dump.rdb by the config file's appendonly, which the
        # persistence reads from here (it sets the new process's AOF at its recovery)
        cfg.on_set_timed("appendonly", p.set_appendonly, at_restart=lambda _on: None)
        p.file_appendonly = lambda: cfg.start["appendonly"] == "yes"
        cfg.on_set("lazyfree-lazy-expire", partial(setattr, self.keyspace, "lazyfree_lazy_expire"))
        # the encoding limits apply to the writes that follow (a list's fill: to the lists
        # created after); a restarted process loads its data under the config file's
        encodings = ("hash-max-listpack-entries", "hash-max-listpack-value",
                     "list-max-listpack-size")
        for name in encodings:
            cfg.on_set(name, partial(setattr, self.keyspace, name.replace("-", "_")))

        def file_limits(ks: Keyspace) -> None:
            for name in encodings:
                setattr(ks, name.replace("-", "_"), int(cfg.start[name]))

        p.file_limits = file_limits
        # a restarted process reads its config file again
        loop.restart_hooks.append(cfg.restart)
        for reset in (loop.resetstat, self.keyspace.stats.reset, self.expire.reset_stats,
                      mm.reset_counters, p.reset_stats):
            cfg.on_resetstat(reset)


def cpu_cache_scaling(loop: EventLoop, memory: MaxMemory, profile: CostProfile) -> CacheScaling:
    """model.cpu-caches: the profile's dataset figures, scaling the loop's key commands."""
    d = profile.dataset
    assert d is not None, "build_profile refuses model.cpu-caches without dataset figures"
    return CacheScaling(loop, memory, base_us=d.base_us, l2_miss_us=d.l2_miss_us,
                        llc_miss_us=d.llc_miss_us, l2_bytes=d.l2_bytes, llc_bytes=d.llc_bytes,
                        reference_bytes=d.reference_bytes)


class Simulation:
    """One run of one scenario: the environment, the server and its clients."""

    def __init__(self, scenario: Scenario, *, trace: bool = False, client_stats: bool = False):
        self.scenario = scenario
        seed = scenario.seed
        self.env = simpy.Environment(initial_time=0.0)  # seconds, a float from the start
        self.profile = build_profile(scenario)
        net = scenario.network
        self.link = Link.preset(net.preset, net.rtt, net.bandwidth, net.wakeup)
        self.trace = (Trace(limit=scenario.metrics.trace_limit, start=scenario.metrics.trace_from)
                      if trace else None)
        # One redis-server, or a cluster's masters (each its own process: sim/cluster.py)
        masters = scenario.cluster.masters if scenario.cluster is not None else 1
        owners = None
        if masters > 1 and scenario.preload and scenario.preload.keys:
            owners = _preload_owners(scenario.preload, masters)
        self.nodes = [ServerNode(self, i, None if owners is None else owners[i])
                      for i in range(masters)]
        node = self.nodes[0]
        self.keyspace = node.keyspace
        self.loop = node.loop
        self.expire = node.expire
        self.memory = node.memory
        self.persistence = node.persistence
        self.faults = node.faults
        self.router: ClusterRouter | None = None
        #: a cluster's (t, keys, used_memory) per master and sample, for the view
        self.master_series: list[list[tuple[float, int, float]]] | None = None
        if scenario.cluster is not None:
            self.master_series = [[] for _ in self.nodes]
            self.router = ClusterRouter([n.loop for n in self.nodes], scenario.cluster.routing,
                                        scenario.cluster.multi_key)
        self.postgres = None
        if scenario.postgres is not None:
            from redissim.postgres.pipeline import PostgresServer
            from redissim.postgres.profile import load_profile

            pg = scenario.postgres
            self.postgres = PostgresServer(
                self.env, pg, load_profile(pg.cost_profile), stream(seed, "postgres"),
                StorageDevice(self.env, pg.device, stream(seed, "postgres-device")), self.trace)
        self.drivers: list[Driver] = []
        for i, wl in enumerate(scenario.workloads):
            cls = AppDriver if wl.target != "redis" else DRIVERS[wl.type]
            drv = cls(i, wl, self.loop, stream(seed, f"workload-{i}"), self._on_finish)
            if self.postgres is not None:
                drv.extra_targets["postgres"] = self.postgres
            if wl.device is not None:
                drv.extra_targets["device"] = StorageDevice(self.env, wl.device,
                                                            stream(seed, f"device-{i}"))
            drv.router = self.router
            self.drivers.append(drv)
        #: memtier_benchmark's own counts of the requests (a reply hook, only on request)
        self.client_stats: ClientStats | None = None
        if client_stats or scenario.report == "memtier":
            starts = [float(wl.start) for wl in scenario.workloads if wl.start != "after-previous"]
            self.client_stats = ClientStats(min(starts, default=0.0))
            for n in self.nodes:
                n.loop.reply_hooks.append(self.client_stats.on_replies)
        self.series = TimeSeries(scenario.metrics.interval, SERIES_COLUMNS)
        self.done = self.env.event()
        self._pending = len(self.drivers)
        self._end = 0.0

    # Workloads start at their time, or when the previous one has finished.
    def _on_finish(self, drv: Driver, t: float) -> None:
        self._end = max(self._end, t)
        self._pending -= 1
        nxt = drv.index + 1
        if nxt < len(self.drivers) and self.scenario.workloads[nxt].start == "after-previous":
            self._start_at(self.drivers[nxt], t)
        if self._pending == 0 and not self.done.triggered:
            env = self.env

            def finish(_e: simpy.Event) -> None:
                if not self.done.triggered:
                    self.done.succeed()

            env.timeout(max(0.0, self._end - env.now)).callbacks.append(finish)

    def _start_at(self, drv: Driver, t: float) -> None:
        env = self.env
        if t <= env.now:
            drv.start(env.now)
        else:
            env.timeout(t - env.now).callbacks.append(lambda _e: drv.start(t))

    def _sampler(self):
        # One row per interval. A cluster's row is its masters' sum (commands, keys, hits,
        # memory...), but for the busy fraction, which is the busiest master's: the one
        # that limits the cluster. The latencies are the clients' (master 0's window
        # holds every reply's: the drivers record them there).
        env = self.env
        loop = self.loop
        nodes = self.nodes
        interval = self.series.interval
        last_cmds = [0] * len(nodes)
        last_busy = [0.0] * len(nodes)
        restarts = [0] * len(nodes)
        last_hits = [0] * len(nodes)
        last_misses = [0] * len(nodes)
        per_master = self.master_series
        while True:
            yield env.timeout(interval)
            t = env.now
            ops = in_system = busy_max = 0.0
            keys = expires = alive = d_hits = d_misses = 0
            evicted = used = cow = aof = 0.0
            tracking = True
            for i, node in enumerate(nodes):
                nl = node.loop
                stats = node.keyspace.stats
                cmds = nl.total_commands_processed
                busy = nl.busy_time
                k, e, a = self._key_counts(node.keyspace, t)
                keys += k
                expires += e
                alive += a
                hits, misses = stats.keyspace_hits, stats.keyspace_misses
                if nl.restarts != restarts[i]:
                    # the server restarted since the last sample: its counters began again at 0
                    restarts[i] = nl.restarts
                    last_cmds[i] = last_hits[i] = last_misses[i] = 0
                ops += (cmds - last_cmds[i]) / interval
                in_system += float(nl.in_system(t))
                busy_max = max(busy_max, min(1.0, max(0.0, (busy - last_busy[i]) / interval)))
                d_hits += hits - last_hits[i]
                d_misses += misses - last_misses[i]
                mm = node.memory
                evicted += float(mm.ev.stats.evicted_keys)
                tracking = tracking and mm.tracking
                if mm.tracking:
                    used += float(mm.used_memory())
                cow += float(node.persistence.current_cow_size())
                aof += float(node.persistence.aof_current_size)
                if per_master is not None:  # (for the view, which follows one master)
                    per_master[i].append((t, k, float(mm.used_memory()) if mm.tracking
                                          else float("nan")))
                last_hits[i], last_misses[i] = hits, misses
                last_cmds[i], last_busy[i] = cmds, busy
            win = loop.window_hist
            lookups = d_hits + d_misses
            self.series.add(t, (
                ops, in_system, busy_max,
                win.percentile(50) * 1e3, win.percentile(99) * 1e3,
                float(keys), float(expires), float(alive),
                float(d_hits), float(d_misses),
                d_hits / lookups if lookups else float("nan"),
                evicted, used if tracking else float("nan"), cow, aof,
            ))
            loop.window_hist = LatencyHistogram(precision=0.01)

    @staticmethod
    def _key_counts(ks: Keyspace, t: float) -> tuple[int, int, int]:
        """Keys in the dicts (what DBSIZE says), keys with a TTL, keys logically alive."""
        now = unix_ms(t)
        keys = expires = alive = 0
        for db in ks.dbs:
            n, e = len(db.data), len(db.exp)
            keys += n
            expires += e
            alive += n
            if e:
                alive -= ks.expired_unreclaimed(db, now)
        return keys, expires, alive

    def run(self, progress: Callable[[float], None] | None = None) -> Result:
        """Run to the end; ``progress(fraction)`` is called now and then if given."""
        env = self.env
        for node in self.nodes:
            node.loop.process = env.process(node.loop.run())
        env.process(self._sampler())
        for drv, wl in zip(self.drivers, self.scenario.workloads, strict=True):
            if wl.start != "after-previous":
                self._start_at(drv, float(wl.start))
        stop = self.done
        if self.scenario.duration is not None:
            stop = self.done | env.timeout(self.scenario.duration)
        with _fewer_gc_passes():
            if progress is None:
                env.run(until=stop)
            else:
                # Slices of simulated time, so a caller can draw a progress bar.
                step = 0.05
                while not stop.triggered:
                    env.run(until=stop | env.timeout(step))
                    progress(self.fraction_done())
        return self._result()

    def _cluster_summary(self, info0: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Per master: its slots, the requests the clients sent it, and its INFO counters."""
        router = self.router
        assert router is not None
        now = unix_ms(self.env.now)
        out = []
        for node in self.nodes:
            info = info0 if node.index == 0 else parse_info(
                node.keyspace.execute([b"INFO", b"everything"], now))
            st, mem = info.get("stats", {}), info.get("memory", {})
            first, last = router.ranges[node.index]
            out.append({
                "master": node.index + 1, "slots": [first, last],
                "requests": router.requests[node.index],
                "total_commands_processed": st.get("total_commands_processed", 0),
                "total_reads_processed": st.get("total_reads_processed", 0),
                "busy_fraction": node.loop.busy_time / self.env.now if self.env.now else 0.0,
                "keys": info_keys(info),
                "keyspace_hits": st.get("keyspace_hits", 0),
                "keyspace_misses": st.get("keyspace_misses", 0),
                "expired_keys": st.get("expired_keys", 0),
                "evicted_keys": st.get("evicted_keys", 0),
                "used_memory": mem.get("used_memory", 0),
                # refused before they ran (CROSSSLOT...): not in total_commands_processed
                "rejected_calls": sum(c.rejected_calls for c in node.loop.cmdstats.values()),
                "total_error_replies": st.get("total_error_replies", 0),
                "errorstats": dict(node.loop.errorstats),
            })
        return out

    def fraction_done(self) -> float:
        """Share of the run done: requests answered over requests planned, or time."""
        fracs = []
        for drv, wl in zip(self.drivers, self.scenario.workloads, strict=True):
            if drv.finished:
                fracs.append(1.0)
            elif wl.requests:
                fracs.append(drv.completed / wl.requests)
            elif wl.duration:
                fracs.append(min(1.0, max(0.0, self.env.now - drv.t_start) / wl.duration))
            else:
                fracs.append(0.0)
        f = sum(fracs) / len(fracs)
        if self.scenario.duration:
            f = max(f, self.env.now / self.scenario.duration)
        return min(1.0, f)

    def _result(self) -> Result:
        out = []
        for drv in self.drivers:
            wl = drv.wl
            span = (drv.t_last - drv.t_first) if drv.t_last > drv.t_first else 0.0
            cmds = [CommandResult(label, h.count, h.count / span if span else 0.0, h)
                    for label, h in drv.hist.items()]
            wl_extra: dict[str, Any] = {}
            if wl.type == "scan":
                wl_extra = {"walks": drv.walks, "keys_seen": drv.keys_seen}  # type: ignore[attr-defined]
            elif wl.tally_replies:
                wl_extra = {"replies": dict(getattr(drv, "tally", None) or {})}
            elif isinstance(drv, ReadModifyWriteDriver):
                wl_extra = {"increments": drv.increments, "failed": drv.failed,
                            "lost": drv.lost(),
                            "counters": {k.decode("utf-8", "replace"): [v, drv.final.get(k)]
                                         for k, v in drv.first_read.items()}}
            out.append(WorkloadResult(
                name=drv.name, type=wl.type, clients=1 if wl.type in ("script", "scan")
                else wl.clients, pipeline=wl.pipeline, started=drv.t_first
                if drv.t_first != float("inf") else 0.0, finished=drv.t_last,
                commands=cmds, records=drv.records, extra=wl_extra, value_size=wl.value_size))
        info = parse_info(self.keyspace.execute([b"INFO", b"everything"], unix_ms(self.env.now)))
        labels = {c.id: c.label for n in self.nodes for c in n.loop.conns}
        extra: dict[str, Any] = {"expire": self.expire, "loop": self.loop,
                                 "memory": self.memory, "persistence": self.persistence}
        if self.faults is not None:
            extra["faults"] = self.faults.summary()
        if self.postgres is not None:
            extra["postgres"] = self.postgres
        apps = {d.name: d.counts for d in self.drivers if isinstance(d, AppDriver)
                and d.wl.target == "cache-aside"}
        if apps:
            extra["cache_aside"] = apps
        if self.client_stats is not None:
            extra["client_stats"] = self.client_stats
        trace = self.trace
        if self.router is not None:
            extra["cluster"] = self._cluster_summary(info)
            traced = self.scenario.cluster.traced_master if self.scenario.cluster else 1
            if traced == "busiest":
                traced = 1 + max(range(len(self.nodes)), key=lambda i: (
                    extra["cluster"][i]["total_commands_processed"], -i))
            extra["traced_master"] = int(traced)
            if self.master_series is not None:
                extra["traced_series"] = self.master_series[int(traced) - 1]
            if trace is not None:
                trace = self.nodes[int(traced) - 1].trace
        if self.scenario.lru_grid is not None:
            from redissim.report.lru_grid import lru_grid
            extra["lru_grid"] = lru_grid(self.keyspace, self.scenario.lru_grid)
        return Result(self.scenario, self.scenario.seed, self.env.now, out, info, self.series,
                      trace, labels, extra=extra)


#: young-generation collections of CPython's cycle collector during a run: one per this many
#: new container objects instead of 700. 100,000 rather than 10,000: most of the requests
#: in flight (an open-loop chunk holds 8192) then die before a collection instead of being
#: promoted and scanned again by the older generations' collections (measured: the open-loop
#: benchmark 21 % faster, 12 % fewer instructions per command, the same peak RSS)
GC_GEN0_THRESHOLD = 100_000


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Run with the cycle collector's passes made rare and cheap, then restore it.

    The simulation keeps tens of thousands of small objects in flight (requests on the wire,
    queued replies: an open-loop chunk of 8192 arrivals, 50 clients x 16 pipelined commands),
    freed by reference counting once done with. At CPython's default threshold the
    collector ran every 700 allocations and, as those objects survived into the older
    generations, kept rescanning them: 25 % of the open-loop benchmark's samples in a
    profile (benchmarks/RESULTS.md). Everything built before the run (the preloaded keyspace, the
    modules) is frozen out of the scans, and young collections are made much rarer. Cycles are
    still collected, only less often; the results cannot change (nothing reads the collector).
    """
    old = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0  # (a caller's own freeze is left alone)
    if freeze:
        gc.freeze()
    gc.set_threshold(max(old[0], GC_GEN0_THRESHOLD), old[1], old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)
        if freeze:
            gc.unfreeze()


def simulate(scenario: Scenario, *, trace: bool = False, client_stats: bool = False,
             progress: Callable[[float], None] | None = None) -> Result:
    """Run one scenario (without its variants) and return its Result. ``client_stats``
    keeps memtier_benchmark's per-command counts (``Result.extra["client_stats"]``)."""
    return Simulation(scenario, trace=trace, client_stats=client_stats).run(progress)
