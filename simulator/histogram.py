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
    """The ``q``-th percentile of each row of a 2-D histogram array (NaN for empty rows).

    Only the occupied columns (the first to the last non-zero bin of any row) are summed:
    per-tick rows fill a few hundred of the bins, and the bins outside that range hold
    nothing, so the bin, the count before it and its count are those of the whole row.
    """
    nrows = hists.shape[0]
    out = np.full(nrows, np.nan)
    occupied = np.flatnonzero(hists.any(axis=0))
    if nrows == 0 or occupied.size == 0:
        return out
    lo, hi = int(occupied[0]), int(occupied[-1]) + 1
    sub = hists[:, lo:hi]
    totals = sub.sum(axis=1)
    filled = np.flatnonzero(totals > 0)
    sub, totals = sub[filled], totals[filled]
    ranks = np.maximum(1, np.ceil(q / 100.0 * totals)).astype(np.int64)
    # One sorted run over all rows: row i's running counts shifted by every earlier row's
    # total, so the first bin reaching rank r in row i is the first entry >= offset_i + r.
    offsets = np.cumsum(totals) - totals
    cums = np.cumsum(sub, axis=1)
    width = hi - lo
    flat = (cums + offsets[:, None]).ravel()
    rows = np.arange(filled.size)
    idx = np.searchsorted(flat, offsets + ranks) - rows * width  # < width: rank <= total
    before = np.where(idx > 0, cums[rows, np.maximum(idx - 1, 0)], 0)
    out[filled] = _interpolate(idx + lo, before, sub[rows, idx], ranks)
    return out
