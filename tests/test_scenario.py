from pathlib import Path

import pytest

from redissim.scenario import ScenarioError, builtin_scenarios, load_scenario

GOOD = """
name: t
workloads:
  - type: closed
    clients: 4
    requests: 100
"""


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return str(p)


def test_every_builtin_scenario_validates():
    assert "quickstart" in builtin_scenarios()
    for name in builtin_scenarios():
        sc, _ = load_scenario(name)
        assert sc.workloads


def test_units_and_redis_conf_names(tmp_path):
    sc, _ = load_scenario(write(tmp_path, GOOD + """
server: {hz: 100, dynamic-hz: no}
network: {preset: lan, rtt: 250us}
"""))
    assert sc.server.hz == 100 and sc.server.dynamic_hz is False
    assert sc.network.rtt == pytest.approx(250e-6)


@pytest.mark.parametrize("extra,fragment", [
    ("server: {hz: 1000}", "server.hz: Input should be less than or equal to 500 (got 1000)"),
    ("server: {hzz: 10}", "server.hzz: unknown field"),
    ("network: {preset: moon}", "network.preset: allowed: 'loopback', 'lan' or 'cross-az'"),
    ("network: {rtt: 5 fortnights}", "network.rtt: '5 fortnights': unknown time unit"),
    ("network: {rtt: 20us, wakeup: 15us}",
     "network: wakeup (15 us) is part of each one-way trip: at most half the rtt (10 us)"),
    ("seed: abc", "seed: Input should be a valid integer"),
])
def test_bad_fields_name_file_field_and_allowed(tmp_path, extra, fragment):
    path = write(tmp_path, GOOD + extra + "\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(path)
    assert fragment in msg


def test_workload_rules(tmp_path):
    with pytest.raises(ScenarioError, match="workloads.0: an open workload needs a rate"):
        load_scenario(write(tmp_path, "name: t\nworkloads: [{type: open, requests: 5}]\n"))
    with pytest.raises(ScenarioError, match="workloads.0.clients: Input should be greater"):
        load_scenario(write(tmp_path, "name: t\nworkloads: [{clients: 0, requests: 5}]\n"))


def test_yaml_syntax_and_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match=r"line \d+, column \d+: YAML syntax error"):
        load_scenario(write(tmp_path, "name: [unclosed\n"))
    with pytest.raises(ScenarioError, match="no such file or built-in scenario"):
        load_scenario(str(tmp_path / "nope.yaml"))


def test_set_overrides_and_variants(tmp_path):
    path = write(tmp_path, GOOD + """
variants:
  - {name: deep, set: {workloads.0.pipeline: 16}}
""")
    sc, data = load_scenario(path, ["workloads.0.clients=7", "server.hz=20"])
    assert sc.workloads[0].clients == 7 and sc.server.hz == 20
    with pytest.raises(ScenarioError, match="--set workloads.5"):
        load_scenario(path, ["workloads.5.clients=1"])
    bad = write(tmp_path, GOOD + "variants: [{name: x, set: {workloads.0.pipeline: 0}}]\n")
    with pytest.raises(ScenarioError, match=r"\(variant x\): workloads.0.pipeline"):
        load_scenario(bad)
