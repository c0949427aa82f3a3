"""Parsing of the human units scenario files use: sizes ("64mb", "4gb"), times ("250us", "2s"),
rates ("80k", "10gbit").

Sizes follow redis.conf's convention (``src/config.c:memtoull``): ``k``/``kb`` are 1000/1024,
``m``/``mb`` 10^6/2^20 and so on -- "kb", "mb", "gb" are powers of two, bare "k", "m", "g"
powers of ten, exactly as Redis reads ``maxmemory 4gb``. Times are returned in seconds (the
simulator's unit, see ``sim/clock.py``).
"""

from __future__ import annotations

import re

_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1024,
    "m": 1000**2, "mb": 1024**2,
    "g": 1000**3, "gb": 1024**3,
    "t": 1000**4, "tb": 1024**4,
}
_TIME_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "": 1.0,
    "m": 60.0, "min": 60.0, "h": 3600.0,
}
_RATE_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}
_BANDWIDTH_UNITS = {
    "bit": 1 / 8, "kbit": 1e3 / 8, "mbit": 1e6 / 8, "gbit": 1e9 / 8,
    "b": 1.0, "kb": 1e3, "mb": 1e6, "gb": 1e9,
}
_NUM = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*([a-zµ/]*)\s*$", re.IGNORECASE)


class UnitError(ValueError):
    """A value that does not parse; the message says what is allowed."""


def _split(value: str, what: str, allowed: str) -> tuple[float, str]:
    m = _NUM.match(value)
    if not m:
        raise UnitError(f"{value!r} is not a {what}; use {allowed}")
    return float(m.group(1)), m.group(2).lower()


def parse_size(value: int | float | str) -> int:
    """Bytes from 123, "64mb", "4gb", "10k" (redis.conf rules)."""
    if isinstance(value, bool):
        raise UnitError("a size must be a number of bytes or a string like '64mb'")
    if isinstance(value, int | float):
        if value < 0:
            raise UnitError("a size cannot be negative")
        return int(value)
    allowed = "a number of bytes or a number with b, k, kb, m, mb, g, gb (e.g. '64mb')"
    num, unit = _split(value, "size", allowed)
    if unit not in _SIZE_UNITS:
        raise UnitError(f"{value!r}: unknown size unit {unit!r}; use {allowed}")
    return int(num * _SIZE_UNITS[unit])


def parse_time(value: int | float | str) -> float:
    """Seconds from 0.5, "250us", "2ms", "2s", "1min"; a bare number is seconds."""
    if isinstance(value, bool):
        raise UnitError("a time must be a number of seconds or a string like '250us'")
    if isinstance(value, int | float):
        if value < 0:
            raise UnitError("a time cannot be negative")
        return float(value)
    allowed = "seconds or a number with ns, us, ms, s, min, h (e.g. '250us', '2s')"
    num, unit = _split(value, "time", allowed)
    if unit not in _TIME_UNITS:
        raise UnitError(f"{value!r}: unknown time unit {unit!r}; use {allowed}")
    return num * _TIME_UNITS[unit]


def parse_rate(value: int | float | str) -> float:
    """Events per second from 80000, "80k", "1.5m"; "80k/s" is accepted too."""
    if isinstance(value, bool):
        raise UnitError("a rate must be a number per second")
    if isinstance(value, int | float):
        if value < 0:
            raise UnitError("a rate cannot be negative")
        return float(value)
    allowed = "a number per second, optionally with k or m (e.g. '80k')"
    num, unit = _split(value, "rate", allowed)
    unit = unit.removesuffix("/s")
    if unit not in _RATE_UNITS:
        raise UnitError(f"{value!r}: unknown rate unit {unit!r}; use {allowed}")
    return num * _RATE_UNITS[unit]


def parse_bandwidth(value: int | float | str) -> float:
    """Bytes per second from "10gbit", "1gbit", "125mb" (decimal, as network links are sold)."""
    if isinstance(value, bool):
        raise UnitError("a bandwidth must be bytes per second or e.g. '10gbit'")
    if isinstance(value, int | float):
        if value <= 0:
            raise UnitError("a bandwidth must be positive")
        return float(value)
    allowed = "bytes per second or a number with bit, kbit, mbit, gbit, kb, mb, gb (e.g. '10gbit')"
    num, unit = _split(value, "bandwidth", allowed)
    unit = unit.removesuffix("/s").removesuffix("ps")
    if unit not in _BANDWIDTH_UNITS:
        raise UnitError(f"{value!r}: unknown bandwidth unit {unit!r}; use {allowed}")
    if num <= 0:
        raise UnitError("a bandwidth must be positive")
    return num * _BANDWIDTH_UNITS[unit]
