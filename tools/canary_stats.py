"""The statistical tests behind the canary gate (``scipy.stats``, imported at gate time).

- ``mann_whitney_u``: one-sided Mann-Whitney U test that the first sample tends to be greater.
  Small cohorts get an exact p-value: ``scipy.stats.mannwhitneyu(method="exact")`` without ties,
  and the exact permutation distribution of the rank sum with ties (scipy's exact method ignores
  ties). Larger cohorts use the normal approximation with tie and continuity correction.
- ``two_proportion_test``: one-sided test that the first proportion is greater (Fisher's exact
  test on the 2x2 table of events and non-events), for rates whose samples carry their request
  counts.
- ``min_p_value``: the smallest p-value a rank test can reach at the cohort sizes; when it is not
  below alpha, no result could be significant and a "no significant change" says nothing.
"""

from __future__ import annotations

__all__ = ["EXACT_MAX_ARRANGEMENTS", "TestResult", "mann_whitney_u", "min_p_value", "two_proportion_test"]

import math
from dataclasses import dataclass
from typing import Any

EXACT_MAX_ARRANGEMENTS = 20_000
"""Exact p-values when the cohorts can be split in at most this many ways (C(n1+n2, n1))."""


@dataclass(frozen=True)
class TestResult:
    """A one-sided test: its statistic, p-value and the method that produced them."""

    __test__ = False  # not a pytest class

    statistic: float
    p_value: float
    method: str


def _stats() -> Any:
    import scipy.stats  # lazily: only a gate that compares cohorts pays for scipy

    return scipy.stats


def min_p_value(n1: int, n2: int) -> float:
    """The smallest one-sided p-value of a rank test with cohorts of ``n1`` and ``n2``."""
    return 1.0 / math.comb(n1 + n2, n1)


def mann_whitney_u(x: list[float], y: list[float]) -> TestResult:
    """One-sided U test that ``x`` tends to be greater than ``y`` (``statistic`` is U of ``x``)."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples must be non-empty")
    stats = _stats()
    pooled = [*x, *y]
    if len(set(pooled)) == 1:
        return TestResult(n1 * n2 / 2.0, 1.0, "all values equal")
    small = math.comb(n1 + n2, n1) <= EXACT_MAX_ARRANGEMENTS
    if small and len(set(pooled)) == len(pooled):
        r = stats.mannwhitneyu(x, y, alternative="greater", method="exact")
        return TestResult(float(r.statistic), float(r.pvalue), "mann-whitney exact")
    if small:
        import numpy as np

        ranks = stats.rankdata(pooled)

        def rank_sum(a: Any, b: Any, axis: int = -1) -> Any:
            return np.sum(a, axis=axis)

        perm = stats.permutation_test((ranks[:n1], ranks[n1:]), rank_sum, vectorized=True,
                                      n_resamples=EXACT_MAX_ARRANGEMENTS, alternative="greater")
        u = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2.0
        return TestResult(u, float(min(1.0, perm.pvalue)), "mann-whitney exact (permutation, ties)")
    r = stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic", use_continuity=True)
    return TestResult(float(r.statistic), float(r.pvalue), "mann-whitney asymptotic")


def two_proportion_test(events1: int, total1: int, events2: int, total2: int) -> TestResult:
    """One-sided test that ``events1/total1`` is greater than ``events2/total2`` (Fisher exact)."""
    if total1 <= 0 or total2 <= 0 or not 0 <= events1 <= total1 or not 0 <= events2 <= total2:
        raise ValueError("events must be between 0 and a positive total")
    table = [[events1, total1 - events1], [events2, total2 - events2]]
    odds, p = _stats().fisher_exact(table, alternative="greater")
    return TestResult(float(odds), float(p), "two-proportion (Fisher exact)")
