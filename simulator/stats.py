"""Streaming statistics: per-chunk arrays, the run recorder, gate windows and metric formulas.

Nothing here grows with the number of requests: a chunk holds per-tick and per-version sums
and latency histograms; the recorder folds chunks into run totals, a per-tick time series
and any open gate windows.
"""

from __future__ import annotations

__all__ = ["Chunk", "Recorder", "Window", "window_metrics"]

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from jitplan.simulator import layout as L
from jitplan.simulator.histogram import NBINS, percentile, percentile_rows

SERIES_COLUMNS: tuple[str, ...] = (
    "t_s",
    "requests",
    "errors",
    "error_rate",
    "latency_mean_s",
    "latency_p95_s",
    "wait_mean_s",
    "utilization",
    "cost_usd",
    "quality_mean",
    "canary_weight",
)


@dataclass
class Chunk:
    """Statistics of the requests recorded in ticks ``[k0, k0 + nt)``.

    ``hist_tick`` has a latency histogram per tick, or one row for the whole chunk when no
    per-tick series is kept (the kernels then add every tick's counts to row 0: the same
    integers wherever they are summed, and ``nt`` times less to zero and sum)."""

    k0: int
    tick_tot: NDArray[np.float64]
    tick_ver: NDArray[np.float64]
    hist_tick: NDArray[np.int64]
    hist_ver: NDArray[np.int64]

    @classmethod
    def empty(cls, k0: int, nt: int, nver: int, *, tick_hists: bool = True) -> Chunk:
        nt = max(nt, 1)
        return cls(
            k0,
            np.zeros((nt, L.NFIELDS)),
            np.zeros((nt, nver, L.NFIELDS)),
            np.zeros((nt if tick_hists else 1, NBINS), dtype=np.int64),
            np.zeros((nver, NBINS), dtype=np.int64),
        )


@dataclass
class Window:
    """Gate accumulator: everything recorded for version ``v`` since ``t0``."""

    v: int
    t0: float
    tot: NDArray[np.float64] = field(default_factory=lambda: np.zeros(L.NFIELDS))
    hist: NDArray[np.int64] = field(default_factory=lambda: np.zeros(NBINS, dtype=np.int64))


def window_metrics(
    tot: NDArray[np.float64], hist: NDArray[np.int64], span_s: float
) -> dict[str, float]:
    """Gate metrics (tolerance names of ``contracts.plan.METRICS``) for one window."""
    t = [float(x) for x in tot]
    n = t[L.F_N]
    nan = math.nan
    cost = t[L.F_COST]
    return {
        "requests": n,
        "error_rate": t[L.F_ERR] / n if n else nan,
        "latency_mean_ms": 1000 * t[L.F_LAT] / n if n else nan,
        "latency_p50_ms": 1000 * percentile(hist, 50),
        "latency_p95_ms": 1000 * percentile(hist, 95),
        "latency_p99_ms": 1000 * percentile(hist, 99),
        "wait_mean_ms": 1000 * t[L.F_WAIT] / n if n else nan,
        "quality": t[L.F_QUAL] / t[L.F_QN] if t[L.F_QN] else nan,
        "cost_per_request_usd": cost / n if n else nan,
        "cost_usd_per_day": cost / span_s * 86400 if span_s > 0 else nan,
    }


class Recorder:
    """Folds chunks into totals, per-version totals, a tick series and open windows."""

    def __init__(self, nver: int, tick_s: float, concurrency: int, *, series: bool = True) -> None:
        self.tick_s = tick_s
        self.keep_series = series  # False: no per-tick series (its tick p95s are the costly part)
        self.concurrency = concurrency
        self.tot = np.zeros(L.NFIELDS)
        self.hist = np.zeros(NBINS, dtype=np.int64)
        self.ver_tot = np.zeros((nver, L.NFIELDS))
        self.ver_hist = np.zeros((nver, NBINS), dtype=np.int64)
        self.windows: list[Window] = []
        self._rows: list[NDArray[np.float64]] = []
        self._open: tuple[int, NDArray[np.float64], NDArray[np.int64], float] | None = None

    def open_window(self, v: int, t0: float) -> Window:
        w = Window(v, t0)
        self.windows.append(w)
        return w

    def close_window(self, w: Window) -> None:
        if w in self.windows:
            self.windows.remove(w)

    def absorb(self, ch: Chunk, canary_weight: float) -> None:
        """Add one chunk (ticks must not go backwards)."""
        self.tot += ch.tick_tot.sum(axis=0)
        self.hist += ch.hist_tick.sum(axis=0)
        ver = ch.tick_ver.sum(axis=0)
        self.ver_tot += ver
        self.ver_hist += ch.hist_ver
        for w in self.windows:
            w.tot += ver[w.v]
            w.hist += ch.hist_ver[w.v]
        if not self.keep_series:
            return
        tot, hist = ch.tick_tot, ch.hist_tick
        nt = tot.shape[0]
        first_tot, first_hist = tot[0], hist[0]
        if self._open is not None:
            k, otot, ohist, _ = self._open
            if k == ch.k0:  # the open tick continues: merge it into this chunk's first row
                first_tot, first_hist = tot[0] + otot, hist[0] + ohist
            else:
                self._emit(k, otot[None, :], ohist[None, :], self._open[3])
        if nt == 1:
            self._open = (ch.k0, first_tot.copy(), first_hist.copy(), canary_weight)
            return
        self._emit(ch.k0, first_tot[None, :], first_hist[None, :], canary_weight)
        if nt > 2:  # the middle rows as views: no copy of the chunk
            self._emit(ch.k0 + 1, tot[1:-1], hist[1:-1], canary_weight)
        self._open = (ch.k0 + nt - 1, tot[-1].copy(), hist[-1].copy(), canary_weight)

    def _emit(self, k0: int, tot: NDArray[np.float64], hist: NDArray[np.int64], cw: float) -> None:
        nt = tot.shape[0]
        n = tot[:, L.F_N]
        safe = np.where(n > 0, n, np.nan)
        qn = np.where(tot[:, L.F_QN] > 0, tot[:, L.F_QN], np.nan)
        rows = np.column_stack(
            [
                (k0 + np.arange(nt)) * self.tick_s,
                n,
                tot[:, L.F_ERR],
                tot[:, L.F_ERR] / safe,
                tot[:, L.F_LAT] / safe,
                percentile_rows(hist, 95),
                tot[:, L.F_WAIT] / safe,
                tot[:, L.F_BUSY] / (self.concurrency * self.tick_s),
                tot[:, L.F_COST],
                tot[:, L.F_QUAL] / qn,
                np.full(nt, cw),
            ]
        )
        self._rows.append(rows)

    def series(self) -> NDArray[np.float64]:
        """The per-tick time series (columns ``SERIES_COLUMNS``); closes the open tick.

        Empty (no rows) for a recorder made with ``series=False``."""
        if self._open is not None:
            k, otot, ohist, cw = self._open
            self._emit(k, otot[None, :], ohist[None, :], cw)
            self._open = None
        if not self._rows:
            return np.zeros((0, len(SERIES_COLUMNS)))
        return np.concatenate(self._rows)
