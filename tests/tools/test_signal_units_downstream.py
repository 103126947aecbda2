"""Units are normalized once, at the contract check: the policy, the validator, the planner and the
gate all see canonical values (the ``9792000.00 USD ... 68 USD/request`` regression)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jitplan.agent.planners.base import PlanningContext
from jitplan.agent.planners.findings import analyze
from jitplan.agent.planners.offline import build_offline_plan
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.plan import Plan, Step
from jitplan.contracts.policy import PolicyRequest
from jitplan.contracts.signals import ContractSet, Signal, SignalSnapshot
from jitplan.contracts.state import DeploymentState
from jitplan.tools.gate import Observations, evaluate_gate
from jitplan.tools.policy import PolicyBundle
from jitplan.tools.policy_document import policy_input
from jitplan.tools.signal_check import check_signals
from jitplan.tools.validator import validate

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
UNITS = ROOT / "tests" / "fixtures" / "units"
T0 = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_file(WORLD / "catalog.yaml")


@pytest.fixture(scope="module")
def state() -> DeploymentState:
    return DeploymentState.from_flagd(json.loads((WORLD / "flags.json").read_text()))


def test_usd_per_day_cost_reaches_policy_and_validator_per_request(catalog: Catalog, state: DeploymentState) -> None:
    statuses = check_signals(SignalSnapshot.from_file(UNITS / "cost-per-day.yaml"),
                             ContractSet.from_file(UNITS / "contracts.yaml"), catalog)
    assert all(s.ok for s in statuses), [s.reasons for s in statuses]
    findings, notes = analyze(catalog, statuses, state)
    plan = build_offline_plan(PlanningContext(catalog, tuple(statuses), state, tuple(findings),
                                              notes=tuple(notes), seed_id="units"))
    assert [s["action"] for s in plan["steps"]][-1] == "promote"  # 100 rpm fits the budget
    doc = policy_input(PolicyRequest(role="operator", region="eu"), catalog, [], statuses,
                       Plan.model_validate(plan), state)
    cost = next(s for s in doc["signals"] if s["kind"] == "cost")
    assert cost["unit"] == "usd_per_request" and cost["value"] == pytest.approx(68 / (100 * 1440))
    report = validate(plan, catalog, statuses, state, PolicyBundle.load(ROOT / "tools" / "policy_bundle"),
                      PolicyRequest(role="operator", region="eu"))
    text = json.dumps(report.model_dump(mode="json"))
    assert "9792000" not in text and "68 USD/request" not in text
    assert report.ok, text


def test_a_cost_finding_compares_the_per_request_value_with_the_envelope(
    catalog: Catalog, state: DeploymentState,
) -> None:
    # reply-drafter: 0.004 USD/request envelope, 120 USD/day budget. 100 USD/day at 10 rpm is
    # 0.00694 USD/request: over the envelope although under the daily budget.
    snap = SignalSnapshot.model_validate({"observed_at": "2026-11-26T12:00:00Z", "signals": [
        {"name": "reply-drafter.cost", "kind": "cost", "feature": "reply-drafter", "value": 100,
         "unit": "usd_per_day", "observed_at": "2026-11-26T11:45:00Z"},
        {"name": "reply-drafter.demand", "kind": "demand", "feature": "reply-drafter", "value": 10,
         "unit": "rpm", "observed_at": "2026-11-26T11:58:00Z", "lineage": ["gateway"]},
    ]})
    statuses = check_signals(snap, ContractSet.from_file(UNITS / "contracts.yaml"), catalog)
    findings, _ = analyze(catalog, statuses, state)
    (f,) = findings
    assert (f.kind, f.unit, f.threshold) == ("cost", "usd_per_request", 0.004)
    assert f.value == pytest.approx(100 / 14_400)


def _lat(value: float, unit: str, cohort: str, i: int) -> Signal:
    return Signal(name=f"ticket-summarizer.latency_p95.{cohort}", kind="latency", feature="ticket-summarizer",
                  value=value, unit=unit, observed_at=T0 - timedelta(seconds=10 * i))


def test_the_gate_judges_latency_in_seconds_as_milliseconds() -> None:
    # Baseline reported in ms, canary in s: 1.5 s is 50 % worse than 1000 ms, not 1000x better.
    sigs = [_lat(1000 + 5 * (i % 3), "ms", "baseline", i) for i in range(12)]
    sigs += [_lat(1.5 + 0.005 * (i % 3), "s", "canary", i) for i in range(12)]
    obs = Observations.from_signals(sigs, as_of=T0)
    assert sorted(obs.values("ticket-summarizer", "latency_p95_ms", "canary"))[0] == pytest.approx(1500)
    step = Step.model_validate({
        "id": "c1", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0", "params": {"weight": 10},
        "tolerances": [{"metric": "latency_p95_ms", "comparator": "<=", "threshold": 2500}],
    })
    v = evaluate_gate(step, obs)
    assert v.verdict == "fail", v.reason


def test_the_gate_counts_an_unconvertible_unit_as_errored() -> None:
    obs = Observations.from_signals([_lat(0.4, "rpm", "canary", 0), _lat(400, "ms", "canary", 1)], as_of=T0)
    assert obs.values("ticket-summarizer", "latency_p95_ms", "canary") == [400]
    assert obs.n_errored("ticket-summarizer", "latency_p95_ms", "canary") == 1
