"""Closed-form queueing results used as the correctness anchor (M/M/c, Erlang C)."""

from __future__ import annotations

__all__ = ["erlang_c", "mm1_sojourn_quantile", "mmc_utilization", "mmc_wait_mean"]

import math


def erlang_c(lam: float, mu: float, c: int) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C); needs λ < cμ."""
    a = lam / mu
    rho = a / c
    if not 0 < rho < 1:
        raise ValueError(f"unstable or empty queue: rho={rho:.4f}")
    # Erlang B by the stable recursion, then C from B.
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b / (1 - rho + rho * b)


def mmc_wait_mean(lam: float, mu: float, c: int) -> float:
    """Mean time waiting for a server (Wq) in M/M/c."""
    return erlang_c(lam, mu, c) / (c * mu - lam)


def mmc_utilization(lam: float, mu: float, c: int) -> float:
    """Server utilization ρ = λ / (cμ)."""
    return lam / (c * mu)


def mm1_sojourn_quantile(lam: float, mu: float, q: float) -> float:
    """The q-quantile (0-1) of time in system for M/M/1 FCFS: exponential with rate μ−λ."""
    return -math.log(1 - q) / (mu - lam)
