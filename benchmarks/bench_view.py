"""Benchmark the pygame view headless: render fps at 1280x720, export time, index build time.

Run by hand:  .venv/bin/python benchmarks/bench_view.py [--frames 600] [--export]
Uses the SYNTHETIC demo trace (redissim/view/demo_trace.py), so it measures the view, not
the simulator. Target (issue 8): >= 60 fps, i.e. a 30 s clip at 30 fps exports in < 20 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pygame  # noqa: E402

from redissim.view.demo_trace import demo_view_input  # noqa: E402
from redissim.view.export import export  # noqa: E402
from redissim.view.replay import Replay  # noqa: E402
from redissim.view.scene import Scene  # noqa: E402


def bench_render(frames: int, size: tuple[int, int], repeats: int = 3) -> list[float]:
    vi = demo_view_input(seed=0, duration_s=0.06)
    scene = Scene(vi, size)
    surf = pygame.Surface(scene.size)
    speed = vi.end_time() / 20.0
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(frames):
            scene.render(surf, i * speed / 30.0, speed)
            pygame.image.tobytes(surf, "RGB")  # what export does per frame
        out.append(frames / (time.perf_counter() - t0))
    return out


def bench_index(duration_s: float) -> tuple[int, float, float]:
    vi = demo_view_input(seed=0, duration_s=duration_s)
    t0 = time.perf_counter()
    rp = Replay(vi)
    build = time.perf_counter() - t0
    scene = Scene(rp)
    surf = pygame.Surface(scene.size)
    t0 = time.perf_counter()
    n = 200
    for i in range(n):
        scene.render(surf, duration_s * i / n, 2e-3)
    return len(vi.trace), build, n / (time.perf_counter() - t0)


def _cpu() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # ffmpeg runs as a child process
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def bench_export(kind: str, seconds: float, fps: int) -> tuple[int, float, float, float, int]:
    """(frames, wall s, CPU s in Python, CPU s in ffmpeg, file bytes)."""
    vi = demo_view_input(seed=0, duration_s=0.06)
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / ("clip." + kind if kind != "dir" else "frames/")
        c0 = _cpu()
        t0 = time.perf_counter()
        n = export(vi, out, fps=fps, size=(1280, 720), speed=0.06 / seconds, duration=seconds)
        wall = time.perf_counter() - t0
        c1 = _cpu()
        size = out.stat().st_size if out.is_file() else 0
        return n, wall, c1[0] - c0[0], c1[1] - c0[1], size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--export", action="store_true", help="also time 30 s @ 30 fps exports")
    args = ap.parse_args()
    fps = bench_render(args.frames, (1280, 720))
    print(f"render 1280x720: {statistics.median(fps):.1f} fps (median of {len(fps)} runs of "
          f"{args.frames} frames; all: {', '.join(f'{x:.1f}' for x in fps)})")
    fps2 = bench_render(args.frames // 2, (1920, 1080), repeats=1)
    print(f"render 1920x1080: {fps2[0]:.1f} fps")
    for dur in (0.06, 1.2):
        n, build, f = bench_index(dur)
        print(f"trace of {n} events: index built in {build:.3f} s; render {f:.1f} fps")
    if args.export:
        for kind in ("mp4", "gif"):
            n, secs, cpu_py, cpu_ff, size = bench_export(kind, 30.0, 30)
            print(f"export 30 s @ 30 fps 1280x720 {kind}: {n} frames in {secs:.1f} s wall "
                  f"({n / secs:.1f} frames/s); CPU {cpu_py:.1f} s Python + {cpu_ff:.1f} s "
                  f"ffmpeg; file {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
