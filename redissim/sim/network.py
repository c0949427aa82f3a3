"""Network links between clients and the server: propagation delay plus serialisation.

A request or reply crossing the network costs one-way latency (half the round-trip time) plus
its size over the link's bandwidth. Each connection's messages are sent in order, so its own
serialisation never overlaps; contention *between* connections for the same NIC is not modelled
(at these message sizes a 10 Gbit/s link is never the bottleneck before the event loop is). Loopback has no
NIC, but a loopback round trip still costs two scheduler wake-ups: Redis's pipelining page and
``redis-cli --latency`` show tens of microseconds, which the preset carries.

Presets (round-trip time, bandwidth) and their sources:
* ``loopback``: 45 us RTT from the calibration in ``benchmarks/RESULTS.md``
  (benchmarks/calibrate_redis.py: one-way 22.7 us median at -c 1 -P 1 including the client's
  own processing, the server's 5.5 us wake-up charged separately by the loop), 40 Gbit/s
  (a memory copy; never the bottleneck in practice).
* ``lan``: 200 us RTT for a 1 Gbit/s LAN, redis.io "Diagnosing latency issues"; 10 Gbit/s.
* ``cross-az``: ~1 ms RTT between cloud availability zones (AWS documents "single-digit ms",
  typically 0.5-1.5 ms); 5 Gbit/s.
"""

from __future__ import annotations

from dataclasses import dataclass

from redissim.units import parse_bandwidth, parse_time

#: name -> (round-trip time in seconds, bandwidth in bytes per second)
PRESETS: dict[str, tuple[float, float]] = {
    "loopback": (parse_time("45us"), parse_bandwidth("40gbit")),
    "lan": (parse_time("200us"), parse_bandwidth("10gbit")),
    "cross-az": (parse_time("1ms"), parse_bandwidth("5gbit")),
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
    """A full-duplex client<->server network: ``up`` carries requests, ``down`` replies."""

    def __init__(self, rtt: float, bandwidth: float):
        self.rtt = rtt
        self.bandwidth = bandwidth
        self.up = Direction(rtt / 2.0, bandwidth)
        self.down = Direction(rtt / 2.0, bandwidth)

    @classmethod
    def preset(cls, name: str, rtt: float | None = None, bandwidth: float | None = None) -> Link:
        base_rtt, base_bw = PRESETS[name]
        return cls(base_rtt if rtt is None else rtt, base_bw if bandwidth is None else bandwidth)
