import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redissim.sim.metrics import LatencyHistogram


def test_percentiles_within_one_percent_of_exact():
    rng = np.random.default_rng(7)
    samples = rng.exponential(1e-3, 200_000)
    h = LatencyHistogram()
    for v in samples[:5000]:
        h.record(float(v))
    h.record_many(samples[5000:])
    assert h.count == len(samples)
    for p in (50, 90, 95, 99, 99.9):
        exact = float(np.percentile(samples, p, method="inverted_cdf"))
        assert h.percentile(p) == pytest.approx(exact, rel=0.01)
    assert h.mean == pytest.approx(samples.mean(), rel=1e-9)
    assert h.min == samples.min() and h.max == samples.max()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=1e-7, max_value=100.0), min_size=1, max_size=300),
       st.floats(min_value=0.1, max_value=100.0))
def test_any_percentile_is_within_precision(values, p):
    h = LatencyHistogram()
    for v in values:
        h.record(v)
    exact = float(np.percentile(np.array(values), p, method="inverted_cdf"))
    assert h.percentile(p) == pytest.approx(exact, rel=0.01)


def test_memory_is_bounded():
    h = LatencyHistogram()
    before = h.counts.nbytes
    h.record_many(np.random.default_rng(1).random(300_000))
    assert h.counts.nbytes == before  # no per-sample storage


def test_merge_adds_counts():
    a, b = LatencyHistogram(), LatencyHistogram()
    a.record_many(np.full(10, 1e-3))
    b.record_many(np.full(30, 2e-3))
    a.merge(b)
    assert a.count == 40
    assert a.percentile(50) == pytest.approx(2e-3, rel=0.01)
