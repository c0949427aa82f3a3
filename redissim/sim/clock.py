"""Time conventions used everywhere in redissim.

Simulated time (``env.now`` in SimPy) is a float in **seconds** since the start of the run.
Redis keeps several clocks derived from the wall clock; the model derives them from the
simulated time the same way Redis derives them from ``gettimeofday``:

* ``unix_ms`` -- milliseconds since the Unix epoch (``mstime()`` in ``server.c``), used for
  TTLs, ``TIME`` and expiry checks. A run starts at ``EPOCH_S`` so TTLs look like real ones.
* ``unix_s`` -- whole seconds (``server.unixtime``), used by save points and AOF fsync pacing.
* the 24-bit LRU clock and the 16-bit LFU minute clock live in ``server/eviction.py``.

Floating-point seconds give sub-nanosecond resolution for runs of days, and a millisecond
clock is taken by flooring, as Redis does when it divides microseconds by 1000.
"""

from __future__ import annotations

import math
from typing import Final

#: Unix time at simulated t = 0 (2023-11-14 22:13:20 UTC); any fixed value works.
EPOCH_S: Final = 1_700_000_000
EPOCH_MS: Final = 1_700_000_000_000  # EPOCH_S * 1000

#: Convenience multipliers for readable code: ``250 * US``.
US: float = 1e-6
MS: float = 1e-3


def unix_ms(now_s: float) -> int:
    """Milliseconds since the Unix epoch at simulated time ``now_s`` (floored, like mstime)."""
    # A tiny epsilon keeps 0.3 s from reading as 299 ms after float accumulation.
    return EPOCH_MS + math.floor(now_s * 1000.0 + 1e-9)


def unix_s(now_s: float) -> int:
    """Whole seconds since the Unix epoch (server.unixtime)."""
    return EPOCH_S + math.floor(now_s + 1e-12)
