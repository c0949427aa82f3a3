"""The command line: determinism, bad input handled in one line, every scenario runs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import redissim
from redissim.scenario import builtin_scenarios

PY = [sys.executable, "-m", "redissim"]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*PY, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def tiny(tmp_path: Path, name: str) -> Path:
    """A built-in scenario shrunk to a few thousand requests, so every one runs fast."""
    data = yaml.safe_load(builtin_scenarios()[name].read_text())

    def shrink(wl: dict) -> None:
        if "requests" in wl:
            wl["requests"] = min(wl["requests"], 2000)
        if "duration" in wl:
            wl["duration"] = 0.02
        if wl.get("type") == "scan":
            wl["count"] = 1000
    for wl in data["workloads"]:
        shrink(wl)
    for v in data.get("variants", []):
        sets = v.get("set", {})
        for path, val in sets.items():
            if isinstance(val, dict):
                shrink(val)
            elif path == "preload.keys" or path.endswith(".keys.space"):
                sets[path] = min(val, 5000)
    if data.get("preload"):
        data["preload"]["keys"] = min(data["preload"]["keys"], 5000)
    data.get("metrics", {}).pop("trace-from", None)  # (the shrunk run ends long before)
    for wl in data["workloads"]:
        if wl.get("keys", {}).get("space"):
            wl["keys"]["space"] = min(wl["keys"]["space"], 5000)
        for st in wl.get("steps", []):
            st["at"] = 0.001 if not isinstance(st["at"], str) or st["at"] else 0
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_every_builtin_scenario_runs(tmp_path, name):
    out = tmp_path / "out.json"
    r = cli("run", str(tiny(tmp_path, name)), "--json", str(out), "-q")
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    runs = doc.get("variants", [doc])
    for run in runs:
        assert run["commands"] and run["sim_time_s"] > 0
        for c in run["commands"].values():
            assert c["calls"] > 0 and c["latency_ms"]["p99"] >= c["latency_ms"]["p50"] > 0


def test_same_seed_gives_byte_identical_json(tmp_path):
    path = str(tiny(tmp_path, "quickstart"))
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    assert cli("run", path, "--json", str(a), "-q").returncode == 0
    assert cli("run", path, "--json", str(b), "-q").returncode == 0
    assert a.read_bytes() == b.read_bytes()
    # and the seed matters where randomness is involved (uniform keys, think time)
    assert cli("run", path, "--json", str(c), "-q", "--seed", "2",
               "--set", "workloads.0.think-time=5us",
               "--set", "workloads.0.think-distribution=exponential").returncode == 0
    assert json.loads(c.read_text())["seed"] == 2
    assert c.read_bytes() != a.read_bytes()


def test_report_reads_like_redis_benchmark(tmp_path):
    r = cli("run", str(tiny(tmp_path, "quickstart")))
    assert r.returncode == 0, r.stderr
    assert "====== SET ======" in r.stdout and "====== GET ======" in r.stdout
    assert "throughput summary:" in r.stdout and "requests per second" in r.stdout
    assert "avg       min       p50       p95       p99       max" in r.stdout
    assert "total_commands_processed:4000" in r.stdout


def test_csv_has_redis_benchmark_header(tmp_path):
    out = tmp_path / "r.csv"
    assert cli("run", str(tiny(tmp_path, "quickstart")), "--csv", str(out), "-q").returncode == 0
    lines = out.read_text().splitlines()
    assert lines[0] == ('"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",'
                        '"p95_latency_ms","p99_latency_ms","max_latency_ms"')
    assert lines[1].startswith('"SET",') and lines[2].startswith('"GET",')


@pytest.mark.parametrize("content,args,fragment", [
    (None, [], "no such file or built-in scenario"),
    ("name: [x\n", [], "YAML syntax error"),
    ("name: t\nworkloads: [{requests: 10, clients: many}]\n", [],
     "workloads.0.clients: Input should be a valid integer"),
    ("name: t\nworkloads: [{requests: 10, pipeline: -1}]\n", [],
     "workloads.0.pipeline: Input should be greater than or equal to 1"),
    ("name: t\nworkloads: [{requests: 10, colour: red}]\n", [], "workloads.0.colour: unknown field"),
    ("name: t\nworkloads: [{requests: 10}]\n", ["--set", "server.hz=0"], "server.hz"),
    ("name: t\nworkloads: [{requests: 10}]\nprofile: nosuch\n", [], "cost profile 'nosuch' not found"),
])
def test_bad_input_is_one_line_and_nonzero(tmp_path, content, args, fragment):
    path = tmp_path / "bad.yaml"
    if content is not None:
        path.write_text(content)
    out = tmp_path / "o.json"
    r = cli("run", str(path), "--json", str(out), *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert fragment in lines[0]
    assert "Traceback" not in r.stderr
    assert not out.exists()  # never a half-written output
    if content is not None:
        assert str(path) in lines[0]


@pytest.mark.parametrize("profile,model,fragment", [
    ("loop: [x\n", "", "YAML syntax error"),
    (None, "model: {cpu-caches: yes}\n", "model.cpu-caches: cost profile"),
])
def test_a_bad_cost_profile_is_one_line_and_nonzero(tmp_path, profile, model, fragment):
    prof = tmp_path / "prof.yaml"
    if profile is None:  # the default profile without its dataset figures
        data = yaml.safe_load((Path(redissim.__file__).parent / "profiles/default.yaml")
                              .read_text())
        del data["dataset"]
        profile = yaml.safe_dump(data)
    prof.write_text(profile)
    path = tmp_path / "s.yaml"
    path.write_text(f"name: t\nprofile: {prof}\n{model}workloads: [{{requests: 10}}]\n")
    r = cli("run", str(path), "-q")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and str(path) in lines[0], r.stderr


def test_validate_and_list():
    r = cli("validate", "quickstart")
    assert r.returncode == 0 and "ok" in r.stdout
    r = cli("list")
    assert r.returncode == 0
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert names == sorted(builtin_scenarios())


def test_unwritable_output_is_an_error(tmp_path):
    r = cli("run", str(tiny(tmp_path, "quickstart")), "--json", str(tmp_path / "no/dir/x.json"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_lru_test_prints_redis_cli_lines():
    r = cli("run", "lru-test", "--set", "workloads.0.duration=0.3s",
            "--set", "metrics.interval=100ms")
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if "Gets/sec" in ln]
    assert len(lines) >= 2
    import re
    pat = re.compile(r"^(\d+) Gets/sec \| Hits: (\d+) \((\d+\.\d\d)%\) \| "
                     r"Misses: (\d+) \((\d+\.\d\d)%\)$")
    for ln in lines:
        m = pat.match(ln)
        assert m, ln
        n, h, hp, mi, mp = m.groups()
        assert int(h) + int(mi) == int(n)
        assert abs(float(hp) + float(mp) - 100) < 0.02


def test_outputs_get_the_mode_a_plain_open_gives(tmp_path):
    """Written via a private temporary file, an output still ends up 0666 less the umask
    (not tempfile's 0600), like any file a program creates."""
    import os
    import stat

    old = os.umask(0o027)
    try:
        out = tmp_path / "out.json"
        r = cli("run", str(tiny(tmp_path, "quickstart")), "--json", str(out), "-q")
    finally:
        os.umask(old)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
