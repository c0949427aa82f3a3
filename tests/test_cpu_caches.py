"""model.cpu-caches: key commands cost more as the dataset outgrows the CPU's caches
(server/cpu_caches.py), checked against its formula and against a real redis-server."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redissim.profile import CostProfile, load_profile_data
from redissim.scenario import load_scenario
from redissim.server.cpu_caches import CacheScaling
from redissim.sim.engine import simulate

sys.path.insert(0, str(Path(__file__).parent))
from realredis import RedisServer, find_redis_server, temp_server  # noqa: E402

DATASET = CostProfile.model_validate(load_profile_data("default")).dataset
SMALL = ("preload.keys=10000", "workloads.0.keys.space=10000")
LARGE = ("preload.keys=1000000", "workloads.0.keys.space=1000000")


def scaling() -> CacheScaling:
    assert DATASET is not None
    return CacheScaling(None, None, base_us=DATASET.base_us, l2_miss_us=DATASET.l2_miss_us,
                        llc_miss_us=DATASET.llc_miss_us, l2_bytes=DATASET.l2_bytes,
                        llc_bytes=DATASET.llc_bytes, reference_bytes=DATASET.reference_bytes)


@given(st.floats(0, 1e11), st.floats(0, 1e11))
def test_a_larger_dataset_never_costs_less(a, b):
    s = scaling()
    lo, hi = sorted((a, b))
    assert s.factor(lo) <= s.factor(hi)


def test_the_profile_costs_hold_at_the_reference_and_only_the_base_in_the_l2():
    s = scaling()
    assert DATASET is not None
    assert s.factor(DATASET.reference_bytes) == pytest.approx(1.0)
    assert s.lookup_us(DATASET.l2_bytes / 2) == DATASET.base_us
    # past the last-level cache both terms approach their full cost
    assert s.lookup_us(1e12) == pytest.approx(
        DATASET.base_us + DATASET.l2_miss_us + DATASET.llc_miss_us, rel=1e-3)


@functools.cache
def _get_cost(*variant_sets: str) -> float:
    """The model's CPU per GET in the dataset-size scenario with these --set overrides (the
    same runs serve several tests)."""
    sc, _ = load_scenario("dataset-size", [*variant_sets, "workloads.0.requests=50000"])
    fields = dict(f.split("=") for f in simulate(sc).info["commandstats"]["cmdstat_get"].split(","))
    return float(fields["usec"]) / float(fields["calls"])


def test_scenario_cost_per_get_grows_with_the_keys_and_not_without_the_switch():
    small = _get_cost(*SMALL)
    ref = _get_cost()
    large = _get_cost(*LARGE)
    assert small < ref < large
    assert _get_cost(*LARGE, "model.cpu-caches=no") == pytest.approx(
        _get_cost("model.cpu-caches=no"))


def _real_get_cost(srv: RedisServer, n: int) -> float:
    c = srv.client()
    c.command("FLUSHALL")
    stream = b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$3\r\nxxx\r\n" % i
                      for i in range(n))
    subprocess.run(["redis-cli", "-p", str(srv.port), "--pipe"], input=stream, check=True,
                   capture_output=True, timeout=300)
    best = float("inf")
    for _ in range(2):
        c.command("CONFIG", "RESETSTAT")
        subprocess.run(["redis-benchmark", "-p", str(srv.port), "-t", "get", "-r", str(n),
                        "-n", "300000", "-P", "16", "-q"], check=True, capture_output=True,
                       timeout=300)
        line = c.command("INFO", "commandstats").decode().split("cmdstat_get:")[1].split()[0]
        fields = dict(f.split("=") for f in line.split(","))
        best = min(best, float(fields["usec"]) / float(fields["calls"]))
    c.close()
    return best


@pytest.mark.skipif(shutil.which("redis-benchmark") is None or shutil.which("redis-cli") is None,
                    reason="redis-benchmark or redis-cli missing")
def test_get_on_1m_keys_against_100k_as_a_real_server():
    """A real server's GET on 1M keys against 100k (uniformly random keys, pipeline 16):
    1.30-1.78 times the cost on the development VM (six runs), the model 1.38 (its dataset is a little
    smaller: shorter key names). Without model.cpu-caches the model says 1.0."""
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with temp_server(binary) as srv:
        real = _real_get_cost(srv, 1_000_000) / _real_get_cost(srv, 100_000)
    model = _get_cost(*LARGE) / _get_cost()
    assert model == pytest.approx(real, rel=0.3), (model, real)
