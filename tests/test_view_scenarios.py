"""Every built-in scenario animates: a real (shrunk) run, its trace replayed headless."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

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
