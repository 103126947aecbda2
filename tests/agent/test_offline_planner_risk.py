"""The offline planner stages risky dependencies: a medium+ risk dependency is canaried, never
switched on for all traffic at once (issue 17: a mutation enabling it directly went unnoticed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jitplan.agent.planners.base import PlanningContext
from jitplan.agent.planners.findings import analyze
from jitplan.agent.planners.offline import build_offline_plan
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.loading import load_document
from jitplan.contracts.plan import Plan
from jitplan.contracts.signals import ContractSet, SignalSnapshot
from jitplan.contracts.state import DeploymentState
from jitplan.tools.signal_check import check_signals
from jitplan.tools.validator import validate

WORLD = Path(__file__).resolve().parents[2] / "scenarios" / "world"
STAGES = [5.0, 25.0, 50.0, 100.0]


def _plan_for(request: str, off: str) -> tuple[dict[str, Any], PlanningContext]:
    """Plan a user's ``request`` on the sample world with ``off`` switched off."""
    cat = Catalog.from_file(WORLD / "catalog.yaml")
    st = DeploymentState.from_flagd(load_document(WORLD / "flags.json"))
    st = st.with_feature(off, st.get(off).model_copy(update={"version": None}))
    snap = SignalSnapshot.from_file(WORLD / "signals" / "steady.yaml")
    statuses = check_signals(snap, ContractSet.from_file(WORLD / "contracts.yaml"), cat)
    findings, notes = analyze(cat, statuses, st)
    ctx = PlanningContext(cat, tuple(statuses), st, tuple(findings), request=request,
                          notes=tuple(notes), seed_id="test")
    plan = build_offline_plan(ctx)
    Plan.model_validate(plan)
    return plan, ctx


def _actions(plan: dict[str, Any]) -> list[tuple[str, str | None, Any]]:
    return [(s["action"], s["feature"], s["params"].get("weight")) for s in plan["steps"]]


def test_a_medium_risk_dependency_that_is_off_is_canaried_not_enabled() -> None:
    cat = Catalog.from_file(WORLD / "catalog.yaml")
    dep = cat.get("pii-redactor")
    assert dep is not None and dep.risk.tier == "medium" and dep.version == "1.1.0"
    # churn-predictor (off) needs pii-redactor >=1.0,<2 and sentiment-tagger (serving).
    plan, ctx = _plan_for("enable churn-predictor", off="pii-redactor")
    acts = _actions(plan)
    assert ("enable", "pii-redactor", None) not in acts
    assert acts == (
        [("canary", "pii-redactor", w) for w in STAGES] + [("promote", "pii-redactor", None)]
        + [("canary", "churn-predictor", w) for w in STAGES] + [("promote", "churn-predictor", None)]
    ), acts
    first = plan["steps"][0]
    assert first["version"] == "1.1.0"
    assert first["compensation"]["action"] == "rollback"
    assert first["compensation"]["params"] == {"to_version": None}
    # the feature's own rollout waits for its dependency's promote
    promote = next(s for s in plan["steps"] if s["action"] == "promote" and s["feature"] == "pii-redactor")
    churn = next(s for s in plan["steps"] if s["feature"] == "churn-predictor")
    assert churn["depends_on"] == [promote["id"]]
    rep = validate(plan, ctx.catalog, list(ctx.statuses), ctx.state, None)
    assert rep.ok, rep.feedback()


def test_a_low_risk_dependency_that_is_off_is_enabled_directly() -> None:
    # the other side of the rule: kb-retriever is low risk and proven, one enable step
    plan, _ = _plan_for("enable answer-synthesizer", off="kb-retriever")
    assert _actions(plan)[0] == ("enable", "kb-retriever", None)
