"""The approval handshake: the newest approval record of a plan, and whether it still holds."""

from __future__ import annotations

__all__ = ["approval_problem", "latest_approval"]

from jitplan.contracts.audit import AuditRecord
from jitplan.contracts.plan import Plan
from jitplan.tools.audit import AuditLog


def latest_approval(plan: Plan, audit: AuditLog) -> AuditRecord | None:
    """The newest ``approval`` record for this plan's digest."""
    digest = plan.digest()
    found = [r for r in audit.records() if r.kind == "approval" and r.payload.get("plan_sha256") == digest]
    return found[-1] if found else None


def approval_problem(approval: AuditRecord | None, current: dict[str, str | None]) -> str | None:
    """Why the plan may not run (None when approved and still fresh).

    ``current`` maps ``catalog_sha256`` / ``policy_sha256`` / ``state_sha256`` to today's digests.
    """
    if approval is None:
        return "plan is not approved: no approval record for its sha256 (run jitplan approve)"
    p = approval.payload
    if p.get("decision") != "approved":
        return f"plan was {p.get('decision', 'not approved')!s} by {p.get('by', '?')} (audit record {approval.seq})"
    inputs = p.get("inputs") or {}
    for name in ("catalog_sha256", "policy_sha256", "state_sha256"):
        want = inputs.get(name)
        if want is not None and current.get(name) != want:
            what = name.removesuffix("_sha256")
            return (
                f"validation is stale: the {what} changed since approval (record {approval.seq}: "
                f"{str(want)[:12]}, now {str(current.get(name))[:12]}); re-plan and re-approve"
            )
    return None
