"""The per-tick statistics' cheaper paths give the same numbers (issue 18)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jitplan import simulator
from jitplan.simulator import layout as L
from jitplan.simulator.histogram import NBINS, _interpolate, percentile_rows
from jitplan.simulator.replication import run_replication
from jitplan.simulator.result import SimResult
from jitplan.simulator.stats import Chunk, Recorder

SIM = Path(__file__).resolve().parents[2] / "scenarios" / "sim"


def _dense_percentile_rows(hists: np.ndarray, q: float) -> np.ndarray:
    """The reference: a cumulative sum over every bin of every row."""
    totals = hists.sum(axis=1)
    cums = np.cumsum(hists, axis=1)
    ranks = np.maximum(1, np.ceil(q / 100.0 * totals)).astype(np.int64)
    idx = np.minimum((cums < ranks[:, None]).sum(axis=1), NBINS - 1)
    rows = np.arange(hists.shape[0])
    before = np.where(idx > 0, cums[rows, np.maximum(idx - 1, 0)], 0)
    out = _interpolate(idx, before, hists[rows, idx], ranks)
    out[totals == 0] = np.nan
    return np.asarray(out, dtype=np.float64)


def test_percentile_rows_matches_the_dense_reference_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        nrows = int(rng.integers(1, 40))
        h = np.zeros((nrows, NBINS), dtype=np.int64)
        mask = rng.random(h.shape) < rng.choice([0.0, 0.002, 0.02, 0.5])
        h[mask] = rng.integers(1, 30, int(mask.sum()))
        if rng.random() < 0.3:  # underflow and overflow bins
            h[:, 0] += rng.integers(0, 2, nrows)
            h[:, -1] += rng.integers(0, 2, nrows)
        for q in (0.1, 50, 95, 99, 100):
            assert percentile_rows(h, q).tobytes() == _dense_percentile_rows(h, q).tobytes()
        assert percentile_rows(h[1:], 95).tobytes() == _dense_percentile_rows(h[1:], 95).tobytes()


def test_a_replication_without_its_series_measures_the_same() -> None:
    sc = simulator.load_scenario(SIM / "provider_outage_canary.yaml")
    plan = sc.plan
    seed = np.random.SeedSequence(sc.seed).spawn(1)[0]
    full = run_replication(sc, plan, "fast", seed, 0)
    lean = run_replication(sc, plan, "fast", np.random.SeedSequence(sc.seed).spawn(1)[0], 0, series=False)
    assert full.series.shape[0] > 100 and lean.series.shape == (0, full.series.shape[1])
    as_json = [SimResult(sc.name, "fast", sc.seed, (r,), plan.id if plan else None).to_json() for r in (full, lean)]
    assert as_json[0] == as_json[1]


def _chunk(k0: int, tot: np.ndarray, hist: np.ndarray) -> Chunk:
    ch = Chunk.empty(k0, tot.shape[0], 1)
    ch.tick_tot[:] = tot
    ch.hist_tick[:] = hist
    ch.tick_ver[:, 0, :] = tot
    ch.hist_ver[0] = hist.sum(axis=0)
    return ch


def test_a_tick_split_across_chunks_is_merged_into_one_series_row() -> None:
    rng = np.random.default_rng(3)
    nt = 12
    tot = rng.random((nt, L.NFIELDS)) * 10
    hist = np.zeros((nt, NBINS), dtype=np.int64)
    hist[:, 400:460] = rng.integers(0, 4, (nt, 60))
    tot[:, L.F_N] = hist.sum(axis=1)
    whole = Recorder(1, 5.0, 8)
    whole.absorb(_chunk(0, tot, hist), 10.0)
    # the same ticks in three chunks; ticks 4 and 9 are split between two chunks each
    part = Recorder(1, 5.0, 8)
    cut_tot, cut_hist = tot.copy(), hist.copy()
    cut_tot[4] /= 2
    cut_hist[4] //= 2
    rest_tot, rest_hist = tot[4] - cut_tot[4], hist[4] - cut_hist[4]
    part.absorb(_chunk(0, cut_tot[:5], cut_hist[:5]), 10.0)
    mid_tot, mid_hist = tot[4:10].copy(), hist[4:10].copy()
    mid_tot[0], mid_hist[0] = rest_tot, rest_hist
    mid_tot[-1], mid_hist[-1] = 0.0, 0
    part.absorb(_chunk(4, mid_tot, mid_hist), 10.0)
    part.absorb(_chunk(9, tot[9:], hist[9:]), 10.0)
    a, b = whole.series(), part.series()
    assert a.shape == b.shape == (nt, 11)
    np.testing.assert_allclose(b, a, rtol=1e-12)
    assert np.array_equal(b[:, 5], a[:, 5], equal_nan=True)  # tick p95 from merged histograms
