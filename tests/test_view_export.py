"""Headless export: GIF, MP4 and PNG frames with the expected count, size and determinism."""

from __future__ import annotations

import hashlib
import io
import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"

import imageio_ffmpeg  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from redissim.view.demo_trace import demo_view_input  # noqa: E402
from redissim.view.export import (  # noqa: E402
    export,
    frame_count,
    iter_frames,
    output_kind,
    parse_size,
    text_progress,
)

SIZE = (480, 270)


@pytest.fixture(scope="module")
def vi():
    return demo_view_input(seed=0, duration_s=0.03)


def _hashes(vi, **kw):
    return [hashlib.sha256(b).hexdigest() for _i, b in iter_frames(vi, **kw)]


def test_frame_hashes_identical_across_runs_and_sensitive_to_speed(vi):
    kw = {"size": SIZE, "fps": 10, "speed": 2e-3, "duration": 1.2}
    a, b = _hashes(vi, **kw), _hashes(vi, **kw)
    assert len(a) == 12 and a == b
    assert len(set(a)) > 6  # frames change as time advances
    c = _hashes(vi, **{**kw, "speed": 3e-3})
    assert len(c) == 12 and c != a  # the speed shows in every frame (title, strip, ladder)


def test_gif_has_expected_frames_size_and_is_reproducible(vi, tmp_path):
    calls = []
    n = export(vi, tmp_path / "a.gif", fps=10, size=SIZE, speed=2e-3, duration=1.5,
               progress=lambda d, t: calls.append((d, t)))
    assert n == 15
    assert calls[-1] == (15, 15) and [d for d, _ in calls] == list(range(1, 16))
    with Image.open(tmp_path / "a.gif") as im:
        assert im.size == SIZE and im.n_frames == 15
        assert im.info["duration"] == 100
    export(vi, tmp_path / "b.gif", fps=10, size=SIZE, speed=2e-3, duration=1.5)
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()


def test_mp4_has_expected_frames_and_size(vi, tmp_path):
    n = export(vi, tmp_path / "a.mp4", fps=12, size=SIZE, speed=2e-3, duration=1.0)
    assert n == 12
    reader = imageio_ffmpeg.read_frames(str(tmp_path / "a.mp4"))
    meta = next(reader)
    frames = list(reader)
    assert tuple(meta["size"]) == SIZE and len(frames) == 12
    assert len(frames[0]) == SIZE[0] * SIZE[1] * 3
    export(vi, tmp_path / "b.mp4", fps=12, size=SIZE, speed=2e-3, duration=1.0)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_mp4_rejects_odd_sizes(vi, tmp_path):
    with pytest.raises(ValueError):
        export(vi, tmp_path / "odd.mp4", fps=5, size=(481, 270), speed=2e-3, duration=0.4)


def test_png_directory_export(vi, tmp_path):
    out = tmp_path / "frames"
    n = export(vi, str(out) + "/", fps=8, size=SIZE, speed=2e-3, duration=0.5)
    files = sorted(out.iterdir())
    assert n == 4 and [f.name for f in files] == [f"frame_{i:05d}.png" for i in range(4)]
    with Image.open(files[0]) as im:
        assert im.size == SIZE


def test_default_frame_count_reaches_the_end_of_the_run(vi):
    # 30 ms at 1 ms per wall second = 30 s of video at 10 fps (+1 frame for t = end).
    assert frame_count(vi, fps=10, speed=1e-3, duration=None) == 301
    assert frame_count(vi, fps=10, speed=1e-3, duration=2.0) == 20
    # Capped at 60 s of video when no duration is given.
    assert frame_count(vi, fps=10, speed=1e-6, duration=None) == 600


def test_output_kind_and_progress_bar():
    assert output_kind("x.GIF") == "gif" and output_kind("x.mp4") == "mp4"
    assert output_kind("out/") == "dir" and output_kind("frames") == "dir"
    with pytest.raises(ValueError):
        output_kind("x.avi")
    buf = io.StringIO()
    cb = text_progress(buf, width=10)
    cb(5, 10)
    cb(10, 10)
    assert "[#####.....] 5/10 frames" in buf.getvalue()
    assert buf.getvalue().endswith("[##########] 10/10 frames\n")


def test_parse_size():
    assert parse_size("1280x720") == (1280, 720) and parse_size("640X360") == (640, 360)
    for bad in ("1280", "axb", "8x8"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_frames_identical_across_processes_with_different_hash_seeds(tmp_path):
    import subprocess
    import sys

    code = (
        "import hashlib\n"
        "from redissim.view.demo_trace import demo_view_input\n"
        "from redissim.view.export import iter_frames\n"
        "h = hashlib.sha256()\n"
        "for _i, b in iter_frames(demo_view_input(seed=0, duration_s=0.03), size=(320, 180),"
        " fps=5, speed=5e-3, duration=1.0):\n"
        "    h.update(b)\n"
        "print(h.hexdigest())\n"
    )
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "SDL_VIDEODRIVER": "dummy",
               "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True, cwd=tmp_path)
        outs.append(res.stdout.strip().splitlines()[-1])
    assert outs[0] == outs[1] and len(outs[0]) == 64
