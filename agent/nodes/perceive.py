"""perceive (signals through their data contracts) and triage (fast path or slow path)."""

from __future__ import annotations

__all__ = ["perceive", "triage"]

from typing import TYPE_CHECKING, Any

from jitplan.agent.nodes.common import (
    audit,
    inputs_of,
    maybe_crash,
    node_span,
    statuses_of,
)

if TYPE_CHECKING:
    from jitplan.agent.nodes.common import CycleInputs
    from jitplan.agent.planners.findings import Finding
    from jitplan.agent.planners.scope import Scope
    from jitplan.agent.state import CycleState
    from jitplan.contracts.signals import SignalStatus


def perceive(state: CycleState) -> dict[str, Any]:
    """Check every signal against its contract; quarantined ones are kept and reported."""
    from jitplan.tools.signal_check import check_signals

    with node_span("perceive", state):
        cin = inputs_of(state)
        statuses = check_signals(cin.snapshot, cin.contracts, cin.catalog, cin.now)
        docs = [s.model_dump(mode="json") for s in statuses]
        quarantined = [
            {"name": s.signal.name, "feature": s.signal.feature, "kind": s.signal.kind,
             "reasons": list(s.reasons)}
            for s in statuses if not s.ok
        ]
        r = cin.request
        audit(state, "perceive", 0, "inputs", {
            **cin.hashes(),
            "contracts_path": r.contracts,
            "request": r.request, "role": r.role, "region": r.region,
            "model": r.model or "offline",
            "signals": len(statuses),
        })
        if quarantined:
            audit(state, "perceive", 1, "quarantine", {"signals": quarantined})
        reasons = list(state.get("reasons", []))
        for q in quarantined:
            reasons.append(f"signal {q['name']} quarantined: {'; '.join(q['reasons'])}")
        maybe_crash("perceive")
    return {"signals": docs, "quarantined": quarantined, "reasons": reasons}


def _scoped_findings(
    cin: CycleInputs, statuses: list[SignalStatus]
) -> tuple[list[Finding], list[dict[str, Any]], list[str], Scope | None]:
    """The findings this cycle plans for, the deferred ones, notes, and the cycle's scope."""
    from jitplan.agent.planners.findings import analyze
    from jitplan.agent.planners.scope import scope_of, split_findings

    found, notes = analyze(cin.catalog, statuses, cin.state)
    scope = scope_of(cin.request, cin.catalog)
    findings, deferred = split_findings(found, scope)
    return findings, deferred, notes, scope


def triage(state: CycleState) -> dict[str, Any]:
    """Nothing actionable and no request -> a noop plan on the fast path (no LLM, no policy run).

    Findings are limited to the cycle's scope (``agent.planners.scope``): a request keeps those
    on the feature it names and defers the others to their own cycles. Otherwise compute the
    plan-cache key and go the slow path.
    """
    from jitplan.agent.planners.base import PlanningContext
    from jitplan.agent.planners.offline import build_offline_plan
    from jitplan.tools.plan_cache import cache_key

    with node_span("triage", state):
        cin = inputs_of(state)
        statuses = statuses_of(state)
        findings, deferred, notes, scope = _scoped_findings(cin, statuses)
        out: dict[str, Any] = {"findings": [f.to_dict() for f in findings],
                               "scope": {**scope.to_dict(), "deferred": deferred} if scope else None}
        if scope is not None:
            audit(state, "triage", 0, "scope", {"request": cin.request.request, **out["scope"]})
        if not findings and not cin.request.request.strip():
            ctx = PlanningContext(cin.catalog, tuple(statuses), cin.state, (), notes=tuple(notes),
                                  seed_id=cin.seed_id(), evidence=cin.evidence)
            out.update(fast_path=True, plan=build_offline_plan(ctx), planner="offline",
                       reasons=[*state.get("reasons", []), "nothing actionable: fast path, no plan needed"])
        else:
            out.update(fast_path=False, cache_key=cache_key(
                catalog_sha256=str(cin.hashes()["catalog_sha256"]),
                signals=statuses,
                policy_sha256=cin.policy.sha256 if cin.policy else None,
                state_sha256=cin.state.digest() if cin.request.state else None,
                planner=cin.request.model or "offline",
                request=cin.request.request + (f"\x00focus={','.join(cin.request.focus)}"
                                               if cin.request.focus else ""),
                evidence_sha256=cin.evidence_sha256,
            ))
        maybe_crash("triage")
    return out
