"""govern: evaluate the policy bundle for the request and the features it touches."""

from __future__ import annotations

__all__ = ["disabled_by", "govern"]

from typing import TYPE_CHECKING, Any

from jitplan.agent.nodes.common import audit, inputs_of, maybe_crash, node_span, statuses_of

if TYPE_CHECKING:
    from jitplan.agent.state import CycleState
    from jitplan.contracts.catalog import FeatureSpec


def disabled_by(role: str | None, region: str | None) -> dict[str, Any]:
    """Who turned the policy off: the ``policy_disabled`` audit payload (requester and OS user)."""
    import getpass
    import os

    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry and no USER/LOGNAME in the environment
        user = os.environ.get("USER") or "unknown"
    return {"policy": "disabled (--no-policy)", "role": role, "region": region, "user": user}


def govern(state: CycleState) -> dict[str, Any]:
    """Deterministic policy check of the request; only an evaluation error stops the cycle here."""
    from jitplan.agent.planners.findings import serving_spec
    from jitplan.agent.planners.requests import parse_request
    from jitplan.tools.policy import evaluate_policy, policy_input

    with node_span("govern", state):
        cin = inputs_of(state)
        reasons = list(state.get("reasons", []))
        if cin.policy.disabled:
            who = disabled_by(cin.request.role, cin.request.region)
            audit(state, "govern", 1, "policy_disabled", who)
            reasons.append(f"policy disabled (--no-policy) by role {who['role']!r} (user "
                           f"{who['user']!r}): only catalog governance is checked, and a human "
                           "must approve")
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
                                             "policy_dir": cin.policy.path,
                                             "features": sorted(wanted)})
        if decision.error:
            reasons.append(f"policy could not be evaluated (deny by default): {decision.error}")
        elif not decision.allowed:
            reasons.extend(f"policy would deny activating at full traffic: {d}" for d in decision.deny)
        maybe_crash("govern")
    return {"policy": payload, "reasons": reasons}
