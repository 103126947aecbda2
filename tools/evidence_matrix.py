"""Give a simulation matrix's versions their evidence, and judge rows by what was proven.

``apply_evidence(sc, ...)`` replaces every ``feature@version`` profile of a matrix scenario by
the profile its evidence supports (``EvidenceIndex``); the serving version's observed signals
count as its evidence. A version without (enough) evidence keeps its nominal catalog-derived
profile and is reported as ``"nominal"``: a row whose plan serves users from such a version
is ``unproven``, never ``passed``. ``row_verdict`` turns a row's outcome into ``passed``,
``failed`` or ``unproven``.

A version is proven when its evidence covers latency, error rate, quality and cost, over at
least ``MIN_PROVEN_REQUESTS`` (200, staleness-weighted) requests.
"""

from __future__ import annotations

__all__ = [
    "MIN_PROVEN_REQUESTS",
    "EvidenceView",
    "apply_evidence",
    "evidence_now",
    "exposed_versions",
    "is_proven",
    "row_verdict",
]

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.plan import Plan
from jitplan.contracts.scenario import Scenario, VersionProfile
from jitplan.contracts.signals import SignalStatus
from jitplan.tools.evidence import EvidenceIndex, signal_records
from jitplan.tools.evidence_profile import EvidenceProfile

MIN_PROVEN_REQUESTS = 200.0
"""Fewer (staleness-weighted) requests than this is too thin to expose users on (at an error-rate
SLO of 1 %, 200 requests expect 2 errors): the planner shadows the version for more first."""
EXPOSING_ACTIONS = frozenset({"canary", "promote", "enable", "refresh_prompt"})
"""Step actions that serve users from the step's version."""
Verdict = Literal["passed", "failed", "unproven"]


def is_proven(profile: EvidenceProfile | None) -> bool:
    """Complete evidence on enough requests."""
    return profile is not None and profile.proven and profile.effective_n >= MIN_PROVEN_REQUESTS


def evidence_now(signals: Sequence[SignalStatus], fallback: datetime | None = None) -> datetime:
    """The cycle's "now" for evidence ages: the newest signal, else ``fallback``, else the clock
    (plans stay reproducible for a given snapshot)."""
    times = [s.signal.observed_at for s in signals]
    if times:
        return max(times)
    return fallback or datetime.now(UTC)


def exposed_versions(plan: Plan, feature: str) -> list[str]:
    """``feature@version`` keys the plan serves users from (shadows expose nobody)."""
    out: list[str] = []
    for st in plan.steps:
        if st.feature == feature and st.version and st.action in EXPOSING_ACTIONS:
            key = f"{feature}@{st.version}"
            if key not in out:
                out.append(key)
    return out


@dataclass(frozen=True)
class EvidenceView:
    """A matrix scenario's versions with their evidence (or lack of it)."""

    scenario: Scenario
    profiles: dict[str, EvidenceProfile] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    unproven: tuple[str, ...] = ()


def _mean_s(p: VersionProfile) -> float:
    lat = p.latency
    if lat.dist == "empirical":
        return sum(lat.values_s) / len(lat.values_s)
    return lat.mean_s


def apply_evidence(
    sc: Scenario, catalog: Catalog, feature: str, index: EvidenceIndex | None,
    signals: Sequence[SignalStatus], *, serving: str | None = None,
) -> EvidenceView:
    """``sc`` with evidence-backed profiles; ``serving`` is the serving version (not a key)."""
    index = index or EvidenceIndex(catalog.catalog)
    if serving is not None:
        extra = signal_records(signals, feature, serving, now=index.now)
        index = index.with_records(f"{feature}@{serving}", extra)
    svc = sc.service
    versions = dict(svc.versions)
    update: dict[str, Any] = {}
    profiles: dict[str, EvidenceProfile] = {}
    provenance: dict[str, Any] = {}
    unproven: list[str] = []
    for key in svc.version_keys:
        fid, _, ver = key.partition("@")
        if fid != feature or catalog.get(fid, ver) is None:
            continue  # "feature@off" and the like: not a catalog version
        prof = index.get(key)
        if not is_proven(prof):
            provenance[key] = "nominal" if prof is None else {**prof.provenance(), "sparse": True}
            unproven.append(key)
            continue
        assert prof is not None
        profiles[key] = prof
        provenance[key] = prof.provenance()
        point = prof.point()
        if key == svc.baseline:
            update.update({f: getattr(point, f) for f in VersionProfile.model_fields})
        else:
            versions[key] = point
    update["versions"] = versions
    service = svc.model_copy(update=update)
    # Our own workers must not be the bottleneck at the peak: provider limits are per version.
    peak = sc.traffic.rate_rps * max([1.0, *(s.multiplier for s in sc.traffic.spikes)])
    longest = max(_mean_s(service.profile(k)) for k in service.version_keys)
    need = min(100_000, max(service.concurrency, math.ceil(peak * longest / 0.25) + 1))
    service = service.model_copy(update={"concurrency": need})
    return EvidenceView(sc.model_copy(update={"service": service}), profiles, provenance,
                        tuple(unproven))


def row_verdict(ok: bool, plan: Plan, feature: str, view: EvidenceView) -> Verdict:
    """``unproven`` when the plan serves users from a version without enough evidence."""
    if any(k in view.unproven for k in exposed_versions(plan, feature)):
        return "unproven"
    return "passed" if ok else "failed"
