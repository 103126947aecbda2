"""Execution contracts: gate verdicts, step outcomes, the run journal and the execution result.

How gates get samples from scalar signals
-----------------------------------------
A ``Signal`` is one scalar observation. The gate reads a *metric* and, for canary analysis, a
*cohort* from each signal:

- metric: the signal name after the ``<feature>.`` prefix, e.g. ``ticket-summarizer.latency_p95``
  -> ``latency_p95_ms``, when it is one of the metrics of the signal's kind; otherwise the kind's
  default metric (``contracts.signal_kinds``: latency -> ``latency_p95_ms``, error_rate ->
  ``error_rate``, cost -> ``cost_per_request_usd``). See ``signal_metric`` for the aliases
  (``errors`` -> ``error_rate``, ``quality``). Values are in the kind's canonical unit.
- cohort: a trailing name segment ``.canary`` / ``.baseline`` / ``.shadow``
  (``ticket-summarizer.latency_p95.canary``) or a lineage entry ``cohort:canary``. Signals
  without a cohort are plain observations of the feature as a whole.

Several signals with the same feature, metric and cohort are that cohort's *samples* (e.g. one
per minute or per replica). A signal whose lineage contains ``errored`` is an errored
measurement: it is counted but never used as a sample.

Rate metrics (``RATE_METRICS``: error rates and other mostly-zero ratios) are judged on their
mean rate, never a median (the median of mostly-zero samples is 0 whatever the canary does). A
rate sample may carry the request count it was measured over as a lineage entry
``requests:<n>``; when every sample of both cohorts does, the gate compares the pooled
proportions (errors / requests) with a two-proportion test.

Freshness: a stage is judged only on samples observed after it began (``GateVerdict.since``).
"""

from __future__ import annotations

__all__ = [
    "COHORTS",
    "HIGHER_IS_WORSE",
    "RATE_METRICS",
    "ExecutionResult",
    "ExecutionStatus",
    "GateVerdict",
    "JournalEntry",
    "MetricComparison",
    "RunJournal",
    "RunPhase",
    "StepOutcome",
    "StepStatus",
    "ToleranceCheck",
    "Verdict",
    "signal_cohort",
    "signal_metric",
    "worst",
]

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from jitplan.contracts.signal_kinds import get_kind, metric_directions
from jitplan.contracts.signals import Signal

Verdict = Literal["pass", "marginal", "fail", "inconclusive"]
_RANK: dict[str, int] = {"pass": 0, "marginal": 1, "inconclusive": 2, "fail": 3}

COHORTS: tuple[str, ...] = ("canary", "baseline", "shadow")

class _MetricDirections(Mapping[str, bool]):
    """Gate metric -> True when higher is worse, read from the signal-kind registry."""

    def __getitem__(self, metric: str) -> bool:
        return metric_directions()[metric]

    def __iter__(self) -> Iterator[str]:
        return iter(metric_directions())

    def __len__(self) -> int:
        return len(metric_directions())


HIGHER_IS_WORSE: Mapping[str, bool] = _MetricDirections()
"""Direction of harm for each tolerance metric (from ``contracts.signal_kinds``, so a
registered kind's metric is included)."""

RATE_METRICS: frozenset[str] = frozenset({"error_rate"})
"""Metrics judged on their mean rate (and, with request counts, a two-proportion test)."""

_ALIASES: dict[str, str] = {
    "latency_p95": "latency_p95_ms",
    "latency_p99": "latency_p99_ms",
    "latency_p50": "latency_p50_ms",
    "latency": "latency_p95_ms",
    "errors": "error_rate",
    "error_rate": "error_rate",
    "quality": "quality",
    "quality_mean": "quality",
}


def worst(verdicts: list[Verdict]) -> Verdict:
    """The most severe verdict (fail > inconclusive > marginal > pass); pass for none."""
    out: Verdict = "pass"
    for v in verdicts:
        if _RANK[v] > _RANK[out]:
            out = v
    return out


def _segments(signal: Signal) -> list[str]:
    name = signal.name
    prefix = signal.feature + "."
    if name.startswith(prefix):
        name = name[len(prefix) :]
    return [s for s in name.split(".") if s]


def signal_cohort(signal: Signal) -> str | None:
    """``canary`` / ``baseline`` / ``shadow`` when the signal belongs to one, else None."""
    segs = _segments(signal)
    if segs and segs[-1] in COHORTS:
        return segs[-1]
    for item in signal.lineage:
        if item.startswith("cohort:") and item[7:] in COHORTS:
            return item[7:]
    return None


def signal_metric(signal: Signal) -> str | None:
    """The tolerance metric a signal measures (None when it measures none, e.g. demand)."""
    segs = [s for s in _segments(signal) if s not in COHORTS]
    base = segs[0] if segs else ""
    kind = get_kind(signal.kind)
    if kind is None:
        return None
    named = base if base in kind.metrics else _ALIASES.get(base)
    return named if named in kind.metrics else kind.metric


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToleranceCheck(_Frozen):
    """One step tolerance against the latest observation."""

    metric: str
    comparator: str
    threshold: float
    observed: float | None
    n: int = 0
    verdict: Verdict
    reason: str


