"""Arrival streams shared by both engines: Poisson with a time-varying rate, or a trace.

``ArrivalStream.between(t0, t1)`` returns the sorted arrival times in ``[t0, t1)`` and, for a
trace, the input/output tokens of each request. The rate is piecewise-constant between the
breakpoints (``breakpoints()``: profile segments and spike edges) and, with a diurnal curve,
constant within each tick (evaluated at the tick's midpoint). Non-homogeneous arrivals are
drawn by a time change of a unit-rate Poisson process, so each chunk is vectorised.
"""

from __future__ import annotations

__all__ = ["ArrivalStream", "Trace", "load_trace"]

import csv
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from jitplan.contracts.errors import UserError
from jitplan.contracts.scenario import Traffic
from jitplan.simulator.jit import njit

_EMPTY = np.empty(0, dtype=np.float64)


@njit(cache=True, error_model="numpy")
def _gaps_to_times(gaps: NDArray[np.float64], scale: float, t0: float) -> None:
    """In place: ``gaps`` -> ``t0 + cumsum(gaps) * scale``, in one pass.

    The arithmetic of ``np.cumsum(gaps, out=gaps); gaps *= scale; gaps += t0`` (a running sum,
    then one multiply and one add per element, in that order), so the same times to the bit.
    """
    acc = 0.0
    for i in range(gaps.shape[0]):
        acc += gaps[i]
        gaps[i] = acc * scale + t0


@dataclass(frozen=True)
class Trace:
    """A recorded trace: arrival offsets (s, from the first request) and token counts."""

    t: NDArray[np.float64]
    tokens_in: NDArray[np.float64]
    tokens_out: NDArray[np.float64]
    period_s: float


def _parse_ts(text: str) -> float:
    text = text.strip()
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(text).timestamp()


