"""Shared drawing context for the panels: colours, fonts, cached text, number formatting.

Presentation only (no Redis mechanism). Text surfaces are cached because rendering glyphs
is the most expensive thing a frame does; the cache is keyed by text, font and colour, so
it is deterministic and bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pygame

from redissim.view.layout import Layout
from redissim.view.replay import Replay

Color = tuple[int, int, int]

BG: Color = (17, 21, 29)
PANEL: Color = (27, 33, 45)
BORDER: Color = (74, 86, 110)
TEXT: Color = (226, 231, 239)
DIM: Color = (139, 149, 168)
FAINT: Color = (60, 70, 90)
REQUEST: Color = (255, 145, 30)   # request token (Redis orange)
REPLY: Color = (102, 204, 110)    # reply token
EVICT: Color = (255, 50, 50)
SAMPLED: Color = (255, 80, 255)
EXPIRED: Color = (150, 150, 150)
PG: Color = (80, 150, 255)
PG_DARK: Color = (21, 55, 110)
DISK: Color = (144, 164, 174)
AOF: Color = (255, 202, 40)
FSYNC: Color = (38, 198, 218)
COW: Color = (239, 83, 80)
CAPTION_BG: Color = (52, 40, 16)

PHASE_COLORS: dict[str, Color] = {
    "epoll_wait": (96, 106, 128),
    "read": (66, 165, 245),
    "execute": (255, 167, 38),
    "serverCron": (186, 104, 200),
    "beforeSleep": (38, 198, 218),
    "fork": (239, 83, 80),
    "down": (120, 40, 40),
}
PHASE_LABELS: dict[str, str] = {
    "epoll_wait": "epoll_wait",
    "read": "read",
    "execute": "execute",
    "serverCron": "serverCron",
    "beforeSleep": "beforeSleep (writes)",
    "fork": "fork()",
    "down": "process down",
}

#: Distinct hues for clients (row stripes, queue slots).
CLIENT_COLORS: tuple[Color, ...] = (
    (79, 195, 247), (174, 213, 129), (240, 98, 146), (255, 213, 79), (149, 117, 205),
    (77, 182, 172), (255, 138, 101), (144, 164, 174),
)

#: Idle-time ramp for keys: just touched (hot) -> long idle (cold).
IDLE_RAMP: tuple[Color, ...] = (
    (255, 249, 196), (255, 213, 79), (139, 195, 74), (38, 166, 154), (30, 110, 170),
    (40, 50, 110),
)

ASSETS = Path(__file__).resolve().parents[3] / "assets" / "fonts"


def lerp(a: Color, b: Color, f: float) -> Color:
    f = 0.0 if f < 0 else 1.0 if f > 1 else f
    return (round(a[0] + (b[0] - a[0]) * f), round(a[1] + (b[1] - a[1]) * f),
            round(a[2] + (b[2] - a[2]) * f))


def ramp(colors: tuple[Color, ...], f: float) -> Color:
    f = 0.0 if f < 0 else 1.0 if f > 1 else f
    x = f * (len(colors) - 1)
    i = min(int(x), len(colors) - 2)
    return lerp(colors[i], colors[i + 1], x - i)


def fmt_time(s: float) -> str:
    """Seconds as a short human duration: 850 ns, 12.3 µs, 1.25 ms, 2.50 s."""
    if s is None or not math.isfinite(s):
        return "-"
    a = abs(s)
    if a == 0:
        return "0"
    for unit, mult in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if a >= mult or unit == "ns":
            v = s / mult
            if abs(v) >= 100:
                return f"{v:.0f} {unit}"
            if abs(v) >= 10:
                return f"{v:.1f} {unit}"
            return f"{v:.2f} {unit}"
    return f"{s:g} s"


def fmt_bytes(n: float) -> str:
    for unit, mult in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= mult:
            return f"{n / mult:.1f} {unit}"
    return f"{int(n)} B"


def fmt_rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


class Fonts:
    """Font objects by (style, design size), scaled to the layout."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._fonts: dict[tuple[str, int], pygame.font.Font] = {}
        self._cache: dict[tuple[str, str, int, Color], pygame.Surface] = {}

    def font(self, style: str, size: int) -> pygame.font.Font:
        px = max(7, round(size * self.scale))
        key = (style, px)
        f = self._fonts.get(key)
        if f is None:
            name = {"sans": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf",
                    "mono": "DejaVuSansMono.ttf"}[style]
            path = ASSETS / name
            f = pygame.font.Font(str(path) if path.exists() else None, px)
            self._fonts[key] = f
        return f

    def text(self, s: str, size: int = 12, color: Color = TEXT,
             style: str = "sans") -> pygame.Surface:
        key = (s, style, size, color)
        surf = self._cache.get(key)
        if surf is None:
            if len(self._cache) > 4000:
                self._cache.clear()
            surf = self.font(style, size).render(s, True, color)
            self._cache[key] = surf
        return surf


@dataclass
class Ctx:
    """What every panel draw function receives for one frame."""

    replay: Replay
    layout: Layout
    fonts: Fonts
    t: float = 0.0
    speed: float = 1e-3
    paused: bool = False
    #: simulated seconds an effect (flash, pulse) stays visible: ~0.6 s of wall time.
    fx: float = 6e-4
    stats: dict[str, int] = field(default_factory=dict)

    def blit_text(self, surf: pygame.Surface, s: str, pos: tuple[int, int], size: int = 12,
                  color: Color = TEXT, style: str = "sans", anchor: str = "topleft",
                  max_w: int | None = None) -> pygame.Rect:
        img = self.fonts.text(s, size, color, style)
        if max_w is not None and img.get_width() > max_w and len(s) > 2:
            # Trim from the right until it fits, keeping an ellipsis.
            lo, hi = 1, len(s)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self.fonts.font(style, size).size(s[:mid] + "…")[0] <= max_w:
                    lo = mid
                else:
                    hi = mid - 1
            img = self.fonts.text(s[:lo] + "…", size, color, style)
        r = img.get_rect(**{anchor: pos})
        surf.blit(img, r)
        return r
