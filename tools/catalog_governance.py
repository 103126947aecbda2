"""The catalog's own governance (``governance.roles`` and ``governance.regions``), checked in
Python on the policy input document, whatever the Rego bundle says.

A custom bundle may forget the role and region rules; the catalog's restrictions hold anyway.
``tools.policy`` merges these reasons into every ``PolicyDecision`` (deny by default: a requester
with no role or region is refused wherever the catalog restricts them, and an input document
that cannot be read is refused outright). The messages are the default bundle's, word for word,
so a rule both sides find is reported once.
"""

from __future__ import annotations

__all__ = ["governance_refusals"]

from typing import Any


def _names(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def governance_refusals(doc: dict[str, Any]) -> list[str]:
    """Deny reasons for each listed feature the requester's role or region may not change."""
    request = doc.get("request") or {}
    features = doc.get("features") or []
    if not isinstance(request, dict) or not isinstance(features, list):
        return ["catalog governance could not be checked: the policy input's request is not "
                "an object or its features not a list (deny by default)"]
    role, region = request.get("role"), request.get("region")
    out: list[str] = []
    for f in features:
        fid = f.get("id") if isinstance(f, dict) else None
        gov = f.get("governance", {}) if isinstance(f, dict) else None
        roles = _names(gov.get("roles", [])) if isinstance(gov, dict) else None
        regions = _names(gov.get("regions", [])) if isinstance(gov, dict) else None
        if not isinstance(fid, str) or roles is None or regions is None:
            out.append(f"catalog governance could not be checked for {fid!r}: malformed "
                       "governance (deny by default)")
            continue
        if roles and not isinstance(role, str):
            out.append(f"requester role not given (--as ROLE or JITPLAN_ROLE): {fid} may be "
                       f"changed only by roles: {', '.join(roles)}")
        elif roles and role not in roles:
            out.append(f'role "{role}" is not allowed to change {fid} '
                       f"(allowed roles: {', '.join(roles)})")
        if regions and not isinstance(region, str):
            out.append(f"requester region not given (--region R or JITPLAN_REGION): {fid} is "
                       f"allowed only in regions: {', '.join(regions)}")
        elif regions and region not in regions:
            out.append(f'region "{region}" is not allowed for {fid} '
                       f"(data sovereignty; allowed regions: {', '.join(regions)})")
    return out
