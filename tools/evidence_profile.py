"""A version's simulated behaviour fitted to its evidence, with the uncertainty of that fit.

``fit_profile(key, records, now=..., max_age_s=...)`` merges the evidence records of one
feature version into an ``EvidenceProfile``:

- latency: the pooled ``samples_ms`` when any record has them (empirical distribution), else a
  lognormal fitted to the p50/p95 (``mu = ln p50``, ``sigma = (ln p95 - ln p50) / 1.645``),
  log-quantiles averaged over records by weight;
- error rate: a Beta(0.5 + k, 0.5 + n - k) posterior (Jeffreys prior), ``k`` the errors seen;
- quality: a Beta posterior around the mean score with ``n`` observations (its interval);
- cost: the weighted mean per request; capacity: the tightest limits reported.

Each record weighs its ``requests``, shrunk by ``max_age_s / age`` once it is older than
``max_age_s`` (stale evidence is reported and counts for less, so its intervals widen).
``draw(rng)`` returns one ``VersionProfile`` with the parameters drawn from their uncertainty:
replications built on 40 requests spread far wider than on 40,000.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "REQUIRED_FIGURES",
    "EvidenceProfile",
    "fit_profile",
    "record_weight",
]

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jitplan.contracts.evidence import EvidenceRecord
from jitplan.contracts.scenario import Latency, VersionProfile

if TYPE_CHECKING:  # numpy only for the type: a cycle without evidence never imports it
    import numpy as np

DEFAULT_MAX_AGE_S = 14 * 86400.0
"""Evidence older than this (14 days) is stale: reported, and weighted by ``max_age / age``."""
REQUIRED_FIGURES = ("latency", "error_rate", "quality", "cost_per_request_usd")
"""Figures a version's evidence must cover, together, before it can be judged."""
_Z95 = 1.6448536269514722
_MAX_SAMPLES = 100_000


def record_weight(rec: EvidenceRecord, now: datetime, max_age_s: float) -> tuple[float, float]:
    """``(age_s, weight)``: the record's age and its staleness weight (1 when fresh)."""
    age = max((now - rec.observed_at).total_seconds(), 0.0)
    return age, (1.0 if age <= max_age_s else max_age_s / age)


@dataclass(frozen=True)
class EvidenceProfile:
    """Evidence-fitted behaviour of one version (``feature@version``)."""

    key: str
    sources: tuple[str, ...]
    requests: int
    effective_n: float
    age_s: float
    stale: bool
    samples_s: tuple[float, ...] = ()
    latency_n: float = 0.0
    mu: float = math.nan
    sigma: float = math.nan
    error_rate: float | None = None
    error_n: float = 0.0
    quality: float | None = None
    quality_n: float = 0.0
    cost_usd: float | None = None
    cost_n: float = 0.0
    max_concurrency: int | None = None
    rpm_limit: float | None = None

    @property
    def has_latency(self) -> bool:
        return bool(self.samples_s) or math.isfinite(self.mu)

    @property
    def missing(self) -> tuple[str, ...]:
        """Figures no record gives (the version cannot be judged without them)."""
        have = {
            "latency": self.has_latency,
            "error_rate": self.error_rate is not None,
            "quality": self.quality is not None,
            "cost_per_request_usd": self.cost_usd is not None,
        }
        return tuple(f for f in REQUIRED_FIGURES if not have[f])

    @property
    def proven(self) -> bool:
        return not self.missing

    @property
    def source(self) -> str:
        """The sources behind the figures, ``+``-joined (e.g. ``shadow+offline_eval``)."""
        return "+".join(self.sources)

    def provenance(self) -> dict[str, Any]:
        """``{source, requests, age_s}`` as the plan's ``simulation.provenance`` shows it."""
        out: dict[str, Any] = {"source": self.source, "requests": self.requests,
                               "age_s": round(self.age_s, 1)}
        if self.stale:
            out["stale"] = True
        if self.missing:
            out["missing"] = list(self.missing)
        return out

    # -- intervals --------------------------------------------------------------------------
    def error_interval(self, level: float = 0.95) -> tuple[float, float]:
        """Equal-tailed interval of the error-rate posterior."""
        from scipy.stats import beta

        a, b = self._error_ab()
        lo, hi = beta.ppf([(1 - level) / 2, (1 + level) / 2], a, b)
        return float(lo), float(hi)

    def quality_interval(self, level: float = 0.95) -> tuple[float, float]:
        """Equal-tailed interval of the mean quality score."""
        from scipy.stats import beta

        a, b = self._quality_ab()
        lo, hi = beta.ppf([(1 - level) / 2, (1 + level) / 2], a, b)
        return float(lo), float(hi)

    def _error_ab(self) -> tuple[float, float]:
        n = max(self.error_n, 0.0)
        k = (self.error_rate or 0.0) * n
        return 0.5 + k, 0.5 + n - k

    def _quality_ab(self) -> tuple[float, float]:
        n = max(self.quality_n, 1.0)
        q = min(max(self.quality or 0.0, 0.0), 1.0)
        return 0.5 + q * n, 0.5 + (1.0 - q) * n

    # -- profiles ---------------------------------------------------------------------------
    def latency(self) -> Latency:
        """The point-estimate service-time distribution (seconds)."""
        if self.samples_s:
            return Latency(dist="empirical", values_s=list(self.samples_s))
        return Latency(dist="lognormal", mean_s=math.exp(self.mu + self.sigma**2 / 2),
                       sigma=max(self.sigma, 1e-3))

    def point(self) -> VersionProfile:
        """The profile at the observed figures (no parameter uncertainty)."""
        return self._profile(self.latency(), self.error_rate or 0.0, self.quality or 0.0,
                             self.cost_usd or 0.0)

    def draw(self, rng: np.random.Generator) -> VersionProfile:
        """One plausible profile: every parameter drawn from its uncertainty."""
        if self.samples_s:
            m = int(max(2, min(len(self.samples_s), round(self.latency_n))))
            idx = rng.integers(0, len(self.samples_s), size=m)
            lat = Latency(dist="empirical", values_s=[self.samples_s[i] for i in idx])
        else:
            n = max(self.latency_n, 2.0)
            mu = self.mu + rng.standard_normal() * 1.2533 * self.sigma / math.sqrt(n)
            sigma = max(self.sigma * math.exp(rng.standard_normal() / math.sqrt(2 * (n - 1))), 1e-3)
            lat = Latency(dist="lognormal", mean_s=math.exp(mu + sigma**2 / 2), sigma=min(sigma, 5.0))
        err = float(rng.beta(*self._error_ab()))
        qual = float(rng.beta(*self._quality_ab()))
        cost = self.cost_usd or 0.0
        if cost > 0:
            shape = max(self.cost_n, 1.0)
            cost = float(rng.gamma(shape, cost / shape))
        return self._profile(lat, err, qual, cost)

    def _profile(self, lat: Latency, err: float, qual: float, cost: float) -> VersionProfile:
        return VersionProfile(
            latency=lat, error_rate=min(max(err, 0.0), 1.0), quality=min(max(qual, 0.0), 1.0),
            usd_per_request=min(max(cost, 0.0), 1000.0),
            max_concurrency=self.max_concurrency, rpm_limit=self.rpm_limit,
        )


