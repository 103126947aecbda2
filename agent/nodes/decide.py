"""decide (approve / reject / escalate with ``interrupt()``), execute, record."""

from __future__ import annotations

__all__ = ["decide", "escalation_reasons", "execute", "record"]

from typing import TYPE_CHECKING, Any

from jitplan.agent.nodes.common import CycleInputs, audit, inputs_of, maybe_crash, node_span

if TYPE_CHECKING:
    from jitplan.agent.state import CycleState
    from jitplan.contracts.plan import Plan


def escalation_reasons(plan: Plan, cin: CycleInputs, state: CycleState) -> tuple[list[str], list[str]]:
    """Why a human must approve (empty: auto-approve), and which roles may approve."""
    reasons: list[str] = []
    roles: set[str] | None = None
    policy = state.get("policy") or {}
    reasons.extend(f"policy: {e}" for e in policy.get("escalate", []))
    if cin.request.no_policy or cin.policy.disabled:
        from jitplan.tools.policy import NO_POLICY_ESCALATION

        reasons.append(f"policy: {NO_POLICY_ESCALATION}")  # never auto-approve unchecked
    reasons.extend(f"validator: {e}" for e in state.get("validation", {}).get("escalate", []))
    for step in plan.steps:
        if step.action == "escalate":
            reasons.append(f"step {step.id} asks for a human: {step.params.get('reason') or step.rationale}")
        if not step.feature or not (step.mutating or step.action == "escalate"):
            continue
        spec = cin.catalog.get(step.feature, step.version) or cin.catalog.get(step.feature)
        if spec is None:
            continue
        if spec.risk.tier in ("high", "critical"):
            reasons.append(f"plan: {spec.key} is {spec.risk.tier} risk")
        if spec.governance.human_approval:
            reasons.append(f"plan: {spec.key} requires human approval")
        if spec.governance.roles and (spec.risk.tier in ("high", "critical") or spec.governance.human_approval):
            roles = set(spec.governance.roles) if roles is None else roles & set(spec.governance.roles)
    from jitplan.agent.reasons import merge_reasons

    return merge_reasons(reasons), sorted(roles or [])  # each reason once, with its sources


def _approval(state: CycleState, cin: CycleInputs, plan: Plan, decision: str, by: str,
              comment: str, auto: bool) -> dict[str, Any]:
    payload = {"plan_sha256": plan.digest(), "plan_id": plan.id, "decision": decision, "by": by,
               "comment": comment, "auto": auto, "inputs": cin.hashes()}
    audit(state, "decide", 0, "approval", payload)
    return payload


def decide(state: CycleState) -> dict[str, Any]:
    """Noop, reject (failed checks or policy), escalate to a human (interrupt), or auto-approve."""
    from jitplan.contracts.plan import Plan

    with node_span("decide", state):
        cin = inputs_of(state)
        reasons = list(state.get("reasons", []))
        raw = state.get("plan")
        policy = state.get("policy")
        if policy is not None and policy.get("error"):
            reasons.append("rejected: the policy could not be evaluated")
            maybe_crash("decide")
            return {"decision": "rejected", "reasons": reasons, "approval": None}
        if state.get("fast_path"):
            maybe_crash("decide")
            return {"decision": "noop", "reasons": reasons, "approval": None}
        validation = state.get("validation", {})
        sim = state.get("simulation", {})
        if raw is None or not validation.get("ok") or not sim.get("passed", False):
            failed = "validation failed" if not validation.get("ok") else "simulation failed"
            reasons.append(f"rejected: {failed}")
            approval = None
            if raw is not None and validation.get("ok"):
                plan = Plan.model_validate(raw)
                approval = _approval(state, cin, plan, "rejected", "auto", failed, True)
            maybe_crash("decide")
            return {"decision": "rejected", "reasons": reasons, "approval": approval}
        plan = Plan.model_validate(raw)
        if plan.is_noop:
            reasons.append("the plan changes nothing: noop")
            maybe_crash("decide")
            return {"decision": "noop", "reasons": reasons, "approval": None}
        why, roles = escalation_reasons(plan, cin, state)
        if why:
            escalation = {"thread_id": state["thread_id"], "plan_id": plan.id,
                          "plan_sha256": plan.digest(), "reasons": why, "approver_roles": roles}
            from jitplan.agent.nodes.human import ask_human

            answer = ask_human(escalation)  # LangGraph's interrupt(): waits for a human
            if not isinstance(answer, dict):
                answer = {"decision": "rejected", "by": "unknown", "comment": "malformed resume value"}
            decision = "approved" if answer.get("decision") == "approved" else "rejected"
            by = str(answer.get("by") or "unknown")
            comment = str(answer.get("comment") or "")
            approval = _approval(state, cin, plan, decision, by, comment, False)
            reasons.append(f"escalated ({'; '.join(why)}); {decision} by {by}"
                           + (f": {comment}" if comment else ""))
            maybe_crash("decide")
            return {"decision": decision, "reasons": reasons, "approval": approval,
                    "escalation": escalation}
        approval = _approval(state, cin, plan, "approved", "auto", "low risk, valid, simulation passed", True)
        reasons.append("auto-approved: low risk, valid, simulation passed")
        maybe_crash("decide")
    return {"decision": "approved", "reasons": reasons, "approval": approval, "escalation": None}


def execute(state: CycleState) -> dict[str, Any]:
    """Apply an approved plan to the flag store through the orchestrator (``--apply``)."""
    from jitplan.agent.orchestrator import apply_plan
    from jitplan.contracts.plan import Plan
    from jitplan.tools.flags import FlagStore

    with node_span("execute", state):
        cin = inputs_of(state)
        if not cin.request.state:
            from jitplan.contracts.errors import UserError

            raise UserError("--apply needs --state FLAGS (the flag store to change)", source="--state")
        plan = Plan.model_validate(state.get("plan"))
        from jitplan.agent.nodes.common import audit_log
        from jitplan.tools.signal_source import SnapshotFileSource

        log = audit_log()
        tid = state["thread_id"]
        done = log.find(f"{tid}:execute:0")
        if done is not None:
            # Killed after the saga finished: its result is on record; never run it twice.
            doc = dict(done.payload)
        else:
            source = SnapshotFileSource(cin.request.signals,
                                        contracts=cin.contracts if cin.request.contracts else None)
            result = apply_plan(plan, FlagStore(cin.request.state), signals=source, audit=log, thread_id=tid)
            doc = result.model_dump(mode="json")
            doc["exit_code"] = result.exit_code
            audit(state, "execute", 0, "execution", doc)
        maybe_crash("execute")
    return {"execution": doc}


def record(state: CycleState) -> dict[str, Any]:
    """Append the cycle's outcome record; cache plans that survived every check."""
    from jitplan.tools.plan_cache import PlanCache

    with node_span("record", state):
        decision = state.get("decision")
        raw = state.get("plan")
        plan_sha = None
        if raw is not None:
            from jitplan.contracts.plan import Plan

            try:
                plan_sha = Plan.model_validate(raw).digest()
            except ValueError:
                plan_sha = None
        audit(state, "record", 0, "outcome", {
            "decision": decision, "plan_sha256": plan_sha, "reasons": state.get("reasons", []),
            "planner": state.get("planner"), "fast_path": bool(state.get("fast_path")),
            "revisions": int(state.get("revision", 0)), "llm": state.get("llm", {}),
        })
        key = state.get("cache_key")
        if key and decision in ("approved", "escalated") and raw is not None and not state.get("cache_hit"):
            PlanCache().put(key, raw)
        maybe_crash("record")
    return {"done": True}
