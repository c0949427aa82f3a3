"""What a benchmark client counts of its own requests: memtier_benchmark's ``run_stats``.

memtier_benchmark (``run_stats.cpp``) keeps, per command type and per second of the test,
the requests answered, the bytes sent and received, the latency of each (integer
microseconds, from sending the request to reading its reply) and, for GETs, hits (a value
came back) and misses (nil). The simulator's own per-workload histograms answer other
questions (redis-benchmark's summary per workload), so this collector is separate: a
``reply_hook`` of the event loop, called with every write's replies at the time they reach
the client, and attached only when a memtier report is asked for (it costs a Python call
per write; without it the per-command path is untouched).

Bytes are the RESP encodings both ways: the request as the client sent it, the reply as
the server wrote it (what INFO's ``total_net_input_bytes`` / ``total_net_output_bytes``
add up over every client).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from redissim.server.resp import ReplyError, request_size


@dataclass
class TypeStats:
    """One command type's counts over the whole run, or over one second of it."""

    ops: int = 0
    bytes_tx: int = 0
    bytes_rx: int = 0
    hits: int = 0
    misses: int = 0
    errors: int = 0
    #: each reply's latency in whole microseconds (as memtier's timevals give it); kept by
    #: the per-second counts only (the run's are their concatenation: ClientStats.latencies)
    latency_us: array = field(default_factory=lambda: array("q"))


class ClientStats:
    """Per command type (``SET``, ``GET``, ...): totals and one TypeStats per second since
    the first request was sent."""

    def __init__(self, t0: float = 0.0) -> None:
        #: where second 0 begins: when the first workload starts
        self.t0 = t0
        #: the first request's send time and the last reply's arrival
        self.t_start: float | None = None
        self.t_end = 0.0
        self.totals: dict[str, TypeStats] = {}
        #: second since t0 -> command type -> counts
        self.seconds: dict[int, dict[str, TypeStats]] = {}

    def on_replies(self, conn: Any, sent: list, t_recv: float) -> None:
        """The event loop's reply hook: account each (label, batch, reply size, reply, argv)."""
        totals = self.totals
        for _label, batch, rsize, reply, args in sent:
            t_send = batch.t_send
            if self.t_start is None or t_send < self.t_start:
                self.t_start = t_send
            name = args[0].decode("utf-8", "replace").upper() if args else "?"
            lat = int((t_recv - t_send) * 1e6)
            tx = request_size(args)
            # (memtier files a request under the second its reply was read in)
            sec = max(0, int(t_recv - self.t0))
            per = self.seconds.get(sec)
            if per is None:
                per = self.seconds[sec] = {}
            tot = totals.get(name)
            if tot is None:
                tot = totals[name] = TypeStats()
            one = per.get(name)
            if one is None:
                one = per[name] = TypeStats()
            one.latency_us.append(lat)
            for st in (tot, one):
                st.ops += 1
                st.bytes_tx += tx
                st.bytes_rx += rsize
                if isinstance(reply, ReplyError):
                    st.errors += 1
                elif name == "GET":
                    if reply is None:
                        st.misses += 1
                    else:
                        st.hits += 1
        if t_recv > self.t_end:
            self.t_end = t_recv

    def latencies(self, name: str | None = None) -> np.ndarray:
        """Every latency (us) of command type ``name`` (of every type if None), in the order
        of the seconds they were answered in."""
        parts = [np.frombuffer(st.latency_us, dtype=np.int64)
                 for sec in sorted(self.seconds) for n, st in self.seconds[sec].items()
                 if name is None or n == name]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    @property
    def duration(self) -> float:
        """Seconds from the first request sent to the last reply read."""
        return self.t_end - self.t_start if self.t_start is not None else 0.0
