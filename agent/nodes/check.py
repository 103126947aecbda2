"""validate (deterministic rules + policy on the plan) and simulate (scenario matrix).

Both decide where the cycle goes next (``route``): on to the next check, back to ``plan`` with
the violations as feedback (LLM planner, bounded revisions), to the offline fallback, or to
``decide`` (which then rejects).
"""

from __future__ import annotations

__all__ = ["after_failure", "simulate", "validate"]

from typing import TYPE_CHECKING, Any

from jitplan.agent.nodes.common import audit, inputs_of, maybe_crash, node_span, statuses_of
from jitplan.agent.nodes.plan import FALLBACK_N

if TYPE_CHECKING:
    from jitplan.agent.state import CycleState


def after_failure(state: CycleState, violations: list[dict[str, Any]], what: str) -> dict[str, Any]:
    """Where a failed check sends the cycle: revise, fall back to offline, or reject."""
    cin = inputs_of(state)
    reasons = list(state.get("reasons", []))
    revision = int(state.get("revision", 0))
    llm_planner = bool(cin.request.model) and not state.get("fallback", False)
    if state.get("cache_hit") and not state.get("fallback", False):
        reasons.append(f"cached plan failed {what}: planning afresh")
        return {"route": "plan", "cache_key": None, "cache_hit": False, "reasons": reasons}
    if llm_planner and not state.get("capped") and revision < cin.request.max_revisions:
        reasons.append(f"{what} failed on revision {revision}: {len(violations)} problem(s) fed back to the planner")
        return {"route": "plan", "revision": revision + 1, "feedback": violations, "reasons": reasons}
    if llm_planner:
        if state.get("capped"):
            why = f"the LLM planner stopped early ({state.get('capped')})"
        else:
            why = f"the LLM plan still failed {what} after {revision} revision(s) (cap {cin.request.max_revisions})"
        reasons.append(f"{why}: falling back to the offline plan")
        return {"route": "plan", "fallback": True, "feedback": [], "reasons": reasons}
    reasons.append(f"plan rejected: {what} failed" + (" (offline fallback)" if state.get("fallback") else ""))
    return {"route": "decide", "reasons": reasons}


def validate(state: CycleState) -> dict[str, Any]:
    """Run the deterministic validator on the draft (schema problems are violations too).

    A draft changing a feature outside the cycle's scope (``agent.planners.scope``) fails too.
    """
    from jitplan.agent.planners.scope import out_of_scope
    from jitplan.tools.validator import validate as run_validator

    with node_span("validate", state):
        cin = inputs_of(state)
        raw = state.get("plan")
        errors = list(state.get("plan_errors", []))
        if raw is None:
            report: dict[str, Any] = {
                "ok": False,
                "violations": errors or [{"code": "schema", "message": "the planner produced no plan", "step": None}],
                "escalate": [], "policy": None, "inputs": {},
            }
        else:
            rep = run_validator(raw, cin.catalog, statuses_of(state), cin.state, cin.policy,
                                cin.policy_request)
            report = rep.model_dump(mode="json")
            scope = state.get("scope")
            if scope:
                errors = errors + out_of_scope(raw, scope)
            if errors:
                report["violations"] = errors + report["violations"]
                report["ok"] = False
        n = int(state.get("revision", 0)) + (FALLBACK_N if state.get("fallback") else 0)
        audit(state, "validate", n, "validation", {**report, "planner": state.get("planner")})
        out: dict[str, Any] = {"validation": report}
        if report["ok"]:
            out["route"] = "simulate"
        else:
            out.update(after_failure(state, list(report["violations"]), "validation"))
        maybe_crash("validate")
    return out


def simulate(state: CycleState) -> dict[str, Any]:
    """Replay the plan through the scenario matrix; breached tolerances fail the plan."""
    from jitplan.contracts.plan import Plan
    from jitplan.tools.plan_simulation import simulate_plan

    with node_span("simulate", state):
        cin = inputs_of(state)
        plan_obj = Plan.model_validate(state.get("plan"))
        serving = {s.feature: cin.state.get(s.feature).version for s in plan_obj.steps if s.feature}
        result = simulate_plan(plan_obj, cin.catalog, statuses_of(state),
                               replications=cin.request.replications, serving=serving,
                               evidence=cin.evidence)
        n = int(state.get("revision", 0)) + (FALLBACK_N if state.get("fallback") else 0)
        audit(state, "simulate", n, "simulation", {"plan_sha256": plan_obj.digest(), **result})
        out: dict[str, Any] = {"simulation": result}
        if result["passed"]:
            out["route"] = "decide"
        else:
            violations = [{"code": "simulation", "message": m, "step": None}
                          for m in result.get("failures", [])] or [
                {"code": "simulation", "message": "the plan failed simulation", "step": None}]
            out.update(after_failure(state, violations, "simulation"))
        maybe_crash("simulate")
    return out
