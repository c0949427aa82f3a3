"""What-if sweeps (redissim/sweep.py and ``redissim sweep``): the grid, the replications'
seeds, identical results whatever the number of worker processes, a curve checked against
M/M/1, and bad input in one line."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from redissim.scenario import ScenarioError, load_scenario
from redissim.sim.engine import simulate
from redissim.sweep import Axis, parse_axis, plan, run_sweep, sweep_csv, sweep_json, sweep_text
from redissim.theory.queueing import mm1

PY = [sys.executable, "-m", "redissim"]

SMALL = {
    "name": "small", "seed": 3,
    "workloads": [{"name": "app", "clients": 4, "requests": 3000,
                   "commands": [{"cmd": "GET", "weight": 3}, {"cmd": "SET"}],
                   "keys": {"space": 1000}}],
}


def test_parse_axis_forms() -> None:
    assert parse_axis("server.hz=10,100") == Axis(("server.hz",), (10, 100))
    assert parse_axis("server.maxmemory = 1mb, 2mb") == Axis(("server.maxmemory",), ("1mb", "2mb"))
    assert parse_axis("workloads.0.pipeline,workloads.1.pipeline=1,16") == Axis(
        ("workloads.0.pipeline", "workloads.1.pipeline"), (1, 16))
    assert parse_axis("server.appendonly=[yes, no]").values == (True, False)
    for bad in ("server.hz", "server.hz=", ",x=1", "=1,2"):
        with pytest.raises(ScenarioError) as e:
            parse_axis(bad)
        assert "--vary" in str(e.value) and "\n" not in str(e.value)


def test_plan_is_the_grid_first_axis_slowest_with_seeds_per_replication() -> None:
    axes = [parse_axis("workloads.0.clients=1,2"), parse_axis("server.hz=10,50,100")]
    points, variants, runs = plan(SMALL, "small", axes, replications=2)
    assert [p.values for p in points] == [(1, 10), (1, 50), (1, 100), (2, 10), (2, 50), (2, 100)]
    assert variants == [None] and len(runs) == 12
    assert [(r.point, r.replication, r.scenario.seed) for r in runs[:4]] == [(0, 0, 3), (0, 1, 4),
                                                                      (1, 0, 3), (1, 1, 4)]
    sc = runs[7].scenario  # point 3 (clients 2, hz 10), replication 1
    assert sc.workloads[0].clients == 2 and sc.server.hz == 10 and sc.seed == 4


@pytest.mark.parametrize("axis, replications, expected", [
    ("workloads.0.clients=1,0", 1, "workloads.0.clients"),        # out of range at a point
    ("workloads.3.clients=1", 1, "'3' is not an index"),          # no such workload
    ("server.no-such=1", 1, "no-such"),                            # unknown field
    ("server.hz=10", 0, "--replications"),
])
def test_bad_sweeps_fail_in_one_line_before_running(axis: str, replications: int,
                                                    expected: str) -> None:
    with pytest.raises(ScenarioError) as e:
        plan(SMALL, "small.yaml", [parse_axis(axis)], replications)
    assert expected in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ScenarioError, match="varied twice"):
        plan(SMALL, "small", [parse_axis("server.hz=1"), parse_axis("seed,server.hz=2")], 1)


def test_replication_zero_is_the_run_with_those_settings() -> None:
    """A point's first replication is what ``run --set`` gives (same seed, same settings)."""
    sr = run_sweep(SMALL, "small", [parse_axis("workloads.0.clients=2,8")], replications=2,
                   jobs=1)
    rows = list(sr.rows())
    data = copy.deepcopy(SMALL)
    data["workloads"][0]["clients"] = 8
    from redissim.scenario import validate
    res = simulate(validate(data, "small"))
    got = {(r["op"]): r for r in rows if r["workloads.0.clients"] == 8}
    run0 = sr.points[1].runs[(None, 0)]
    for wl in res.workloads:
        for c in wl.commands:
            i = run0["ops"].index((wl.name, c.label))
            assert run0["stats"][i]["ops_s"] == c.throughput_rps
            assert run0["stats"][i]["p99"] == c.latency.summary_ms()["p99"]
            assert got[c.label]["runs"] == 2
    # replication 1 has another seed: other keys drawn, other numbers
    assert sr.points[1].runs[(None, 1)]["stats"] != run0["stats"]


def test_same_results_whatever_the_number_of_workers() -> None:
    axes = [parse_axis("workloads.0.clients=1,3"), parse_axis("server.hz=10,100")]
    one = run_sweep(SMALL, "small", axes, replications=2, jobs=1, info_fields=["used_memory"])
    two = run_sweep(SMALL, "small", axes, replications=2, jobs=2, info_fields=["used_memory"])
    assert sweep_json(one) == sweep_json(two)
    assert sweep_csv(one) == sweep_csv(two)
    assert sweep_text(one) == sweep_text(two)
    doc = json.loads(sweep_json(one))
    assert len(doc["runs"]) == 8 and len(doc["rows"]) == 4 * 2  # GET and SET per point
    assert all(r["used_memory"] > 0 for r in doc["rows"])


