"""Headless export of a replay to GIF (Pillow), MP4 (imageio-ffmpeg's bundled ffmpeg) or PNGs.

Presentation only. Frame i shows simulated time ``start + i * speed / fps``: the playback
clock advances by exactly 1/fps of wall time per frame and nothing reads the real clock, so
the same trace, size, fps and speed give the same frames, byte for byte (DESIGN.md:
"headless export exact and frame-for-frame reproducible"). SDL runs with the dummy video and
audio drivers, so no window or sound device is needed.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from redissim.view.model import ViewInput
from redissim.view.playback import MAX_SPEED, MIN_SPEED

Progress = Callable[[int, int], None]

#: Exports without an explicit duration stop after this many wall seconds of video.
DEFAULT_MAX_DURATION_S = 60.0
#: Without an explicit speed the whole run is fitted into this many seconds of video.
DEFAULT_FIT_S = 20.0


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720), for the CLI's ``--size WxH``."""
    try:
        w, h = (int(x) for x in text.lower().replace("×", "x").split("x"))
    except ValueError as exc:
        raise ValueError(f"size must look like 1280x720, got {text!r}") from exc
    if w < 16 or h < 16:
        raise ValueError(f"size too small: {text!r}")
    return w, h


def default_speed(vi: ViewInput, seconds: float = DEFAULT_FIT_S) -> float:
    """A speed that shows the whole replay (from ``vi.start_s``) in ``seconds`` of playback."""
    span = vi.end_time() - vi.start_s
    if span <= 0:
        return 1e-3
    return min(MAX_SPEED, max(MIN_SPEED, span / seconds))


def frame_count(vi: ViewInput, fps: float, speed: float, duration: float | None,
                start: float | None = None) -> int:
    """Frames needed: ``duration * fps``, or enough to reach the end of the run (capped)."""
    if start is None:
        start = vi.start_s
    if duration is not None:
        return max(1, int(round(duration * fps)))
    span_wall = max(0.0, vi.end_time() - start) / speed
    return max(1, min(int(math.floor(span_wall * fps)) + 1,
                      int(round(DEFAULT_MAX_DURATION_S * fps))))


