"""Evidence matched to one catalog: the measured profile of each of its versions.

``index_evidence(catalog, evidence)`` keeps the records whose ``(feature, version)`` is in
*this* catalog and fits one ``EvidenceProfile`` per version; records about anything else are
reported (``unknown``), never borrowed by a look-alike name. Stale records (older than
``max_age_s``: ``JITPLAN_EVIDENCE_MAX_AGE_DAYS``, default 14 days) are reported in
``warnings`` and weigh less.

``signal_records(...)`` turns the serving version's observed signals (latency p95, error rate,
cost per request, demand) into one ``production`` record: when the serving version has
observed signals, those are its evidence.
"""

from __future__ import annotations

__all__ = [
    "EvidenceIndex",
    "evidence_max_age_s",
    "index_evidence",
    "signal_records",
]

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.evidence import EvidenceRecord, EvidenceSet, LatencyQuantiles
from jitplan.contracts.settings import get_settings
from jitplan.contracts.signals import SignalStatus
from jitplan.tools.evidence_profile import DEFAULT_MAX_AGE_S, EvidenceProfile, fit_profile

_SIGNAL_SIGMA = 0.5
"""Log-space spread assumed when a signal gives only a p95 (p50 = p95 / e^(1.645 sigma))."""
SIGNAL_WINDOW_MIN = 5.0
"""Minutes of demand a serving-version signal is taken to summarize (its sample size)."""


def evidence_max_age_s() -> float:
    """Staleness bound: ``JITPLAN_EVIDENCE_MAX_AGE_DAYS`` (days) or 14 days."""
    return get_settings().evidence_max_age_days * 86400.0


@dataclass(frozen=True)
class EvidenceIndex:
    """Profiles of one catalog's versions, plus what could not be used and why."""

    catalog: str
    profiles: Mapping[str, EvidenceProfile] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    max_age_s: float = DEFAULT_MAX_AGE_S
    records: Mapping[str, tuple[EvidenceRecord, ...]] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def get(self, key: str) -> EvidenceProfile | None:
        return self.profiles.get(key)

    def with_records(self, key: str, extra: Sequence[EvidenceRecord]) -> EvidenceIndex:
        """A copy where version ``key`` also has ``extra`` records (e.g. from its signals)."""
        if not extra:
            return self
        recs = (*self.records.get(key, ()), *extra)
        profiles = dict(self.profiles)
        profiles[key] = fit_profile(key, recs, now=self.now, max_age_s=self.max_age_s)
        records = dict(self.records)
        records[key] = recs
        return EvidenceIndex(self.catalog, profiles, self.unknown, self.warnings, self.max_age_s,
                             records, self.now)

    @property
    def notes(self) -> list[str]:
        """Every problem worth telling the user (unknown versions, stale evidence)."""
        return [*self.unknown, *self.warnings]


def index_evidence(
    catalog: Catalog, evidence: EvidenceSet | None, *, now: datetime | None = None,
    max_age_s: float | None = None,
) -> EvidenceIndex:
    """Match ``evidence`` to ``catalog``'s versions and fit their profiles."""
    now = now or datetime.now(UTC)
    max_age = evidence_max_age_s() if max_age_s is None else max_age_s
    if evidence is None or not evidence.records:
        return EvidenceIndex(catalog.catalog, {}, (), (), max_age, {}, now)
    by_key: dict[str, list[EvidenceRecord]] = {}
    unknown: list[str] = []
    stale: list[str] = []
    for rec, src in zip(evidence.records, evidence.sources, strict=True):
        if catalog.get(rec.feature, rec.version) is None:
            what = "feature" if catalog.get(rec.feature) is None else "version"
            unknown.append(f"{src}: evidence for {rec.key} ignored: no such {what} in catalog "
                           f"'{catalog.catalog}' (evidence is never borrowed across catalogs)")
            continue
        by_key.setdefault(rec.key, []).append(rec)
        age = (now - rec.observed_at).total_seconds()
        if age > max_age:
            stale.append(f"{src}: evidence for {rec.key} ({rec.source}, {rec.observed_at:%Y-%m-%d}) "
                         f"is stale: {age / 86400:.1f} days old, over {max_age / 86400:g}; "
                         "it counts for less")
    profiles = {k: fit_profile(k, v, now=now, max_age_s=max_age) for k, v in sorted(by_key.items())}
    records = {k: tuple(v) for k, v in by_key.items()}
    return EvidenceIndex(catalog.catalog, profiles, tuple(unknown), tuple(stale), max_age, records, now)


def signal_records(
    signals: Sequence[SignalStatus], feature: str, version: str, *, now: datetime,
) -> list[EvidenceRecord]:
    """The serving version's healthy signals as one ``production`` evidence record (or none)."""
    obs: dict[str, float] = {}
    at: datetime | None = None
    for s in signals:
        if not (s.ok and s.signal.feature == feature):
            continue
        kind = s.signal.kind  # checked signals: values in their kind's canonical unit
        if kind in ("latency", "error_rate", "cost", "demand"):
            obs[kind] = s.signal.value
            at = s.signal.observed_at if at is None else max(at, s.signal.observed_at)
    measured = {k for k in obs if k != "demand"}
    if not measured or at is None:
        return []
    lat = None
    if obs.get("latency", 0) > 0:
        p95 = obs["latency"]
        lat = LatencyQuantiles(p50=p95 / math.exp(1.6448536269514722 * _SIGNAL_SIGMA), p95=p95)
    n = max(int(obs.get("demand", 1.0) * SIGNAL_WINDOW_MIN), 1)
    err = obs.get("error_rate")
    cost = obs.get("cost")
    return [EvidenceRecord(
        feature=feature, version=version, source="production", observed_at=min(at, now),
        requests=n, latency_ms=lat,
        error_rate=None if err is None else min(max(err, 0.0), 1.0),
        cost_per_request_usd=None if cost is None else min(max(cost, 0.0), 1000.0),
    )]
