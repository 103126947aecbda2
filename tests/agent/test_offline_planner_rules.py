"""The offline planner's rules, plan by plan (found by ``make mutation``).

Each scenario (a request or findings on the sample world) has its whole plan checked against a
reviewed golden copy in ``data/offline_plans.json``: the steps, parameters, tolerances,
compensations, goal and notes a user approves. Rule tests below state the safety rules in plain
assertions (a medium+ risk dependency is canaried, never enabled directly; nothing unknown is
activated; every mutating step can be undone), and every golden plan must pass the validator.

A missing golden entry is written and the test fails: review the plan, then commit the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jitplan.agent.planners.base import PlanningContext
from jitplan.agent.planners.findings import Finding
from jitplan.agent.planners.offline import OfflinePlanner, build_offline_plan
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.loading import load_document
from jitplan.contracts.signals import Signal, SignalStatus
from jitplan.contracts.state import DeploymentState
from jitplan.tools.validator import validate

WORLD = Path(__file__).resolve().parents[2] / "scenarios" / "world"
GOLDEN = Path(__file__).parent / "data" / "offline_plans.json"
CAT = Catalog.from_file(WORLD / "catalog.yaml")
STATE = DeploymentState.from_flagd(load_document(WORLD / "flags.json"))


def with_(fid: str, **update: Any) -> DeploymentState:
    return STATE.with_feature(fid, STATE.get(fid).model_copy(update=update))


def demand(fid: str, rpm: float) -> SignalStatus:
    s = Signal(name=f"{fid}.demand", kind="demand", feature=fid, value=rpm, unit="rpm",  # type: ignore[arg-type]
               observed_at="2026-11-26T12:00:00Z")  # type: ignore[arg-type]
    return SignalStatus(signal=s, ok=True)


def finding(kind: str, fid: str, value: float, threshold: float, unit: str = "") -> Finding:
    return Finding(kind=kind, feature=fid, signal=f"{fid}.{kind}", value=value, threshold=threshold,
                   unit=unit, detail=f"{kind} {value:g} over {threshold:g} on {fid}")


def ctx(request: str = "", *, state: DeploymentState = STATE, findings: tuple[Finding, ...] = (),
        statuses: tuple[SignalStatus, ...] = (), notes: tuple[str, ...] = ()) -> PlanningContext:
    return PlanningContext(CAT, statuses, state, findings, request=request, notes=notes, seed_id="rules")


SCENARIOS: dict[str, PlanningContext] = {
    "disable a serving feature": ctx("disable tone-rewriter"),
    "disable a feature that is off": ctx("turn off sql-copilot"),
    "disable an unknown feature": ctx("disable voice-bot"),
    "roll back a canary in flight": ctx("roll back ticket-summarizer",
                                        state=with_("ticket-summarizer", canary_version="1.2.0", canary_weight=25.0)),
    "roll back with no canary": ctx("rollback ticket-summarizer"),
    "refresh a prompt": ctx("refresh ticket-summarizer prompt"),
    "refresh with no newer prompt": ctx("refresh the prompt of ticket-summarizer",
                                        state=with_("ticket-summarizer", version="1.2.0")),
    "refresh over budget": ctx("refresh ticket-summarizer prompt", statuses=(demand("ticket-summarizer", 200),)),
    "refresh an unknown feature": ctx("refresh voice-bot prompt"),
    "roll out to a share": ctx("roll out tone-rewriter@1.0.0 to 30%", state=with_("tone-rewriter", version=None)),
    "roll out an unknown version": ctx("enable tone-rewriter@9.9.9"),
    "roll out behind a medium-risk dependency": ctx("enable sql-copilot", state=with_("pii-redactor", version=None)),
    "roll out behind a dependency outside its range": ctx("enable refund-advisor"),
    "roll out behind a low-risk dependency that is off": ctx(
        "enable answer-synthesizer", state=with_("kb-retriever", version=None)),
    "roll out where even 5 % is over budget": ctx("enable answer-synthesizer",
                                                   statuses=(demand("answer-synthesizer", 5000),)),
    "request not understood": ctx("make everything faster please"),
    "moderate cost overrun": ctx(findings=(finding("cost", "reply-drafter", 0.006, 0.004, "usd_per_request"),)),
    "severe cost overrun with its fallback off": ctx(
        state=with_("tone-rewriter", version=None),
        findings=(finding("cost", "reply-drafter", 0.01, 0.004, "usd_per_request"),)),
    "severe cost overrun without a fallback": ctx(
        findings=(finding("cost", "sentiment-tagger", 0.0001, 0.00001, "usd_per_request"),)),
    "severe cost overrun of a needed feature": ctx(
        findings=(finding("cost", "pii-redactor", 0.001, 0.00002, "usd_per_request"),)),
    "cost of a feature the catalog does not have": ctx(findings=(finding("cost", "voice-bot", 1.0, 0.1),)),
    "latency with a canary in flight": ctx(
        state=with_("ticket-summarizer", canary_version="1.2.0", canary_weight=25.0),
        findings=(finding("latency", "ticket-summarizer", 4000, 2500, "ms"),)),
    "error rate without a canary": ctx(findings=(finding("error_rate", "ticket-summarizer", 0.05, 0.01),)),
    "drift": ctx(findings=(finding("drift", "ticket-summarizer", 0.2, 0.08),)),
    "demand on a feature that is off": ctx(findings=(finding("demand", "answer-synthesizer", 45, 30, "rpm"),),
                                           statuses=(demand("answer-synthesizer", 45),)),
    "a kind with no planner rule": ctx(findings=(finding("toxicity", "ticket-summarizer", 0.3, 0.1),)),
    "two findings for one feature, the urgent one first": ctx(findings=(
        finding("drift", "ticket-summarizer", 0.2, 0.08),
        finding("error_rate", "ticket-summarizer", 0.05, 0.01))),
    "a request and a finding for the same feature": ctx(
        "disable tone-rewriter", findings=(finding("drift", "tone-rewriter", 0.2, 0.08),),
        notes=("a quarantined signal was ignored",)),
}


def _golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text("utf-8")) if GOLDEN.is_file() else {}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_plan_matches_the_reviewed_golden_plan(name: str) -> None:
    plan = build_offline_plan(SCENARIOS[name])
    golden = _golden()
    if name not in golden:
        golden[name] = plan
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n", "utf-8")
        pytest.fail(f"golden plan for {name!r} written to {GOLDEN}: review it and commit")
    assert plan == golden[name]


KNOWN_INVALID: dict[str, str] = {}
"""Scenarios whose offline plan the validator rejects (a strict xfail each, with the reason)."""


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_INVALID[n])) if n in KNOWN_INVALID else n
    for n in SCENARIOS])
def test_every_plan_passes_the_validator(name: str) -> None:
    c = SCENARIOS[name]
    plan = build_offline_plan(c)
    report = validate(plan, CAT, list(c.statuses), c.state, None)
    assert report.ok, report.feedback()
    for s in plan["steps"]:
        if s["action"] not in ("noop", "escalate", "rollback"):
            assert s["tolerances"] and s["compensation"], s


def _acts(plan: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(s["action"], s["feature"]) for s in plan["steps"]]


def test_a_medium_risk_dependency_is_canaried_not_enabled_directly() -> None:
    plan = build_offline_plan(SCENARIOS["roll out behind a medium-risk dependency"])
    acts = _acts(plan)
    assert ("enable", "pii-redactor") not in acts
    first = [s for s in plan["steps"] if s["feature"] == "pii-redactor"]
    assert [s["action"] for s in first] == ["canary"] * 4 + ["promote"]
    assert [s["params"].get("weight") for s in first[:4]] == [5.0, 25.0, 50.0, 100.0]
    # the feature itself comes only after its dependency is promoted
    sql = [i for i, s in enumerate(plan["steps"]) if s["feature"] == "sql-copilot"]
    assert sql and plan["steps"][sql[0]]["depends_on"] == [first[-1]["id"]]


def test_a_dependency_at_a_version_outside_the_range_is_canaried_to_a_fitting_one() -> None:
    plan = build_offline_plan(SCENARIOS["roll out behind a dependency outside its range"])
    red = [s for s in plan["steps"] if s["feature"] == "pii-redactor"]
    assert red and all(s["version"] == "1.1.0" for s in red) and red[-1]["action"] == "promote"
    assert "1.0.0 is outside its range" in red[0]["rationale"]


def test_a_low_risk_dependency_that_is_off_is_enabled_first() -> None:
    plan = build_offline_plan(SCENARIOS["roll out behind a low-risk dependency that is off"])
    assert _acts(plan)[0] == ("enable", "kb-retriever")
    assert plan["steps"][0]["compensation"]["action"] == "disable"
    assert plan["steps"][1]["depends_on"] == [plan["steps"][0]["id"]]


def test_nothing_is_activated_for_unknown_features_versions_or_rules() -> None:
    for name in ("disable an unknown feature", "refresh an unknown feature", "roll out an unknown version",
                 "cost of a feature the catalog does not have", "request not understood"):
        plan = build_offline_plan(SCENARIOS[name])
        assert _acts(plan) == [("noop", None)], name
        assert plan["notes"] or name.startswith("cost"), name
    plan = build_offline_plan(SCENARIOS["a kind with no planner rule"])
    assert _acts(plan) == [("escalate", "ticket-summarizer")]
    assert "no planner rule for signal kind 'toxicity'" in plan["notes"][0]


def test_the_most_urgent_finding_wins_and_the_rest_is_noted() -> None:
    plan = build_offline_plan(SCENARIOS["two findings for one feature, the urgent one first"])
    assert _acts(plan) == [("escalate", "ticket-summarizer")]  # error rate (degrade) before drift
    assert any("already handled by an earlier step" in n for n in plan["notes"])
    req = build_offline_plan(SCENARIOS["a request and a finding for the same feature"])
    assert _acts(req) == [("disable", "tone-rewriter")]
    assert req["notes"][0] == "a quarantined signal was ignored"


def test_cost_rules() -> None:
    cap = build_offline_plan(SCENARIOS["moderate cost overrun"])
    assert _acts(cap) == [("set_budget", "reply-drafter")]
    assert all(t["metric"] != "cost_per_request_usd" for t in cap["steps"][0]["tolerances"])
    fb = build_offline_plan(SCENARIOS["severe cost overrun with its fallback off"])
    assert _acts(fb) == [("enable", "tone-rewriter"), ("disable", "reply-drafter")]
    assert fb["steps"][1]["params"] == {"fallback": "tone-rewriter"}
    none = build_offline_plan(SCENARIOS["severe cost overrun without a fallback"])
    assert _acts(none) == [("disable", "sentiment-tagger")] and none["steps"][0]["params"] == {"fallback": None}
    needed = build_offline_plan(SCENARIOS["severe cost overrun of a needed feature"])
    assert _acts(needed) == [("set_budget", "pii-redactor")]


def _rules_broken(plan: dict[str, Any], c: PlanningContext, catalog: Catalog = CAT) -> list[str]:
    report = validate(plan, catalog, list(c.statuses), c.state, None)
    return [v.code for v in report.violations]


def test_a_disable_handing_over_to_the_catalog_fallback_is_held_to_the_fallback_s_slo() -> None:
    """The validator, the planner and the gate agree: after the disable, the fallback serves the
    feature's traffic, so the step's gate is held to the fallback's SLO (quality >= 0.8 for
    tone-rewriter, where reply-drafter's own is 0.85) -- only for the catalog's own fallback,
    serving by then."""
    c = SCENARIOS["severe cost overrun with its fallback off"]
    plan = build_offline_plan(c)
    assert any(t["metric"] == "quality" and t["threshold"] < 0.85 for t in plan["steps"][1]["tolerances"])
    assert _rules_broken(plan, c) == []
    unnamed = json.loads(json.dumps(plan))
    unnamed["steps"][1]["params"] = {"fallback": None}  # no hand-over named: its own SLO
    assert "tolerance_looser_than_slo" in _rules_broken(unnamed, c)
    undeclared = CAT.model_copy(update={"features": [  # tone-rewriter serving, but not the catalog's choice
        f.model_copy(update={"fallback": None}) if f.id == "reply-drafter" else f for f in CAT.features]})
    assert "tolerance_looser_than_slo" in _rules_broken(plan, c, undeclared)
    not_serving = json.loads(json.dumps(plan))
    not_serving["steps"] = not_serving["steps"][1:]  # the fallback is never enabled
    not_serving["steps"][0]["depends_on"] = []
    assert "tolerance_looser_than_slo" in _rules_broken(not_serving, c)


def test_plan_ids_are_deterministic_and_depend_on_the_request() -> None:
    a = build_offline_plan(ctx("disable ticket-summarizer"))
    assert a == build_offline_plan(ctx("disable ticket-summarizer"))
    assert a["id"] != build_offline_plan(ctx("disable tone-rewriter"))["id"]
    assert a["id"].startswith("plan-") and len(a["id"]) == 21
    assert a["planner"] == "offline"
    assert build_offline_plan(ctx(), planner="x")["planner"] == "x"


def test_offline_planner_drafts_the_rule_based_plan() -> None:
    c = ctx("disable ticket-summarizer")
    draft = OfflinePlanner().draft(c)
    assert draft.planner == "offline" and draft.plan == build_offline_plan(c)
