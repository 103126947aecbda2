"""Saga orchestrator: order, gates, byte-exact compensation, pause/escalate, bounded retries."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jitplan.agent.orchestrator import apply_plan, plan_units
from jitplan.contracts.plan import Plan
from jitplan.contracts.signals import Signal, SignalSnapshot
from jitplan.contracts.state import DeploymentState
from jitplan.tools.audit import AuditLog
from jitplan.tools.flags import FlagStore
from jitplan.tools.signal_source import SignalReading, StaticSource

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FEATURES = ["ticket-summarizer", "reply-drafter", "answer-synthesizer", "sentiment-tagger"]


def sig(feature: str, name: str, value: float, *, kind: str = "error_rate", unit: str = "ratio", minute: int = 0) -> Signal:
    return Signal(name=f"{feature}.{name}", kind=kind, feature=feature, value=value, unit=unit,  # type: ignore[arg-type]
                  observed_at=T0 + timedelta(minutes=minute), source="test")


def snapshot(errors: dict[str, float] | None = None, extra: list[Signal] | None = None) -> SignalSnapshot:
    errors = {f: 0.002 for f in FEATURES} | (errors or {})
    sigs = [sig(f, "errors", v) for f, v in errors.items()] + (extra or [])
    return SignalSnapshot(observed_at=T0, signals=sigs)


def four_step_plan() -> Plan:
    tol = [{"metric": "error_rate", "comparator": "<", "threshold": 0.05}]
    return Plan.model_validate({
        "id": "plan-four", "goal": "four changes",
        "steps": [
            {"id": "s1", "action": "shadow", "feature": "ticket-summarizer", "version": "1.2.0", "tolerances": tol,
             "compensation": {"id": "s1-undo", "action": "rollback", "feature": "ticket-summarizer"}},
            {"id": "s2", "action": "set_budget", "feature": "reply-drafter", "params": {"usd_per_day": 20},
             "tolerances": tol, "depends_on": ["s1"]},
            {"id": "s3", "action": "enable", "feature": "answer-synthesizer", "version": "1.0.0", "tolerances": tol},
            {"id": "s4", "action": "pin_version", "feature": "sentiment-tagger", "tolerances": tol, "depends_on": ["s3"]},
        ],
    })


class Scripted:
    """Returns the given snapshots one per gate (the last one repeats); can run a hook per call."""

    def __init__(self, *snaps: SignalSnapshot | None, hook: Any = None) -> None:
        self.snaps = list(snaps)
        self.calls = 0
        self.hook = hook

    def latest(self) -> SignalReading:
        snap = self.snaps[min(self.calls, len(self.snaps) - 1)]
        self.calls += 1
        if self.hook:
            self.hook(self.calls)
        return SignalReading(snap, f"scripted#{self.calls}")


@pytest.fixture
def flags(tmp_path: Path, world: Path) -> Path:
    path = tmp_path / "flags.json"
    shutil.copyfile(world / "flags.json", path)
    return path


def before_t0() -> datetime:
    """The stages of these tests begin a minute before their samples (observed at T0 on)."""
    return T0 - timedelta(minutes=1)


def run(plan: Plan, path: Path, signals: Any, **kw: Any) -> Any:
    kw.setdefault("clock", before_t0)
    with AuditLog.open() as audit:
        return apply_plan(plan, kw.pop("store", None) or FlagStore(path), signals=signals, audit=audit,
                          thread_id="t-1", sleep=lambda s: None, **kw)


def kinds(unit_kind: str) -> list[str]:
    with AuditLog.open() as audit:
        return [r.payload["unit"] for r in audit.records() if r.kind == unit_kind]


def test_all_steps_pass_and_rerun_is_a_noop(flags: Path) -> None:
    plan = four_step_plan()
    res = run(plan, flags, StaticSource(snapshot()))
    assert res.status == "applied" and res.exit_code == 0
    assert [s.step_id for s in res.steps] == ["s1", "s2", "s3", "s4"]
    st = FlagStore(flags).read()
    assert st.get("ticket-summarizer").shadow_version == "1.2.0"
    assert st.get("reply-drafter").budget_usd_per_day == 20
    assert st.get("answer-synthesizer").version == "1.0.0"
    assert st.get("sentiment-tagger").pinned
    after = flags.read_bytes()
    again = run(plan, flags, StaticSource(snapshot()))
    assert again.status == "applied" and again.resumed and flags.read_bytes() == after
    assert kinds("step_applied") == ["s1", "s2", "s3", "s4"]  # nothing applied twice
    with AuditLog.open() as audit:
        assert audit.verify().ok


def test_breach_at_step_3_of_4_restores_the_flags_byte_for_byte(flags: Path) -> None:
    original = flags.read_bytes()
    bad = snapshot({"answer-synthesizer": 0.3})
    res = run(four_step_plan(), flags, Scripted(snapshot(), snapshot(), bad))
    assert res.status == "compensated" and res.exit_code == 1
    assert "s3" in res.reason and "BREACHED" in res.reason
    assert [s.step_id for s in res.steps] == ["s1", "s2", "s3"]
    gate = res.steps[2].gate
    assert gate.verdict == "fail" and gate.tolerances[0].observed == 0.3  # the numbers behind it
    assert [c.step_id for c in res.compensations] == ["s3", "s2", "s1"]
    assert flags.read_bytes() == original
    assert res.state_after_sha256 == res.state_before_sha256
    assert kinds("step_compensated") == ["s3", "s2", "s1"]
    with AuditLog.open() as audit:
        recs = audit.records()
        assert recs[-1].kind == "execution" and recs[-1].payload["status"] == "compensated"
        comp = next(r for r in recs if r.kind == "step_compensated" and r.payload["unit"] == "s1")
        assert comp.payload["declared_compensation"]["action"] == "rollback"
    # the compensated run is final: re-running does not re-apply it
    assert run(four_step_plan(), flags, StaticSource(snapshot())).status == "compensated"
    assert flags.read_bytes() == original


def test_steps_run_in_dependency_order() -> None:
    plan = Plan.model_validate({
        "id": "p", "goal": "g",
        "steps": [
            {"id": "c", "action": "noop", "depends_on": ["b"]},
            {"id": "a", "action": "noop"},
            {"id": "b", "action": "noop", "depends_on": ["a"]},
            {"id": "d", "action": "noop"},
        ],
    })
    assert [u.name for u in plan_units(plan)] == ["a", "b", "c", "d"]


def test_failing_compensation_is_retried_then_needs_an_operator(flags: Path) -> None:
    original = flags.read_bytes()

    class Flaky(FlagStore):
        broken = False
        writes_tried = 0

        def write(self, state: DeploymentState) -> None:
            if self.broken:
                Flaky.writes_tried += 1
                raise OSError("disk full")
            super().write(state)

    store = Flaky(flags)

    def breaks_disk(call: int) -> None:
        if call == 3:
            Flaky.broken = True

    src = Scripted(snapshot(), snapshot(), snapshot({"answer-synthesizer": 0.3}), hook=breaks_disk)
    res = run(four_step_plan(), flags, src, store=store, max_attempts=3)
    assert res.status == "needs_operator" and res.exit_code == 1
    assert Flaky.writes_tried == 3  # bounded
    (c,) = res.compensations
    assert c.status == "needs_operator" and c.attempts == 3 and "disk full" in (c.error or "")
    with AuditLog.open() as audit:
        rec = [r for r in audit.records() if r.kind == "needs_operator"]
        assert len(rec) == 1 and rec[0].payload["attempts"] == 3  # never silent
    assert flags.read_bytes() != original
    # the operator frees the disk and re-runs: compensation resumes and completes
    Flaky.broken = False
    again = run(four_step_plan(), flags, StaticSource(snapshot()), store=store)
    assert again.status == "compensated" and flags.read_bytes() == original
    assert kinds("step_compensated") == ["s3", "s2", "s1"]


def test_inconclusive_gate_pauses_and_escalates_then_resumes(flags: Path) -> None:
    no_data = SignalSnapshot(observed_at=T0, signals=[])
    res = run(four_step_plan(), flags, Scripted(snapshot(), no_data))
    assert res.status == "paused" and res.exit_code == 1
    assert res.steps[-1].gate.verdict == "inconclusive" and "no signal" in res.reason
    with AuditLog.open() as audit:
        assert [r.kind for r in audit.records()].count("escalation") == 1
    st = FlagStore(flags).read()
    assert st.get("reply-drafter").budget_usd_per_day == 20  # paused, not rolled back
    res2 = run(four_step_plan(), flags, StaticSource(snapshot()))
    assert res2.status == "applied" and res2.resumed
    assert kinds("step_applied") == ["s1", "s2", "s3", "s4"]


def test_abort_compensates_a_paused_run(flags: Path) -> None:
    original = flags.read_bytes()
    run(four_step_plan(), flags, Scripted(snapshot(), SignalSnapshot(observed_at=T0, signals=[])))
    res = run(four_step_plan(), flags, StaticSource(snapshot()), abort=True)
    assert res.status == "compensated" and flags.read_bytes() == original


def test_external_change_during_a_paused_run_is_a_conflict(flags: Path) -> None:
    run(four_step_plan(), flags, Scripted(snapshot(), SignalSnapshot(observed_at=T0, signals=[])))
    store = FlagStore(flags)
    from jitplan.tools.flags import apply_action

    store.write(apply_action(store.read(), "disable", "tone-rewriter"))
    touched = flags.read_bytes()
    res = run(four_step_plan(), flags, StaticSource(snapshot()))
    assert res.status == "needs_operator" and "changed outside" in res.reason
    assert flags.read_bytes() == touched


def test_step_error_and_timeout_compensate(flags: Path) -> None:
    original = flags.read_bytes()
    bad = Plan.model_validate({
        "id": "p-err", "goal": "g",
        "steps": [
            {"id": "a", "action": "set_budget", "feature": "reply-drafter", "params": {"usd_per_day": 3},
             "tolerances": [{"metric": "error_rate", "comparator": "<", "threshold": 0.05}]},
            # promote with no version and no canary running: nothing to promote (a StepError)
            {"id": "b", "action": "promote", "feature": "pii-redactor"},
        ],
    })
    res = run(bad, flags, StaticSource(snapshot()))
    assert res.status == "compensated" and "needs a version" in res.reason and flags.read_bytes() == original
    slow = Plan.model_validate({
        "id": "p-slow", "goal": "g",
        "steps": [{"id": "a", "action": "set_budget", "feature": "reply-drafter", "params": {"usd_per_day": 3},
                   "timeout_s": 0.01, "tolerances": [{"metric": "error_rate", "comparator": "<", "threshold": 0.05}]}],
    })
    with AuditLog.open() as audit:
        res = apply_plan(slow, FlagStore(flags), signals=StaticSource(snapshot()), audit=audit, step_wait_s=0.05,
                         clock=before_t0)
    assert res.status == "compensated" and "timeout" in res.reason and flags.read_bytes() == original


def test_dry_run_writes_nothing(flags: Path, _isolated_home: Path) -> None:
    original = flags.read_bytes()
    res = apply_plan(four_step_plan(), FlagStore(flags), signals=StaticSource(None), audit=None, dry_run=True)
    assert res.status == "dry_run" and res.exit_code == 0 and len(res.steps) == 4
    assert res.state_after_sha256 != res.state_before_sha256
    assert flags.read_bytes() == original and not (_isolated_home / "runs").exists()


def _cohorts(feature: str, metric: str, kind: str, unit: str, canary_mu: float, base_mu: float, sd: float,
             seed: int, cohorts: tuple[str, str] = ("canary", "baseline"), n: int = 12) -> list[Signal]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        out.append(sig(feature, f"{metric}.{cohorts[0]}", float(rng.normal(canary_mu, sd)), kind=kind, unit=unit, minute=i))
        out.append(sig(feature, f"{metric}.{cohorts[1]}", float(rng.normal(base_mu, sd)), kind=kind, unit=unit, minute=i))
    return out


def canary_plan() -> Plan:
    return Plan.model_validate({
        "id": "p-canary", "goal": "g",
        "steps": [{"id": "c", "action": "canary", "feature": "pii-redactor", "version": "1.1.0", "params": {"weight": 10},
                   "tolerances": [{"metric": "latency_p95_ms", "comparator": "<", "threshold": 3000}]}],
    })


def test_canary_is_judged_against_baseline(flags: Path) -> None:
    original = flags.read_bytes()
    worse = snapshot(extra=_cohorts("pii-redactor", "latency_p95", "latency", "ms", 1600, 1000, 40, seed=1))
    res = run(canary_plan(), flags, StaticSource(worse))
    assert res.status == "compensated" and flags.read_bytes() == original
    comp = res.steps[0].gate.comparisons[0]
    assert comp.verdict == "fail" and comp.p_value < 0.05 and comp.canary_n == 12
    with AuditLog.open() as audit:
        gate = next(r for r in audit.records() if r.kind == "gate")
        assert gate.payload["comparisons"][0]["p_value"] == comp.p_value  # recorded with its numbers


def test_canary_passes_when_like_baseline(flags: Path) -> None:
    same = snapshot(extra=_cohorts("pii-redactor", "latency_p95", "latency", "ms", 1000, 1000, 40, seed=2))
    res = run(canary_plan(), flags, StaticSource(same))
    assert res.status == "applied"
    fs = FlagStore(flags).read().get("pii-redactor")
    assert (fs.canary_version, fs.canary_weight) == ("1.1.0", 10)


def test_refresh_prompt_goes_shadow_then_canary_and_records_quality(flags: Path) -> None:
    plan = Plan.model_validate({
        "id": "p-refresh", "goal": "drift",
        "steps": [{"id": "r", "action": "refresh_prompt", "feature": "ticket-summarizer", "version": "1.2.0",
                   "params": {"expected_quality": 0.9, "canary_weight": 20},
                   "tolerances": [{"metric": "quality", "comparator": ">=", "threshold": 0.8}]}],
    })
    extra = (_cohorts("ticket-summarizer", "quality", "data_quality", "ratio", 0.88, 0.82, 0.01, seed=3, cohorts=("shadow", "baseline"))
             + _cohorts("ticket-summarizer", "quality", "data_quality", "ratio", 0.89, 0.82, 0.01, seed=4)
             + [sig("ticket-summarizer", "quality", 0.89, kind="data_quality")])
    seen: list[tuple[str | None, float]] = []

    def watch(call: int) -> None:
        fs = FlagStore(flags).read().get("ticket-summarizer")
        seen.append((fs.shadow_version or fs.canary_version, fs.canary_weight))

    res = run(plan, flags, Scripted(snapshot(extra=extra), hook=watch))
    assert res.status == "applied", res.reason
    assert [s.step_id for s in res.steps] == ["r#shadow", "r#canary", "r#promote"]
    assert seen == [("1.2.0", 0.0), ("1.2.0", 20.0), (None, 0.0)]
    assert FlagStore(flags).read().get("ticket-summarizer").version == "1.2.0"
    rows = res.expected_vs_observed
    assert [r["phase"] for r in rows] == ["shadow", "canary", "promote"]
    assert all(r["expected_quality"] == 0.9 for r in rows)
    assert rows[0]["observed_quality"] == pytest.approx(0.88, abs=0.01)
    with AuditLog.open() as audit:
        assert Counter(r.kind for r in audit.records())["refresh_prompt"] == 3


def test_unreadable_signals_mid_run_pause_instead_of_passing(flags: Path) -> None:
    from jitplan.contracts.errors import UserError

    class Broken:
        def latest(self) -> SignalReading:
            raise UserError("malformed YAML at line 3", source="signals/new.yaml")

    res = run(four_step_plan(), flags, Broken())
    assert res.status == "paused" and "signals unreadable" in res.reason and "new.yaml" in res.reason
    assert [s.gate.verdict for s in res.steps] == ["inconclusive"]


def test_agent_style_call_with_a_fixed_snapshot(flags: Path) -> None:
    with AuditLog.open() as audit:
        res = apply_plan(four_step_plan(), FlagStore(flags), signals=snapshot(), audit=audit, thread_id="t",
                         clock=before_t0)
    assert res.status == "applied"


def test_refresh_after_explicit_canaries_only_promotes_and_uses_simulated_quality(flags: Path) -> None:
    tol = [{"metric": "quality", "comparator": ">=", "threshold": 0.8}]
    plan = Plan.model_validate({
        "id": "p-offline-refresh", "goal": "drift",
        "steps": [
            {"id": "s1", "action": "shadow", "feature": "ticket-summarizer", "version": "1.2.0", "tolerances": tol},
            {"id": "s2", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0", "params": {"weight": 25},
             "tolerances": tol, "depends_on": ["s1"]},
            {"id": "s3", "action": "refresh_prompt", "feature": "ticket-summarizer", "version": "1.2.0",
             "tolerances": tol, "depends_on": ["s2"]},
        ],
    })
    with AuditLog.open() as audit:
        audit.append("simulation", {"plan_sha256": plan.digest(), "scenarios": {
            "ticket-summarizer:load_spike": {"quality_mean": 0.5},
            "ticket-summarizer:baseline": {"quality_mean": 0.91}}}, thread_id="t-1")
    extra = (_cohorts("ticket-summarizer", "quality", "data_quality", "ratio", 0.9, 0.9, 0.01, seed=5, cohorts=("shadow", "baseline"))
             + _cohorts("ticket-summarizer", "quality", "data_quality", "ratio", 0.9, 0.9, 0.01, seed=6)
             + [sig("ticket-summarizer", "quality", 0.9, kind="data_quality")])
    weights: list[float] = []
    res = run(plan, flags, Scripted(snapshot(extra=extra), hook=lambda c: weights.append(
        FlagStore(flags).read().get("ticket-summarizer").canary_weight)))
    assert res.status == "applied", res.reason
    assert weights == [0.0, 25.0, 25.0, 25.0, 0.0]  # the refresh never lowers the running canary
    assert FlagStore(flags).read().get("ticket-summarizer").version == "1.2.0"
    assert {r["expected_quality"] for r in res.expected_vs_observed} == {0.91}


def test_a_second_concurrent_apply_on_the_same_flags_is_refused(flags: Path) -> None:
    import fcntl
    import os

    from jitplan.contracts.errors import RunError

    fd = os.open(flags.with_name(f".{flags.name}.jitplan.lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as if another apply were running
    try:
        before = flags.read_bytes()
        with pytest.raises(RunError, match="another jitplan apply"):
            run(four_step_plan(), flags, StaticSource(snapshot()))
        assert flags.read_bytes() == before
    finally:
        os.close(fd)
    assert run(four_step_plan(), flags, StaticSource(snapshot())).status == "applied"
