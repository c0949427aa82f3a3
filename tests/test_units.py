import pytest
from hypothesis import given
from hypothesis import strategies as st

from redissim.units import UnitError, parse_bandwidth, parse_rate, parse_size, parse_time


@pytest.mark.parametrize("text,expected", [
    ("64mb", 64 * 1024**2), ("4gb", 4 * 1024**3), ("1k", 1000), ("1kb", 1024),
    ("10", 10), (123, 123), ("1.5mb", int(1.5 * 1024**2)), ("2G", 2 * 10**9),
])
def test_sizes_follow_redis_conf(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("250us", 250e-6), ("2ms", 2e-3), ("2s", 2.0), ("1min", 60.0), (0.5, 0.5), ("30", 30.0),
    ("100ns", 100e-9),
])
def test_times_in_seconds(text, expected):
    assert parse_time(text) == pytest.approx(expected)


def test_rates_and_bandwidths():
    assert parse_rate("80k") == 80_000
    assert parse_rate("80k/s") == 80_000
    assert parse_bandwidth("10gbit") == pytest.approx(1.25e9)
    assert parse_bandwidth("1gbit") == pytest.approx(1.25e8)


@pytest.mark.parametrize("fn,bad", [
    (parse_size, "12 parsecs"), (parse_size, "lots"), (parse_time, "5 fortnights"),
    (parse_time, "-2s"), (parse_rate, "fast"), (parse_bandwidth, "0gbit"), (parse_size, True),
])
def test_bad_units_say_what_is_allowed(fn, bad):
    with pytest.raises(UnitError) as e:
        fn(bad)
    assert "use" in str(e.value) or "cannot" in str(e.value) or "must" in str(e.value)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["us", "ms", "s"]))
def test_time_scales(n, unit):
    mult = {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]
    assert parse_time(f"{n}{unit}") == pytest.approx(n * mult)
