"""HdrHistogram's bucket arithmetic, for reports that must read like the tools built on it.

redis-benchmark (``src/redis-benchmark.c``) and memtier_benchmark record latencies in
HdrHistograms (HdrHistogram_c, ``hdr_histogram.c``), in integer microseconds:

* redis-benchmark: 10 us to 3 s, 3 significant figures (``CONFIG_LATENCY_HISTOGRAM_*``,
  ``DEFAULT_LATENCY_PRECISION``): buckets 8 us wide up to 16 ms, then doubling with each
  power of two;
* memtier_benchmark: 10 us to 600 s, 2 significant figures (its ``safe_hdr_histogram`` in
  ``run_stats_types.h`` builds every histogram with ``LATENCY_HDR_MIN_VALUE``,
  ``LATENCY_HDR_SEC_MAX_VALUE`` and ``LATENCY_HDR_SEC_SIGDIGTS``; a real run's ``Compressed
  Histogram`` says so too): 8 us wide up to 2 ms.

What the tools print are the buckets' edges: ``hdr_value_at_percentile`` gives the highest
value equivalent to the one at the requested rank, ``hdr_min``/``hdr_max`` the lowest and
highest equivalent values, ``hdr_mean`` weights each bucket by its median value, the
percentile iterator's steps halve their spacing each time the remaining tail halves
(memtier's "Request Latency Distribution", redis-benchmark's "Latency by percentile
distribution") and the linear iterator reports the count up to each multiple of a step
(redis-benchmark's "Cumulative distribution of latencies"). Reproducing the arithmetic,
rather than printing our own histogram's estimates, makes a simulated report line up digit
for digit with a measured one for the same latencies.

Also the histogram's V2 log encoding (``hdr_log_encode``: counts as ZigZag LEB128 words,
zero runs folded, deflated, base64), which memtier's JSON carries as ``Compressed
Histogram`` and HdrHistogram's tools decode.

Only what the reports need: an immutable snapshot built from microsecond latencies or from a
counts array (what :class:`redissim.sim.metrics.LatencyHistogram` keeps alongside its own
bins for redis-benchmark's report).
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: memtier's LATENCY_HDR_MIN_VALUE, LATENCY_HDR_SEC_MAX_VALUE (us), LATENCY_HDR_SEC_SIGDIGTS
#: and LATENCY_HDR_GRANULARITY (run_stats_types.h): the lowest discernible value, the highest
#: trackable one, the precision, and the percentile iterator's ticks per half distance
LOWEST_US = 10
HIGHEST_US = 600_000_000
SIGNIFICANT_FIGURES = 2
TICKS_PER_HALF_DISTANCE = 10
#: redis-benchmark's CONFIG_LATENCY_HISTOGRAM_MAX_VALUE (us) and DEFAULT_LATENCY_PRECISION
BENCHMARK_HIGHEST_US = 3_000_000
BENCHMARK_SIGNIFICANT_FIGURES = 3
#: the V2 encoding's cookies, with the word-size nibble HdrHistogram writes (0x10)
V2_ENCODING_COOKIE = 0x1C849303 | 0x10
V2_COMPRESSION_COOKIE = 0x1C849304 | 0x10


@dataclass(frozen=True)
class Layout:
    """The bucket layout ``hdr_init`` derives from the lowest value and the precision."""

    unit_magnitude: int
    sub_bucket_half_count_magnitude: int
    sub_bucket_count: int
    sub_bucket_mask: int
    lowest: int
    highest: int
    sigfigs: int

    @classmethod
    def of(cls, lowest: int = LOWEST_US, highest: int = HIGHEST_US,
           sigfigs: int = SIGNIFICANT_FIGURES) -> Layout:
        # the largest value that still has single-unit resolution: 2 x 10^sigfigs
        single = 2 * 10 ** sigfigs
        count_magnitude = math.ceil(math.log2(single))
        half_magnitude = max(count_magnitude, 1) - 1
        unit = int(math.floor(math.log2(lowest)))
        count = 1 << (half_magnitude + 1)
        return cls(unit, half_magnitude, count, (count - 1) << unit, lowest, highest, sigfigs)

    def buckets(self, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bucket index, sub-bucket index) of each value."""
        v = np.asarray(value, dtype=np.int64)
        # the bucket: the bit length of (v | mask) (its pow2ceiling), less the unit and the
        # sub-bucket magnitudes
        bits = np.frexp((v | self.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
        bucket = bits - self.unit_magnitude - (self.sub_bucket_half_count_magnitude + 1)
        return bucket, v >> (bucket + self.unit_magnitude)

    def counts_index(self, value: np.ndarray) -> np.ndarray:
        """Where each value's count sits in the histogram's counts array."""
        bucket, sub = self.buckets(value)
        half = self.sub_bucket_count >> 1
        return ((bucket + 1) << self.sub_bucket_half_count_magnitude) + (sub - half)

    def counts_len(self) -> int:
        """The counts array's length: up to the bucket that holds ``highest``."""
        return int(self.counts_index(np.array([self.highest]))[0]) + 1

    def value_of_index(self, index: np.ndarray) -> np.ndarray:
        """The lowest value counted at each counts-array index (counts_index's inverse)."""
        i = np.asarray(index, dtype=np.int64)
        half = self.sub_bucket_count >> 1
        bucket = (i >> self.sub_bucket_half_count_magnitude) - 1
        sub = (i & (half - 1)) + half
        first = bucket < 0  # the first bucket's lower half
        sub = np.where(first, sub - half, sub)
        bucket = np.where(first, 0, bucket)
        return sub << (bucket + self.unit_magnitude)

    def equivalent_range(self, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lowest equivalent value, size of the equivalent range) of each value."""
        bucket, sub = self.buckets(value)
        lowest = sub << (bucket + self.unit_magnitude)
        adjusted = np.where(sub >= self.sub_bucket_count, bucket + 1, bucket)
        return lowest, np.left_shift(np.int64(1), self.unit_magnitude + adjusted)


LAYOUT = Layout.of()
#: redis-benchmark's histograms
BENCHMARK_LAYOUT = Layout.of(LOWEST_US, BENCHMARK_HIGHEST_US, BENCHMARK_SIGNIFICANT_FIGURES)


class HdrHistogram:
    """Counts of integer microsecond values by HDR bucket (an immutable snapshot)."""

    def __init__(self, values_us: np.ndarray, layout: Layout = LAYOUT):
        v = np.asarray(values_us, dtype=np.int64)
        # hdr_record_value_capped: values outside the trackable range count as its ends
        v = np.clip(v, layout.lowest, layout.highest)
        self.layout = layout
        self.total = int(v.size)
        if self.total:
            keys, counts = np.unique(layout.equivalent_range(v)[0], return_counts=True)
            sizes = layout.equivalent_range(keys)[1]
        else:
            keys = counts = sizes = np.zeros(0, dtype=np.int64)
        #: per non-empty bucket, ascending: lowest equivalent value, count, range size
        self.low = keys
        self.counts = counts.astype(np.int64)
        self.size = sizes
        self.cum = np.cumsum(self.counts)

    @classmethod
    def from_counts(cls, counts: np.ndarray, layout: Layout) -> HdrHistogram:
        """A snapshot of a counts array laid out by ``layout`` (counts_index order)."""
        c = np.asarray(counts, dtype=np.int64)
        nz = np.flatnonzero(c)
        h = cls(np.zeros(0, dtype=np.int64), layout)
        if nz.size:
            h.low = layout.value_of_index(nz)
            h.counts = c[nz]
            h.size = layout.equivalent_range(h.low)[1]
            h.cum = np.cumsum(h.counts)
            h.total = int(h.cum[-1])
        return h

    def _highest(self, i: int) -> int:
        return int(self.low[i] + self.size[i] - 1)

    def value_at_percentile(self, p: float) -> int:
        """``hdr_value_at_percentile``: the highest value equivalent to the one at rank
        round(p% of the count), at least rank 1 (0 when empty)."""
        if not self.total:
            return 0
        p = min(p, 100.0)
        rank = max(1, int(p / 100.0 * self.total + 0.5))
        i = int(np.searchsorted(self.cum, rank))
        if p == 0.0:
            return int(self.low[i])
        return self._highest(i)

    def mean(self) -> float:
        """``hdr_mean``: each bucket counted at its median equivalent value."""
        if not self.total:
            return 0.0
        median = self.low + (self.size >> 1)
        return float((self.counts * median).sum()) / self.total

    def min(self) -> int:
        return int(self.low[0]) if self.total else 0

    def max(self) -> int:
        return self._highest(len(self.low) - 1) if self.total else 0

    def percentiles(self, ticks: int = TICKS_PER_HALF_DISTANCE
                    ) -> Iterator[tuple[int, float, int]]:
        """The percentile iterator's steps: (highest equivalent value, percentile, count up
        to and with the value's bucket).

        Steps start at 0 % and are 100/(2 x ticks) apart until half the count is left, then
        half as far apart each time the tail above the step halves; a step is reported at
        the first bucket whose cumulative share reaches it (several steps can fall in one
        bucket), and the last line is the top bucket at 100 %. An empty histogram gives that
        closing line alone, with value 0 (memtier's ``WAIT 0.000 100.000`` when no WAIT was
        sent).
        """
        if not self.total:
            yield 0, 100.0, 0
            return
        total = self.total
        target = 0.0
        value = 0
        for i in range(len(self.low)):
            cum = int(self.cum[i])
            current = 100.0 * cum / total
            while target <= current:
                value = self._highest(i)
                yield value, target, cum
                if cum >= total:
                    break  # the count is used up: only the closing 100 % line is left
                half_distance = 2 ** (int(math.log2(100.0 / (100.0 - target))) + 1)
                target += 100.0 / (ticks * half_distance)
        yield value, 100.0, total

    def linear(self, step: int, coarser: tuple[int, int] | None = None
               ) -> Iterator[tuple[int, int]]:
        """The linear iterator's steps: (highest value equivalent to the level, count up to
        and with that bucket) for the levels step, 2 step, ... until a level's count is the
        whole count.

        ``coarser`` = (above, step2): once a reported value exceeds ``above`` the step becomes
        ``step2`` -- from the level after the next, as redis-benchmark's change of
        ``value_units_per_bucket`` comes after the iterator has already moved on by the old
        step (its output goes 2.007, 2.103, 3.103 ms).
        """
        if not self.total:
            return
        lay = self.layout
        level = step
        units = step
        done_at = -1  # the bucket where the count was used up
        while True:
            lowest = int(lay.equivalent_range(np.array([level]))[0][0])
            if done_at >= 0 and lowest != done_at:
                return  # (a level still inside that bucket is reported again, as HDR does)
            # the buckets up to and with the level's own bucket
            n = int(np.searchsorted(self.low, lowest, side="right"))
            cum = int(self.cum[n - 1]) if n else 0
            value = lowest + int(lay.equivalent_range(np.array([lowest]))[1][0]) - 1
            yield value, cum
            if cum >= self.total and done_at < 0:
                done_at = lowest
            level += units
            if coarser is not None and value > coarser[0]:
                units = coarser[1]

    def encode(self) -> str:
        """The V2 compressed log encoding, base64 (what ``hdr_log_encode`` writes).

        The counts array from index 0 to the highest non-empty one, each count a ZigZag
        LEB128 word, a run of two or more zero counts one negative word (minus its length);
        behind a 40-byte header (cookie, payload length, normalizing offset 0, significant
        figures, lowest and highest trackable values, conversion ratio 1.0), deflated
        behind the compression cookie and the deflated length.
        """
        lay = self.layout
        counts = np.zeros(0, dtype=np.int64)
        if self.total:
            idx = lay.counts_index(self.low)
            counts = np.zeros(int(idx.max()) + 1, dtype=np.int64)
            counts[idx] = self.counts
        words = bytearray()
        i = 0
        n = len(counts)
        while i < n:
            c = int(counts[i])
            i += 1
            if c == 0:
                run = 1
                while i < n and counts[i] == 0:
                    run += 1
                    i += 1
                if run > 1:
                    c = -run
            _put_zigzag(words, c)
        head = struct.pack(">iiiiqqd", V2_ENCODING_COOKIE, len(words), 0, lay.sigfigs,
                           lay.lowest, lay.highest, 1.0)
        packed = zlib.compress(head + bytes(words))
        blob = struct.pack(">ii", V2_COMPRESSION_COOKIE, len(packed)) + packed
        return base64.b64encode(blob).decode("ascii")


def _put_zigzag(out: bytearray, value: int) -> None:
    """One signed word, ZigZag then LEB128 (7 bits a byte, low bits first)."""
    z = (value << 1) ^ (value >> 63)
    z &= (1 << 64) - 1
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