class MetricComparison(_Frozen):
    """Canary vs baseline for one metric: a one-sided test plus the change of the means."""

    metric: str
    verdict: Verdict
    reason: str
    canary_n: int
    baseline_n: int
    canary_errored: int = 0
    baseline_errored: int = 0
    canary_mean: float | None = None
    baseline_mean: float | None = None
    canary_median: float | None = None
    """Shown for context only: a change is never measured on medians (they can be 0)."""
    baseline_median: float | None = None
    relative_change: float | None = None
    """(canary - baseline) / |baseline| of the means, signed so that > 0 means worse; None when
    the baseline mean is 0 and the canary's is not (an unbounded change)."""
    test: str | None = None
    """The test behind ``p_value``: Mann-Whitney (exact or asymptotic) or two-proportion."""
    u_statistic: float | None = None
    """The test's statistic (U of the canary, or the odds ratio of the two-proportion test)."""
    z: float | None = None
    p_value: float | None = None
    min_p_value: float | None = None
    """The smallest p-value the rank test can reach at these cohort sizes."""
    tolerance: float
    confidence: float


class GateVerdict(_Frozen):
    """The gate after one step: tolerances and canary analysis, and the numbers behind them."""

    verdict: Verdict
    tolerances: list[ToleranceCheck] = Field(default_factory=list)
    comparisons: list[MetricComparison] = Field(default_factory=list)
    signals_source: str = ""
    signals_sha256: str | None = None
    reason: str = ""
    since: AwareDatetime | None = None
    """Only samples observed after this time (the stage's start) were used."""
    waited_s: float = 0.0
    """How long the gate waited for fresh samples."""


StepStatus = Literal[
    "applied", "already_applied", "compensated", "failed", "needs_operator", "dry_run", "skipped"
]


class StepOutcome(_Frozen):
    """What happened to one step (or one compensation)."""

    step_id: str
    action: str
    feature: str | None = None
    status: StepStatus
    state_before_sha256: str | None = None
    state_after_sha256: str | None = None
    gate: GateVerdict | None = None
    attempts: int = 1
    error: str | None = None
    elapsed_s: float = 0.0


ExecutionStatus = Literal["applied", "compensated", "paused", "needs_operator", "dry_run"]


class ExecutionResult(_Frozen):
    """The outcome of ``apply_plan``."""

    plan_id: str
    plan_sha256: str
    status: ExecutionStatus
    reason: str = ""
    steps: list[StepOutcome] = Field(default_factory=list)
    compensations: list[StepOutcome] = Field(default_factory=list)
    state_before_sha256: str
    state_after_sha256: str
    resumed: bool = False
    expected_vs_observed: list[dict[str, float | str | None]] = Field(default_factory=list)
    attempt: int = 1
    """Which run attempt of the plan on this flags file (``jitplan apply --retry`` adds one)."""

    @property
    def exit_code(self) -> int:
        """0 when the plan is fully applied (or dry-run), 1 otherwise."""
        return 0 if self.status in ("applied", "dry_run") else 1


class RunPhase(StrEnum):
    """Where a run is: its journal's ``phase`` (stored as the lower-case string)."""

    APPLYING = "applying"
    PAUSED = "paused"
    COMPENSATING = "compensating"
    APPLIED = "applied"
    COMPENSATED = "compensated"
    NEEDS_OPERATOR = "needs_operator"


JournalPhase = RunPhase


class JournalEntry(_Frozen):
    """One unit of work (a step or a sub-phase of one) in the run journal."""

    unit: str
    step_id: str
    before_sha256: str
    after_sha256: str
    feature: str | None = None
    feature_before: dict[str, object] | None = None
    """The feature's ``FeatureState`` before this unit (for the exact inverse)."""
    done: bool = False
    """The flags file holds this unit's effect."""
    gated: bool = False
    """The gate after this unit passed (or was marginal)."""
    compensated: bool = False
    applied_at: AwareDatetime | None = None
    """When the unit's flags were written: its gate uses only samples observed from then on."""


class RunJournal(_Frozen):
    """Per-plan execution journal (``<home>/runs/<plan-sha256>.json``), replaced atomically.

    It makes apply resumable after a crash: a unit is journalled *before* the flags file is
    written (``done=False``) and marked done after; on restart the flags file's digest tells
    whether an in-flight unit landed.
    """

    plan_id: str
    plan_sha256: str
    phase: RunPhase
    attempt: int = Field(default=1, ge=1)
    """1 for the first run of the plan on this flags file; ``apply --retry`` starts the next."""
    original_sha256: str
    """sha256 of the flags file bytes before the plan (kept in the flag store history)."""
    original_state_sha256: str
    entries: list[JournalEntry] = Field(default_factory=list)
    reason: str = ""
