"""The signal-kind registry: built-in kinds, adding a kind end to end (toxicity), and a kind the
planner has no rule for never becoming an activation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from jitplan.agent.planners.base import PlanningContext
from jitplan.agent.planners.findings import Finding, analyze
from jitplan.agent.planners.offline import build_offline_plan
from jitplan.contracts import signal_kinds
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.errors import InputError
from jitplan.contracts.execution import HIGHER_IS_WORSE, signal_metric
from jitplan.contracts.plan import Plan, Step
from jitplan.contracts.signal_kinds import (
    BUILTIN_KINDS,
    SignalKindSpec,
    UnitConversion,
    get_kind,
    kind_names,
    kinds_registered,
    register_kind,
    unregister_kind,
)
from jitplan.contracts.signals import ContractSet, Signal, SignalSnapshot
from jitplan.contracts.state import DeploymentState
from jitplan.tools.gate import Observations, evaluate_gate
from jitplan.tools.signal_check import check_signals

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
FIX = ROOT / "tests" / "fixtures" / "toxicity"
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ACTIVATING = {"enable", "canary", "promote", "shadow", "refresh_prompt", "pin_version"}

TOXICITY = SignalKindSpec(
    "toxicity", "ratio", (UnitConversion("percent", 0.01),), bad="high", metric="toxicity",
    threshold=0.02, rule="degrade", priority=0,
    detail="toxicity {value:g} > guardrail {threshold:g} on {key}",
    description="guardrail: share of answers a safety classifier flags as toxic",
)


@pytest.fixture
def toxicity() -> Iterator[SignalKindSpec]:
    with kinds_registered(TOXICITY) as specs:
        yield specs[0]


def _catalog() -> Catalog:
    return Catalog.from_file(WORLD / "catalog.yaml")


def _state(canary: bool) -> DeploymentState:
    st = DeploymentState.from_flagd(json.loads((WORLD / "flags.json").read_text()))
    if not canary:
        return st
    fs = st.get("ticket-summarizer").model_copy(update={"canary_version": "1.2.0", "canary_weight": 25.0})
    return st.with_feature("ticket-summarizer", fs)


def _plan(findings: list[Finding], state: DeploymentState, statuses: tuple[Any, ...] = ()) -> dict[str, Any]:
    ctx = PlanningContext(_catalog(), statuses, state, tuple(findings), seed_id="test")
    plan = build_offline_plan(ctx)
    Plan.model_validate(plan)
    return plan


# ---- built-in kinds ------------------------------------------------------------------------


def test_builtin_kinds_keep_the_metric_directions_of_the_old_table() -> None:
    assert dict(HIGHER_IS_WORSE) == {
        "latency_p95_ms": True, "latency_p99_ms": True, "latency_p50_ms": True, "error_rate": True,
        "quality": False, "cost_per_request_usd": True, "cost_usd_per_day": True,
    }
    assert kind_names()[:7] == ("demand", "drift", "data_quality", "latency", "cost", "error_rate", "risk")
    for k in BUILTIN_KINDS:
        assert k.canonical_unit == k.unit_names[0]
        assert k.rule is None or k.rule in signal_kinds.PLANNER_RULES


def test_the_gate_metric_comes_from_the_kind_not_the_unit() -> None:
    def sig(name: str, kind: str, unit: str) -> Signal:
        return Signal(name=f"f.{name}", kind=kind, feature="f", value=1.0, unit=unit, observed_at=T0)

    # After conversion every cost signal is per request: a "day" unit no longer picks the metric.
    assert signal_metric(sig("cost", "cost", "usd_per_request")) == "cost_per_request_usd"
    assert signal_metric(sig("spend", "cost", "usd_per_day")) == "cost_per_request_usd"
    assert signal_metric(sig("latency_p99", "latency", "ms")) == "latency_p99_ms"
    assert signal_metric(sig("quality.canary", "data_quality", "ratio")) == "quality"
    # A name naming another kind's metric does not override the declared kind.
    assert signal_metric(sig("error_rate", "latency", "ms")) == "latency_p95_ms"
    assert signal_metric(sig("demand", "demand", "rpm")) is None


def test_registering_is_checked_and_builtins_are_fixed() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_kind(SignalKindSpec("latency", "ms"))
    with pytest.raises(ValueError, match="already registered"):
        register_kind(SignalKindSpec("latency", "ms"), replace=True)
    with pytest.raises(ValueError, match="built in"):
        unregister_kind("cost")
    with pytest.raises(ValueError, match="opposite direction"):
        register_kind(SignalKindSpec("speed", "ms", bad="low", metric="latency_p95_ms"))
    with pytest.raises(ValueError, match="unknown kind"):
        register_kind(SignalKindSpec("spend", "usd", (UnitConversion("usd_per_day", 1.0, per="nope"),)))
    with pytest.raises(ValueError, match="listed twice"):
        SignalKindSpec("x", "ms", (UnitConversion("ms", 1.0),))
    assert get_kind("speed") is None and get_kind("spend") is None


def test_an_installed_package_adds_a_kind_through_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    class EntryPoint:
        def load(self) -> Any:
            return [SignalKindSpec("hallucination", "ratio", bad="high", metric="hallucination")]

    seen: list[str] = []

    def entry_points(*, group: str) -> list[EntryPoint]:
        seen.append(group)
        return [EntryPoint()]

    monkeypatch.setattr("importlib.metadata.entry_points", entry_points)
    monkeypatch.setattr(signal_kinds._REG, "entry_points_loaded", False)
    try:
        assert get_kind("latency") is not None and seen == []  # built-ins need no scan
        assert get_kind("hallucination") is not None
        assert seen == ["jitplan.signal_kinds"]
        assert HIGHER_IS_WORSE["hallucination"] is True
    finally:
        unregister_kind("hallucination")


# ---- adding a kind: toxicity ---------------------------------------------------------------


def test_an_unregistered_kind_is_bad_input_in_signals_and_contracts() -> None:
    with pytest.raises(InputError, match=r"signals\[0\]\.kind: unknown signal kind 'toxicity'"):
        SignalSnapshot.from_file(FIX / "signals.yaml")
    with pytest.raises(InputError, match=r"contracts\[4\]\.kind: unknown signal kind 'toxicity'"):
        ContractSet.from_file(FIX / "contracts.yaml")
    with pytest.raises(ValidationError, match="unknown signal kind"):
        Signal(name="x", kind="toxicity", feature="f", value=1, unit="ratio", observed_at=T0)


def test_toxicity_is_checked_planned_and_gated(toxicity: SignalKindSpec) -> None:
    catalog = _catalog()
    # checked: its contract applies, its percent becomes the canonical ratio
    statuses = check_signals(SignalSnapshot.from_file(FIX / "signals.yaml"),
                             ContractSet.from_file(FIX / "contracts.yaml"), catalog)
    tox = statuses[0]
    assert tox.ok, tox.reasons
    assert (tox.signal.value, tox.signal.unit) == (pytest.approx(0.05), "ratio")
    assert (tox.original_value, tox.original_unit) == (5.0, "percent")

    # planned: over its guardrail with a canary in flight -> roll the canary back, first
    findings, _ = analyze(catalog, statuses, _state(canary=True))
    assert [(f.kind, f.feature, f.threshold) for f in findings] == [("toxicity", "ticket-summarizer", 0.02)]
    assert "toxicity 0.05 > guardrail 0.02" in findings[0].detail
    plan = _plan(findings, _state(canary=True), tuple(statuses))
    assert [(s["action"], s["feature"]) for s in plan["steps"]] == [("rollback", "ticket-summarizer")]
    # ... and with no canary to roll back, a human decides: never an activation
    findings, _ = analyze(catalog, statuses, _state(canary=False))
    plan = _plan(findings, _state(canary=False), tuple(statuses))
    assert [s["action"] for s in plan["steps"]] == ["escalate"]

    # gated: a canary step with a toxicity tolerance judges canary against baseline
    step = Step.model_validate({
        "id": "c1", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0",
        "params": {"weight": 10}, "tolerances": [{"metric": "toxicity", "comparator": "<=", "threshold": 0.2}],
    })

    def obs(canary_pct: float) -> Observations:
        sigs = []
        for i in range(12):
            for cohort, pct in (("canary", canary_pct), ("baseline", 1.0)):
                sigs.append(Signal(
                    name=f"ticket-summarizer.toxicity.{cohort}", kind="toxicity", feature="ticket-summarizer",
                    value=pct + 0.1 * (i % 4), unit="percent", observed_at=T0 - timedelta(seconds=10 * i),
                ))
        return Observations.from_signals(sigs, as_of=T0)

    assert HIGHER_IS_WORSE["toxicity"] is True
    healthy = evaluate_gate(step, obs(1.0))
    assert healthy.verdict == "pass", healthy.reason
    toxic = evaluate_gate(step, obs(4.0))  # 4 % is within the 20 % threshold, yet 4x the baseline
    assert toxic.verdict == "fail", toxic.reason
    assert [c.metric for c in toxic.comparisons] == ["toxicity"]
    assert toxic.comparisons[0].canary_n == 12


def test_a_registered_kind_is_gone_after_its_block(toxicity: SignalKindSpec) -> None:
    assert get_kind("toxicity") is toxicity
    assert "toxicity" in HIGHER_IS_WORSE


def test_after_the_block_the_kind_is_unknown_again() -> None:
    assert get_kind("toxicity") is None
    assert "toxicity" not in HIGHER_IS_WORSE


# ---- a kind with no planner rule never falls through to an activation ----------------------


def test_a_kind_without_a_planner_rule_escalates_instead_of_activating() -> None:
    # A trigger-like kind (fires while the feature is off, like demand) but with no rule.
    spec = SignalKindSpec("waitlist", "count", threshold=10.0, when="off",
                          detail="{value:g} users waiting for {feature}")
    snap = SignalSnapshot.model_validate({"observed_at": "2026-11-26T12:00:00Z", "signals": []})
    with kinds_registered(spec):
        snap = SignalSnapshot.model_validate({"observed_at": "2026-11-26T12:00:00Z", "signals": [
            {"name": "answer-synthesizer.waitlist", "kind": "waitlist", "feature": "answer-synthesizer",
             "value": 50, "unit": "count", "observed_at": "2026-11-26T11:59:00Z"}]})
        contracts = ContractSet.model_validate({"contracts": [{"kind": "waitlist", "unit": "count"}]})
        statuses = check_signals(snap, contracts, _catalog())
        state = _state(canary=False)
        findings, _ = analyze(_catalog(), statuses, state)
        assert [(f.kind, f.feature) for f in findings] == [("waitlist", "answer-synthesizer")]
        plan = _plan(findings, state, tuple(statuses))
    assert [s["action"] for s in plan["steps"]] == ["escalate"]
    assert not ACTIVATING & {s["action"] for s in plan["steps"]}
    assert any("no planner rule for signal kind 'waitlist'" in n for n in plan["notes"])


def test_a_finding_of_an_unregistered_kind_escalates() -> None:
    # e.g. a finding restored from an older checkpoint, or proposed by a model
    state = _state(canary=False)
    f = Finding("mystery", "answer-synthesizer", "answer-synthesizer.mystery", 9.0, 1.0, "x", "mystery 9 > 1")
    g = Finding("demand", "kb-retriever", "kb-retriever.demand", 500.0, 60.0, "rpm", "demand 500 rpm")
    plan = _plan([f, g], state)
    assert ("escalate", "answer-synthesizer") in [(s["action"], s["feature"]) for s in plan["steps"]]
    assert not any(s["action"] in ACTIVATING and s["feature"] == "answer-synthesizer" for s in plan["steps"])


def _canary_with(tolerance: dict[str, Any]) -> dict[str, Any]:
    return {"id": "p-tox", "goal": "canary with a guardrail", "steps": [{
        "id": "s1", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0",
        "params": {"weight": 10},
        "tolerances": [{"metric": "error_rate", "comparator": "<=", "threshold": 0.01}, tolerance],
        "compensation": {"id": "u1", "action": "rollback", "feature": "ticket-summarizer"}}]}


def test_a_registered_kinds_metric_is_a_valid_tolerance(toxicity: SignalKindSpec) -> None:
    # One registry entry is enough: the validator takes known metrics and their direction (and
    # the 0-1 range of a ratio) from the registry, not from a list of its own.
    from jitplan.tools.validator import validate

    state = _state(canary=False)

    def codes(tol: dict[str, Any]) -> list[str]:
        report = validate(_canary_with(tol), _catalog(), [], state, None)
        return [v.code for v in report.violations]

    assert codes({"metric": "toxicity", "comparator": "<=", "threshold": 0.02}) == []
    assert codes({"metric": "toxicity", "comparator": ">=", "threshold": 0.02}) == ["tolerance_direction"]
    assert codes({"metric": "toxicity", "comparator": "<=", "threshold": 1.5}) == ["tolerance_threshold"]


def test_an_unregistered_metric_is_unknown() -> None:
    from jitplan.tools.validator import validate

    report = validate(_canary_with({"metric": "toxicity", "comparator": "<=", "threshold": 0.02}),
                      _catalog(), [], _state(canary=False), None)
    assert [v.code for v in report.violations] == ["unknown_metric"]