def _wmean(pairs: Sequence[tuple[float, float]]) -> tuple[float | None, float]:
    """Weighted mean and total weight of ``(value, weight)`` pairs (``None`` when empty)."""
    total = sum(w for _, w in pairs)
    if not pairs or total <= 0:
        return None, 0.0
    return sum(v * w for v, w in pairs) / total, total


def fit_profile(key: str, records: Sequence[EvidenceRecord], *, now: datetime,
                max_age_s: float = DEFAULT_MAX_AGE_S) -> EvidenceProfile:
    """Merge ``records`` (all about version ``key``) into one profile."""
    weighted = [(r, *record_weight(r, now, max_age_s)) for r in records]
    eff = [(r, r.requests * w) for r, _, w in weighted]
    ages = [a for _, a, _ in weighted]
    newest = min(ages) if ages else math.inf
    sources = tuple(sorted({r.source for r in records}))
    samples: list[float] = []
    lat_n = 0.0
    for r, n in eff:
        if r.samples_ms:
            samples.extend(x / 1000.0 for x in r.samples_ms)
            lat_n += n
    mu = sigma = math.nan
    if samples:
        if len(samples) > _MAX_SAMPLES:  # deterministic thinning to the contract's cap
            step = len(samples) / _MAX_SAMPLES
            samples = [samples[int(i * step)] for i in range(_MAX_SAMPLES)]
    else:
        quant = [(r, n) for r, n in eff if r.latency_ms is not None]
        m, lat_n = _wmean([(math.log(r.latency_ms.p50), n) for r, n in quant
                           if r.latency_ms is not None])
        s, _ = _wmean([((math.log(r.latency_ms.p95) - math.log(r.latency_ms.p50)) / _Z95, n)
                       for r, n in quant if r.latency_ms is not None])
        if m is not None and s is not None:
            mu, sigma = m - math.log(1000.0), max(s, 1e-3)
    err, err_n = _wmean([(r.error_rate, n) for r, n in eff if r.error_rate is not None])
    qual, qual_n = _wmean([(r.quality, n) for r, n in eff if r.quality is not None])
    cost, cost_n = _wmean([(r.cost_per_request_usd, n) for r, n in eff
                           if r.cost_per_request_usd is not None])
    caps = [r.capacity for r in records if r.capacity is not None]
    conc = [c.max_concurrency for c in caps if c.max_concurrency is not None]
    rpm = [c.rpm_limit for c in caps if c.rpm_limit is not None]
    return EvidenceProfile(
        key=key, sources=sources, requests=sum(r.requests for r in records),
        effective_n=sum(n for _, n in eff), age_s=newest if records else 0.0,
        stale=bool(records) and newest > max_age_s,
        samples_s=tuple(samples), latency_n=lat_n, mu=mu, sigma=sigma,
        error_rate=err, error_n=err_n, quality=qual, quality_n=qual_n,
        cost_usd=cost, cost_n=cost_n,
        max_concurrency=min(conc) if conc else None, rpm_limit=min(rpm) if rpm else None,
    )
