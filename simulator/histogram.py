"""Streaming latency percentiles: a fixed log-spaced histogram merged across ticks.

Bins are log-spaced from ``LO_S`` to ``HI_S`` with ``BINS_PER_DECADE`` bins per decade, plus
an underflow (bin 0) and an overflow (last bin). A percentile is reported as the geometric
midpoint of the bin holding the requested rank, so for values inside ``[LO_S, HI_S)`` the
relative error is at most ``REL_ERROR`` = 10^(1/(2·BINS_PER_DECADE)) − 1 ≈ 1.8 %.
Underflow reports 0, overflow reports ``HI_S``. Memory is constant whatever the request count.
"""

from __future__ import annotations

__all__ = ["BINS_PER_DECADE", "HI_S", "LO_S", "NBINS", "REL_ERROR", "percentile", "percentiles"]

import math

import numpy as np
from numpy.typing import NDArray

LO_S = 1e-5
HI_S = 1e5
BINS_PER_DECADE = 64
_DECADES = 10
NBINS = BINS_PER_DECADE * _DECADES + 2
REL_ERROR = 10 ** (1 / (2 * BINS_PER_DECADE)) - 1
"""Largest relative error of a reported percentile (for latencies within [LO_S, HI_S))."""

_EDGES = LO_S * 10 ** (np.arange(BINS_PER_DECADE * _DECADES + 1) / BINS_PER_DECADE)
_MIDS = np.concatenate(([0.0], np.sqrt(_EDGES[:-1] * _EDGES[1:]), [HI_S]))


def percentile(hist: NDArray[np.int64], q: float) -> float:
    """The ``q``-th percentile (0-100) of the histogram; NaN when it is empty."""
    total = int(hist.sum())
    if total == 0:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * total))
    idx = int(np.searchsorted(np.cumsum(hist), rank))
    return float(_MIDS[min(idx, NBINS - 1)])


def percentiles(hist: NDArray[np.int64], qs: tuple[float, ...]) -> list[float]:
    """Several percentiles of one histogram."""
    return [percentile(hist, q) for q in qs]


def percentile_rows(hists: NDArray[np.int64], q: float) -> NDArray[np.float64]:
    """The ``q``-th percentile of each row of a 2-D histogram array (NaN for empty rows)."""
    totals = hists.sum(axis=1)
    cums = np.cumsum(hists, axis=1)
    ranks = np.maximum(1, np.ceil(q / 100.0 * totals)).astype(np.int64)
    idx = (cums < ranks[:, None]).sum(axis=1)
    out = _MIDS[np.minimum(idx, NBINS - 1)].astype(np.float64)
    out[totals == 0] = np.nan
    return np.asarray(out, dtype=np.float64)
