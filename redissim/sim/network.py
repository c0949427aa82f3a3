"""Network links between clients and the server: propagation delay plus serialisation.

A request or reply crossing the network costs one-way latency (half the round-trip time) plus
its size over the link's bandwidth. Each connection's messages are sent in order, so its own
serialisation never overlaps; contention *between* connections for the same NIC is not modelled
(at these message sizes a 10 Gbit/s link is never the bottleneck before the event loop is). Loopback has no
NIC, but a loopback round trip still costs two scheduler wake-ups: Redis's pipelining page and
``redis-cli --latency`` show tens of microseconds, which the preset carries.

Presets (round-trip time, bandwidth, wake-up) and their sources:
* ``loopback``: 45 us RTT from the calibration in ``benchmarks/RESULTS.md``
  (benchmarks/calibrate_redis.py: one-way 22.7 us median at -c 1 -P 1 including the client's
  own processing, the server's 5.5 us wake-up CPU charged separately by the loop), 40 Gbit/s
  (a memory copy; never the bottleneck in practice). Of each 22.5 us one way, 20 us is taken
  to be the wake-up of the receiver asleep in epoll_wait: on loopback the bytes are in the receiver's
  socket as soon as the sender's send(2) returns (the TCP receive runs in its softirq), and
  what one client measures is two processes waking each other. A receiver still busy when
  the bytes arrive does not pay it: with 10 redis-benchmark clients the real average latency
  is 0.061-0.087 ms, which the model gave as 0.092 with the whole 45 us on every request and
  gives as 0.075 with the wake-up only for a sleeping receiver (benchmarks/RESULTS.md). The
  20 us is a modelling choice that keeps one client's round trip, not a measurement.
* ``lan``: 200 us RTT for a 1 Gbit/s LAN, redis.io "Diagnosing latency issues"; 10 Gbit/s;
  no wake-up split (a documented figure, not measured here).
* ``cross-az``: ~1 ms RTT between cloud availability zones (AWS documents "single-digit ms",
  typically 0.5-1.5 ms); 5 Gbit/s; no wake-up split.
"""

from __future__ import annotations

from dataclasses import dataclass

from redissim.units import parse_bandwidth, parse_time

#: name -> (round-trip time in seconds, bandwidth in bytes per second, wake-up in seconds)
PRESETS: dict[str, tuple[float, float, float]] = {
    "loopback": (parse_time("45us"), parse_bandwidth("40gbit"), parse_time("20us")),
    "lan": (parse_time("200us"), parse_bandwidth("10gbit"), 0.0),
    "cross-az": (parse_time("1ms"), parse_bandwidth("5gbit"), 0.0),
}


@dataclass
class Direction:
    """One direction of a link: serialisation at the link's bandwidth, then propagation."""

    one_way: float
    bandwidth: float

    def transmit(self, t: float, nbytes: int) -> float:
        """Time the last byte of a message handed to the link at ``t`` reaches the far end."""
        return t + nbytes / self.bandwidth + self.one_way


class Link:
    """A full-duplex client<->server network: ``up`` carries requests, ``down`` replies.

    ``rtt`` is the round trip between two processes that each sleep until the other's
    message arrives. Of each one-way trip, ``wakeup`` is the receiver's: the time a thread
    blocked in epoll_wait takes to run again (the scheduler, and on a VM the halted vCPU)
    once the bytes are in its socket. The directions carry the rest; the receivers add the
    wake-up themselves when they were asleep (the server's loop, a client thread modelled
    with its CPU), or always (clients whose CPU is not modelled, PostgreSQL)."""

    def __init__(self, rtt: float, bandwidth: float, wakeup: float = 0.0):
        self.rtt = rtt
        self.bandwidth = bandwidth
        self.wakeup = wakeup
        self.up = Direction(rtt / 2.0 - wakeup, bandwidth)
        self.down = Direction(rtt / 2.0 - wakeup, bandwidth)

    @classmethod
    def preset(cls, name: str, rtt: float | None = None, bandwidth: float | None = None,
               wakeup: float | None = None) -> Link:
        base_rtt, base_bw, base_wakeup = PRESETS[name]
        if wakeup is None:
            wakeup = base_wakeup if rtt is None else 0.0
        return cls(base_rtt if rtt is None else rtt, base_bw if bandwidth is None else bandwidth,
                   wakeup)
