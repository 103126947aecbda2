"""plan: one draft from the configured planner (LLM or offline), or from the plan cache."""

from __future__ import annotations

__all__ = ["plan"]

from typing import TYPE_CHECKING, Any

from jitplan.agent.nodes.common import audit, inputs_of, maybe_crash, node_span, statuses_of

if TYPE_CHECKING:
    from jitplan.agent.state import CycleState

FALLBACK_N = 1000
"""Audit ``n`` offset for drafts of the offline fallback (keeps keys unique per draft)."""


def plan(state: CycleState) -> dict[str, Any]:
    """Draft a plan; revisions see the previous violations; the fallback uses the offline rules."""
    from jitplan.agent.planners.base import PlanningContext
    from jitplan.agent.planners.factory import make_planner
    from jitplan.agent.planners.findings import Finding, analyze
    from jitplan.tools.plan_cache import PlanCache

    with node_span("plan", state) as sp:
        cin = inputs_of(state)
        revision = int(state.get("revision", 0))
        fallback = bool(state.get("fallback", False))
        n = revision + (FALLBACK_N if fallback else 0)
        reasons = list(state.get("reasons", []))
        key = state.get("cache_key")
        if not fallback and revision == 0 and cin.request.use_cache and key:
            cached = PlanCache().get(key)
            if cached is not None:
                audit(state, "plan", n, "plan_draft", {"plan": cached, "planner": "cache",
                                                      "cache_key": key, "revision": revision})
                reasons.append("plan cache hit: planner skipped (plan validated and simulated again)")
                sp.set_attribute("jitplan.plan_id", str(cached.get("id", "")))
                maybe_crash("plan")
                return {"plan": cached, "plan_errors": [], "planner": str(cached.get("planner", "offline")),
                        "cache_hit": True, "reasons": reasons}
        statuses = statuses_of(state)
        _, notes = analyze(cin.catalog, statuses, cin.state)
        scope = state.get("scope")
        if scope:
            notes.append(f"scope: plan only {', '.join(scope['features'])}"
                         + (f" and its dependencies ({', '.join(scope['dependencies'])})" if scope["dependencies"] else "")
                         + (f"; fallback {', '.join(scope['fallbacks'])}" if scope.get("fallbacks") else ""))
            notes.extend(f"{d['feature']}: {'; '.join(x['detail'] for x in d['findings'])}: not in this plan "
                         "(planned in its own cycle, with its own decision)" for d in scope.get("deferred", []))
        ctx = PlanningContext(
            catalog=cin.catalog,
            statuses=tuple(statuses),
            state=cin.state,
            findings=tuple(Finding.from_dict(f) for f in state.get("findings", [])),
            request=cin.request.request,
            role=cin.request.role,
            region=cin.request.region,
            policy=state.get("policy"),
            feedback=tuple(state.get("feedback", [])),
            revision=revision,
            previous=state.get("plan") if revision > 0 and not fallback else None,
            notes=tuple(notes),
            seed_id=cin.seed_id(),
            evidence=cin.evidence,
        )
        llm = dict(state.get("llm", {}))
        planner = make_planner(None if fallback else cin.request.model, cin=cin, llm_totals=llm)
        draft = planner.draft(ctx)
        llm = draft.usage.add_to(llm) if draft.usage.calls or llm else llm
        reasons.extend(draft.reasons)
        if draft.capped:
            reasons.append(draft.capped)
        if isinstance(draft.plan, dict) and draft.plan.get("id"):
            sp.set_attribute("jitplan.plan_id", str(draft.plan["id"]))
        audit(state, "plan", n, "plan_draft", {
            "plan": draft.plan, "planner": draft.planner, "revision": revision,
            "fallback": fallback, "errors": list(draft.errors), "capped": draft.capped,
            "llm": {k: llm.get(k) for k in sorted(llm)},
        })
        maybe_crash("plan")
    return {"plan": draft.plan, "plan_errors": list(draft.errors), "planner": draft.planner,
            "llm": llm, "capped": draft.capped, "reasons": reasons, "cache_hit": False}
