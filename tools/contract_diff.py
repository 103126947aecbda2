"""``jitplan catalog diff`` on data-contract files: what a new contract set stops accepting.

Per signal kind: a removed contract is breaking (signals of that kind are quarantined: "no data
contract"); a narrowed range (compared in the kind's canonical unit), a shorter ``max_age_s`` or a
newly required lineage is breaking (signals that passed are quarantined); a changed unit is
``needs-review`` (producers and dashboards may still use the old one); widenings are ``info``.
"""

from __future__ import annotations

__all__ = ["diff_contracts"]

import math

from jitplan.contracts.signals import ContractSet, DataContract
from jitplan.tools.diff_findings import DiffSide, Finding
from jitplan.tools.schema_compat import Severity


def _factor(c: DataContract) -> float | None:
    """Contract unit -> canonical factor; None when the unit is relative to another kind."""
    from jitplan.contracts.signal_kinds import get_kind

    spec = get_kind(c.kind)
    conv = spec.conversion(c.unit) if spec is not None else None
    return None if conv is None or conv.per is not None else conv.factor


def _fmt(v: float | None, unit: str) -> str:
    return "none" if v is None else f"{v:g} {unit}"


def diff_contracts(o: DiffSide, n: DiffSide) -> list[Finding]:
    """Findings from data contracts ``o`` to ``n`` (both loaded files)."""
    old = ContractSet.from_data(o.data, source=o.source)
    new = ContractSet.from_data(n.data, source=n.source)
    out: list[Finding] = []

    def add(sev: Severity, code: str, msg: str, side: DiffSide, i: int, kind: str, *field: str) -> None:
        path, line = side.where("contracts", i, *field)
        out.append(Finding(sev, code, f"{kind}: {msg}", path, side.source, line, signal_kind=kind))

    new_pos = {c.kind: j for j, c in enumerate(new.contracts)}
    old_pos = {c.kind: i for i, c in enumerate(old.contracts)}
    for i, a in enumerate(old.contracts):
        if a.kind not in new_pos:
            add("breaking", "contract_removed",
                "contract removed: every signal of this kind is now quarantined (no data contract)",
                o, i, a.kind)
    for j, b in enumerate(new.contracts):
        if b.kind not in old_pos:
            add("needs-review", "contract_added",
                f"new contract ({_fmt(b.min, b.unit)} .. {_fmt(b.max, b.unit)}): signals of this kind "
                "now reach planning", n, j, b.kind)
            continue
        a = old.contracts[old_pos[b.kind]]
        fa, fb = _factor(a), _factor(b)
        if a.unit != b.unit:
            add("needs-review", "unit_changed",
                f"unit {a.unit} -> {b.unit}: producers and dashboards in {a.unit} still convert, "
                "but check the limits", n, j, b.kind, "unit")
        if fa is None or fb is None:
            if (a.min, a.max, a.unit) != (b.min, b.max, b.unit):
                add("needs-review", "range_changed", f"range changed in a per-unit ({b.unit}): "
                    "not comparable without the divisor signal", n, j, b.kind)
        else:
            for key, lower in (("min", True), ("max", False)):
                va, vb = getattr(a, key), getattr(b, key)
                ca = None if va is None else va * fa
                cb = None if vb is None else vb * fb
                if ca == cb or (ca is not None and cb is not None and math.isclose(ca, cb, rel_tol=1e-9)):
                    continue
                narrower = cb is not None and (ca is None or (cb > ca if lower else cb < ca))
                shown = f"{key} {_fmt(va, a.unit)} -> {_fmt(vb, b.unit)}"
                if narrower:
                    add("breaking", "range_narrowed", f"{shown}: signals that passed are now quarantined",
                        n, j, b.kind, key)
                else:
                    add("info", "range_widened", shown, n, j, b.kind, key)
        if a.max_age_s != b.max_age_s:
            if b.max_age_s is not None and (a.max_age_s is None or b.max_age_s < a.max_age_s):
                add("breaking", "max_age_narrowed",
                    f"max_age_s {a.max_age_s} -> {b.max_age_s:g}: older signals are now quarantined",
                    n, j, b.kind, "max_age_s")
            else:
                add("info", "max_age_widened", f"max_age_s {a.max_age_s} -> {b.max_age_s}",
                    n, j, b.kind, "max_age_s")
        if b.lineage_required and not a.lineage_required:
            add("breaking", "lineage_required_added",
                "lineage now required: signals without lineage are quarantined", n, j, b.kind, "lineage_required")
        elif a.lineage_required and not b.lineage_required:
            add("info", "lineage_required_removed", "lineage no longer required", n, j, b.kind, "lineage_required")
    return out
