"""Interactive window and export entry points for ``redissim animate``.

Presentation only: the window replays a trace with a :class:`PlaybackClock`; keys change
the clock, never the simulation. Keys (issue 8): space pause, right arrow next event, left
arrow previous event, +/- speed x2 and /2, n next notable event (eviction, fsync, fork,
KEYS), r restart, s screenshot, q (or Escape) quit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pygame

from redissim.view.export import default_speed, export, parse_size, text_progress
from redissim.view.model import ViewInput
from redissim.view.playback import PlaybackClock
from redissim.view.scene import Scene, init_pygame

__all__ = ["Viewer", "run_window", "export", "parse_size", "text_progress", "KEY_ACTIONS"]

#: pygame key -> PlaybackClock action (or "quit" / "screenshot" for the window).
KEY_ACTIONS: dict[int, str] = {
    pygame.K_SPACE: "toggle_pause",
    pygame.K_RIGHT: "step_forward",
    pygame.K_LEFT: "step_back",
    pygame.K_PLUS: "faster",
    pygame.K_EQUALS: "faster",  # '+' shares its key with '=' on most layouts
    pygame.K_KP_PLUS: "faster",
    pygame.K_MINUS: "slower",
    pygame.K_KP_MINUS: "slower",
    pygame.K_n: "next_notable",
    pygame.K_r: "restart",
    pygame.K_s: "screenshot",
    pygame.K_q: "quit",
    pygame.K_ESCAPE: "quit",
}


class Viewer:
    """A scene plus its playback clock, driven by pygame events."""

    def __init__(self, view_input: ViewInput, speed: float | None = None,
                 size: tuple[int, int] = (1280, 720),
                 screenshot_dir: str | os.PathLike[str] = ".") -> None:
        self.scene = Scene(view_input, size)
        rp = self.scene.replay
        self.clock = PlaybackClock(rp.event_times, rp.notable_times, end_t=rp.end_t,
                                   speed=speed if speed is not None else default_speed(view_input),
                                   start_t=view_input.start_s)
        self.screenshot_dir = Path(screenshot_dir)
        self.running = True
        self.screenshots: list[Path] = []
        self.surface: pygame.Surface | None = None

    def handle(self, event: pygame.event.Event) -> None:
        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.VIDEORESIZE:
            self.scene.resize((event.w, event.h))
        elif event.type == pygame.KEYDOWN:
            action = KEY_ACTIONS.get(event.key)
            if action is None and getattr(event, "unicode", "") == "+":
                action = "faster"
            if action == "quit":
                self.running = False
            elif action == "screenshot":
                self.screenshot()
            elif action is not None:
                getattr(self.clock, action)()

    def pump(self) -> None:
        """Handle every event waiting in pygame's queue."""
        for event in pygame.event.get():
            self.handle(event)

    def draw(self, surface: pygame.Surface) -> dict[str, int]:
        self.surface = surface
        return self.scene.render(surface, self.clock.t, self.clock.speed, self.clock.paused)

    def screenshot(self) -> Path | None:
        if self.surface is None:
            return None
        self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        path = self.screenshot_dir / f"redissim-{self.clock.t * 1e6:012.3f}us.png"
        pygame.image.save(self.surface, str(path))
        self.screenshots.append(path)
        return path


def run_window(view_input: ViewInput, speed: float | None = None,
               size: tuple[int, int] = (1280, 720), fps: int = 60,
               max_frames: int | None = None,
               screenshot_dir: str | os.PathLike[str] = ".") -> Viewer:
    """Open a resizable window and play the replay until q, Escape or the window closes.

    ``max_frames`` stops after that many frames (for tests and demos). Returns the viewer so
    callers can inspect the final clock.
    """
    init_pygame(headless=os.environ.get("SDL_VIDEODRIVER") == "dummy")
    screen = pygame.display.set_mode(size, pygame.RESIZABLE)
    pygame.display.set_caption(f"redissim — {view_input.title}")
    viewer = Viewer(view_input, speed=speed, size=screen.get_size(),
                    screenshot_dir=screenshot_dir)
    clock = pygame.time.Clock()
    frames = 0
    while viewer.running:
        viewer.pump()
        if not viewer.running:
            break
        screen = pygame.display.get_surface()
        viewer.draw(screen)
        pygame.display.flip()
        # Interactive playback follows the wall clock; export never does (see export.py).
        wall_dt = clock.tick(fps) / 1000.0
        viewer.clock.advance(wall_dt)
        frames += 1
        if max_frames is not None and frames >= max_frames:
            break
    return viewer
