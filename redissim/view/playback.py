"""The playback clock: maps wall time to simulated time for replaying a trace.

Nothing in Redis is modelled here; this is the VCR of the view. Simulated time advances by
``wall_dt * speed`` while playing. ``speed`` is the number of simulated seconds shown per
wall-clock second: 1e-6 lets a viewer watch single microsecond-scale commands, 1.0 is real
time (tools-and-sizing.md, "a speed control spanning orders of magnitude"). Stepping goes to
the next or previous distinct event time in the trace, so every step is reversible.
During export the clock is advanced by exactly ``1/fps`` of wall time per frame, never by
the real wall clock, which is what makes exported frames reproducible.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

MIN_SPEED = 1e-7
MAX_SPEED = 4.0


class PlaybackClock:
    """Simulated-time cursor with pause, step, speed, seek and notable-event jumps."""

    def __init__(
        self,
        event_times: Sequence[float],
        notable_times: Sequence[float] = (),
        end_t: float | None = None,
        speed: float = 1e-3,
        start_t: float = 0.0,
        paused: bool = False,
    ) -> None:
        self.event_times = sorted(set(event_times))
        self.notable_times = sorted(notable_times)
        last = self.event_times[-1] if self.event_times else 0.0
        self.start_t = float(start_t)
        self.end_t = float(end_t) if end_t is not None else max(last, self.start_t)
        self.speed = self._clamp_speed(speed)
        self.t = self.start_t
        self.paused = paused

    @staticmethod
    def _clamp_speed(speed: float) -> float:
        return min(MAX_SPEED, max(MIN_SPEED, float(speed)))

    @property
    def at_end(self) -> bool:
        return self.t >= self.end_t

    def advance(self, wall_dt: float) -> float:
        """Move forward by ``wall_dt`` wall seconds (no-op while paused); returns t."""
        if not self.paused and wall_dt > 0:
            self.t = min(self.end_t, self.t + wall_dt * self.speed)
        return self.t

    def toggle_pause(self) -> None:
        self.paused = not self.paused

    def step_forward(self) -> float:
        """Pause and move to the next event time after t (stays put at the last one)."""
        self.paused = True
        i = bisect_right(self.event_times, self.t)
        if i < len(self.event_times):
            self.t = min(self.event_times[i], self.end_t)
        return self.t

    def step_back(self) -> float:
        """Pause and move to the previous event time before t (or the start)."""
        self.paused = True
        i = bisect_left(self.event_times, self.t) - 1
        self.t = self.event_times[i] if i >= 0 else self.start_t
        self.t = max(self.t, self.start_t)
        return self.t

    def faster(self) -> float:
        self.speed = self._clamp_speed(self.speed * 2.0)
        return self.speed

    def slower(self) -> float:
        self.speed = self._clamp_speed(self.speed / 2.0)
        return self.speed

    def set_speed(self, speed: float) -> float:
        self.speed = self._clamp_speed(speed)
        return self.speed

    def seek(self, t: float) -> float:
        self.t = min(self.end_t, max(self.start_t, float(t)))
        return self.t

    def next_notable(self) -> float | None:
        """Jump to the next notable event (eviction, fsync, fork, KEYS, note) after t."""
        i = bisect_right(self.notable_times, self.t)
        if i >= len(self.notable_times):
            return None
        return self.seek(self.notable_times[i])

    def restart(self) -> float:
        self.t = self.start_t
        return self.t
