"""What the signals say needs doing: ``analyze`` turns checked signals into ``Finding``s.

Only signals that passed their data contract count (their values are in the kind's canonical
unit); a feature with a quarantined signal gets no activation (the quarantine is reported
instead). What makes a finding of each kind comes from ``contracts.signal_kinds``.
"""

from __future__ import annotations

__all__ = ["Finding", "analyze", "serving_spec"]

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jitplan.contracts.catalog import Catalog, FeatureSpec
    from jitplan.contracts.signals import SignalStatus
    from jitplan.contracts.state import DeploymentState

FindingKind = str
"""A registered signal kind (``contracts.signal_kinds``)."""


@dataclass(frozen=True)
class Finding:
    """One actionable observation about one feature."""

    kind: FindingKind
    feature: str
    signal: str
    value: float
    threshold: float
    unit: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(**d)


def serving_spec(catalog: Catalog, state: DeploymentState, feature_id: str) -> FeatureSpec | None:
    """The catalog entry of the version serving now (the newest when the feature is off)."""
    versions = catalog.versions(feature_id)
    fs = state.get(feature_id)
    if fs.version:
        spec = next((v for v in versions if v.version == fs.version), None)
        if spec is not None:
            return spec
    return versions[-1] if versions else None


def analyze(
    catalog: Catalog, statuses: list[SignalStatus] | tuple[SignalStatus, ...], state: DeploymentState
) -> tuple[list[Finding], list[str]]:
    """Findings (sorted, deterministic) and notes about signals that were not used.

    Each kind's registry entry (``contracts.signal_kinds``) says what a finding is: its value
    (canonical unit) on the bad side of the catalog threshold, while the feature serves (or, for
    a trigger such as demand, while it is off). A feature with a quarantined signal gets no
    finding that would activate it.
    """
    from jitplan.contracts.signal_kinds import get_kind

    findings: list[Finding] = []
    notes: list[str] = []
    blocked = {s.signal.feature for s in statuses if not s.ok}
    specs: dict[str, FeatureSpec | None] = {}
    for st in statuses:
        sig = st.signal
        if not st.ok:
            notes.append(f"signal {sig.name!r} quarantined, not used: {'; '.join(st.reasons)}")
            continue
        if sig.feature not in specs:
            specs[sig.feature] = serving_spec(catalog, state, sig.feature)
        spec = specs[sig.feature]
        if spec is None:
            notes.append(f"signal {sig.name!r} names unknown feature {sig.feature!r}; ignored")
            continue
        kind = get_kind(sig.kind)
        if kind is None:
            notes.append(f"signal {sig.name!r} has unregistered kind {sig.kind!r}; ignored")
            continue
        threshold = kind.threshold_for(spec)
        if threshold is None or (state.is_active(sig.feature) != (kind.when == "active")):
            continue
        if not kind.fires(sig.value, threshold):
            continue
        text = kind.detail.format(kind=kind.name, value=sig.value, unit=kind.canonical_unit, op=kind.op,
                                  threshold=threshold, feature=sig.feature, key=spec.key)
        if kind.rule == "activate" and sig.feature in blocked:
            notes.append(f"{text}, but the feature has quarantined signals: no activation")
            continue
        findings.append(Finding(kind.name, sig.feature, sig.name, sig.value, threshold,
                                kind.canonical_unit, text))
    findings.sort(key=lambda x: (x.feature, x.kind, x.signal))
    return findings, notes
