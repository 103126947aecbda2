"""Judging one stage of a run on fresh data: the orchestrator's gate after each unit.

A stage began when its flags were written (``since``). Its gate reads the signal source and
judges the unit's step (``tools.gate``) on samples observed after ``since`` only. While the
verdict is inconclusive (no, too few or only stale samples) and the source is live, it re-reads
the source every ``poll_s`` until ``timeout_s`` after the stage began; then the verdict stays
inconclusive and says how long it waited. For a ``refresh_prompt`` phase it also gives the row
of expected (``params.expected_quality`` or the plan's simulation record) vs observed quality.
"""

from __future__ import annotations

__all__ = ["StageGate"]

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from jitplan.agent.execution_units import Unit
from jitplan.contracts.errors import UserError
from jitplan.contracts.execution import GateVerdict
from jitplan.tools.audit import AuditLog
from jitplan.tools.gate import GateConfig, Observations, evaluate_gate
from jitplan.tools.signal_source import SignalSource

QualityRow = dict[str, float | str | None]


@dataclass(frozen=True)
class StageGate:
    """The gate of a run's stages (see the module docstring)."""

    signals: SignalSource
    config: GateConfig
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    poll_s: float
    plan_sha256: str
    audit: AuditLog | None = None
    thread_id: str | None = None

    @property
    def live(self) -> bool:
        return bool(getattr(self.signals, "live", False))

    def judge(self, u: Unit, since: datetime | None) -> tuple[GateVerdict, QualityRow | None]:
        """The unit's verdict on samples observed after ``since`` (waiting for them on a live
        source), and its expected-vs-observed quality row for a refresh_prompt phase."""
        waited = 0.0
        verdict, obs = self.read(u, since)
        if since is not None and self.live:
            deadline = since + timedelta(seconds=u.step.timeout_s)
            while verdict.verdict == "inconclusive":
                left = min((deadline - self.clock()).total_seconds(), u.step.timeout_s - waited)
                if left <= 0:
                    break
                pause = min(self.poll_s, left)
                self.sleep(pause)
                waited += pause
                verdict, obs = self.read(u, since)
            if verdict.verdict == "inconclusive" and waited:
                verdict = verdict.model_copy(update={"reason": f"{verdict.reason} (waited {waited:.3g}s for fresh "
                                                               f"samples: the step's timeout_s is {u.step.timeout_s:g}s)"})
        return verdict.model_copy(update={"waited_s": round(waited, 6)}), self.quality_row(u, obs)

    def read(self, u: Unit, since: datetime | None) -> tuple[GateVerdict, Observations | None]:
        """One read of the source and the verdict on it."""
        try:
            reading = self.signals.latest()
        except UserError as exc:  # e.g. a half-written snapshot in a watched folder: pause, never pass
            return GateVerdict(verdict="inconclusive", reason=f"signals unreadable: {exc}", since=since), None
        snap = reading.snapshot
        obs = Observations.from_signals(
            list(snap.signals) if snap else [], quarantined=reading.quarantined,
            source=reading.source, sha256=reading.sha256, as_of=snap.observed_at if snap else None, since=since,
        )
        verdict = evaluate_gate(u.step, obs, self.config, phase=u.action)
        feature = u.step.feature
        why = [r[:300] for r in reading.reasons if feature and feature in r][:3]
        if verdict.verdict == "inconclusive" and why:  # e.g. a query's empty result, a quarantine
            verdict = verdict.model_copy(update={"reason": f"{verdict.reason} (source: {'; '.join(why)})"})
        return verdict, obs

    def quality_row(self, u: Unit, obs: Observations | None) -> QualityRow | None:
        """For a refresh_prompt phase: expected vs observed quality (fresh samples)."""
        if obs is None or u.step.action != "refresh_prompt" or not u.step.feature:
            return None
        cohort = {"shadow": "shadow", "canary": "canary"}.get(u.action)
        vals = obs.values(u.step.feature, "quality", cohort) if cohort else []
        latest = obs.latest(u.step.feature, "quality")
        observed = float(median(vals)) if vals else (latest.value if latest else None)
        exp = u.step.params.get("expected_quality")
        expected = float(exp) if isinstance(exp, int | float) else self.simulated_quality(u.step.feature)
        return {"unit": u.name, "phase": u.action, "feature": u.step.feature, "version": u.step.version,
                "expected_quality": expected, "observed_quality": observed}

    def simulated_quality(self, feature: str) -> float | None:
        """Expected quality from this plan's ``simulation`` audit record (baseline scenario)."""
        if self.audit is None:
            return None
        sims = [r for r in self.audit.records(self.thread_id)
                if r.kind == "simulation" and r.payload.get("plan_sha256") == self.plan_sha256]
        scenarios = sims[-1].payload.get("scenarios") if sims else None
        if not isinstance(scenarios, dict):
            return None
        for name in (f"{feature}:baseline", *sorted(k for k in scenarios if k.startswith(f"{feature}:"))):
            row = scenarios.get(name)
            q = row.get("quality_mean") if isinstance(row, dict) else None
            if isinstance(q, int | float):
                return float(q)
        return None
