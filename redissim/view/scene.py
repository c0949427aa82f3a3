"""Compose one frame of the scene at a simulated time.

Presentation only: the frame is a pure function of (trace, size, t, speed, paused); nothing
reads the wall clock, so two renders of the same inputs give identical pixels, which the
export tests check by hashing frames. Frames, titles and static lines are drawn once into a
cached background per size; each frame blits it and draws what moves.
"""

from __future__ import annotations

import os

import pygame

from redissim.view.layout import Layout
from redissim.view.model import ViewInput
from redissim.view.panels import (
    chrome,
    clients,
    eventloop,
    hud,
    keyspace,
    ladder,
    persistence,
    postgres,
)
from redissim.view.panels.common import BG, Ctx, Fonts
from redissim.view.replay import Replay

#: Wall seconds an effect (eviction flash, AOF pulse, touch rim) stays visible.
FX_WALL_S = 0.6


def init_pygame(headless: bool = False) -> None:
    """Initialise pygame once; headless uses SDL's dummy video and audio drivers."""
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        os.environ["SDL_AUDIODRIVER"] = "dummy"
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    if not pygame.get_init():
        pygame.init()
    if not pygame.font.get_init():
        pygame.font.init()


class Scene:
    """Draws the whole scene for a replay at any simulated time."""

    def __init__(self, source: ViewInput | Replay, size: tuple[int, int] = (1280, 720)) -> None:
        init_pygame(headless=os.environ.get("SDL_VIDEODRIVER") == "dummy")
        self.replay = source if isinstance(source, Replay) else Replay(source)
        self._background: pygame.Surface | None = None
        self.resize(size)

    def resize(self, size: tuple[int, int]) -> None:
        self.layout = Layout(size)
        self.size = self.layout.size
        self.fonts = Fonts(self.layout.scale)
        self._background = None

    def _ctx(self, t: float, speed: float, paused: bool) -> Ctx:
        return Ctx(self.replay, self.layout, self.fonts, t=t, speed=speed, paused=paused,
                   fx=FX_WALL_S * speed)

    def background(self) -> pygame.Surface:
        if self._background is None:
            bg = pygame.Surface(self.size)
            bg.fill(BG)
            ctx = self._ctx(0.0, 1e-3, False)
            chrome.draw_frames(ctx, bg)
            clients.draw_static(ctx, bg)
            eventloop.draw_static(ctx, bg)
            keyspace.draw_static(ctx, bg)
            persistence.draw_static(ctx, bg)
            postgres.draw_static(ctx, bg)
            ladder.draw_static(ctx, bg)
            self._background = bg
        return self._background

    def render(self, surface: pygame.Surface, t: float, speed: float,
               paused: bool = False) -> dict[str, int]:
        """Draw the frame at simulated time ``t``; returns what was drawn (for tests)."""
        if surface.get_size() != self.size:
            self.resize(surface.get_size())
        surface.blit(self.background(), (0, 0))
        ctx = self._ctx(t, speed, paused)
        clients.draw(ctx, surface)
        eventloop.draw(ctx, surface)
        keyspace.draw(ctx, surface)
        persistence.draw(ctx, surface)
        postgres.draw(ctx, surface)
        hud.draw(ctx, surface)
        ladder.draw(ctx, surface)
        chrome.draw_title(ctx, surface)
        chrome.draw_caption(ctx, surface)
        return ctx.stats

    def frame(self, t: float, speed: float, paused: bool = False) -> pygame.Surface:
        """A new surface with the frame at ``t``."""
        surf = pygame.Surface(self.size)
        self.render(surf, t, speed, paused)
        return surf
