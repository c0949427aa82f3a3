"""Closed-form queueing results the event-loop model is checked against (theory.md section 5).

Redis's single thread is one service station: under open (Poisson) load it is an M/G/1 queue,
under redis-benchmark-style closed load a closed network of N clients with think time Z around
one FCFS station, solved exactly by Mean Value Analysis (Reiser & Lavenberg, JACM 1980).
"""

from __future__ import annotations

import math


def mm1(lam: float, mu: float) -> dict[str, float]:
    """M/M/1 FCFS: mean wait, mean response, and response-time percentile function."""
    if lam >= mu:
        raise ValueError("unstable: lambda >= mu")
    rho = lam / mu
    w = 1.0 / (mu - lam)
    return {"rho": rho, "W": w, "Wq": rho / (mu - lam), "L": rho / (1 - rho)}


def mm1_response_percentile(lam: float, mu: float, p: float) -> float:
    """Response time T ~ Exp(mu - lam): t_p = -ln(1 - p) / (mu - lam), p in (0, 1)."""
    return -math.log(1.0 - p) / (mu - lam)


def md1(lam: float, service: float) -> dict[str, float]:
    """M/D/1: Wq = rho D / (2 (1 - rho)), W = Wq + D."""
    rho = lam * service
    if rho >= 1:
        raise ValueError("unstable: rho >= 1")
    wq = rho * service / (2 * (1 - rho))
    return {"rho": rho, "Wq": wq, "W": wq + service}


def mg1_wait(lam: float, mean_s: float, second_moment_s: float) -> float:
    """Pollaczek-Khinchine mean wait: Wq = lam E[S^2] / (2 (1 - rho))."""
    rho = lam * mean_s
    if rho >= 1:
        raise ValueError("unstable: rho >= 1")
    return lam * second_moment_s / (2 * (1 - rho))


def mva(n_clients: int, demands: list[float], think: float) -> dict[str, float]:
    """Exact single-class MVA with queueing stations ``demands`` and a delay station ``think``.

    Returns throughput X and response time R (excluding think time) at population N, and
    ``R1``, ``R2``, ... the residence time at each station (R is their sum).
    """
    q = [0.0] * len(demands)
    x = r = 0.0
    rk = [0.0] * len(demands)
    for n in range(1, n_clients + 1):
        rk = [d * (1 + qk) for d, qk in zip(demands, q, strict=True)]
        r = sum(rk)
        x = n / (think + r)
        q = [x * v for v in rk]
    return {"X": x, "R": r, **{f"R{i + 1}": v for i, v in enumerate(rk)}}
