"""Where each panel of the scene goes, for any window size.

Presentation only. The arrangement follows lesson 12.1's architecture diagram: applications
on the left, the network, the server's socket queue, the single-threaded event loop and the
in-memory keyspace; persistence and the PostgreSQL pipeline below on the same clock; the HUD
and the memory-hierarchy latency ladder at the bottom. Rectangles are designed on a
1280x720 canvas and scaled to the actual size, so the scene stays proportional when resized.
"""

from __future__ import annotations

import pygame

BASE_W, BASE_H = 1280, 720

#: Panel rectangles (x, y, w, h) on the 1280x720 design canvas.
BASE_RECTS: dict[str, tuple[int, int, int, int]] = {
    "title": (0, 0, 1280, 26),
    "clients": (6, 32, 196, 392),
    "network": (206, 32, 200, 392),
    "queue": (410, 32, 86, 392),
    "loop": (500, 32, 356, 392),
    "keyspace": (860, 32, 414, 392),
    "persistence": (6, 430, 636, 128),
    "postgres": (646, 430, 628, 128),
    "hud": (6, 564, 636, 124),
    "ladder": (646, 564, 628, 124),
    "caption": (0, 692, 1280, 28),
}

#: Panels drawn with a frame and a title (title bar and caption are chrome).
FRAMED = ("clients", "network", "queue", "loop", "keyspace", "persistence", "postgres",
          "hud", "ladder")

TITLES: dict[str, str] = {
    "clients": "YOUR APPLICATIONS",
    "network": "NETWORK",
    "queue": "QUEUE",
    "loop": "REDIS: SINGLE-THREADED EVENT LOOP",
    "keyspace": "KEYSPACE (IN-MEMORY DICT)",
    "persistence": "OPTIONAL PERSISTENCE: AOF + RDB",
    "postgres": "POSTGRESQL: SAME QUERY, SAME CLOCK",
    "hud": "METRICS",
    "ladder": "LATENCY LADDER (LOG SCALE)",
}

HEADER_H = 20  # design pixels of a panel's title strip


class Layout:
    """Panel rectangles scaled to a surface size."""

    def __init__(self, size: tuple[int, int] = (BASE_W, BASE_H)) -> None:
        self.size = (max(320, int(size[0])), max(180, int(size[1])))
        self.sx = self.size[0] / BASE_W
        self.sy = self.size[1] / BASE_H
        self.scale = min(self.sx, self.sy)
        self.rects: dict[str, pygame.Rect] = {
            name: self._scale_rect(r) for name, r in BASE_RECTS.items()
        }

    def _scale_rect(self, r: tuple[int, int, int, int]) -> pygame.Rect:
        x, y, w, h = r
        x0, y0 = round(x * self.sx), round(y * self.sy)
        x1, y1 = round((x + w) * self.sx), round((y + h) * self.sy)
        return pygame.Rect(x0, y0, x1 - x0, y1 - y0)

    def __getitem__(self, name: str) -> pygame.Rect:
        return self.rects[name]

    def body(self, name: str) -> pygame.Rect:
        """The part of a framed panel under its title strip, inset by a small margin."""
        r = self.rects[name]
        top = round(HEADER_H * self.sy)
        pad = max(2, round(4 * self.scale))
        return pygame.Rect(r.x + pad, r.y + top, r.w - 2 * pad, r.h - top - pad)

    def px(self, v: float) -> int:
        """A design-pixel length scaled to this size (at least 1)."""
        return max(1, round(v * self.scale))
