"""Compiled helpers shared by both engines: service draws, quality, and folding outcomes
into the per-tick / per-version statistics (``record_batch`` is how the exact engine reports)."""

from __future__ import annotations

__all__ = ["bin_of", "draw_service", "quality_at", "record_batch", "record_one"]

import math

import numpy as np
from numpy.typing import NDArray

from jitplan.simulator.histogram import BINS_PER_DECADE, LO_S, NBINS
from jitplan.simulator.jit import njit
from jitplan.simulator.layout import (
    F_BUSY,
    F_COST,
    F_ERR,
    F_LAT,
    F_N,
    F_QN,
    F_QUAL,
    F_RETRY,
    F_WAIT,
    P_A,
    P_B,
    P_DIST,
    P_LATMULT,
    P_Q0,
    P_QSLOPE,
    P_QT0,
)

_LOG_LO = math.log10(LO_S)
_LOG10_2 = math.log10(2.0)
_NEAR = 1e-9
"""How close (in bins) to a bin edge ``bin_of``'s fast estimate must be to recompute exactly."""


@njit(cache=True, inline="always", error_model="numpy")
def bin_of(lat: float) -> int:
    """Histogram bin of a latency: ``int((log10(lat) - log10(LO_S)) * BINS_PER_DECADE) + 1``.

    ``log2`` costs about half of ``log10`` in glibc, so the bin position is estimated from
    it; the two differ by far less than ``_NEAR`` bins (a few ulps), so away from a bin edge
    the estimate truncates to the same bin, and within ``_NEAR`` of one (about 2 latencies in
    10^9) the exact ``log10`` formula decides. The bin is always the exact formula's.
    """
    if lat < LO_S:
        return 0
    x = (math.log2(lat) * _LOG10_2 - _LOG_LO) * BINS_PER_DECADE
    f = x - math.floor(x)
    if f < _NEAR or f > 1.0 - _NEAR:
        x = (math.log10(lat) - _LOG_LO) * BINS_PER_DECADE
    b = int(x) + 1
    if b > NBINS - 1:
        return NBINS - 1
    return b


@njit(cache=True, inline="always", error_model="numpy")
def draw_service(
    p: NDArray[np.float64],
    v: int,
    emp: NDArray[np.float64],
    emp_len: NDArray[np.int64],
    ue: NDArray[np.float64],
    un: NDArray[np.float64],
    i: int,
) -> float:
    """Service time of version ``v``; arrival ``i`` uses the pre-drawn unit variates
    (``ue`` standard exponential, ``un`` standard normal) when given, a retry (``i`` < 0)
    draws from numba's generator."""
    kind = int(p[v, P_DIST])
    if kind == 0:
        e = ue[i] if i >= 0 and ue.shape[0] > 0 else np.random.standard_exponential()
        x = p[v, P_A] * e
    elif kind == 1:
        z = un[i] if i >= 0 and un.shape[0] > 0 else np.random.standard_normal()
        x = math.exp(p[v, P_A] + p[v, P_B] * z)
    elif kind == 2:
        x = p[v, P_A]
    else:
        x = emp[v, np.random.randint(0, emp_len[v])]
    return float(x * p[v, P_LATMULT])


@njit(cache=True, inline="always", error_model="numpy")
def quality_at(p: NDArray[np.float64], v: int, t: float) -> float:
    """Quality of version ``v`` at time ``t`` (linear decay from its origin, floored at 0)."""
    dt = t - p[v, P_QT0]
    q = float(p[v, P_Q0] - p[v, P_QSLOPE] * (dt if dt > 0 else 0.0))
    return q if q > 0 else 0.0


@njit(cache=True, inline="always", error_model="numpy")
def record_one(
    tick_tot: NDArray[np.float64],
    tick_ver: NDArray[np.float64],
    hist_tick: NDArray[np.int64],
    hist_ver: NDArray[np.int64],
    k: int,
    v: int,
    lat: float,
    wait: float,
    busy: float,
    err: bool,
    cost: float,
    q: float,
    retry: bool,
    shadow: bool,
) -> None:
    b = bin_of(lat)
    hist_ver[v, b] += 1
    tick_ver[k, v, F_N] += 1.0
    tick_ver[k, v, F_LAT] += lat
    tick_ver[k, v, F_WAIT] += wait
    tick_ver[k, v, F_BUSY] += busy
    tick_ver[k, v, F_COST] += cost
    if err:
        tick_ver[k, v, F_ERR] += 1.0
    else:
        tick_ver[k, v, F_QUAL] += q
        tick_ver[k, v, F_QN] += 1.0
    if retry:
        tick_ver[k, v, F_RETRY] += 1.0
    tick_tot[k, F_COST] += cost
    tick_tot[k, F_BUSY] += busy
    if shadow:
        return
    hist_tick[k if k < hist_tick.shape[0] else 0, b] += 1  # one row: no per-tick histograms
    tick_tot[k, F_N] += 1.0
    tick_tot[k, F_LAT] += lat
    tick_tot[k, F_WAIT] += wait
    if err:
        tick_tot[k, F_ERR] += 1.0
    else:
        tick_tot[k, F_QUAL] += q
        tick_tot[k, F_QN] += 1.0
    if retry:
        tick_tot[k, F_RETRY] += 1.0


@njit(cache=True, error_model="numpy")
def record_batch(
    rec: NDArray[np.float64],
    tick0: float,
    tick_s: float,
    tick_tot: NDArray[np.float64],
    tick_ver: NDArray[np.float64],
    hist_tick: NDArray[np.int64],
    hist_ver: NDArray[np.int64],
) -> None:
    """Accumulate outcome rows ``[t, v, lat, wait, busy, err, cost, q, retry, shadow]``."""
    nt = tick_tot.shape[0]
    for j in range(rec.shape[0]):
        r = rec[j]
        k = min(max(int((r[0] - tick0) / tick_s), 0), nt - 1)
        record_one(
            tick_tot,
            tick_ver,
            hist_tick,
            hist_ver,
            k,
            int(r[1]),
            r[2],
            r[3],
            r[4],
            r[5] > 0,
            r[6],
            r[7],
            r[8] > 0,
            r[9] > 0,
        )
