"""Gates on fresh data (each stage judged only on samples observed after it began, waiting for
them up to the step's timeout) and the audited retry after a compensated run."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jitplan.agent.orchestrator import apply_plan, journal_path
from jitplan.contracts.errors import UserError
from jitplan.contracts.plan import Plan
from jitplan.contracts.signals import Signal, SignalSnapshot
from jitplan.tools.audit import AuditLog
from jitplan.tools.flags import FlagStore
from jitplan.tools.signal_source import SignalReading, StaticSource

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
F = "ticket-summarizer"
TOL = [{"metric": "error_rate", "comparator": "<", "threshold": 0.05}]


def ramp(timeout_s: float = 60.0) -> Plan:
    return Plan.model_validate({
        "id": "p-ramp", "goal": "ramp",
        "steps": [
            {"id": "c5", "action": "canary", "feature": F, "version": "1.2.0", "params": {"weight": 5},
             "tolerances": TOL, "timeout_s": timeout_s},
            {"id": "c50", "action": "canary", "feature": F, "version": "1.2.0", "params": {"weight": 50},
             "tolerances": TOL, "timeout_s": timeout_s, "depends_on": ["c5"]},
        ],
    })


class Clock:
    """A fake UTC clock; ``sleep`` advances it (so waiting costs no real time)."""

    def __init__(self, t: datetime) -> None:
        self.t = t
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += timedelta(seconds=s)


def _sig(name: str, value: float, at: datetime, cohort: str) -> Signal:
    return Signal(name=f"{F}.errors.{cohort}", kind="error_rate", feature=F, value=value, unit="ratio",
                  observed_at=at, source="test", lineage=[f"cohort:{cohort}"])


class Feed:
    """A live source: each read adds one error-rate sample per cohort, stamped with the clock.

    The canary's error rate is ``bad`` from ``regress_at`` on, else like the baseline's.
    """

    live = True

    def __init__(self, clock: Clock, *, regress_at: datetime | None = None, bad: float = 0.03,
                 every: int = 1, seed: int = 0) -> None:
        self.clock, self.regress_at, self.bad, self.every = clock, regress_at, bad, every
        self.rng = np.random.default_rng(seed)
        self.signals: list[Signal] = []
        self.reads = 0

    def latest(self) -> SignalReading:
        self.reads += 1
        now = self.clock()
        if self.reads % self.every == 0:
            base = float(self.rng.normal(0.002, 0.0003))
            worse = self.regress_at is not None and now >= self.regress_at
            canary = self.bad if worse else float(self.rng.normal(0.002, 0.0003))
            self.signals += [_sig("errors", canary, now, "canary"), _sig("errors", base, now, "baseline")]
        snap = SignalSnapshot(observed_at=now, signals=list(self.signals))
        return SignalReading(snap, f"feed#{self.reads}")


@pytest.fixture
def flags(tmp_path: Path, world: Path) -> Path:
    path = tmp_path / "flags.json"
    shutil.copyfile(world / "flags.json", path)
    return path


def run(plan: Plan, flags: Path, signals: Any, clock: Clock, **kw: Any) -> Any:
    with AuditLog.open() as audit:
        return apply_plan(plan, FlagStore(flags), signals=signals, audit=audit, thread_id="t-1",
                          sleep=clock.sleep, clock=clock, poll_s=1.0, **kw)


def test_one_static_snapshot_cannot_promote_a_ramp(flags: Path) -> None:
    """The old gate judged every stage on the same samples and ramped 5 -> 50% at once."""
    old = [s for i in range(12) for s in (_sig("e", 0.002, T0 + timedelta(minutes=i), "canary"),
                                          _sig("e", 0.002, T0 + timedelta(minutes=i), "baseline"))]
    snap = SignalSnapshot(observed_at=T0 + timedelta(minutes=12), signals=old)
    clock = Clock(T0 + timedelta(minutes=13))  # the rollout begins after the snapshot was taken
    res = run(ramp(), flags, StaticSource(snap), clock)
    assert res.status == "paused" and [s.step_id for s in res.steps] == ["c5"]
    gate = res.steps[0].gate
    assert gate.since == T0 + timedelta(minutes=13)
    assert "too few fresh samples" in gate.reason and "24 older samples predate the stage" in gate.reason
    assert FlagStore(flags).read().get(F).canary_weight == 5
    assert clock.sleeps == []  # a static source cannot bring fresh samples: no waiting


def test_each_stage_waits_for_its_own_fresh_samples(flags: Path) -> None:
    clock = Clock(T0)
    feed = Feed(clock)
    res = run(ramp(), flags, feed, clock)
    assert res.status == "applied", res.reason
    g5, g50 = (s.gate for s in res.steps)
    assert g5.since is not None and g50.since is not None and g50.since > g5.since
    assert g5.waited_s > 0 and g50.waited_s > 0
    for g in (g5, g50):
        c = g.comparisons[0]
        # only the samples that arrived after that stage began: min_samples (4) per cohort
        assert c.canary_n == c.baseline_n == 4
    assert len(feed.signals) // 2 > 8  # the first stage's samples were there, unused by the second


def test_a_regression_after_the_first_stage_fails_the_second(flags: Path) -> None:
    clock = Clock(T0)
    feed = Feed(clock, regress_at=T0 + timedelta(seconds=5))
    original = flags.read_bytes()
    res = run(ramp(), flags, feed, clock)
    assert res.status == "compensated" and "c50" in res.reason
    assert res.steps[0].gate.verdict == "pass"
    c = res.steps[1].gate.comparisons[0]
    assert c.verdict == "fail" and c.reason.startswith("error_rate: ")
    assert flags.read_bytes() == original


def test_no_fresh_samples_within_the_timeout_pauses(flags: Path) -> None:
    clock = Clock(T0)
    feed = Feed(clock, every=1000)  # effectively silent
    res = run(ramp(timeout_s=5.0), flags, feed, clock)
    assert res.status == "paused" and "waited 5s" in res.reason and "timeout_s is 5s" in res.reason
    assert sum(clock.sleeps) == pytest.approx(5.0) and res.steps[0].gate.waited_s == pytest.approx(5.0)


def test_retry_after_compensation_is_a_new_audited_attempt(flags: Path) -> None:
    clock = Clock(T0)
    bad = Feed(clock, regress_at=T0)
    first = run(ramp(), flags, bad, clock)
    assert first.status == "compensated" and first.attempt == 1
    again = run(ramp(), flags, Feed(clock), clock)
    assert again.status == "compensated" and "--retry" in again.reason  # final without --retry
    retried = run(ramp(), flags, Feed(clock), clock, retry=True)
    assert retried.status == "applied" and retried.attempt == 2 and not retried.resumed
    path = journal_path(ramp(), FlagStore(flags))
    assert path.with_name(path.stem + ".attempt-1.json").exists()
    with AuditLog.open() as audit:
        recs = audit.records()
        assert audit.verify().ok
    retry = [r for r in recs if r.kind == "retry"]
    assert len(retry) == 1 and retry[0].payload["attempt"] == 2 and retry[0].payload["previous_reason"]
    # the second attempt's records are not swallowed by the first attempt's idempotency keys
    assert [r.payload["unit"] for r in recs if r.kind == "step_applied"] == ["c5", "c5", "c50"]
    assert [r.payload["status"] for r in recs if r.kind == "execution"] == ["compensated", "applied"]
    with pytest.raises(UserError, match="nothing to retry: the run is applied"):
        run(ramp(), flags, Feed(clock), clock, retry=True)


def test_run_phases_are_an_enum_stored_as_their_names() -> None:
    from pydantic import ValidationError

    from jitplan.contracts.execution import RunJournal, RunPhase

    doc = {"plan_id": "p", "plan_sha256": "a", "phase": "paused", "original_sha256": "b", "original_state_sha256": "c"}
    j = RunJournal.model_validate(doc)
    assert j.phase is RunPhase.PAUSED and '"phase":"paused"' in j.model_dump_json() and j.attempt == 1
    with pytest.raises(ValidationError):
        RunJournal.model_validate({**doc, "phase": "done"})
