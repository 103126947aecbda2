"""The gate after each step: tolerances against fresh signals, and canary vs baseline.

Canary analysis (as automated canary analysis does it, e.g. Kayenta's Mann-Whitney classifier),
per metric, on samples observed after the stage began (``Observations.since``):

- the change: the relative change of the cohort *means* (of the pooled proportions for rates
  with request counts), signed so that > 0 is worse; never of medians, which are 0 for
  mostly-zero metrics such as error rates whatever the canary does;
- the evidence: a one-sided test that the canary is worse (``tools.canary_stats``, scipy): a
  Mann-Whitney U test, exact for small cohorts, or for rates whose samples carry request counts
  (lineage ``requests:<n>``) a two-proportion test.

Verdicts:
- fewer than ``min_samples`` valid samples in either cohort, or only errored ones -> inconclusive
- identical cohorts (or every sample the same value) -> pass
- significantly worse (p < 1 - confidence) and worse by more than ``tolerance`` -> fail
- significantly worse but within tolerance -> marginal
- not significant while the cohorts are too small for any result to be significant -> inconclusive
- worse beyond tolerance without significance -> marginal; otherwise -> pass

The step verdict is the worst of its parts (fail > inconclusive > marginal > pass). The
orchestrator compensates on fail, waits for fresh samples and then pauses on inconclusive (never
passes it), and continues on marginal with the numbers recorded. Every verdict carries the
numbers behind it and names its metric. See ``contracts.execution`` for how samples and cohorts
are read from scalar signals.
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
from statistics import fmean, median

from jitplan.contracts.execution import (
    HIGHER_IS_WORSE,
    RATE_METRICS,
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
from jitplan.tools.canary_stats import TestResult, mann_whitney_u, min_p_value, two_proportion_test

CANARY_ACTIONS = frozenset({"canary"})
SHADOW_ACTIONS = frozenset({"shadow"})


@dataclass(frozen=True)
class GateConfig:
    """Canary-analysis settings."""

    confidence: float = 0.95
    tolerance: float = 0.10
    """Largest acceptable relative degradation of the canary mean vs the baseline mean."""
    min_samples: int = 4
    """Fewer valid samples in either cohort is inconclusive (4 vs 4 is the smallest balanced
    pair whose exact test can reach p < 0.05: 1/70 = 0.014)."""

    def __post_init__(self) -> None:
        if not 0.5 <= self.confidence < 1:
            raise ValueError("confidence must be in [0.5, 1)")
        if self.tolerance < 0:
            raise ValueError("tolerance must be >= 0")
        if self.min_samples < 2:
            raise ValueError("min_samples must be >= 2")


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _change(worse: float, base: float) -> float:
    """``worse`` (signed harm) relative to ``|base|``; +/-inf from a zero base."""
    if base != 0:
        return worse / abs(base)
    return 0.0 if worse == 0 else math.copysign(math.inf, worse)


def _pct(rel: float) -> str:
    return "from 0" if math.isinf(rel) else f"{rel:+.1%}"


def compare_metric(
    metric: str,
    canary: list[float],
    baseline: list[float],
    config: GateConfig,
    *,
    canary_errored: int = 0,
    baseline_errored: int = 0,
    higher_is_worse: bool | None = None,
    rate: bool | None = None,
    canary_requests: list[int] | None = None,
    baseline_requests: list[int] | None = None,
    stale: int = 0,
) -> MetricComparison:
    """Canary vs baseline for one metric, with every number that produced the verdict.

    ``higher_is_worse`` and ``rate`` default to the metric's entry in ``HIGHER_IS_WORSE`` and
    ``RATE_METRICS``; ``*_requests`` are the request counts of the samples (rates only);
    ``stale`` is how many samples predate the stage (named in an inconclusive reason).
    """
    base = {
        "metric": metric, "canary_n": len(canary), "baseline_n": len(baseline),
        "canary_errored": canary_errored, "baseline_errored": baseline_errored,
        "tolerance": config.tolerance, "confidence": config.confidence,
    }
    if (not canary and canary_errored) or (not baseline and baseline_errored):
        return MetricComparison(verdict="inconclusive", reason=f"{metric}: all measurements errored", **base)  # type: ignore[arg-type]
    if len(canary) < config.min_samples or len(baseline) < config.min_samples:
        old = f" ({stale} older samples predate the stage)" if stale else ""
        return MetricComparison(
            verdict="inconclusive",
            reason=f"{metric}: too few fresh samples: canary n={len(canary)}, baseline n={len(baseline)}, "
            f"need at least {config.min_samples} each{old}",
            **base,  # type: ignore[arg-type]
        )
    worse_high = HIGHER_IS_WORSE.get(metric, True) if higher_is_worse is None else higher_is_worse
    is_rate = metric in RATE_METRICS if rate is None else rate
    mc, mb = fmean(canary), fmean(baseline)
    sign = 1.0 if worse_high else -1.0
    counted = (is_rate and canary_requests is not None and baseline_requests is not None
               and len(canary_requests) == len(canary) and len(baseline_requests) == len(baseline))
    test: TestResult
    min_p: float | None = None
    if counted:
        assert canary_requests is not None and baseline_requests is not None
        ec = sum(round(v * n) for v, n in zip(canary, canary_requests, strict=True))
        eb = sum(round(v * n) for v, n in zip(baseline, baseline_requests, strict=True))
        nc, nb = sum(canary_requests), sum(baseline_requests)
        mc, mb = ec / nc, eb / nb
        # one-sided: is the canary's bad-event proportion greater? (for lower-is-worse rates the
        # bad events are the complements: requests that did not succeed)
        test = two_proportion_test(ec, nc, eb, nb) if worse_high else two_proportion_test(nc - ec, nc, nb - eb, nb)
        what = f"canary {ec}/{nc} vs baseline {eb}/{nb}"
    else:
        test = mann_whitney_u([sign * v for v in canary], [sign * v for v in baseline])
        min_p = min_p_value(len(canary), len(baseline))
        what = f"canary mean {_fmt(mc)} vs baseline mean {_fmt(mb)}"
    rel = _change(sign * (mc - mb), mb)
    p = test.p_value
    alpha = round(1.0 - config.confidence, 12)  # 1 - 0.95 is 0.050000000000000044
    significant = p < alpha
    stat = f"p={p:.3g}, {test.method}"
    verdict: Verdict
    if sorted(canary) == sorted(baseline) or len({*canary, *baseline}) == 1:
        verdict, why = "pass", "canary and baseline samples are identical (or all one value)"
    elif significant and rel > config.tolerance:
        verdict, why = "fail", f"{what}: worse by {_pct(rel)} > {config.tolerance:.0%} tolerance, significant ({stat})"
    elif significant:
        verdict, why = "marginal", f"{what}: significantly worse ({stat}) but within tolerance ({_pct(rel)})"
    elif min_p is not None and min_p >= alpha:
        verdict, why = "inconclusive", (
            f"{what} ({_pct(rel)}): with n={len(canary)} and n={len(baseline)} no result can be significant "
            f"(smallest possible p={min_p:.3g} >= {alpha:.3g})")
    elif rel > config.tolerance:
        verdict, why = "marginal", f"{what}: worse by {_pct(rel)} but not significant ({stat})"
    else:
        verdict, why = "pass", f"{what}: no significant degradation ({_pct(rel)}, {stat})"
    return MetricComparison(
        verdict=verdict, reason=f"{metric}: {why}", canary_mean=mc, baseline_mean=mb,
        canary_median=float(median(canary)), baseline_median=float(median(baseline)),
        relative_change=None if math.isinf(rel) else rel, test=test.method, u_statistic=test.statistic,
        p_value=p, min_p_value=min_p, **base,  # type: ignore[arg-type]
    )


def _requests(s: Signal) -> int | None:
    for item in s.lineage:
        if item.startswith("requests:") and item[9:].isdigit() and int(item[9:]) > 0:
            return int(item[9:])
    return None


@dataclass
class Observations:
    """Signals grouped by (feature, metric, cohort): valid samples and errored measurements.

    With ``since`` (when the stage began), only signals observed after it count: a stage
    is judged on fresh samples only. With ``as_of`` (the snapshot's time), a tolerance only sees
    signals observed within its ``window_s`` before it.
    """

    samples: dict[tuple[str, str, str | None], list[Signal]] = field(default_factory=dict)
    errored: dict[tuple[str, str, str | None], list[Signal]] = field(default_factory=dict)
    source: str = ""
    sha256: str | None = None
    as_of: datetime | None = None
    since: datetime | None = None

    @classmethod
    def from_signals(
        cls,
        signals: list[Signal],
        *,
        quarantined: frozenset[int] = frozenset(),
        source: str = "",
        sha256: str | None = None,
        as_of: datetime | None = None,
        since: datetime | None = None,
    ) -> Observations:
        """Group signals; quarantined ones (by index) and ``errored`` lineage count as errored.

        Values are taken in their kind's canonical unit (``contracts.units``; a no-op for
        checked signals); a signal whose unit cannot be converted counts as errored.
        """
        from jitplan.contracts.units import canonical_signals

        samples: dict[tuple[str, str, str | None], list[Signal]] = defaultdict(list)
        errored: dict[tuple[str, str, str | None], list[Signal]] = defaultdict(list)
        converted = canonical_signals(signals, lambda j: j not in quarantined)
        for i, (raw, c) in enumerate(zip(signals, converted, strict=True)):
            s = c[0] if isinstance(c, tuple) else raw
            metric = signal_metric(s)
            if metric is None:
                continue
            k = (s.feature, metric, signal_cohort(s))
            if i in quarantined or "errored" in s.lineage or not isinstance(c, tuple):
                errored[k].append(s)
            else:
                samples[k].append(s)
        return cls(dict(samples), dict(errored), source, sha256, as_of, since)

    def _recent(self, group: list[Signal], window_s: float | None) -> list[Signal]:
        if self.since is not None:
            group = [s for s in group if s.observed_at > self.since]  # at the instant: old config
        if self.as_of is None or window_s is None:
            return group
        since = self.as_of - timedelta(seconds=window_s)
        return [s for s in group if s.observed_at >= since]

    def _group(self, feature: str, metric: str, cohort: str | None, window_s: float | None) -> list[Signal]:
        return self._recent(self.samples.get((feature, metric, cohort), []), window_s)

    def values(self, feature: str, metric: str, cohort: str | None, window_s: float | None = None) -> list[float]:
        return [s.value for s in self._group(feature, metric, cohort, window_s)]

    def requests(self, feature: str, metric: str, cohort: str | None, window_s: float | None = None) -> list[int] | None:
        """The request counts of the samples (lineage ``requests:<n>``), None unless all have one."""
        counts = [_requests(s) for s in self._group(feature, metric, cohort, window_s)]
        return None if not counts or None in counts else [c for c in counts if c is not None]

    def n_errored(self, feature: str, metric: str, cohort: str | None, window_s: float | None = None) -> int:
        return len(self._recent(self.errored.get((feature, metric, cohort), []), window_s))

    def n_stale(self, feature: str, metric: str, cohort: str | None, window_s: float | None) -> int:
        """Valid samples left out because they predate the stage or the tolerance window."""
        group = self.samples.get((feature, metric, cohort), [])
        return len(group) - len(self._recent(group, window_s))

    def latest(self, feature: str, metric: str, window_s: float | None = None) -> Signal | None:
        group = self._group(feature, metric, None, window_s)
        return max(group, key=lambda s: s.observed_at) if group else None


def check_tolerance(
    tol: Tolerance, obs: Observations, feature: str, cohort: str | None
) -> ToleranceCheck:
    """One tolerance against the cohort's samples (their mean for rates, else their median) or
    the latest plain signal, using only fresh signals inside the tolerance's window."""
    base = {"metric": tol.metric, "comparator": tol.comparator, "threshold": tol.threshold}
    w = tol.window_s
    value: float | None = None
    n = 0
    where = "latest signal"
    if cohort is not None:
        vals = obs.values(feature, tol.metric, cohort, w)
        if vals:
            stat = "mean" if tol.metric in RATE_METRICS else "median"
            value = fmean(vals) if stat == "mean" else float(median(vals))
            n, where = len(vals), f"{cohort} {stat} of {len(vals)}"
    if value is None:
        sig = obs.latest(feature, tol.metric, w)
        if sig is not None:
            value, n = sig.value, 1
    if value is None:
        err = obs.n_errored(feature, tol.metric, cohort, w) + obs.n_errored(feature, tol.metric, None, w)
        stale = obs.n_stale(feature, tol.metric, None, w) + (obs.n_stale(feature, tol.metric, cohort, w) if cohort else 0)
        old = "observed before the stage began or " if obs.since is not None else ""
        why = ("only errored/quarantined measurements" if err
               else f"only signals {old}older than the {w:g}s window ({stale})" if stale else "no signal")
        return ToleranceCheck(observed=None, n=0, verdict="inconclusive", reason=f"{tol.metric}: {why} for {feature}", **base)  # type: ignore[arg-type]
    ok = tol.holds(value)
    reason = (f"{tol.metric}: {where} = {value:g}, needs {tol.comparator} {tol.threshold:g}: "
              f"{'holds' if ok else 'BREACHED'}")
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
    meta = {"signals_source": obs.source, "signals_sha256": obs.sha256, "since": obs.since}
    if feature is None or (not step.mutating and action not in CANARY_ACTIONS | SHADOW_ACTIONS):
        return GateVerdict(verdict="pass", reason="nothing to judge (non-mutating step)", **meta)  # type: ignore[arg-type]
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
                    canary_requests=obs.requests(feature, m, "canary", w),
                    baseline_requests=obs.requests(feature, m, "baseline", w),
                    stale=obs.n_stale(feature, m, "canary", w) + obs.n_stale(feature, m, "baseline", w),
                )
            )
        if not comparisons:
            comparisons.append(compare_metric("error_rate", [], [], config))
    verdict = worst([c.verdict for c in checks] + [c.verdict for c in comparisons])
    bad = [c.reason for c in checks if c.verdict != "pass"] + [c.reason for c in comparisons if c.verdict != "pass"]
    reason = "; ".join(bad) if bad else ("all tolerances hold" if checks or comparisons else "no tolerances")
    return GateVerdict(verdict=verdict, tolerances=checks, comparisons=comparisons, reason=reason, **meta)  # type: ignore[arg-type]
