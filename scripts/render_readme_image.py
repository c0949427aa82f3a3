"""Regenerate docs/scene.png, the README picture of the main scene, from a trace.

Usage:  .venv/bin/python scripts/render_readme_image.py [--out docs/scene.png] [--at SECONDS]
        [--scenario quickstart] [--speed 2e-3] [--size 1280x720]

With ``--scenario NAME`` it renders a real simulation (``redissim.load_scenario`` +
``simulate(..., trace=True)``); without it, it renders the SYNTHETIC demo trace
(redissim/view/demo_trace.py), which says so in the title bar. The demo is the default
because it exercises every panel (the engine's trace does not yet carry keyspace,
persistence or PostgreSQL events). The PNG is quantised to 256 colours so it stays well under 300 KB.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pygame  # noqa: E402
from PIL import Image  # noqa: E402

from redissim.view.demo_trace import demo_view_input  # noqa: E402
from redissim.view.model import ViewInput  # noqa: E402
from redissim.view.scene import Scene  # noqa: E402


def view_input_from_scenario(path: str) -> ViewInput:
    """Build the ViewInput from a real run (the engine's Result carries ``.trace``)."""
    from redissim import load_scenario, simulate

    scenario, _ = load_scenario(path)
    return ViewInput.from_result(simulate(scenario, trace=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "docs" / "scene.png"))
    ap.add_argument("--at", type=float, default=0.0356,
                    help="simulated time of the picture (s); default: KEYS * in the demo")
    ap.add_argument("--speed", type=float, default=2e-3)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--scenario", default=None)
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.lower().split("x"))
    vi = view_input_from_scenario(args.scenario) if args.scenario else demo_view_input(seed=0)
    scene = Scene(vi, (w, h))
    surf = scene.frame(args.at, args.speed)
    img = Image.frombytes("RGB", scene.size, pygame.image.tobytes(surf, "RGB"))
    img = img.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out, optimize=True)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB, {scene.size[0]}x{scene.size[1]}, "
          f"t = {args.at} s)")


if __name__ == "__main__":
    main()
