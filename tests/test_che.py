"""Che's approximation (redissim/theory/che.py) and the replay checked against it.

Reference: /work/shared/reference/theory.md section 1.5 (N = 10,000 objects, 10^6 IRM Zipf
requests, the first 200,000 excluded as warm-up, unit-size objects).
"""

from __future__ import annotations

import pytest

from redissim import replay as r
from redissim.server import eviction as ev
from redissim.theory import che

N = 10_000
REQUESTS = 1_000_000
WARMUP = 200_000

# (alpha, C/N, Che LRU, sim LRU, redis K=5, Che RANDOM) from theory.md's table.
TABLE = [
    (0.8, 0.01, 0.1566, 0.1562, 0.1530, 0.1336),
    (0.8, 0.05, 0.3312, 0.3309, 0.3290, 0.2937),
    (0.8, 0.10, 0.4367, 0.4362, 0.4340, 0.3942),
    (0.8, 0.20, 0.5677, 0.5671, 0.5648, 0.5222),
    (0.9, 0.01, 0.2612, 0.2612, 0.2566, 0.2244),
    (0.9, 0.05, 0.4554, 0.4561, 0.4540, 0.4102),
    (0.9, 0.10, 0.5565, 0.5568, 0.5548, 0.5101),
    (0.9, 0.20, 0.6713, 0.6720, 0.6696, 0.6261),
    (1.0, 0.01, 0.3905, 0.3913, 0.3855, 0.3423),
    (1.0, 0.05, 0.5867, 0.5873, 0.5848, 0.5394),
    (1.0, 0.10, 0.6756, 0.6758, 0.6737, 0.6309),
    (1.0, 0.20, 0.7683, 0.7679, 0.7658, 0.7283),
]


@pytest.mark.parametrize(("alpha", "frac", "lru", "_sim", "_k5", "rand"), TABLE)
def test_che_matches_reference_table(alpha: float, frac: float, lru: float, _sim: float,
                                     _k5: float, rand: float) -> None:
    c = N * frac
    assert che.zipf_lru_hit_ratio(N, alpha, c) == pytest.approx(lru, abs=6e-5)
    assert che.zipf_random_hit_ratio(N, alpha, c) == pytest.approx(rand, abs=6e-5)


def test_characteristic_time_fills_the_cache() -> None:
    p = che.zipf_popularity(5000, 0.9)
    h = che.lru_hit_probabilities(p, 250)
    assert h.sum() == pytest.approx(250, rel=1e-9)  # sum of occupancies = C
    assert (h[:-1] >= h[1:]).all()  # more popular, more often cached
    assert che.random_hit_probabilities(p, 250).sum() == pytest.approx(250, rel=1e-9)
    with pytest.raises(ValueError):
        che.characteristic_time_lru(p, 5000)


@pytest.fixture(scope="module")
def streams() -> dict[float, object]:
    return {a: r.zipf_requests(N, a, REQUESTS, seed=11) for a in (0.9, 1.0)}


# Two of the twelve rows (CI time): rows with fewer misses replay faster.
@pytest.mark.parametrize(("alpha", "frac"), [(1.0, 0.05), (0.9, 0.20)])
def test_replay_lru_and_redis_k5_against_che(streams: dict[float, object], alpha: float,
                                             frac: float) -> None:
    req = streams[alpha]
    c = int(N * frac)
    target = che.zipf_lru_hit_ratio(N, alpha, c)
    true_lru = r.replay(req, c, r.TRUE_LRU, warmup=WARMUP)  # type: ignore[arg-type]
    assert abs(true_lru.hit_ratio - target) <= 0.005
    if frac == 0.05:
        curve = r.lru_hit_ratio_curve(req, [c], warmup=WARMUP)  # type: ignore[arg-type]
        assert curve[0] == true_lru.hit_ratio
    k5 = r.replay(req, c, ev.ALLKEYS_LRU, samples=5, warmup=WARMUP, seed=1)  # type: ignore[arg-type]
    assert abs(k5.hit_ratio - target) <= 0.01
    assert k5.hit_ratio < true_lru.hit_ratio  # sampling never beats true LRU under IRM


def test_replay_allkeys_random_against_che_random(streams: dict[float, object]) -> None:
    req = streams[1.0]
    c = int(N * 0.05)
    res = r.replay(req, c, ev.ALLKEYS_RANDOM, warmup=WARMUP, seed=2)  # type: ignore[arg-type]
    assert abs(res.hit_ratio - che.zipf_random_hit_ratio(N, 1.0, c)) <= 0.005
