"""Erlang C and the M/M/c queue (theory.md section 5), the anchor for the PostgreSQL pool.

A PostgreSQL server is a pool of backends on ``c`` cores serving one queue (the run queue of
the OS scheduler, or a connection pooler's queue): with Poisson arrivals at rate ``lam`` and
exponential service at rate ``mu`` per server that is M/M/c. With offered load ``a = lam/mu``
and ``rho = a/c < 1``:

    C(c, a) = [a^c/c! * c/(c - a)] / [sum_{k<c} a^k/k! + a^c/c! * c/(c - a)]
    Wq = C(c, a) / (c*mu - lam),   W = Wq + 1/mu,   Lq = lam*Wq,   L = lam*W

The sum is evaluated with the Erlang B recursion (B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)),
C = c B / (c - a (1 - B))), which is numerically stable for large ``c``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c (Erlang B) with offered load ``a`` Erlangs."""
    if c < 0 or a < 0:
        raise ValueError("c and a must be non-negative")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c (Erlang C); requires a < c."""
    if c < 1:
        raise ValueError("c must be >= 1")
    if not 0 <= a < c:
        raise ValueError("stability requires 0 <= a < c")
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


@dataclass(frozen=True)
class MMc:
    """Steady-state figures of an M/M/c queue (FCFS)."""

    c: int
    lam: float
    mu: float

    @property
    def a(self) -> float:
        return self.lam / self.mu

    @property
    def rho(self) -> float:
        return self.a / self.c

    @property
    def p_wait(self) -> float:
        return erlang_c(self.c, self.a)

    @property
    def wq(self) -> float:
        """Mean waiting time in the queue."""
        return self.p_wait / (self.c * self.mu - self.lam)

    @property
    def w(self) -> float:
        """Mean response (sojourn) time."""
        return self.wq + 1.0 / self.mu

    @property
    def lq(self) -> float:
        return self.lam * self.wq

    @property
    def l(self) -> float:  # noqa: E743 - the textbook name
        return self.lam * self.w

    def wait_quantile(self, p: float) -> float:
        """p-quantile of the waiting time: P(Wq > t) = C exp(-(c mu - lam) t)."""
        if not 0.0 < p < 1.0:
            raise ValueError("p must be in (0, 1)")
        cw = self.p_wait
        if p <= 1.0 - cw:
            return 0.0
        return math.log(cw / (1.0 - p)) / (self.c * self.mu - self.lam)
