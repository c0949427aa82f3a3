"""Faults injected into a run: a process crash (``kill -9`` of redis-server), a power loss
(the machine dies: the page cache goes too), a disk error (the device fails writes and
fsyncs for a while), and the restart that follows.

What each does to Redis, and where that lives upstream:

* **crash**: the process is gone; what is in the kernel's page cache survives. On restart
  Redis loads the AOF if its config file says ``appendonly yes``
  (``aof.c:loadAppendOnlyFiles``: the BASE, then the INCR files, replaying every command;
  nothing if the AOF has none yet), else ``dump.rdb`` (``rdb.c:rdbLoad``) if there is one;
  a CONFIG SET appendonly not written by CONFIG REWRITE does not count
  (``server.c:loadDataFromDisk``). Lost: ``aof_buf`` (everysec writes postponed behind a
  slow fsync) and, without AOF, everything since the fork of the last completed snapshot.
* **power-loss**: as a crash, and file data not yet on the device is lost: AOF data since
  the last completed fsync (everysec: ~1-2 s; ``no``: up to the kernel writeback age, 30 s).
* **disk-error**: for ``restart_after`` seconds the device fails writes and fsyncs (EIO).
  ``everysec``: the background fsync fails and write commands get ``-MISCONF Errors writing
  to the AOF file`` until an fsync succeeds (``server.c:writeCommandsDeniedByDiskError``);
  ``always``: Redis exits on the failed fsync (``aof.c:flushAppendOnlyFile``), a crash; an
  RDB save fails and, with ``stop-writes-on-bgsave-error``, writes get MISCONF until a save
  succeeds. The server itself keeps running.

Choices, stated: while the server is down, the event loop makes no progress at all. Requests
it had executed but not answered fail (the client sees its connection drop: the driver gets
a connection-error reply); requests not yet executed, and those sent while it is down, wait
and are served after the restart, as a client that reconnects and resends would see it (so
their latency includes the outage). The restarted process listens after ``restart_after``
and serves after loading, which takes ``persistence.load_time`` (startup, reading the file,
keys rebuilt, AOF commands replayed). The keyspace holds the recovered data from the moment
of the fault. A write is *acknowledged* when its reply reached the client before the fault;
the loss window is the fault time minus the execution time of the oldest acknowledged write
that was lost. The preload counts as data loaded from disk at startup when persistence is
on, and as lost when it is off.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from redissim.server.persistence import Persistence
from redissim.server.resp import ReplyError
from redissim.sim import trace as tr

__all__ = ["FaultRecord", "FaultInjector", "attach_faults", "CONNECTION_LOST"]

#: what a client whose request was executed but never answered gets (redis-py raises
#: ConnectionError "Connection closed by server."); a reply value, for the drivers.
CONNECTION_LOST = ReplyError("ERR connection lost: the server process died (simulated fault)")


@dataclass
class FaultRecord:
    """One injected fault and its consequences."""

    at: float
    kind: str
    restart_after: float
    #: the file the restart loaded: "aof", "rdb" or "none"
    source: str = "none"
    #: the last change recovered (0 = the preloaded data, -1 = nothing)
    recovered_seq: int = -1
    #: changes the server had made before the fault (sequence number)
    seq_at_fault: int = 0
    keys_loaded: int = 0
    load_time_s: float = 0.0
    #: when the restarted server started serving
    up_at: float = 0.0
    #: acknowledged writes since the previous restart (or the start) / lost of those
    acked_writes: int = 0
    acked_writes_lost: int = 0
    loss_window_s: float = 0.0
    #: requests executed but unanswered when the process died (the client saw an error)
    failed_requests: int = 0
    #: for disk-error: whether it made the process exit (appendfsync always)
    note: str = ""


class FaultInjector:
    """Runs a scenario's ``faults:`` list against one server."""

    def __init__(self, env: Any, loop: Any, persistence: Persistence, faults: list[Any],
                 trace: tr.Trace | None = None):
        if not persistence.track:
            raise ValueError("faults need Persistence(track=True) to know what was durable")
        self.env = env
        self.loop = loop
        self.p = persistence
        self.faults = sorted(faults, key=lambda f: f.at)
        self.trace = trace
        self.records: list[FaultRecord] = []
        self.down = False
        persistence.on_fatal = self._fatal

    def attach(self) -> None:
        for f in self.faults:
            self.env.process(self._inject(f))

    def _inject(self, fault: Any):
        env = self.env
        if fault.at > env.now:
            yield env.timeout(fault.at - env.now)
        if fault.kind == "disk-error":
            self.p.disk_error_windows.append((env.now, env.now + fault.restart_after))
            self._note(env.now, f"disk error for {fault.restart_after:g} s")
            self.records.append(FaultRecord(env.now, fault.kind, fault.restart_after,
                                            source="-", recovered_seq=self.p.seq,
                                            seq_at_fault=self.p.seq, up_at=env.now))
            return
        self.kill(env.now, fault.kind, fault.restart_after)

    def _fatal(self, t: float) -> None:
        """Redis exits (fsync error under appendfsync always) at ``t``."""
        window = next((b - a for a, b in self.p.disk_error_windows if a <= t <= b), 1.0)

        def go() -> None:
            rec = self.kill(self.env.now, "crash", window)
            if rec is not None:
                rec.note = "exit(1) on AOF fsync error (appendfsync always)"

        self.env.timeout(max(0.0, t - self.env.now)).callbacks.append(lambda _e: go())

    def kill(self, t: float, kind: str, restart_after: float) -> FaultRecord | None:
        """The process (and with power-loss the machine) dies at ``t``; schedule the restart."""
        if self.down:
            return None  # already down: nothing more to lose
        self.down = True
        p = self.p
        rec = FaultRecord(t, kind, restart_after, seq_at_fault=p.seq)
        rec.failed_requests = self.loop.halt(t, CONNECTION_LOST)
        p.kill()
        if kind == "power-loss":
            p.power_off()
        info = p.recover(t, kind)
        rec.source = info["source"]
        rec.recovered_seq = info["seq"]
        rec.keys_loaded = info["keys"]
        rec.acked_writes = info["acked"]
        rec.acked_writes_lost = info["lost"]
        rec.loss_window_s = info["window_s"]
        rec.load_time_s = p.load_time(info, kind)
        rec.up_at = t + restart_after + rec.load_time_s
        self.records.append(rec)
        if self.trace is not None:
            self.trace.emit(t, tr.K_DOWN, -1, kind)
        self._note(t, f"{kind}: lost {rec.acked_writes_lost} acknowledged writes")
        self.env.process(self._restart(rec, p.load_cpu(info)))
        return rec

    def _restart(self, rec: FaultRecord, load_cpu: float):
        env = self.env
        if rec.up_at > env.now:
            yield env.timeout(rec.up_at - env.now)
        self.down = False
        if self.trace is not None:
            self.trace.emit(env.now, tr.K_UP, -1, rec.source)
        self.loop.resume(env.now)
        self.p.cpu_load = load_cpu  # (after resume zeroed the new process's counters)
        self._note(env.now, f"restarted from {rec.source}: {rec.keys_loaded} keys")

    def _note(self, t: float, text: str) -> None:
        if self.trace is not None:
            self.trace.emit(t, tr.K_NOTE, -1, text)

    def summary(self) -> dict[str, Any]:
        """What the run reports: acknowledged writes, those lost, the loss window."""
        crashes = [r for r in self.records if r.kind != "disk-error"]
        return {
            "acked_writes": self.p.acked_writes,
            "acked_writes_lost": sum(r.acked_writes_lost for r in crashes),
            "loss_window_s": max((r.loss_window_s for r in crashes), default=0.0),
            "faults": [asdict(r) for r in self.records],
        }


def attach_faults(sim: Any, persistence: Persistence | None) -> FaultInjector | None:
    """Build the injector for ``sim.scenario.faults`` (None when there are none). Call it
    right after :func:`redissim.server.persistence.attach_persistence`."""
    if "faults" in vars(sim):  # already attached
        return sim.faults
    faults = sim.scenario.faults
    if not faults or persistence is None:
        sim.faults = None
        return None
    inj = FaultInjector(sim.env, sim.loop, persistence, list(faults), sim.trace)
    inj.attach()
    sim.faults = inj
    return inj
