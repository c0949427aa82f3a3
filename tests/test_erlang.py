"""Erlang B/C and M/M/c closed forms (theory.md section 5)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redissim.theory.erlang import MMc, erlang_b, erlang_c


def erlang_c_direct(c: int, a: float) -> float:
    """The textbook sum, for cross-checking the recursion at small c."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_known_values() -> None:
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    # M/M/1: P(wait) = rho, Wq = rho / (mu - lam)
    q = MMc(1, lam=0.7, mu=1.0)
    assert q.p_wait == pytest.approx(0.7)
    assert q.wq == pytest.approx(0.7 / 0.3)
    assert q.w == pytest.approx(1 / 0.3)
    # theory.md table: M/M/1 rho 0.7 -> Wq 2.333, W 3.333
    assert q.lq == pytest.approx(0.7 * 0.7 / 0.3)


@given(st.integers(1, 30), st.floats(0.01, 0.99))
def test_recursion_matches_direct_sum(c: int, rho: float) -> None:
    a = rho * c
    assert erlang_c(c, a) == pytest.approx(erlang_c_direct(c, a), rel=1e-9)


@given(st.integers(1, 60), st.floats(0.01, 0.98))
def test_bounds_and_monotone(c: int, rho: float) -> None:
    a = rho * c
    pc = erlang_c(c, a)
    assert 0.0 <= erlang_b(c, a) <= pc <= 1.0
    assert erlang_c(c, a * 1.01) >= pc          # more load, more waiting
    if c > 1:
        # pooling: the same per-server load on more servers waits less
        assert erlang_c(c, a) <= erlang_c(c - 1, rho * (c - 1)) + 1e-12


@given(st.integers(1, 20), st.floats(0.05, 0.95), st.floats(0.5, 0.999))
def test_wait_quantile_inverts_tail(c: int, rho: float, p: float) -> None:
    q = MMc(c, lam=rho * c * 2.0, mu=2.0)
    t = q.wait_quantile(p)
    tail = q.p_wait * math.exp(-(c * q.mu - q.lam) * t)  # P(Wq > t)
    if t > 0:
        assert tail == pytest.approx(1 - p, rel=1e-9)
    else:
        assert q.p_wait <= 1 - p + 1e-12


def test_unstable_rejected() -> None:
    with pytest.raises(ValueError):
        erlang_c(2, 2.0)
    with pytest.raises(ValueError):
        erlang_c(0, 0.5)
