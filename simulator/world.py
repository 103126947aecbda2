"""The mutable control state of one replication: routing, active faults, drift and data quality.

The control plane (``simulator.control``) changes it at event times; the data plane reads it
as a parameter table (``params``) that stays constant until the next control event.
"""

from __future__ import annotations

__all__ = ["Event", "World"]

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jitplan.contracts.scenario import Fault, Scenario
from jitplan.simulator import layout as L


@dataclass(frozen=True)
class Event:
    """One control event on the timeline."""

    t: float
    kind: str
    detail: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t_s": round(self.t, 6), "kind": self.kind}
        out.update(dict(self.detail))
        return out


@dataclass
class World:
    """Routing + fault + drift state; ``params`` renders it for the data plane."""

    scenario: Scenario
    keys: list[str] = field(init=False)
    baseline: int = 0
    canary: int = -1
    canary_weight: float = 0.0
    shadow: int = -1
    shadow_weight: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    dq_drop: float = 0.0
    dq_err: float = 0.0
    refreshed_at: dict[int, float] = field(default_factory=dict)
    timeline: list[Event] = field(default_factory=list)
    rev: int = 0
    """Bumped on every change that alters ``params`` (faults, data quality, prompt refresh)."""

    def __post_init__(self) -> None:
        self.keys = self.scenario.service.version_keys
        self._emp, self._emp_len = self._empirical()

    def bump(self) -> None:
        """Mark the parameter table stale (call after changing faults, drift or quality)."""
        self.rev += 1

    def index(self, key: str) -> int:
        return self.keys.index(key)

    def log(self, t: float, kind: str, **detail: Any) -> None:
        self.timeline.append(Event(t, kind, tuple(sorted(detail.items()))))

    @property
    def route(self) -> NDArray[np.float64]:
        return np.array(
            [self.baseline, self.canary, self.canary_weight, self.shadow, self.shadow_weight],
            dtype=np.float64,
        )

    @property
    def empirical(self) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        return self._emp, self._emp_len

    def _empirical(self) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        svc = self.scenario.service
        lens = [len(svc.profile(k).latency.values_s) for k in self.keys]
        emp = np.zeros((len(self.keys), max(1, *lens)), dtype=np.float64)
        for i, k in enumerate(self.keys):
            vals = svc.profile(k).latency.values_s
            emp[i, : len(vals)] = vals
        return emp, np.maximum(np.asarray(lens, dtype=np.int64), 1)

    def _decay(self, key: str, v: int) -> tuple[float, float]:
        """(slope per second, decay origin) of quality for version ``v``."""
        slope, t0 = 0.0, 0.0
        for d in self.scenario.drift:
            if d.target is None or d.target == key:
                slope += d.quality_decay_per_hour / 3600.0
                t0 = max(t0, d.start_s)
        t0 = max(t0, self.refreshed_at.get(v, 0.0))
        return slope, t0

    def params(self, now: float) -> NDArray[np.float64]:
        """The version parameter table (``kernel.P_*`` columns) in force from ``now``."""
        svc = self.scenario.service
        p = np.zeros((len(self.keys), L.P_COLS), dtype=np.float64)
        for v, key in enumerate(self.keys):
            prof = svc.profile(key)
            lat = prof.latency
            if lat.dist == "exponential":
                p[v, L.P_DIST], p[v, L.P_A] = 0, lat.mean_s
            elif lat.dist == "lognormal":
                p[v, L.P_DIST] = 1
                p[v, L.P_A] = math.log(lat.mean_s) - lat.sigma**2 / 2
                p[v, L.P_B] = lat.sigma
            elif lat.dist == "constant":
                p[v, L.P_DIST], p[v, L.P_A] = 2, lat.mean_s
            else:
                p[v, L.P_DIST] = 3
            mult, err, outage = 1.0, prof.error_rate, 0.0
            for f in self.faults:
                if f.target is not None and f.target != key:
                    continue
                if f.kind == "outage":
                    outage = 1.0
                elif f.kind == "latency_spike":
                    mult *= f.multiplier
                elif f.kind == "error_burst":
                    err = max(err, f.error_rate)
            p[v, L.P_LATMULT] = mult
            p[v, L.P_ERR] = min(1.0, err + self.dq_err)
            p[v, L.P_OUTAGE] = outage
            p[v, L.P_SEC_IN] = prof.seconds_per_input_token
            p[v, L.P_SEC_OUT] = prof.seconds_per_output_token
            p[v, L.P_USD_REQ] = prof.usd_per_request
            p[v, L.P_USD_IN] = prof.usd_per_1k_input_tokens
            p[v, L.P_USD_OUT] = prof.usd_per_1k_output_tokens
            slope, t0 = self._decay(key, v)
            p[v, L.P_Q0] = max(0.0, prof.quality - self.dq_drop)
            p[v, L.P_QSLOPE] = slope
            p[v, L.P_QT0] = t0
            p[v, L.P_TOK_IN] = prof.input_tokens
            p[v, L.P_TOK_OUT] = prof.output_tokens
            p[v, L.P_MAXC] = prof.max_concurrency or 0
            p[v, L.P_RPM] = prof.rpm_limit or 0.0
        return p

    def capacity_state(self) -> NDArray[np.float64]:
        """Per-version provider-limit state: ``[minute window, admitted in it, slot free
        times...]`` (one row per version, as many slot columns as the largest limit)."""
        svc = self.scenario.service
        width = max(1, *(svc.profile(k).max_concurrency or 0 for k in self.keys))
        out = np.zeros((len(self.keys), 2 + width), dtype=np.float64)
        out[:, 0] = -1.0
        return out

    def rate_limit(self) -> float:
        """Admitted requests per second under active rate-limit faults (inf if none)."""
        limits = [f.limit_rps for f in self.faults if f.kind == "rate_limit"]
        return min(limits) if limits else math.inf