def test_an_axis_overrides_what_a_variant_sets() -> None:
    data = copy.deepcopy(SMALL)
    data["variants"] = [{"name": "P=1"}, {"name": "P=8", "set": {"workloads.0.pipeline": 8}}]
    sr = run_sweep(data, "small", [parse_axis("workloads.0.pipeline=2")], jobs=1)
    assert sr.variants == ["P=1", "P=8"]
    a, b = (sr.points[0].runs[(v, 0)] for v in sr.variants)
    assert a["stats"] == b["stats"]  # both ran at pipeline 2
    from redissim.sweep import overridden
    assert overridden(data, [parse_axis("workloads.0.pipeline=2")]) == [
        "variant P=8: --vary workloads.0.pipeline replaces its own value"]


def test_unknown_info_field_is_named() -> None:
    with pytest.raises(ScenarioError, match="--info evictedkeys"):
        run_sweep(SMALL, "small", [parse_axis("server.hz=10")], jobs=1,
                  info_fields=["evictedkeys"])


def test_a_sweep_of_the_arrival_rate_follows_mm1() -> None:
    """The FCFS loop with exponential command costs is an M/M/1 queue (see
    test_queueing_fidelity): swept over the load, each point's mean response time, averaged
    over 3 seeds, lies within its 95 % interval (or 2 %) of 1 / (mu - lambda): measured
    +0.01 %, +0.5 % and +0.2 % at 20k, 50k and 80k requests/s."""
    service_us = 10.0
    data = {
        "name": "mm1", "seed": 5, "model": {"loop": "fcfs"},
        "network": {"rtt": 0, "bandwidth": "1000000gbit"},
        "costs": {"commands.default-us": service_us, "commands.per-command-us": {},
                  "commands.distribution": "exponential"},
        "workloads": [{"type": "open", "rate": 10_000, "requests": 60_000, "clients": 1,
                       "commands": [{"cmd": "PING"}]}],
    }
    rates = (20_000, 50_000, 80_000)
    sr = run_sweep(data, "mm1", [Axis(("workloads.0.rate",), rates)], replications=3, jobs=2)
    for row in sr.rows():
        w_ms = mm1(row["workloads.0.rate"], 1e6 / service_us)["W"] * 1e3
        tol = max(row["avg_ms_ci95"], 0.02 * w_ms)
        assert abs(row["avg_ms"] - w_ms) < tol, (row["workloads.0.rate"], row["avg_ms"], w_ms)


def test_cli_sweep_writes_table_and_files(tmp_path: Path) -> None:
    f = tmp_path / "small.yaml"
    f.write_text(yaml.safe_dump(SMALL))
    out_csv, out_json = tmp_path / "s.csv", tmp_path / "s.json"
    r = subprocess.run([*PY, "sweep", str(f), "--vary", "server.hz=10,100", "--replications",
                        "2", "--jobs", "1", "--csv", str(out_csv), "--json", str(out_json),
                        "--info", "keyspace_hits"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("sweep of small: 2 points x 1 variant x 2 replications")
    assert "keyspace_hits" in r.stdout.splitlines()[1]
    assert out_csv.read_text().splitlines()[0].startswith("server.hz,variant,workload,op,runs")
    assert json.loads(out_json.read_text())["replications"] == 2


@pytest.mark.parametrize("args, message", [
    (["--vary", "server.hz"], "--vary server.hz: expected dotted.path=value1,value2"),
    ([], "at least one --vary"),
    (["--vary", "server.hz=0"], "server.hz"),
    (["--vary", "server.hz=10", "--jobs", "0"], "--jobs must be at least 1"),
    (["--vary", "server.hz=10", "--csv", "/no/such/dir/x.csv"], "does not exist"),
])
def test_cli_sweep_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    f = tmp_path / "small.yaml"
    f.write_text(yaml.safe_dump(SMALL))
    r = subprocess.run([*PY, "sweep", str(f), *args], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2
    assert message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not list(tmp_path.glob("*.csv"))


def test_builtin_scenario_by_name() -> None:
    sc, data = load_scenario("quickstart")
    points, variants, runs = plan(data, "quickstart", [parse_axis("server.hz=10,100")], 1)
    assert len(runs) == 2 and runs[1].scenario.server.hz == 100


def test_png_of_a_numeric_and_of_a_named_axis(tmp_path: Path) -> None:
    """The figure is written (a PNG, atomically: nothing else left in the directory) for
    numbers on the first axis and for names (placed evenly)."""
    from redissim.sweep import sweep_png

    for axis in ("workloads.0.clients=1,4", "workloads.0.think-distribution=constant,exponential"):
        sr = run_sweep({**SMALL, "workloads": [{**SMALL["workloads"][0], "think-time": "50us"}]},
                       "small", [parse_axis(axis), parse_axis("server.hz=10,100")],
                       replications=2, jobs=1)
        out = tmp_path / "s.png"
        sweep_png(sr, out)
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert [p.name for p in tmp_path.iterdir()] == ["s.png"]
        out.unlink()
