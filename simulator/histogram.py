"""Streaming latency percentiles: a fixed log-spaced histogram merged across ticks.

Bins are log-spaced from ``LO_S`` to ``HI_S`` with ``BINS_PER_DECADE`` bins per decade, plus
an underflow (bin 0) and an overflow (last bin). A percentile is interpolated log-linearly
inside the bin holding the requested rank (by the rank's position among that bin's counts), so
it always lies inside that bin: for values inside ``[LO_S, HI_S)`` the relative error is at
most ``REL_ERROR`` = 10^(1/BINS_PER_DECADE) − 1 ≈ 1.8 %, and usually far less for smooth
distributions. Interpolation also keeps replications' percentiles distinct, so their confidence
intervals mean something. Underflow reports 0, overflow reports ``HI_S``. Memory is constant
whatever the request count.

numba freezes these constants into the cached kernels (``records.bin_of`` is inlined into the
fast kernel): after changing them, delete ``simulator/__pycache__/*.nbi`` and ``*.nbc``.
"""

from __future__ import annotations

__all__ = ["BINS_PER_DECADE", "HI_S", "LO_S", "NBINS", "REL_ERROR", "percentile", "percentiles"]

import math

import numpy as np
from numpy.typing import NDArray

LO_S = 1e-5
HI_S = 1e5
BINS_PER_DECADE = 128
_DECADES = 10
NBINS = BINS_PER_DECADE * _DECADES + 2
REL_ERROR = 10 ** (1 / BINS_PER_DECADE) - 1
"""Largest relative error of a reported percentile (for latencies within [LO_S, HI_S))."""

_EDGES = LO_S * 10 ** (np.arange(BINS_PER_DECADE * _DECADES + 1) / BINS_PER_DECADE)
_LOWS = np.concatenate(([0.0], _EDGES[:-1], [HI_S]))
_RATIO = 10 ** (1 / BINS_PER_DECADE)


def _interpolate(idx: NDArray[np.int64], before: NDArray[np.int64], count: NDArray[np.int64],
                 rank: NDArray[np.int64]) -> NDArray[np.float64]:
    """Log-linear position of ``rank`` inside bin ``idx`` (underflow 0, overflow ``HI_S``)."""
    frac = (rank - before - 0.5) / np.maximum(count, 1)
    frac = np.clip(frac, 0.0, 1.0)
    out = _LOWS[idx] * _RATIO**frac
    out = np.where(idx == 0, 0.0, out)
    out = np.where(idx >= NBINS - 1, HI_S, out)
    return np.asarray(out, dtype=np.float64)


def percentile(hist: NDArray[np.int64], q: float) -> float:
    """The ``q``-th percentile (0-100) of the histogram; NaN when it is empty."""
    total = int(hist.sum())
    if total == 0:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * total))
    cum = np.cumsum(hist)
    idx = min(int(np.searchsorted(cum, rank)), NBINS - 1)
    before = int(cum[idx - 1]) if idx > 0 else 0
    return float(_interpolate(np.array([idx]), np.array([before]), np.array([int(hist[idx])]),
                              np.array([rank]))[0])


def percentiles(hist: NDArray[np.int64], qs: tuple[float, ...]) -> list[float]:
    """Several percentiles of one histogram."""
    return [percentile(hist, q) for q in qs]


def percentile_rows(hists: NDArray[np.int64], q: float) -> NDArray[np.float64]:
    """The ``q``-th percentile of each row of a 2-D histogram array (NaN for empty rows)."""
    totals = hists.sum(axis=1)
    cums = np.cumsum(hists, axis=1)
    ranks = np.maximum(1, np.ceil(q / 100.0 * totals)).astype(np.int64)
    idx = np.minimum((cums < ranks[:, None]).sum(axis=1), NBINS - 1)
    rows = np.arange(hists.shape[0])
    before = np.where(idx > 0, cums[rows, np.maximum(idx - 1, 0)], 0)
    out = _interpolate(idx, before, hists[rows, idx], ranks)
    out[totals == 0] = np.nan
    return np.asarray(out, dtype=np.float64)
