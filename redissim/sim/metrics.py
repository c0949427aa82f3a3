"""Metrics: INFO-named counters, latency histograms with bounded memory, and time series.

What a Redis user reads from ``INFO stats`` / ``INFO commandstats`` and from redis-benchmark's
HDR histogram (``src/redis-benchmark.c`` uses hdr_histogram with 3 significant digits) is what
the model reports. The histogram here is log-linear like HDR: buckets grow geometrically by
``1 + precision`` so every percentile is within ``precision`` (relative) of the exact sample
quantile, whatever the number of samples, in a few thousand integer counters.

Recording is batched for speed: samples are appended to a plain list (``buf``; the hot
paths append to it directly) and binned in bulk with numpy once ``BUFFER`` have gathered,
because the per-command path is the simulator's hot path.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from redissim.sim.hdr import BENCHMARK_HIGHEST_US, BENCHMARK_LAYOUT, HdrHistogram

#: samples gathered before they are binned (bounds the buffer: memory stays O(1))
BUFFER: Final = 4096


class LatencyHistogram:
    """Log-bucketed histogram of durations in seconds (relative bucket width ``precision``).

    Percentiles are reported as the geometric centre of the bucket holding the requested rank,
    clamped to the exact observed min and max, so the relative error is below ``precision/2``.
    """

    __slots__ = ("lowest", "highest", "precision", "_log_base", "_nb", "counts", "_count",
                 "total", "_min", "_max", "buf", "hdr_counts")

    def __init__(self, lowest: float = 1e-8, highest: float = 1e4, precision: float = 0.005,
                 hdr: bool = False):
        self.lowest = lowest
        self.highest = highest
        self.precision = precision
        self._log_base = math.log1p(precision)
        self._nb = int(math.ceil(math.log(highest / lowest) / self._log_base)) + 2
        self.counts = np.zeros(self._nb, dtype=np.int64)
        self._count = 0
        self.total = 0.0
        self._min = math.inf
        self._max = 0.0
        #: samples not yet binned; callers on a hot path may append to it directly, then
        #: call ``flush()`` once it holds ``BUFFER`` or more
        self.buf: list[float] = []
        #: with ``hdr``: the same samples also counted as redis-benchmark counts them (whole
        #: microseconds in an HdrHistogram of 3 significant figures, capped at 3 s), so that
        #: its report prints the digits it would print (see sim/hdr.py); binned with the rest
        self.hdr_counts: np.ndarray | None = (
            np.zeros(BENCHMARK_LAYOUT.counts_len(), dtype=np.int64) if hdr else None)

    def record(self, value: float) -> None:
        buf = self.buf
        buf.append(value)
        if len(buf) >= BUFFER:
            self.flush()

    def record_many(self, values: np.ndarray) -> None:
        self.flush()
        self._bin(np.asarray(values, dtype=np.float64))

    def flush(self) -> None:
        """Bin the buffered samples now."""
        buf = self.buf
        if buf:
            # (packed by struct, the same doubles bit for bit: numpy's own conversion of a
            # list inspects every element for its type and shape; measured per sample,
            # np.array 15-24 ns, array.array 14-19 ns, struct.pack 6 ns)
            self._bin(np.frombuffer(struct.pack(f"{len(buf)}d", *buf), dtype=np.float64))
            buf.clear()  # the same list: hot paths may hold on to it

    def _bin(self, v: np.ndarray) -> None:
        if v.size == 0:
            return
        self._count += int(v.size)
        self.total += float(v.sum())
        self._min = min(self._min, float(v.min()))
        self._max = max(self._max, float(v.max()))
        clipped = np.clip(v, self.lowest, self.highest)
        idx = np.floor(np.log(clipped / self.lowest) / self._log_base).astype(np.int64) + 1
        idx[v < self.lowest] = 0
        self.counts += np.bincount(idx, minlength=self._nb)[: self._nb]
        hdr = self.hdr_counts
        if hdr is not None:
            # whole microseconds, as ustime() differences are (the nanosecond is a float's
            # slack: 175 us must not come out as 174.99999)
            us = np.clip(np.floor(v * 1e6 + 1e-3), 0, BENCHMARK_HIGHEST_US).astype(np.int64)
            n = len(hdr)
            hdr += np.bincount(BENCHMARK_LAYOUT.counts_index(us), minlength=n)[:n]

    def merge(self, other: LatencyHistogram) -> None:
        self.flush()
        other.flush()
        self.counts += other.counts
        if self.hdr_counts is not None and other.hdr_counts is not None:
            self.hdr_counts += other.hdr_counts
        self._count += other.count
        self.total += other.total
        self._min = min(self._min, other.min)
        self._max = max(self._max, other.max)

    def hdr_snapshot(self) -> HdrHistogram | None:
        """The samples as redis-benchmark's HdrHistogram holds them (None without ``hdr``)."""
        self.flush()
        if self.hdr_counts is None:
            return None
        return HdrHistogram.from_counts(self.hdr_counts, BENCHMARK_LAYOUT)

    @property
    def count(self) -> int:
        return self._count + len(self.buf)

    @property
    def min(self) -> float:
        self.flush()
        return self._min

    @property
    def max(self) -> float:
        self.flush()
        return self._max

    @property
    def mean(self) -> float:
        self.flush()
        return self.total / self._count if self._count else 0.0

    def percentile(self, p: float) -> float:
        """Value at percentile ``p`` (0..100), nearest-rank like HDR's getValueAtPercentile."""
        self.flush()
        if self._count == 0:
            return 0.0
        rank = max(1, math.ceil(p / 100.0 * self._count))
        cum = np.cumsum(self.counts)
        b = int(np.searchsorted(cum, rank))
        if b == 0:
            value = self.lowest
        else:
            lo = self.lowest * math.exp((b - 1) * self._log_base)
            value = lo * math.exp(0.5 * self._log_base)
        return min(max(value, self._min), self._max)

    def summary_ms(self) -> dict[str, float]:
        """redis-benchmark's latency summary in milliseconds, plus p99.9."""
        self.flush()
        if self._count == 0:
            return {k: 0.0 for k in ("avg", "min", "p50", "p95", "p99", "p999", "max")}
        return {
            "avg": self.mean * 1e3,
            "min": self.min * 1e3,
            "p50": self.percentile(50) * 1e3,
            "p95": self.percentile(95) * 1e3,
            "p99": self.percentile(99) * 1e3,
            "p999": self.percentile(99.9) * 1e3,
            "max": self.max * 1e3,
        }


@dataclass
class CommandStats:
    """One ``cmdstat_<name>`` line: calls, CPU usec, failed calls (INFO commandstats)."""

    calls: int = 0
    usec: float = 0.0
    failed_calls: int = 0
    rejected_calls: int = 0


@dataclass
class TimeSeries:
    """Samples of named quantities at a fixed interval (bounded: one row per interval)."""

    interval: float
    columns: tuple[str, ...]
    t: list[float] = field(default_factory=list)
    rows: list[tuple[float, ...]] = field(default_factory=list)

    def add(self, t: float, values: tuple[float, ...]) -> None:
        self.t.append(t)
        self.rows.append(values)

    def column(self, name: str) -> list[float]:
        i = self.columns.index(name)
        return [r[i] for r in self.rows]

    def to_dict(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {"t": list(self.t)}
        for i, c in enumerate(self.columns):
            out[c] = [r[i] for r in self.rows]
        return out
