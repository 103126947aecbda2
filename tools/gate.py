"""The gate after each step: tolerances against the latest signals, and canary vs baseline.

Canary analysis (as automated canary analysis does it): per metric, a one-sided Mann-Whitney U
test of "the canary is worse than the baseline" (normal approximation with tie and continuity
correction, numpy only; it matches ``scipy.stats.mannwhitneyu(method="asymptotic")``) plus the
relative change of the medians:

- fewer than ``min_samples`` valid samples in either cohort, or only errored ones -> inconclusive
- significantly worse (p < 1 - confidence) and worse by more than ``tolerance`` -> fail
- significantly worse but within tolerance, or worse beyond tolerance without significance
  -> marginal
- otherwise -> pass

The step verdict is the worst of its parts (fail > inconclusive > marginal > pass). The
orchestrator compensates on fail, pauses and escalates on inconclusive (never passes it), and
continues on marginal with the numbers recorded. Every verdict carries the numbers behind it.
See ``contracts.execution`` for how samples and cohorts are read from scalar signals.
"""

from __future__ import annotations

__all__ = [
    "GateConfig",
    "Observations",
    "compare_metric",
    "evaluate_gate",
    "mann_whitney_u",
]

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

import numpy as np

from jitplan.contracts.execution import (
    HIGHER_IS_WORSE,
    GateVerdict,
    MetricComparison,
    ToleranceCheck,
    Verdict,
    signal_cohort,
    signal_metric,
    worst,
)
from jitplan.contracts.plan import Step, Tolerance
from jitplan.contracts.signals import Signal

CANARY_ACTIONS = frozenset({"canary"})
SHADOW_ACTIONS = frozenset({"shadow"})


@dataclass(frozen=True)
class GateConfig:
    """Canary-analysis settings."""

    confidence: float = 0.95
    tolerance: float = 0.10
    """Largest acceptable relative degradation of the canary median vs the baseline median."""
    min_samples: int = 5

    def __post_init__(self) -> None:
        if not 0.5 <= self.confidence < 1:
            raise ValueError("confidence must be in [0.5, 1)")
        if self.tolerance < 0:
            raise ValueError("tolerance must be >= 0")
        if self.min_samples < 2:
            raise ValueError("min_samples must be >= 2")


def mann_whitney_u(x: list[float], y: list[float]) -> tuple[float, float, float]:
    """One-sided U test that ``x`` tends to be greater than ``y``: ``(U_x, z, p)``."""
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    n1, n2 = a.size, b.size
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples must be non-empty")
    allv = np.concatenate([a, b])
    order = np.argsort(allv, kind="mergesort")
    sorted_v = allv[order]
    ranks_sorted = np.empty(allv.size, dtype=float)
    _, starts, counts = np.unique(sorted_v, return_index=True, return_counts=True)
    for s, c in zip(starts.tolist(), counts.tolist(), strict=True):
        ranks_sorted[s : s + c] = s + (c + 1) / 2.0
    ranks = np.empty_like(ranks_sorted)
    ranks[order] = ranks_sorted
    u1 = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2.0)
    n = n1 + n2
    tie_term = float(np.sum(counts.astype(float) ** 3 - counts))
    var = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0:
        return u1, 0.0, 1.0
    z = (u1 - n1 * n2 / 2.0 - 0.5) / math.sqrt(var)
    p = 0.5 * math.erfc(z / math.sqrt(2.0))
    return u1, z, min(1.0, max(0.0, p))


_FLOOR = {"error_rate": 1e-3}


