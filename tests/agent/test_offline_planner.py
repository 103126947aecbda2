"""Every offline planner rule on the sample world (signals checked through their contracts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from jitplan.agent.planners.base import PlanningContext
from jitplan.agent.planners.findings import analyze
from jitplan.agent.planners.offline import build_offline_plan
from jitplan.agent.planners.requests import parse_request
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.loading import load_document
from jitplan.contracts.plan import Plan
from jitplan.contracts.signals import ContractSet, SignalSnapshot
from jitplan.contracts.state import DeploymentState
from jitplan.tools.signal_check import check_signals
from jitplan.tools.validator import validate

WORLD = Path(__file__).resolve().parents[2] / "scenarios" / "world"


def _state(path: Path = WORLD / "flags.json") -> DeploymentState:
    return DeploymentState.from_flagd(load_document(path))


def _plan(snapshot: SignalSnapshot | str, *, request: str = "", state: DeploymentState | None = None
          ) -> tuple[dict[str, Any], PlanningContext]:
    cat = Catalog.from_file(WORLD / "catalog.yaml")
    con = ContractSet.from_file(WORLD / "contracts.yaml")
    snap = snapshot if isinstance(snapshot, SignalSnapshot) else SignalSnapshot.from_file(WORLD / "signals" / f"{snapshot}.yaml")
    st = state or _state()
    statuses = check_signals(snap, con, cat)
    findings, notes = analyze(cat, statuses, st)
    ctx = PlanningContext(cat, tuple(statuses), st, tuple(findings), request=request,
                          notes=tuple(notes), seed_id="test")
    plan = build_offline_plan(ctx)
    Plan.model_validate(plan)  # always schema-valid
    return plan, ctx


def _snap(*signals: dict[str, Any]) -> SignalSnapshot:
    base = {"observed_at": "2026-11-26T12:00:00Z", "signals": []}
    for s in signals:
        base["signals"].append({"unit": "rpm", "observed_at": "2026-11-26T11:58:00Z",
                                "source": "test", "lineage": ["test"], **s})
    return SignalSnapshot.from_data(base)


def _actions(plan: dict[str, Any]) -> list[tuple[str, str | None, Any]]:
    return [(s["action"], s["feature"], s["params"].get("weight")) for s in plan["steps"]]


def test_nothing_actionable_is_a_single_noop() -> None:
    plan, _ = _plan("steady")
    assert _actions(plan) == [("noop", None, None)]
    assert Plan.model_validate(plan).is_noop


def test_demand_over_trigger_stages_a_full_canary_on_the_sample_world() -> None:
    plan, ctx = _plan("demand-rise")
    # 180 rpm x 0.0009 USD x 1440 = 233 USD/day, within the 300 USD budget: all stages, then promote.
    assert _actions(plan) == [("canary", "answer-synthesizer", w) for w in (5.0, 25.0, 50.0, 100.0)] + [
        ("promote", "answer-synthesizer", None)]
    s1, s2 = plan["steps"][:2]
    assert s2["depends_on"] == ["s1"]
    metrics = {t["metric"]: t for t in s1["tolerances"]}
    spec = ctx.catalog.get("answer-synthesizer")
    assert spec is not None
    assert metrics["latency_p95_ms"]["threshold"] == spec.slo.latency_p95_ms
    assert metrics["error_rate"]["comparator"] == "<=" and metrics["error_rate"]["threshold"] == spec.slo.error_rate_max
    assert metrics["quality"]["comparator"] == ">=" and metrics["quality"]["threshold"] == spec.slo.quality_min
    assert s1["compensation"]["action"] == "rollback" and s1["compensation"]["params"] == {"to_version": None}
    assert plan["trigger"][0]["signal"] == "answer-synthesizer.demand"
    rep = validate(plan, ctx.catalog, list(ctx.statuses), ctx.state, None)
    assert rep.ok, rep.feedback()


def test_demand_over_budget_stops_the_canary_at_the_largest_stage_that_fits() -> None:
    # 500 rpm x 0.0009 USD x 1440 = 648 USD/day against a 300 USD budget: 25 % fits, 50 % does not.
    plan, ctx = _plan(_snap({"name": "answer-synthesizer.demand", "kind": "demand",
                             "feature": "answer-synthesizer", "value": 500}))
    assert _actions(plan) == [("canary", "answer-synthesizer", 5.0), ("canary", "answer-synthesizer", 25.0)]
    assert any("stopping the canary at 25%" in n for n in plan["notes"])
    rep = validate(plan, ctx.catalog, list(ctx.statuses), ctx.state, None)
    assert rep.ok, rep.feedback()


def test_demand_within_budget_goes_to_100_and_promotes_dependencies_first() -> None:
    # Turn kb-retriever off: the rollout of answer-synthesizer must enable it first.
    st = _state()
    st = st.with_feature("kb-retriever", st.get("kb-retriever").model_copy(update={"version": None}))
    plan, ctx = _plan(_snap({"name": "a.demand", "kind": "demand", "feature": "answer-synthesizer", "value": 45}),
                      state=st)
    acts = _actions(plan)
    assert acts[0] == ("enable", "kb-retriever", None)
    assert [a for a in acts[1:]] == [("canary", "answer-synthesizer", w) for w in (5.0, 25.0, 50.0, 100.0)] + [
        ("promote", "answer-synthesizer", None)]
    assert plan["steps"][1]["depends_on"] == ["s1"]
    assert plan["steps"][0]["compensation"]["action"] == "disable"
    rep = validate(plan, ctx.catalog, list(ctx.statuses), ctx.state, None)
    assert rep.ok, rep.feedback()


def test_drift_refreshes_to_the_newest_prompt_via_shadow_then_canary() -> None:
    snap = _snap({"name": "ts.drift", "kind": "drift", "feature": "ticket-summarizer", "value": 0.14,
                  "unit": "ratio"})
    plan, ctx = _plan(snap)
    acts = [(a, f) for a, f, _ in _actions(plan)]
    assert acts == [("shadow", "ticket-summarizer"), ("canary", "ticket-summarizer"),
                    ("canary", "ticket-summarizer"), ("refresh_prompt", "ticket-summarizer")]
    assert {s["version"] for s in plan["steps"]} == {"1.2.0"}
    assert plan["steps"][-1]["params"] == {}
    assert plan["steps"][-1]["compensation"]["params"]["to_version"] == "1.1.0"
    rep = validate(plan, ctx.catalog, list(ctx.statuses), ctx.state, None)
    assert rep.ok, rep.feedback()


def test_drift_on_the_sample_snapshot_refreshes_the_prompt() -> None:
    plan, ctx = _plan("drift")
    assert [a for a, _, _ in _actions(plan)] == ["shadow", "canary", "canary", "refresh_prompt"]
    assert validate(plan, ctx.catalog, list(ctx.statuses), ctx.state, None).ok


def test_drift_escalates_when_the_refresh_is_over_budget() -> None:
    # 200 rpm x 0.0005 USD x 1440 = 144 USD/day for 1.2.0 against a 90 USD budget.
    plan, _ = _plan(_snap(
        {"name": "ts.drift", "kind": "drift", "feature": "ticket-summarizer", "value": 0.14, "unit": "ratio"},
        {"name": "ts.demand", "kind": "demand", "feature": "ticket-summarizer", "value": 200},
    ))
    assert _actions(plan) == [("escalate", "ticket-summarizer", None)]
    assert "USD/day" in plan["steps"][0]["params"]["reason"]


def test_drift_below_threshold_does_nothing() -> None:
    plan, _ = _plan(_snap({"name": "d", "kind": "drift", "feature": "ticket-summarizer", "value": 0.05,
                           "unit": "ratio"}))
    assert _actions(plan) == [("noop", None, None)]


def test_moderate_cost_overrun_caps_the_budget() -> None:
    plan, ctx = _plan("cost-overrun")
    assert _actions(plan) == [("set_budget", "reply-drafter", None)]
    step = plan["steps"][0]
    assert step["params"]["usd_per_day"] == 120.0
    assert step["compensation"]["action"] == "set_budget"
    rep = validate(plan, ctx.catalog, list(ctx.statuses), ctx.state, None)
    assert rep.ok, rep.feedback()


def test_severe_cost_overrun_falls_back_and_disables() -> None:
    snap = _snap({"name": "c", "kind": "cost", "feature": "reply-drafter", "value": 0.01,
                  "unit": "usd_per_request"})
    plan, _ = _plan(snap)
    # 2.5x the envelope; tone-rewriter (the fallback) already serves: disable with the fallback named.
    assert _actions(plan) == [("disable", "reply-drafter", None)]
    step = plan["steps"][0]
    assert step["params"]["fallback"] == "tone-rewriter"
    assert step["compensation"] == {**step["compensation"], "action": "enable", "version": "2.0.0"}
    # With the fallback off, it is enabled first.
    st = _state()
    st = st.with_feature("tone-rewriter", st.get("tone-rewriter").model_copy(update={"version": None}))
    plan, _ = _plan(snap, state=st)
    assert _actions(plan) == [("enable", "tone-rewriter", None), ("disable", "reply-drafter", None)]
    assert plan["steps"][1]["depends_on"] == ["s1"]


def test_severe_cost_overrun_of_a_needed_feature_caps_instead_of_disabling() -> None:
    # pii-redactor is needed by reply-drafter (active): never disable it for cost.
    snap = _snap({"name": "c", "kind": "cost", "feature": "pii-redactor", "value": 0.001,
                  "unit": "usd_per_request"})
    plan, _ = _plan(snap)
    assert _actions(plan) == [("set_budget", "pii-redactor", None)]
    assert any("needed by" in n for n in plan["notes"])


def test_quarantined_signals_never_activate_and_are_reported() -> None:
    plan, ctx = _plan("stale")
    assert _actions(plan) == [("noop", None, None)]
    assert len([n for n in plan["notes"] if "quarantined" in n]) == 5
    # answer-synthesizer's demand (240 rpm) is over its trigger but stale.
    assert any(not s.ok and s.signal.feature == "answer-synthesizer" for s in ctx.statuses)


def test_latency_over_slo_without_a_canary_escalates() -> None:
    plan, _ = _plan("latency-spike")
    assert _actions(plan) == [("escalate", "ticket-summarizer", None)]


def test_latency_over_slo_with_a_canary_rolls_it_back() -> None:
    st = _state()
    fs = st.get("ticket-summarizer").model_copy(update={"canary_version": "1.2.0", "canary_weight": 25.0})
    plan, _ = _plan("latency-spike", state=st.with_feature("ticket-summarizer", fs))
    assert _actions(plan) == [("rollback", "ticket-summarizer", None)]
    assert plan["steps"][0]["params"] == {"to_version": "1.1.0"} and plan["steps"][0]["version"] is None


def test_structured_requests() -> None:
    assert parse_request("roll out reply-drafter to 25%").weight == 25.0  # type: ignore[union-attr]
    assert parse_request("Enable answer-synthesizer.").action == "rollout"  # type: ignore[union-attr]
    assert parse_request("refresh ticket-summarizer prompt").action == "refresh"  # type: ignore[union-attr]
    assert parse_request("please make everything better") is None
    plan, _ = _plan("steady", request="disable sql-copilot")
    assert _actions(plan) == [("noop", None, None)]
    assert any("already off" in n for n in plan["notes"])
    plan, _ = _plan("steady", request="roll out tone-rewriter to 50%")
    assert any("already serves" in n for n in plan["notes"])


def test_same_inputs_give_the_same_plan() -> None:
    a, _ = _plan("demand-rise")
    b, _ = _plan("demand-rise")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    c, _ = _plan("demand-rise", request="enable answer-synthesizer")
    assert c["id"] != a["id"]


@pytest.mark.parametrize("name", ["steady", "demand-rise", "drift", "cost-overrun", "stale", "latency-spike", "hostile"])
def test_every_sample_snapshot_yields_a_schema_valid_plan(name: str) -> None:
    plan, _ = _plan(name)
    assert yaml.safe_dump(plan)  # plain data
    assert all(s["id"] == f"s{i}" for i, s in enumerate(plan["steps"], 1))
