"""Typed simulation results: one replication, and the aggregate with 95 % confidence intervals.

JSON output is deterministic: keys sorted, floats rounded to 9 significant digits, NaN as
``null``; the same scenario, plan, engine and seed give byte-identical JSON.
"""

from __future__ import annotations

__all__ = ["METRIC_NAMES", "ReplicationResult", "SimResult", "canonical", "ci95_halfwidth"]

import json
import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from jitplan.simulator.control import GateResult
from jitplan.simulator.stats import SERIES_COLUMNS
from jitplan.simulator.world import Event

if TYPE_CHECKING:
    import pandas as pd

METRIC_NAMES: tuple[str, ...] = (
    "requests",
    "throughput_rps",
    "utilization",
    "wait_mean_s",
    "latency_mean_s",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "error_rate",
    "cost_usd",
    "quality_mean",
    "retries",
)

# Two-sided 97.5 % Student-t quantiles for 1..30 degrees of freedom.
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def ci95_halfwidth(values: list[float]) -> float:
    """Half-width of the 95 % Student-t confidence interval of the mean (NaN if < 2 values)."""
    vals = [v for v in values if not math.isnan(v)]
    n = len(vals)
    if n < 2:
        return math.nan
    t = _T975[n - 2] if n - 1 <= len(_T975) else 1.96
    return t * statistics.stdev(vals) / math.sqrt(n)


def _round(x: Any) -> Any:
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if x is None or isinstance(x, str | int):
        return x
    if isinstance(x, float | np.floating):
        f = float(x)
        if math.isnan(f) or math.isinf(f):
            return None
        return float(f"{f:.9g}")
    if isinstance(x, dict):
        return {str(k): _round(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_round(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    return x


def canonical(obj: Any) -> str:
    """Deterministic JSON text of ``obj`` (sorted keys, rounded floats)."""
    return json.dumps(_round(obj), sort_keys=True, indent=2, allow_nan=False)


@dataclass(frozen=True)
class ReplicationResult:
    """Everything one replication measured."""

    index: int
    metrics: dict[str, float]
    versions: dict[str, dict[str, float]]
    timeline: tuple[Event, ...]
    gates: tuple[GateResult, ...]
    plan_status: str | None
    plan_reason: str
    series: NDArray[np.float64]

    @property
    def breaches(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]


@dataclass(frozen=True)
class SimResult:
    """The aggregate over replications; ``metrics`` are means, ``ci95`` their half-widths."""

    scenario: str
    engine: str
    seed: int
    replications: tuple[ReplicationResult, ...]
    plan_id: str | None = None

    @property
    def metrics(self) -> dict[str, float]:
        """Mean of each metric over the replications."""
        return {
            m: statistics.fmean([r.metrics[m] for r in self.replications]) for m in METRIC_NAMES
        }

    @property
    def ci95(self) -> dict[str, float]:
        """95 % CI half-width of each metric's mean (NaN with one replication)."""
        return {m: ci95_halfwidth([r.metrics[m] for r in self.replications]) for m in METRIC_NAMES}

    @property
    def timeline(self) -> tuple[Event, ...]:
        """Control events of the first replication."""
        return self.replications[0].timeline

    @property
    def verdict(self) -> dict[str, Any] | None:
        """``pass`` when every gate of every replication passed; else ``fail`` + breaches."""
        if self.plan_id is None:
            return None
        breaches: list[dict[str, Any]] = []
        reasons: list[str] = []
        for r in self.replications:
            for g in r.breaches:
                breaches.append({"replication": r.index, **g.to_dict()})
            if r.plan_reason:
                reasons.append(f"replication {r.index}: {r.plan_reason}")
        passed = [r.plan_status == "pass" for r in self.replications]
        return {
            "status": "pass" if all(passed) else "fail",
            "pass_rate": sum(passed) / len(passed),
            "breaches": breaches,
            "reasons": reasons,
            "plan": self.plan_id,
        }

    @property
    def passed(self) -> bool | None:
        v = self.verdict
        return None if v is None else v["status"] == "pass"

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready document (see ``to_json``)."""
        metrics: dict[str, Any] = dict(self.metrics)
        if len(self.replications) > 1:
            metrics["ci95"] = self.ci95
        out: dict[str, Any] = {
            "scenario": self.scenario,
            "engine": self.engine,
            "seed": self.seed,
            "replications": len(self.replications),
            "metrics": metrics,
            "versions": self.replications[0].versions,
            "timeline": [e.to_dict() for e in self.timeline],
            "per_replication": [r.metrics for r in self.replications],
        }
        if self.plan_id is not None:
            out["verdict"] = self.verdict
            out["gates"] = [g.to_dict() for g in self.replications[0].gates]
        return out

    def to_json(self) -> str:
        """Deterministic JSON (byte-identical for identical inputs)."""
        return canonical(self.to_dict())

    def rows(self) -> list[dict[str, float]]:
        """One row per replication: ``replication`` plus every metric."""
        return [{"replication": float(r.index), **r.metrics} for r in self.replications]

    def to_frame(self) -> pd.DataFrame:
        """Per-replication metrics as a pandas DataFrame: one row per replication, a
        ``replication`` column (int) and one float column per metric in ``METRIC_NAMES``."""
        import pandas

        frame = pandas.DataFrame(self.rows(), columns=["replication", *METRIC_NAMES])
        return frame.astype({"replication": "int64"})

    def series(self) -> tuple[tuple[str, ...], NDArray[np.float64]]:
        """Per-tick time series of the first replication: (column names, 2-D array)."""
        return SERIES_COLUMNS, self.replications[0].series
