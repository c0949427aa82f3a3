"""Che's approximation of cache hit ratios under the Independent Reference Model (IRM).

Not a Redis mechanism: the closed form the eviction model (``redissim/server/eviction.py``,
``redissim/replay.py``) is checked against. Che, Tung, Wang, "Hierarchical Web caching systems:
modeling, design and experimental results", IEEE JSAC 20(7), 2002; justified by Fricker,
Robert, Roberts, ITC 24 (2012), arXiv:1202.3974. FIFO/RANDOM form: Martina, Garetto, Leonardi,
INFOCOM 2014. See /work/shared/reference/theory.md section 1.5.

With request probabilities p_i (rate 1 per request, so lambda_i = p_i) and a cache of C objects:

* LRU: the characteristic time T solves sum_i (1 - exp(-p_i T)) = C; h_i = 1 - exp(-p_i T).
* FIFO and RANDOM (identical under IRM): sum_i p_i T / (1 + p_i T) = C; h_i = p_i T / (1 + p_i T).
* overall hit ratio H = sum_i p_i h_i.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def zipf_popularity(n: int, alpha: float) -> np.ndarray:
    """p_i = i^-alpha / sum_j j^-alpha for i = 1..n (H depends on n: fix it in fixtures)."""
    w = np.arange(1, n + 1, dtype=np.float64) ** -alpha
    return w / w.sum()


def _occupancy_lru(p: np.ndarray, t: float) -> float:
    return float(np.sum(-np.expm1(-p * t)))


def _occupancy_random(p: np.ndarray, t: float) -> float:
    x = p * t
    return float(np.sum(x / (1.0 + x)))


def _solve(occupancy: Callable[[np.ndarray, float], float], p: np.ndarray, c: float) -> float:
    """Root of occupancy(T) = c; occupancy grows monotonically from 0 to len(p)."""
    n = len(p)
    if not 0 < c < n:
        raise ValueError(f"cache size must be in (0, {n}), got {c}")
    lo, hi = 0.0, 1.0
    while occupancy(p, hi) < c:
        lo, hi = hi, hi * 2.0
    for _ in range(200):  # bisection in log space after bracketing; plenty for double precision
        mid = 0.5 * (lo + hi) if lo == 0.0 else float(np.sqrt(lo * hi))
        if occupancy(p, mid) < c:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return 0.5 * (lo + hi)


def characteristic_time_lru(p: np.ndarray, c: float) -> float:
    """Che's characteristic time T_C (in requests) of an LRU cache of c objects."""
    return _solve(_occupancy_lru, np.asarray(p, dtype=np.float64), c)


def characteristic_time_random(p: np.ndarray, c: float) -> float:
    """The FIFO/RANDOM counterpart of T_C."""
    return _solve(_occupancy_random, np.asarray(p, dtype=np.float64), c)


def lru_hit_probabilities(p: np.ndarray, c: float) -> np.ndarray:
    """Per-object hit probabilities h_i under LRU."""
    p = np.asarray(p, dtype=np.float64)
    return -np.expm1(-p * characteristic_time_lru(p, c))


def random_hit_probabilities(p: np.ndarray, c: float) -> np.ndarray:
    """Per-object hit probabilities h_i under FIFO or RANDOM replacement."""
    p = np.asarray(p, dtype=np.float64)
    x = p * characteristic_time_random(p, c)
    return x / (1.0 + x)


def che_lru_hit_ratio(p: np.ndarray, c: float) -> float:
    """Overall LRU hit ratio H = sum p_i h_i."""
    p = np.asarray(p, dtype=np.float64)
    return float(np.dot(p, lru_hit_probabilities(p, c)))


def che_random_hit_ratio(p: np.ndarray, c: float) -> float:
    """Overall FIFO/RANDOM hit ratio."""
    p = np.asarray(p, dtype=np.float64)
    return float(np.dot(p, random_hit_probabilities(p, c)))


def zipf_lru_hit_ratio(n: int, alpha: float, c: float) -> float:
    """Che LRU hit ratio for Zipf(alpha) popularity over n objects and a cache of c."""
    return che_lru_hit_ratio(zipf_popularity(n, alpha), c)


def zipf_random_hit_ratio(n: int, alpha: float, c: float) -> float:
    """Che FIFO/RANDOM hit ratio for Zipf(alpha) popularity over n objects and a cache of c."""
    return che_random_hit_ratio(zipf_popularity(n, alpha), c)
