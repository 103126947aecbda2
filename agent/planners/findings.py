"""What the signals say needs doing: ``analyze`` turns checked signals into ``Finding``s.

Only signals that passed their data contract count; a feature with a quarantined signal gets no
activation (the quarantine is reported instead).
"""

from __future__ import annotations

__all__ = ["Finding", "analyze", "serving_spec"]

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from jitplan.contracts.catalog import Catalog, FeatureSpec
    from jitplan.contracts.signals import SignalStatus
    from jitplan.contracts.state import DeploymentState

FindingKind = Literal["demand", "drift", "cost", "latency", "error_rate"]


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
    """Findings (sorted, deterministic) and notes about signals that were not used."""
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
        active = state.is_active(sig.feature)
        f: Finding | None = None
        if sig.kind == "demand":
            trig = spec.triggers.demand_min_rpm
            if sig.value >= trig and not active:
                if sig.feature in blocked:
                    notes.append(
                        f"demand for {sig.feature} is {sig.value:g} rpm (trigger {trig:g}) but the "
                        "feature has quarantined signals: no activation"
                    )
                else:
                    f = Finding("demand", sig.feature, sig.name, sig.value, trig, sig.unit,
                                f"demand {sig.value:g} rpm >= trigger {trig:g} rpm and {sig.feature} is off")
        elif sig.kind == "drift" and active:
            if sig.value > spec.triggers.drift_max:
                f = Finding("drift", sig.feature, sig.name, sig.value, spec.triggers.drift_max, sig.unit,
                            f"drift {sig.value:g} > threshold {spec.triggers.drift_max:g} on {spec.key}")
        elif sig.kind == "cost" and active:
            per_day = sig.unit.endswith("per_day") or sig.unit.endswith("/day")
            limit = spec.cost.daily_budget_usd if per_day else spec.cost.per_request_usd
            if sig.value > limit:
                f = Finding("cost", sig.feature, sig.name, sig.value, limit, sig.unit,
                            f"cost {sig.value:g} {sig.unit} > envelope {limit:g} on {spec.key}")
        elif sig.kind == "latency" and active:
            if sig.value > spec.slo.latency_p95_ms:
                f = Finding("latency", sig.feature, sig.name, sig.value, spec.slo.latency_p95_ms,
                            sig.unit, f"latency p95 {sig.value:g} ms > SLO {spec.slo.latency_p95_ms:g} ms on {spec.key}")
        elif sig.kind == "error_rate" and active and sig.value > spec.slo.error_rate_max:
            f = Finding("error_rate", sig.feature, sig.name, sig.value, spec.slo.error_rate_max,
                        sig.unit, f"error rate {sig.value:g} > SLO {spec.slo.error_rate_max:g} on {spec.key}")
        if f is not None:
            findings.append(f)
    findings.sort(key=lambda x: (x.feature, x.kind, x.signal))
    return findings, notes
