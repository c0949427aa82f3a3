"""A compact, bounded event trace of a run, consumed by the pygame view.

The model appends events when a trace is requested; the view replays them with its own
playback clock and never drives the simulation (DESIGN.md). Each event is a plain tuple

    (t, kind, client, data)

* ``t`` -- simulated time in seconds (see ``sim/clock.py``), non-decreasing per emitter;
  the recorder keeps them in emission order, which is time order for the event loop.
* ``kind`` -- one of the ``K_*`` constants below.
* ``client`` -- the client (connection) id the event concerns, or -1.
* ``data`` -- a small kind-specific payload (int, str, tuple or None), documented per kind.

The trace is capped (``limit`` events); once full it stops recording and sets
``truncated`` so a long run cannot exhaust memory. It may begin late (``start``, the
scenario's ``metrics.trace-from``), so that the events of a long run's interesting moment (a
fork at 3 s, a crash at 30 s) are within the cap; events before that are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TraceEvent = tuple[float, str, int, Any]

# Client and network. data: number of commands in the batch.
K_SEND = "send"          # client wrote a request batch onto the network
K_ARRIVE = "arrive"      # the batch reached the server's socket (readable)
K_RECV = "recv"          # the client received its replies; data = number of replies
K_CLIENT_READ = "client_read"  # the client's thread gets to replies that had arrived
#                                (client-read-share); data = number of replies
# Event loop phases. data: None unless stated.
K_ITER = "iter"          # an ae iteration starts (epoll_wait returned); data = ready clients
K_READ = "read"          # read(2) of one client; data = commands parsed
K_EXEC = "exec"          # a command runs; data = (name, key or "", cpu seconds, found: bool)
K_CRON = "cron"          # serverCron starts; data = cpu seconds it takes
K_BEFORE_SLEEP = "before_sleep"  # beforeSleep starts
K_WRITE = "write"        # write(2) of replies to one client; data = bytes
K_IDLE = "idle"          # the loop blocks in epoll_wait
# Keyspace. data: the key (str).
K_TOUCH = "touch"        # key looked up or written
K_EVICT = "evict"        # key evicted; data = (key, sampled candidate keys tuple)
K_EXPIRE = "expire"      # key expired (lazily or by the active cycle); data = key
# Persistence. data: bytes or None.
K_AOF_WRITE = "aof_write"
K_FSYNC_START = "fsync_start"
K_FSYNC_END = "fsync_end"
K_FORK = "fork"          # data = stall seconds
K_SNAPSHOT = "snapshot"  # data = fraction done (0..1), or -1: the child was killed
K_REWRITE = "rewrite"    # the child just forked rewrites the AOF (not a BGSAVE); data = why
# PostgreSQL pipeline. data = (stage name, "enter" | "leave").
K_PG_STAGE = "pg_stage"
# Faults (server/faults.py): the process dies / a restarted one serves again.
K_DOWN = "down"          # data = "crash" | "power-loss" (the process, or the machine, is gone)
K_UP = "up"              # data = what the restart loaded: "aof" | "rdb" | "none"
# Free-form notable moments (captions, faults). data = text.
K_NOTE = "note"

NOTABLE_KINDS = frozenset({K_EVICT, K_FSYNC_START, K_FORK, K_DOWN, K_NOTE})


@dataclass
class Trace:
    """A bounded, append-only list of events."""

    limit: int = 200_000
    events: list[TraceEvent] = field(default_factory=list)
    truncated: bool = False
    #: simulated time from which events are kept (earlier ones are dropped): the window a
    #: long run's replay shows, e.g. from just before a fork or a crash
    start: float = 0.0

    def emit(self, t: float, kind: str, client: int = -1, data: Any = None) -> None:
        if t < self.start:
            return
        if len(self.events) >= self.limit:
            self.truncated = True
            return
        self.events.append((t, kind, client, data))

    def __len__(self) -> int:
        return len(self.events)

    def sorted_events(self) -> list[TraceEvent]:
        """Events in time order (stable for equal times), for playback."""
        return sorted(self.events, key=lambda e: e[0])
