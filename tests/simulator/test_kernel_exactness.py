"""The fast engine's speed-ups (issue 18) give the same numbers, to the bit, as the code they replaced."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from jitplan.simulator import kernel as K
from jitplan.simulator.arrivals import _gaps_to_times
from jitplan.simulator.histogram import BINS_PER_DECADE, HI_S, LO_S, NBINS
from jitplan.simulator.layout import NFIELDS, P_A, P_COLS, P_DIST, P_LATMULT, P_Q0
from jitplan.simulator.records import bin_of

_LOG_LO = math.log10(LO_S)


def _reference_bin(lat: float) -> int:
    """The bin formula as it was (log10), evaluated by Python's libm."""
    if lat < LO_S:
        return 0
    return min(int((math.log10(lat) - _LOG_LO) * BINS_PER_DECADE) + 1, NBINS - 1)


@njit
def _bins(x: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    out = np.empty(x.shape[0], dtype=np.int64)
    for i in range(x.shape[0]):
        out[i] = bin_of(x[i])
    return out


def test_bin_of_is_the_log10_formula_everywhere() -> None:
    rng = np.random.default_rng(7)
    random = 10.0 ** rng.uniform(-7, 7, 200_000)
    # every bin edge and its neighbouring doubles, where a fast estimate could round the other way
    edges = LO_S * 10.0 ** (np.arange(NBINS) / BINS_PER_DECADE)
    near = np.concatenate([edges, *(np.nextafter(edges, d) for d in (0.0, np.inf)),
                           np.nextafter(np.nextafter(edges, np.inf), np.inf)])
    special = np.array([0.0, LO_S, np.nextafter(LO_S, 0.0), HI_S, np.nextafter(HI_S, 0.0), 2 * HI_S, 1.0])
    values = np.concatenate([random, near, special])
    assert _bins(values).tolist() == [_reference_bin(float(v)) for v in values]


def test_gaps_to_times_is_numpy_cumsum_scale_shift() -> None:
    gaps = np.random.default_rng(3).standard_exponential(100_000)
    ref = np.cumsum(gaps)
    ref *= 1.0 / 9.0
    ref += 1234.5
    out = gaps.copy()
    _gaps_to_times(out, 1.0 / 9.0, 1234.5)
    assert out.tobytes() == ref.tobytes()


def _chunk(nt: int, arrivals: np.ndarray) -> tuple[int, list[np.ndarray]]:  # type: ignore[type-arg]
    """Run the kernel on one one-version M/M/4 chunk over ``nt`` one-second ticks."""
    params = np.zeros((1, P_COLS))
    params[0, P_DIST], params[0, P_A], params[0, P_LATMULT], params[0, P_Q0] = 0, 0.4, 1.0, 0.9
    ue = np.random.default_rng(5).standard_exponential(arrivals.shape[0])
    free, rt, rinfo = np.zeros(4), np.zeros(64), np.zeros((64, 4))
    state, vcap = np.array([0.0, -1.0, 0.0, -1.0, -1.0]), np.array([[-1.0, 0.0, 0.0]])
    tick_tot, tick_ver = np.zeros((nt, NFIELDS)), np.zeros((nt, 1, NFIELDS))
    hist_tick, hist_ver = np.zeros((nt, NBINS), dtype=np.int64), np.zeros((1, NBINS), dtype=np.int64)
    cfg = np.array([math.inf, 0.0, 0.0, math.inf, 0.0, 0.0, 0.0])
    route = np.array([0.0, -1.0, 0.0, -1.0, 0.0])
    n = K.run_batch(arrivals, np.empty(0), np.empty(0), float(nt), free, rt, rinfo, 0, params,
                    np.zeros((1, 1)), np.zeros(1, dtype=np.int64), ue, np.empty(0), route, cfg, state,
                    vcap, 0.0, 1.0, tick_tot, tick_ver, hist_tick, hist_ver, 11)
    return n, [free, state, tick_tot, tick_ver, hist_tick, hist_ver]


def test_one_version_chunks_record_the_same_totals() -> None:
    arrivals = np.sort(np.random.default_rng(9).uniform(0.0, 2.0, 20_000))
    # 2 ticks: dense enough for the one-version recording; 4,000 ticks: every request in both rows
    assert 20_000 * K.SINGLE_MIN_FILL >= 2 * NBINS and 20_000 * K.SINGLE_MIN_FILL < 4000 * NBINS
    n1, dense = _chunk(2, arrivals)
    n2, sparse = _chunk(4000, arrivals)
    assert n1 == n2
    for a, b in zip(dense, sparse, strict=True):
        if a.ndim and a.shape[0] == 2 and b.shape[0] == 4000:
            assert not b[2:].any()
            b = b[:2]
        assert a.tobytes() == b.tobytes()
    assert dense[2][:, 0].sum() == 20_000  # every request counted