def compare_metric(
    metric: str,
    canary: list[float],
    baseline: list[float],
    config: GateConfig,
    *,
    canary_errored: int = 0,
    baseline_errored: int = 0,
) -> MetricComparison:
    """Canary vs baseline for one metric, with every number that produced the verdict."""
    base = {
        "metric": metric,
        "canary_n": len(canary),
        "baseline_n": len(baseline),
        "canary_errored": canary_errored,
        "baseline_errored": baseline_errored,
        "tolerance": config.tolerance,
        "confidence": config.confidence,
    }
    if (not canary and canary_errored) or (not baseline and baseline_errored):
        return MetricComparison(verdict="inconclusive", reason="all measurements errored", **base)  # type: ignore[arg-type]
    if len(canary) < config.min_samples or len(baseline) < config.min_samples:
        return MetricComparison(
            verdict="inconclusive",
            reason=f"sparse data: canary n={len(canary)}, baseline n={len(baseline)}, "
            f"need at least {config.min_samples} each",
            **base,  # type: ignore[arg-type]
        )
    worse_high = HIGHER_IS_WORSE.get(metric, True)
    mc, mb = float(median(canary)), float(median(baseline))
    denom = max(abs(mb), _FLOOR.get(metric, 1e-12))
    rel = (mc - mb) / denom if worse_high else (mb - mc) / denom
    if worse_high:
        u, z, p = mann_whitney_u(canary, baseline)
    else:
        u, z, p = mann_whitney_u([-v for v in canary], [-v for v in baseline])
    alpha = 1.0 - config.confidence
    significant = p < alpha
    verdict: Verdict
    if significant and rel > config.tolerance:
        verdict, reason = "fail", f"canary significantly worse (p={p:.4g}) by {rel:+.1%} > {config.tolerance:.0%}"
    elif significant:
        verdict, reason = "marginal", f"canary significantly worse (p={p:.4g}) but within tolerance ({rel:+.1%})"
    elif rel > config.tolerance:
        verdict, reason = "marginal", f"canary worse by {rel:+.1%} but not significant (p={p:.4g})"
    else:
        verdict, reason = "pass", f"no significant degradation (p={p:.4g}, {rel:+.1%})"
    return MetricComparison(
        verdict=verdict, reason=reason, canary_median=mc, baseline_median=mb,
        relative_change=rel, u_statistic=u, z=z, p_value=p, **base,  # type: ignore[arg-type]
    )


@dataclass
class Observations:
    """Signals grouped by (feature, metric, cohort): valid samples and errored measurements.

    With ``as_of`` (the snapshot's time), a tolerance only sees signals observed within its
    ``window_s`` before it: an old observation says nothing about a change just made.
    """

    samples: dict[tuple[str, str, str | None], list[Signal]] = field(default_factory=dict)
    errored: dict[tuple[str, str, str | None], list[Signal]] = field(default_factory=dict)
    source: str = ""
    sha256: str | None = None
    as_of: datetime | None = None

    @classmethod
    def from_signals(
        cls,
        signals: list[Signal],
        *,
        quarantined: frozenset[int] = frozenset(),
        source: str = "",
        sha256: str | None = None,
        as_of: datetime | None = None,
    ) -> Observations:
        """Group signals; quarantined ones (by index) and ``errored`` lineage count as errored."""
        samples: dict[tuple[str, str, str | None], list[Signal]] = defaultdict(list)
        errored: dict[tuple[str, str, str | None], list[Signal]] = defaultdict(list)
        for i, s in enumerate(signals):
            metric = signal_metric(s)
            if metric is None:
                continue
            k = (s.feature, metric, signal_cohort(s))
            if i in quarantined or "errored" in s.lineage:
                errored[k].append(s)
            else:
                samples[k].append(s)
        return cls(dict(samples), dict(errored), source, sha256, as_of)

    def _recent(self, group: list[Signal], window_s: float | None) -> list[Signal]:
        if self.as_of is None or window_s is None:
            return group
        since = self.as_of - timedelta(seconds=window_s)
        return [s for s in group if s.observed_at >= since]

    def values(self, feature: str, metric: str, cohort: str | None, window_s: float | None = None) -> list[float]:
        return [s.value for s in self._recent(self.samples.get((feature, metric, cohort), []), window_s)]

    def n_errored(self, feature: str, metric: str, cohort: str | None, window_s: float | None = None) -> int:
        return len(self._recent(self.errored.get((feature, metric, cohort), []), window_s))

    def n_stale(self, feature: str, metric: str, cohort: str | None, window_s: float | None) -> int:
        group = self.samples.get((feature, metric, cohort), [])
        return len(group) - len(self._recent(group, window_s))

    def latest(self, feature: str, metric: str, window_s: float | None = None) -> Signal | None:
        group = self._recent(self.samples.get((feature, metric, None), []), window_s)
        return max(group, key=lambda s: s.observed_at) if group else None


