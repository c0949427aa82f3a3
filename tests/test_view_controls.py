"""Keyboard controls driven by posted pygame events change the playback clock as stated."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"

import pygame  # noqa: E402
import pytest  # noqa: E402

from redissim.view.animate import Viewer, run_window  # noqa: E402
from redissim.view.demo_trace import demo_view_input  # noqa: E402


@pytest.fixture(scope="module")
def vi():
    return demo_view_input(seed=0, duration_s=0.03)


@pytest.fixture()
def viewer(vi, tmp_path):
    pygame.init()
    screen = pygame.display.set_mode((640, 360))
    v = Viewer(vi, speed=1e-3, size=(640, 360), screenshot_dir=tmp_path)
    v.draw(screen)
    pygame.event.clear()
    return v


def press(viewer, *keys):
    for k in keys:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode=""))
    viewer.pump()


def test_space_pauses_and_resumes(viewer):
    c = viewer.clock
    c.advance(1.0)
    t = c.t
    press(viewer, pygame.K_SPACE)
    assert c.paused
    c.advance(1.0)
    assert c.t == t
    press(viewer, pygame.K_SPACE)
    assert not c.paused
    c.advance(1.0)
    assert c.t == pytest.approx(t + 1e-3)


def test_arrows_step_between_events(viewer):
    c = viewer.clock
    times = viewer.scene.replay.event_times
    c.seek(times[10])
    press(viewer, pygame.K_RIGHT)
    assert c.t == times[11] and c.paused
    press(viewer, pygame.K_RIGHT, pygame.K_RIGHT)
    assert c.t == times[13]
    press(viewer, pygame.K_LEFT)
    assert c.t == times[12]


def test_plus_minus_change_speed(viewer):
    c = viewer.clock
    press(viewer, pygame.K_PLUS)
    assert c.speed == pytest.approx(2e-3)
    press(viewer, pygame.K_EQUALS, pygame.K_KP_PLUS)
    assert c.speed == pytest.approx(8e-3)
    press(viewer, pygame.K_MINUS, pygame.K_MINUS, pygame.K_KP_MINUS)
    assert c.speed == pytest.approx(1e-3)


def test_next_notable_restart_screenshot_quit(viewer, tmp_path):
    c = viewer.clock
    rp = viewer.scene.replay
    press(viewer, pygame.K_n)
    assert c.t == rp.notable_times[0]
    press(viewer, pygame.K_n)
    assert c.t == rp.notable_times[1]
    press(viewer, pygame.K_r)
    assert c.t == 0.0
    press(viewer, pygame.K_s)
    assert len(viewer.screenshots) == 1 and viewer.screenshots[0].exists()
    assert viewer.running
    press(viewer, pygame.K_q)
    assert not viewer.running


def test_window_resize_event_resizes_the_scene(viewer):
    pygame.event.post(pygame.event.Event(pygame.VIDEORESIZE, w=800, h=450, size=(800, 450)))
    viewer.pump()
    assert viewer.scene.size == (800, 450)
    surf = pygame.Surface((800, 450))
    viewer.draw(surf)
    assert viewer.scene.layout["keyspace"].right <= 800


def test_run_window_plays_and_quits_on_q(vi, tmp_path):
    pygame.init()
    pygame.display.set_mode((640, 360))
    pygame.event.clear()
    v = run_window(vi, speed=1e-3, size=(640, 360), max_frames=3, screenshot_dir=tmp_path)
    assert v.clock.t > 0  # it advanced with the (wall) clock while playing
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_q, mod=0, unicode="q"))
    v2 = run_window(vi, speed=1e-3, size=(640, 360), max_frames=1000)
    assert not v2.running
