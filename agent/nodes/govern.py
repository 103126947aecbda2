"""govern: evaluate the policy bundle for the request and the features it touches."""

from __future__ import annotations

__all__ = ["govern"]

from typing import TYPE_CHECKING, Any

from jitplan.agent.nodes.common import audit, inputs_of, maybe_crash, node_span, statuses_of

if TYPE_CHECKING:
    from jitplan.agent.state import CycleState
    from jitplan.contracts.catalog import FeatureSpec


def govern(state: CycleState) -> dict[str, Any]:
    """Deterministic policy check of the request; only an evaluation error stops the cycle here."""
    from jitplan.agent.planners.findings import serving_spec
    from jitplan.agent.planners.requests import parse_request
    from jitplan.tools.policy import evaluate_policy, policy_input

    with node_span("govern", state):
        cin = inputs_of(state)
        reasons = list(state.get("reasons", []))
        if cin.policy is None:
            reasons.append("no policy bundle given (--policy): policy not evaluated")
            maybe_crash("govern")
            return {"policy": None, "reasons": reasons}
        wanted: dict[str, FeatureSpec] = {}
        ids = [f["feature"] for f in state.get("findings", [])]
        intent = parse_request(cin.request.request) if cin.request.request else None
        if intent is not None:
            ids.append(intent.feature)
        for fid in ids:
            spec = serving_spec(cin.catalog, cin.state, fid)
            newest = cin.catalog.get(fid)
            for s in (spec, newest):
                if s is not None:
                    wanted[s.key] = s
        doc = policy_input(cin.policy_request, cin.catalog, [wanted[k] for k in sorted(wanted)],
                           statuses_of(state), None, cin.state)
        decision = evaluate_policy(cin.policy, doc)
        payload = decision.model_dump(mode="json")
        audit(state, "govern", 0, "policy", {"stage": "request", **payload,
                                             "features": sorted(wanted)})
        if decision.error:
            reasons.append(f"policy could not be evaluated (deny by default): {decision.error}")
        elif not decision.allowed:
            reasons.extend(f"policy would deny activating at full traffic: {d}" for d in decision.deny)
        maybe_crash("govern")
    return {"policy": payload, "reasons": reasons}