def check_tolerance(
    tol: Tolerance, obs: Observations, feature: str, cohort: str | None
) -> ToleranceCheck:
    """One tolerance against the cohort's median (when sampled) or the latest plain signal,
    using only signals inside the tolerance's window."""
    base = {"metric": tol.metric, "comparator": tol.comparator, "threshold": tol.threshold}
    w = tol.window_s
    value: float | None = None
    n = 0
    where = "latest signal"
    if cohort is not None:
        vals = obs.values(feature, tol.metric, cohort, w)
        if vals:
            value, n, where = float(median(vals)), len(vals), f"{cohort} median of {len(vals)}"
    if value is None:
        sig = obs.latest(feature, tol.metric, w)
        if sig is not None:
            value, n = sig.value, 1
    if value is None:
        err = obs.n_errored(feature, tol.metric, cohort, w) + obs.n_errored(feature, tol.metric, None, w)
        stale = obs.n_stale(feature, tol.metric, None, w) + (obs.n_stale(feature, tol.metric, cohort, w) if cohort else 0)
        why = ("only errored/quarantined measurements" if err
               else f"only signals older than the {w:g}s window" if stale else "no signal")
        return ToleranceCheck(observed=None, n=0, verdict="inconclusive", reason=f"{why} for {feature} {tol.metric}", **base)  # type: ignore[arg-type]
    ok = tol.holds(value)
    reason = f"{where}: {value:g} {tol.comparator} {tol.threshold:g} {'holds' if ok else 'BREACHED'}"
    return ToleranceCheck(observed=value, n=n, verdict="pass" if ok else "fail", reason=reason, **base)  # type: ignore[arg-type]


def evaluate_gate(
    step: Step,
    obs: Observations,
    config: GateConfig | None = None,
    *,
    phase: str | None = None,
) -> GateVerdict:
    """Judge one step (``phase`` overrides the action for refresh_prompt sub-phases)."""
    config = config or GateConfig()
    action = phase or step.action
    feature = step.feature
    if feature is None or (not step.mutating and action not in CANARY_ACTIONS | SHADOW_ACTIONS):
        return GateVerdict(verdict="pass", reason="nothing to judge (non-mutating step)", signals_source=obs.source, signals_sha256=obs.sha256)
    cohort = "canary" if action in CANARY_ACTIONS else "shadow" if action in SHADOW_ACTIONS else None
    checks = [check_tolerance(t, obs, feature, cohort) for t in step.tolerances]
    comparisons: list[MetricComparison] = []
    if action in CANARY_ACTIONS:
        windows: dict[str, float] = {}
        for t in step.tolerances:
            windows[t.metric] = max(windows.get(t.metric, 0.0), t.window_s)
        if not windows:
            windows = {m: 300.0 for (f, m, c) in obs.samples if f == feature and c == "canary"}
        for m in sorted(windows):
            w = windows[m]
            comparisons.append(
                compare_metric(
                    m, obs.values(feature, m, "canary", w), obs.values(feature, m, "baseline", w), config,
                    canary_errored=obs.n_errored(feature, m, "canary", w),
                    baseline_errored=obs.n_errored(feature, m, "baseline", w),
                )
            )
        if not comparisons:
            comparisons.append(
                compare_metric("error_rate", [], [], config)
            )
    verdict = worst([c.verdict for c in checks] + [c.verdict for c in comparisons])
    bad = [c.reason for c in checks if c.verdict != "pass"] + [
        f"{c.metric}: {c.reason}" for c in comparisons if c.verdict != "pass"
    ]
    reason = "; ".join(bad) if bad else ("all tolerances hold" if checks or comparisons else "no tolerances")
    return GateVerdict(
        verdict=verdict, tolerances=checks, comparisons=comparisons, reason=reason,
        signals_source=obs.source, signals_sha256=obs.sha256,
    )