@lru_cache(maxsize=8)
def load_trace(path: str) -> Trace:
    """Read a trace CSV with columns ``TIMESTAMP,ContextTokens,GeneratedTokens``."""
    p = Path(path)
    if not p.is_file():
        raise UserError("trace file not found", source=path, field="traffic.path")
    ts: list[float] = []
    tin: list[float] = []
    tout: list[float] = []
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            need = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"}
            if not reader.fieldnames or not need <= set(reader.fieldnames):
                raise UserError(
                    f"expected CSV columns {sorted(need)}, got {reader.fieldnames}",
                    source=path,
                    field="traffic.path",
                )
            for line, row in enumerate(reader, start=2):
                try:
                    ts.append(_parse_ts(row["TIMESTAMP"]))
                    tin.append(float(row["ContextTokens"]))
                    tout.append(float(row["GeneratedTokens"]))
                except (ValueError, TypeError) as exc:
                    raise UserError(
                        f"line {line}: {exc}", source=path, field="traffic.path"
                    ) from None
    except UnicodeDecodeError:
        raise UserError("not valid UTF-8", source=path, field="traffic.path") from None
    if len(ts) < 2:
        raise UserError("trace needs at least 2 rows", source=path, field="traffic.path")
    t = np.asarray(ts, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    t = t[order] - t[order][0]
    gap = float(t[-1] / (len(t) - 1)) if t[-1] > 0 else 1.0
    return Trace(
        t=t,
        tokens_in=np.asarray(tin, dtype=np.float64)[order],
        tokens_out=np.asarray(tout, dtype=np.float64)[order],
        period_s=float(t[-1]) + gap,
    )


class ArrivalStream:
    """Arrivals for one replication; call ``between`` with consecutive, increasing windows."""

    def __init__(
        self,
        traffic: Traffic,
        rng: np.random.Generator,
        tick_s: float,
        gaps_to_times: Callable[[NDArray[np.float64], float, float], None] | None = None,
    ) -> None:
        """``gaps_to_times``: the compiled ``_gaps_to_times`` to call (``compiled.kernels()``'s;
        by default numba's JIT)."""
        self.traffic = traffic
        self.rng = rng
        self._gaps_to_times = gaps_to_times or _gaps_to_times
        self.tick_s = tick_s
        self.trace = (
            load_trace(traffic.path) if traffic.arrival == "trace" and traffic.path else None
        )
        self._breaks = self._breakpoints()
        self._carry: tuple[float, float, NDArray[np.float64]] | None = None

    @property
    def has_tokens(self) -> bool:
        return self.trace is not None

    def breakpoints(self) -> list[float]:
        """Times where the piecewise rate changes (``between`` splits its window there)."""
        return self._breaks

    def _breakpoints(self) -> list[float]:
        pts = [seg.start_s for seg in self.traffic.profile]
        for sp in self.traffic.spikes:
            pts += [sp.start_s, sp.start_s + sp.duration_s]
        return sorted(set(pts))

    def base_rate(self, t: float) -> float:
        """Rate at time ``t`` before the diurnal curve (profile × spikes)."""
        rate = self.traffic.rate_rps
        for seg in self.traffic.profile:
            if seg.start_s <= t:
                rate = seg.rate_rps
        for sp in self.traffic.spikes:
            if sp.start_s <= t < sp.start_s + sp.duration_s:
                rate *= sp.multiplier
        return rate

    def rate(self, t: float) -> float:
        """Instantaneous arrival rate (requests/s) at ``t``."""
        rate = self.base_rate(t)
        d = self.traffic.diurnal
        if d is not None:
            rate *= 1 + d.amplitude * math.cos(2 * math.pi * (t - d.peak_s) / d.period_s)
        return rate

    def mean_rate(self) -> float:
        """A representative rate (for sizing chunks)."""
        if self.trace is not None:
            return len(self.trace.t) / self.trace.period_s * self.traffic.speedup
        return max(self.traffic.rate_rps, *(s.rate_rps for s in self.traffic.profile), 1e-9)

    def between(
        self, t0: float, t1: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Sorted arrivals in ``[t0, t1)`` and their (input, output) tokens (empty if none)."""
        if t1 <= t0:
            return _EMPTY, _EMPTY, _EMPTY
        if self.trace is not None:
            return self._trace_between(t0, t1)
        edges = [t0, *(b for b in self.breakpoints() if t0 < b < t1), t1]
        parts = []
        for a, b in itertools.pairwise(edges):
            if self.traffic.diurnal is None:
                parts.append(self._homogeneous(a, b, self.base_rate(a)))
            else:
                parts.append(self._time_changed(a, b))
        times = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return times, _EMPTY, _EMPTY

    def _homogeneous(
        self, t0: float, t1: float, rate: float, carry: bool = True
    ) -> NDArray[np.float64]:
        """Poisson arrivals at ``rate`` in ``[t0, t1)``. Arrivals drawn past ``t1`` are kept
        and used by a next call starting at ``t1`` with the same rate, so the stream does not
        depend on how callers cut time into chunks (a rate change restarts it: memoryless)."""
        pending = self._carry if carry else None
        if carry:
            self._carry = None
        if rate <= 0:
            return _EMPTY
        done: list[NDArray[np.float64]] = []
        head = _EMPTY  # arrivals carried from the previous call, drawn in front of the new ones
        t = t0
        if pending is not None and pending[0] == t0 and pending[1] == rate:
            left = pending[2]
            k = int(np.searchsorted(left, t1))
            if k < left.shape[0]:
                self._carry = (t1, rate, left[k:])
                return left[:k]
            head = left
            t = float(left[-1])
        mean = rate * (t1 - t)
        while True:
            n = int(mean + 6 * math.sqrt(mean) + 16)
            buf = np.empty(head.shape[0] + n)  # one array for the carried and the new: no concat
            buf[: head.shape[0]] = head
            times = buf[head.shape[0]:]
            self.rng.standard_exponential(out=times)
            self._gaps_to_times(times, 1.0 / rate, float(t))  # in place, one pass
            if times[-1] >= t1:
                k = int(np.searchsorted(times, t1))
                done.append(buf[: head.shape[0] + k])
                if carry:
                    self._carry = (t1, rate, times[k:])
                break
            done.append(buf)
            head = _EMPTY
            t = float(times[-1])
            mean = rate * (t1 - t)
        return done[0] if len(done) == 1 else np.concatenate(done)

    def _time_changed(self, t0: float, t1: float) -> NDArray[np.float64]:
        k0 = math.floor(t0 / self.tick_s)
        k1 = math.ceil(t1 / self.tick_s)
        grid = np.arange(k0, k1 + 1, dtype=np.float64) * self.tick_s
        grid[0], grid[-1] = t0, t1
        mids = (grid[:-1] + grid[1:]) / 2
        d = self.traffic.diurnal
        assert d is not None
        base = self.base_rate(t0)
        rates = base * (1 + d.amplitude * np.cos(2 * np.pi * (mids - d.peak_s) / d.period_s))
        cum = np.concatenate(([0.0], np.cumsum(np.maximum(rates, 0.0) * np.diff(grid))))
        total = float(cum[-1])
        if total <= 0:
            return _EMPTY
        units = self._homogeneous(0.0, total, 1.0, carry=False)
        return np.asarray(np.interp(units, cum, grid), dtype=np.float64)

    def _trace_between(
        self, t0: float, t1: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        tr = self.trace
        assert tr is not None
        sp = self.traffic.speedup
        period = tr.period_s / sp
        ts: list[NDArray[np.float64]] = []
        tins: list[NDArray[np.float64]] = []
        touts: list[NDArray[np.float64]] = []
        lap = math.floor(t0 / period)
        while lap * period < t1:
            if lap > 0 and not self.traffic.loop:
                break
            off = lap * period
            lo = int(np.searchsorted(tr.t / sp, t0 - off, side="left"))
            hi = int(np.searchsorted(tr.t / sp, t1 - off, side="left"))
            if hi > lo:
                ts.append(tr.t[lo:hi] / sp + off)
                tins.append(tr.tokens_in[lo:hi])
                touts.append(tr.tokens_out[lo:hi])
            lap += 1
        if not ts:
            return _EMPTY, _EMPTY, _EMPTY
        return np.concatenate(ts), np.concatenate(tins), np.concatenate(touts)
