"""Every built-in scenario animates: a real (shrunk) run, its trace replayed headless."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from test_cli import tiny  # noqa: E402 (conftest puts tests/ on sys.path)

from redissim.scenario import builtin_scenarios, load_scenario, variant_scenario  # noqa: E402
from redissim.sim.engine import simulate  # noqa: E402
from redissim.view.export import iter_frames  # noqa: E402
from redissim.view.model import ViewInput  # noqa: E402


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_scenario_renders_200_frames(tmp_path, name):
    path = tiny(tmp_path, name)
    sc, data = load_scenario(str(path))
    if sc.variants:  # the last variant: often the one with the most going on
        sc = variant_scenario(data, sc.variants[-1], str(path))
    res = simulate(sc, trace=True)
    assert len(res.trace) > 0
    vi = ViewInput.from_result(res)
    end = vi.end_time()
    frames = list(iter_frames(vi, size=(640, 360), fps=50, speed=max(end, 1e-6) / 4,
                              duration=4.0))
    assert len(frames) == 200
    assert all(len(b) == 640 * 360 * 3 for _, b in frames)
    # the picture changes while the trace plays
    assert len({hash(b) for _, b in frames}) > 1, yaml.safe_dump(data)[:200]


def test_trace_from_starts_the_replay_at_the_moment_of_interest(tmp_path):
    """metrics.trace-from: the trace keeps only events from then on, and the replay (window
    clock and export) begins there instead of at 0."""
    from redissim.scenario import Scenario
    from redissim.view.animate import Viewer
    from redissim.view.export import frame_count

    data = {"name": "late", "seed": 1, "server": {"save": ""},
            "metrics": {"trace-from": "0.3s"},
            "workloads": [{"type": "closed", "clients": 2, "duration": "0.5s",
                           "think-time": "1ms", "commands": [{"cmd": "SET"}]},
                          {"type": "script", "steps": [{"at": "0.35s", "cmd": "BGSAVE"}]}]}
    res = simulate(Scenario.model_validate(data), trace=True)
    times = [e[0] for e in res.trace.events]
    assert times and min(times) >= 0.3
    assert any(e[1] == "fork" for e in res.trace.events)
    vi = ViewInput.from_result(res)
    assert vi.start_s == 0.3
    viewer = Viewer(vi, size=(320, 180))
    assert viewer.clock.t == 0.3
    viewer.clock.restart()
    assert viewer.clock.t == 0.3
    # the export spans the window only: 0.2 s at 0.01 s per wall second, 10 fps
    assert frame_count(vi, fps=10, speed=0.01, duration=None) == int(
        (vi.end_time() - 0.3) / 0.01 * 10) + 1


def test_animate_refuses_a_window_after_the_run(tmp_path):
    from test_cli import cli

    out = tmp_path / "x.gif"
    r = cli("animate", str(tiny(tmp_path, "quickstart")), "--from", "100s", "--export", str(out))
    assert r.returncode == 2 and not out.exists()
    assert "trace-from (100 s) is after the run's end" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_crash_shows_the_loop_down_until_the_restart():
    from redissim.scenario import Scenario
    from redissim.view.replay import PHASES_ALL, Replay

    data = {"name": "crashy", "seed": 1, "duration": "0.6s",
            "server": {"appendonly": "yes", "save": ""},
            "faults": [{"at": "0.2s", "kind": "crash", "restart-after": "0.1s"}],
            "workloads": [{"type": "closed", "clients": 4, "duration": "0.6s",
                           "think-time": "1ms", "commands": [{"cmd": "SET"}]}]}
    res = simulate(Scenario.model_validate(data), trace=True)
    kinds = [(e[1], e[3]) for e in res.trace.events if e[1] in ("down", "up")]
    assert kinds[0] == ("down", "crash") and kinds[1] == ("up", "aof")
    rp = Replay(ViewInput.from_result(res))
    (t0, t1, why, source), = rp.downs
    assert t0 == 0.2 and t1 > 0.3 and (why, source) == ("crash", "aof")
    assert rp.phase_at(0.25) == ("down", -1)
    assert rp.phase_at(t1 + 0.05)[0] != "down"
    codes = rp.phase_codes(np.array([0.1, 0.25, t1 + 0.05]))
    assert PHASES_ALL[codes[1]] == "down" and PHASES_ALL[codes[0]] != "down"
    frames = list(iter_frames(ViewInput.from_result(res), size=(640, 360), fps=10,
                              speed=0.1, duration=0.3, start=0.22))
    assert len(frames) == 3
