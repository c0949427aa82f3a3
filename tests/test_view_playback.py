"""The playback clock (redissim/view/playback.py): pause, step, speed, seek, notable jumps."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redissim.view.playback import MAX_SPEED, MIN_SPEED, PlaybackClock


def clock(**kw):
    return PlaybackClock([0.0, 1e-6, 5e-6, 5e-6, 2e-5], notable_times=[5e-6, 1.5e-5], **kw)


def test_advance_maps_wall_time_by_speed_and_stops_at_end():
    c = clock(speed=1e-6)
    assert c.advance(2.0) == pytest.approx(2e-6)
    c.toggle_pause()
    assert c.advance(5.0) == pytest.approx(2e-6)  # paused: no motion
    c.toggle_pause()
    c.advance(1000.0)
    assert c.t == c.end_t == 2e-5 and c.at_end


def test_steps_visit_distinct_event_times_and_pause():
    c = clock()
    assert c.step_forward() == 1e-6 and c.paused
    assert c.step_forward() == 5e-6
    assert c.step_forward() == 2e-5
    assert c.step_forward() == 2e-5  # nothing after the last event
    assert c.step_back() == 5e-6
    assert c.step_back() == 1e-6
    assert c.step_back() == 0.0
    assert c.step_back() == 0.0


def test_speed_doubles_halves_and_spans_1e6_to_1():
    c = clock(speed=1.0)
    assert c.faster() == 2.0
    assert c.slower() == 1.0 and c.slower() == 0.5
    c.set_speed(1e-6)
    assert c.speed == 1e-6
    for _ in range(100):
        c.slower()
    assert c.speed == MIN_SPEED <= 1e-6
    for _ in range(100):
        c.faster()
    assert c.speed == MAX_SPEED >= 1.0


def test_notable_jumps_seek_and_restart():
    c = clock()
    assert c.next_notable() == 5e-6
    assert c.next_notable() == 1.5e-5
    assert c.next_notable() is None and c.t == 1.5e-5
    assert c.seek(-1) == 0.0 and c.seek(1.0) == 2e-5
    assert c.restart() == 0.0


@given(st.lists(st.floats(0, 1e3, allow_nan=False), min_size=2, max_size=50, unique=True),
       st.data())
@settings(max_examples=100, deadline=None)
def test_step_forward_then_back_returns_to_the_same_event(times, data):
    c = PlaybackClock(times)
    ts = sorted(times)
    i = data.draw(st.integers(0, len(ts) - 2))
    c.seek(ts[i])
    nxt = c.step_forward()
    assert nxt == ts[i + 1]
    assert c.step_back() == ts[i]