def iter_frames(vi: ViewInput, size: tuple[int, int] = (1280, 720), fps: float = 30.0,
                speed: float | None = None, duration: float | None = None,
                start: float | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield (frame index, RGB bytes) of the export, headless, from ``start`` (default: where
    the trace begins)."""
    import pygame

    from redissim.view.scene import Scene, init_pygame

    init_pygame(headless=True)
    if speed is None:
        speed = default_speed(vi)
    if start is None:
        start = vi.start_s
    n = frame_count(vi, fps, speed, duration, start)
    scene = Scene(vi, size)
    surf = pygame.Surface(scene.size)
    end = vi.end_time()
    for i in range(n):
        t = min(end, start + i * speed / fps) if end > 0 else 0.0
        scene.render(surf, t, speed, paused=False)
        yield i, pygame.image.tobytes(surf, "RGB")


def output_kind(out_path: str | os.PathLike[str]) -> str:
    """"gif", "mp4" or "dir" (PNG frames) from the path's form."""
    s = str(out_path)
    low = s.lower()
    if low.endswith(".gif"):
        return "gif"
    if low.endswith(".mp4"):
        return "mp4"
    if s.endswith(("/", os.sep)) or Path(s).is_dir() or Path(s).suffix == "":
        return "dir"
    raise ValueError(f"unsupported export target {s!r}: use out.gif, out.mp4 or a directory/")


def export(view_input: ViewInput, out_path: str | os.PathLike[str], fps: float = 30.0,
           size: tuple[int, int] = (1280, 720), speed: float | None = None,
           duration: float | None = None, progress: Progress | None = None,
           start: float | None = None) -> int:
    """Render the replay without a window and write it; returns the number of frames.

    ``out_path`` ending in ``.gif`` -> animated GIF (Pillow, one fixed 256-colour palette
    built from the first frame and the scene's colours, no dithering); ``.mp4`` -> H.264
    yuv420p via imageio-ffmpeg (width and height must be even); anything else -> a
    directory of ``frame_00000.png`` files. ``speed`` is simulated seconds per wall second
    (default: the whole run in 20 s); ``duration`` is wall seconds of output (default: to
    the end of the run, at most 60 s). ``progress(done, total)`` is called after each frame.
    """
    kind = output_kind(out_path)
    if fps <= 0:
        raise ValueError("fps must be positive")
    size = (int(size[0]), int(size[1]))
    if speed is None:
        speed = default_speed(view_input)
    total = frame_count(view_input, fps, speed, duration, start)
    frames = iter_frames(view_input, size, fps, speed, duration, start)
    if kind == "gif":
        n = _write_gif(frames, Path(out_path), size, fps, total, progress)
    elif kind == "mp4":
        n = _write_mp4(frames, Path(out_path), size, fps, total, progress)
    else:
        n = _write_pngs(frames, Path(out_path), size, total, progress)
    return n


def _write_pngs(frames: Iterator[tuple[int, bytes]], out: Path, size: tuple[int, int],
                total: int, progress: Progress | None) -> int:
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for i, rgb in frames:
        Image.frombytes("RGB", size, rgb).save(out / f"frame_{i:05d}.png", optimize=False)
        n += 1
        if progress:
            progress(n, total)
    return n


def _palette_image(first: bytes, size: tuple[int, int]):  # type: ignore[no-untyped-def]
    """A 256-colour palette: the first frame plus swatches of every scene colour."""
    from PIL import Image

    from redissim.view.panels import common as c

    colors: list[tuple[int, int, int]] = []
    for name in dir(c):
        v = getattr(c, name)
        if isinstance(v, tuple) and len(v) == 3 and all(isinstance(x, int) for x in v):
            colors.append(v)
        elif isinstance(v, dict):
            colors.extend(x for x in v.values() if isinstance(x, tuple) and len(x) == 3)
        elif isinstance(v, tuple) and v and isinstance(v[0], tuple):
            colors.extend(x for x in v if len(x) == 3)
    colors.extend(c.ramp(c.IDLE_RAMP, k / 15) for k in range(16))
    frame = Image.frombytes("RGB", size, first)
    # Swatches as large as the frame so the octree keeps them as palette entries.
    sheet = Image.new("RGB", (size[0], size[1] * 2))
    sheet.paste(frame, (0, 0))
    cols = 16
    sw, sh = size[0] // cols, max(1, size[1] // ((len(colors) + cols - 1) // cols))
    for k, col in enumerate(sorted(set(colors))):
        x, y = (k % cols) * sw, size[1] + (k // cols) * sh
        sheet.paste(col, (x, y, x + sw, y + sh))
    return sheet.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)


def _write_gif(frames: Iterator[tuple[int, bytes]], out: Path, size: tuple[int, int],
               fps: float, total: int, progress: Progress | None) -> int:
    from PIL import Image

    out.parent.mkdir(parents=True, exist_ok=True)
    images = []
    palette = None
    for _i, rgb in frames:
        if palette is None:
            palette = _palette_image(rgb, size)
        im = Image.frombytes("RGB", size, rgb).quantize(palette=palette,
                                                         dither=Image.Dither.NONE)
        images.append(im)
        if progress:
            progress(len(images), total)
    ms = max(10, int(round(1000.0 / fps / 10.0)) * 10)  # GIF delays are in 1/100 s
    images[0].save(out, save_all=True, append_images=images[1:], duration=ms, loop=0,
                   optimize=False, disposal=1)
    return len(images)


def _write_mp4(frames: Iterator[tuple[int, bytes]], out: Path, size: tuple[int, int],
               fps: float, total: int, progress: Progress | None) -> int:
    import imageio_ffmpeg

    if size[0] % 2 or size[1] % 2:
        raise ValueError(f"MP4 (yuv420p) needs an even width and height, got {size}")
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(
        str(out), size, fps=fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
        macro_block_size=2, quality=None, bitrate=None,
        # One encoder thread and bit-exact flags keep the file identical run to run.
        output_params=["-crf", "20", "-preset", "veryfast", "-threads", "1",
                       "-fflags", "+bitexact", "-flags:v", "+bitexact"],
    )
    writer.send(None)
    n = 0
    try:
        for _i, rgb in frames:
            writer.send(rgb)
            n += 1
            if progress:
                progress(n, total)
    finally:
        writer.close()
    return n


def text_progress(stream: TextIO | None = None, width: int = 30) -> Progress:
    """A progress callback drawing ``[#####.....]  45/300 frames`` on one terminal line."""
    out = stream or sys.stderr

    def cb(done: int, total: int) -> None:
        filled = int(width * done / max(1, total))
        out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} frames")
        if done >= total:
            out.write("\n")
        out.flush()

    return cb
