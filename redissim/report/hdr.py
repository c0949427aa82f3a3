"""HdrHistogram's bucket arithmetic, for reports that must read like tools built on it.

memtier_benchmark (and redis-benchmark) record latencies in an HdrHistogram
(HdrHistogram_c, ``hdr_histogram.c``): integer microseconds, 3 significant digits, values
below 10 us counted as 10 us. A value is stored in a bucket of "equivalent" values whose
width grows with the value (1/1024 to 1/2048 of it), and what the tools print are the
bucket's edges: ``hdr_value_at_percentile`` gives the highest value equivalent to the one at
the requested rank, ``hdr_mean`` weights each bucket by its median value, and the
"Request Latency Distribution" lists the percentile iterator's steps, which halve their
spacing each time the remaining tail halves. Reproducing the arithmetic (rather than
printing our own log-bucketed histogram) makes a simulated report line up digit for digit
with a measured one for the same latencies.

Only what the reports need: an immutable histogram built from an array of microsecond
latencies.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: memtier's LATENCY_HDR_MIN_VALUE (us), LATENCY_HDR_SIGDIGTS and LATENCY_HDR_GRANULARITY
#: (run_stats_types.h): the lowest discernible value, the precision, and the percentile
#: iterator's ticks per half distance
LOWEST_US = 10
SIGNIFICANT_FIGURES = 3
TICKS_PER_HALF_DISTANCE = 10


@dataclass(frozen=True)
class Layout:
    """The bucket layout ``hdr_init`` derives from the lowest value and the precision."""

    unit_magnitude: int
    sub_bucket_half_count_magnitude: int
    sub_bucket_count: int
    sub_bucket_mask: int

    @classmethod
    def of(cls, lowest: int = LOWEST_US, sigfigs: int = SIGNIFICANT_FIGURES) -> Layout:
        # the largest value that still has single-unit resolution: 2 x 10^sigfigs
        single = 2 * 10 ** sigfigs
        count_magnitude = math.ceil(math.log2(single))
        half_magnitude = max(count_magnitude, 1) - 1
        unit = int(math.floor(math.log2(lowest)))
        count = 1 << (half_magnitude + 1)
        return cls(unit, half_magnitude, count, (count - 1) << unit)


LAYOUT = Layout.of()


def _equivalent_range(v: np.ndarray, lay: Layout) -> tuple[np.ndarray, np.ndarray]:
    """(lowest equivalent value, size of the equivalent range) of each value."""
    # bucket index: the position of the highest set bit of (v | mask), less the unit and
    # the sub-bucket magnitudes (pow2ceiling of v | mask = its bit length)
    bits = np.frexp((v | lay.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
    bucket = bits - lay.unit_magnitude - (lay.sub_bucket_half_count_magnitude + 1)
    shift = bucket + lay.unit_magnitude
    sub = v >> shift
    lowest = sub << shift
    adjusted = np.where(sub >= lay.sub_bucket_count, bucket + 1, bucket)
    size = np.left_shift(np.int64(1), lay.unit_magnitude + adjusted)
    return lowest, size


class HdrHistogram:
    """Counts of integer microsecond values by HDR bucket (an immutable snapshot)."""

    def __init__(self, values_us: np.ndarray, layout: Layout = LAYOUT,
                 lowest: int = LOWEST_US):
        v = np.asarray(values_us, dtype=np.int64)
        # hdr_record_value_capped: below the lowest trackable value counts as it
        v = np.maximum(v, lowest)
        self.layout = layout
        self.total = int(v.size)
        if self.total:
            low, size = _equivalent_range(v, layout)
            keys, counts = np.unique(low, return_counts=True)
            sizes = _equivalent_range(keys, layout)[1]
        else:
            keys = counts = sizes = np.zeros(0, dtype=np.int64)
        #: per non-empty bucket, ascending: lowest equivalent value, count, range size
        self.low = keys
        self.counts = counts.astype(np.int64)
        self.size = sizes
        self.cum = np.cumsum(self.counts)

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

    def percentiles(self, ticks: int = TICKS_PER_HALF_DISTANCE) -> Iterator[tuple[int, float]]:
        """The percentile iterator's steps: (highest equivalent value, percentile).

        Steps start at 0 % and are 100/(2 x ticks) apart until half the count is left, then
        half as far apart each time the tail above the step halves; a step is reported at
        the first bucket whose cumulative share reaches it (several steps can fall in one
        bucket), and the last line is the top bucket at 100 %. An empty histogram gives that
        closing line alone, with value 0 (memtier's ``WAIT 0.000 100.000`` when no WAIT was
        sent).
        """
        if not self.total:
            yield 0, 100.0
            return
        total = self.total
        target = 0.0
        value = 0
        for i in range(len(self.low)):
            current = 100.0 * int(self.cum[i]) / total
            last = int(self.cum[i]) >= total
            while target <= current:
                value = self._highest(i)
                yield value, target
                if last:
                    break  # the count is used up: only the closing 100 % line is left
                half_distance = 2 ** (int(math.log2(100.0 / (100.0 - target))) + 1)
                target += 100.0 / (ticks * half_distance)
        yield value, 100.0
