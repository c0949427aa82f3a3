"""The event loop against queueing theory (theory.md section 5).

``model.loop: fcfs`` isolates queueing from Redis's batching (see server/eventloop.py):
one connection carries every request, so the loop serves them strictly in arrival order,
and a reply leaves when its command ends. Command cost is drawn per command from the
profile's distribution (exponential -> M/M/1, constant -> M/D/1).
"""

import math

import pytest

from redissim.scenario import Scenario
from redissim.sim.engine import simulate
from redissim.theory.queueing import md1, mm1, mm1_response_percentile, mva

SERVICE_US = 10.0  # mean command cost: mu = 100k commands/s


def scenario(workload: dict, distribution: str, seed: int = 11) -> Scenario:
    return Scenario.model_validate({
        "name": "theory",
        "seed": seed,
        "model": {"loop": "fcfs"},
        "network": {"rtt": 0, "bandwidth": "1000000gbit"},
        "costs": {"commands.default-us": SERVICE_US,
                  "commands.per-command-us": {}, "commands.per-command-miss-us": {},
                  "commands.distribution": distribution},
        "workloads": [workload],
    })


def open_loop(rate: float, requests: int) -> dict:
    return {"type": "open", "rate": rate, "requests": requests, "clients": 1,
            "commands": [{"cmd": "PING"}]}


def test_mm1_mean_and_percentiles():
    lam, mu = 70_000.0, 1e6 / SERVICE_US
    res = simulate(scenario(open_loop(lam, 600_000), "exponential"))
    h = res.workloads[0].commands[0].latency
    assert h.count == 600_000
    theory = mm1(lam, mu)
    assert h.mean == pytest.approx(theory["W"], rel=0.02)
    for p in (0.95, 0.99):
        assert h.percentile(p * 100) == pytest.approx(
            mm1_response_percentile(lam, mu, p), rel=0.03)


def test_md1_mean():
    lam = 70_000.0
    res = simulate(scenario(open_loop(lam, 300_000), "constant"))
    h = res.workloads[0].commands[0].latency
    assert h.mean == pytest.approx(md1(lam, SERVICE_US * 1e-6)["W"], rel=0.02)


@pytest.mark.parametrize("n", [5, 10, 20])
def test_closed_loop_matches_exact_mva(n):
    d, z = SERVICE_US * 1e-6, 10 * SERVICE_US * 1e-6
    wl = {"type": "closed", "clients": n, "requests": 200_000, "think-time": z,
          "think-distribution": "exponential", "commands": [{"cmd": "PING"}]}
    res = simulate(scenario(wl, "exponential", seed=n))
    c = res.workloads[0].commands[0]
    theory = mva(n, [d], z)
    assert c.throughput_rps == pytest.approx(theory["X"], rel=0.02)
    assert c.latency.mean == pytest.approx(theory["R"], rel=0.02)


def test_ae_batching_adds_latency_over_fcfs():
    """With syscall costs at zero, the only difference left is that Redis's loop writes
    replies after the whole batch: the ae loop is slower than FCFS, by a measurable amount."""
    lam = 70_000.0
    fcfs = simulate(scenario(open_loop(lam, 100_000), "exponential"))
    sc = scenario(open_loop(lam, 100_000), "exponential")
    sc.model.loop = "ae"
    sc.costs.update({f"loop.{k}": 0.0 for k in (
        "iteration-us", "read-us", "read-per-kb-us", "write-us", "write-per-kb-us", "cron-us",
        "cron-per-client-us")})
    ae = simulate(sc)
    w_fcfs = fcfs.workloads[0].commands[0].latency.mean
    w_ae = ae.workloads[0].commands[0].latency.mean
    assert w_ae > w_fcfs
    assert not math.isclose(w_ae, w_fcfs, rel_tol=0.01)


@pytest.mark.parametrize("n", [3, 12])
def test_client_cpu_is_a_second_station_of_the_mva_network(n):
    """client-cpu (exponential, one client thread) makes the client's own CPU a FCFS
    station in front of the server: the closed network client CPU -> server -> think is
    product-form, so exact MVA gives its throughput and the server's residence time (what
    the latency histograms measure, from the write to the reply)."""
    d, c, z = SERVICE_US * 1e-6, 6e-6, 20e-6
    wl = {"type": "closed", "clients": n, "requests": 200_000, "think-time": z,
          "think-distribution": "exponential", "client-cpu": c,
          "client-cpu-distribution": "exponential", "commands": [{"cmd": "PING"}]}
    res = simulate(scenario(wl, "exponential", seed=n))
    cmd = res.workloads[0].commands[0]
    theory = mva(n, [c, d], z)
    assert cmd.throughput_rps == pytest.approx(theory["X"], rel=0.02)
    assert cmd.latency.mean == pytest.approx(theory["R2"], rel=0.03)
    # and without client CPU the same clients get more through
    wl0 = {**wl, "client-cpu": 0}
    res0 = simulate(scenario(wl0, "exponential", seed=n))
    assert res0.workloads[0].commands[0].throughput_rps > cmd.throughput_rps


@pytest.mark.parametrize("n", [3, 12])
def test_client_reads_are_a_second_visit_to_the_client_station(n):
    """With client-read-share 0.5 each request visits the client's thread twice: half its
    CPU before the write, half when its reply comes (FCFS behind the other connections'
    requests and replies). Both visits have the same exponential mean, so the network stays
    product-form and exact MVA holds with the client's whole CPU as the station's demand.
    The latency runs from the write to the moment the thread gets to the reply (where
    redis-benchmark stamps it): the server's residence plus the read visit's queueing, which
    by the arrival theorem is half the station's residence less the visit's own service."""
    d, c, z = SERVICE_US * 1e-6, 6e-6, 20e-6
    wl = {"type": "closed", "clients": n, "requests": 200_000, "think-time": z,
          "think-distribution": "exponential", "client-cpu": c, "client-read-share": 0.5,
          "client-cpu-distribution": "exponential", "commands": [{"cmd": "PING"}]}
    res = simulate(scenario(wl, "exponential", seed=n))
    cmd = res.workloads[0].commands[0]
    theory = mva(n, [c, d], z)
    assert cmd.throughput_rps == pytest.approx(theory["X"], rel=0.02)
    latency = theory["R2"] + theory["R1"] / 2 - c / 2
    assert cmd.latency.mean == pytest.approx(latency, rel=0.03)
    # (the same CPU all before the write gives the same throughput and the latency R2: the
    # test above)
