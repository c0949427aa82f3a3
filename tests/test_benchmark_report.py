"""redis-benchmark's report (report/summary.py with sim/hdr.py): the latencies counted as
redis-benchmark counts them (HdrHistogram, 3 significant figures, 10 us to 3 s), its two
distributions' steps, and the layout line for line against a real redis-benchmark 7.0.15's
output (tests/data/redis-benchmark-7.0-set.txt: ``-t set -n 20000 -c 50`` against
redis-server 7.0.15 started with ``--save ''``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hdr_reference import reference
from hypothesis import given, settings
from hypothesis import strategies as st

from redissim.report.summary import benchmark_text, latency_distribution_lines
from redissim.scenario import Scenario
from redissim.sim.engine import simulate
from redissim.sim.hdr import BENCHMARK_LAYOUT, HdrHistogram
from redissim.sim.metrics import LatencyHistogram

REAL = (Path(__file__).parent / "data" / "redis-benchmark-7.0-set.txt").read_text().splitlines()
LINE = re.compile(r"^\d+\.\d{3}% <= \d+\.\d{3} milliseconds \(cumulative count \d+\)$")

latencies = st.lists(st.integers(min_value=10, max_value=2_999_999), min_size=1, max_size=300)


@settings(max_examples=50, deadline=None)
@given(latencies)
def test_benchmark_histogram_matches_the_reference_library(values):
    ref = reference(values, 3_000_000, 3)  # redis-benchmark's CONFIG_LATENCY_HISTOGRAM_*
    # counted through LatencyHistogram's own binning (seconds in, whole microseconds kept)
    lh = LatencyHistogram(hdr=True)
    lh.record_many(np.array(values, dtype=np.float64) / 1e6)
    h = lh.hdr_snapshot()
    assert h is not None and h.total == len(values)
    direct = HdrHistogram(np.array(values), BENCHMARK_LAYOUT)
    assert np.array_equal(h.low, direct.low) and np.array_equal(h.counts, direct.counts)
    for p in (0.0, 50.0, 95.0, 99.0, 100.0):
        assert h.value_at_percentile(p) == ref.get_value_at_percentile(p)
    assert (h.min(), h.max()) == (ref.get_min_value(), ref.get_max_value())
    assert h.mean() == pytest.approx(ref.get_mean_value(), rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(latencies)
def test_cumulative_steps_count_what_lies_below(values):
    h = HdrHistogram(np.array(values), BENCHMARK_LAYOUT)
    highs = [HdrHistogram(np.array([v]), BENCHMARK_LAYOUT).max() for v in values]
    steps = list(h.linear(100, coarser=(2000, 1000)))
    assert steps[-1][1] == len(values)
    for value, cum in steps:
        assert cum == sum(1 for x in highs if x <= value)
    assert [c for _, c in steps] == sorted(c for _, c in steps)


def test_distribution_steps_are_the_real_ones():
    """Latencies spread from 0.1 to 6 ms give the levels a real run printed: 0.103, 0.207, ...
    2.007, then 2.103 and 1 ms apart (3.103 ... 6.103), and the percentiles 0, 50, 75, 87.5,
    ... 99.997, 100."""
    values = np.arange(100, 6101, 1)
    h = HdrHistogram(values, BENCHMARK_LAYOUT)
    levels = [v for v, _ in h.linear(100, coarser=(2000, 1000))]
    real_cumulative = [round(float(ln.split("<= ")[1].split()[0]) * 1000) for ln in REAL
                       if LINE.match(ln) and REAL.index(ln) > REAL.index(
                           "Cumulative distribution of latencies:")]
    assert set(real_cumulative) <= set(levels)
    assert levels[:3] == [103, 207, 303] and levels[19:22] == [2007, 2103, 3103]
    assert levels[-1] == 6103
    real_pcts = [ln.split("%")[0] for ln in REAL[REAL.index("Latency by percentile "
                                                            "distribution:") + 1:]
                 if LINE.match(ln)][:17]
    # (one outlier above 36k values: the top bucket holds under 0.003 %, so every step of the
    # real run's, 99.997 % included, falls below it)
    tail = HdrHistogram(np.concatenate([values.repeat(6), [9000]]), BENCHMARK_LAYOUT)
    ours = [f"{p:3.3f}" for _, p, _ in tail.percentiles(ticks=1)]
    assert ours[:16] == real_pcts[:16] and ours[-1] == real_pcts[-1] == "100.000"


@pytest.mark.parametrize("pipeline", [1, 16])
def test_layout_is_a_real_redis_benchmarks(pipeline):
    """Everything but the digits is the real output's, line for line (only the measured
    values and the number of distribution lines differ). redis-benchmark -P 16 prints the
    same head as -P 1 (showLatencyReport has no pipeline line)."""
    sc = Scenario.model_validate({
        "name": "set", "seed": 1, "server": {"save": ""},
        "workloads": [{"name": "SET", "clients": 50, "requests": 20000, "pipeline": pipeline,
                       "commands": [{"cmd": "SET"}], "keys": {"fixed": "key:__rand_int__"}}]})
    ours = benchmark_text(simulate(sc)).splitlines()
    head = REAL[:REAL.index("Latency by percentile distribution:") + 1]
    assert [re.sub(r"\d", "9", x) for x in ours[:len(head)]] == \
        [re.sub(r"\d", "9", x) for x in head]
    # each distribution line in the same form; then the summary, the same widths
    i = len(head)
    while ours[i]:
        assert LINE.match(ours[i]), ours[i]
        i += 1
    assert ours[i + 1] == "Cumulative distribution of latencies:"
    summary = ours.index("Summary:")
    real_summary = REAL.index("Summary:")
    for k in range(5):
        a, b = ours[summary + k], REAL[real_summary + k]
        assert re.sub(r"\d", "9", a) == re.sub(r"\d", "9", b) or (k == 1 and a.split(":")[0] ==
                                                                  b.split(":")[0]), (a, b)


def test_report_without_replies_prints_no_distribution():
    lh = LatencyHistogram(hdr=True)
    h = lh.hdr_snapshot()
    assert h is not None and h.total == 0
    assert list(h.linear(100)) == []
    assert latency_distribution_lines(HdrHistogram(np.array([150]), BENCHMARK_LAYOUT))[1] == \
        "0.000% <= 0.151 milliseconds (cumulative count 1)"


def test_csv_rows_are_the_texts_summary(tmp_path):
    """``--csv`` is redis-benchmark's --csv: the same numbers as the text's summary."""
    from redissim.report.summary import to_csv

    res = simulate(Scenario.model_validate({
        "name": "c", "seed": 1, "workloads": [{"name": "GET", "clients": 10, "requests": 3000,
                                               "commands": [{"cmd": "GET"}]}]}))
    text = benchmark_text(res).splitlines()
    summary = text[text.index("  latency summary (msec):") + 2].split()
    row = to_csv([res]).splitlines()[1].replace('"', "").split(",")
    assert row[0] == "GET" and row[2:] == summary
