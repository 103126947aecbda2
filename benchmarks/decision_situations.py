"""Seeded rollout situations whose true outcome is known by construction (decision benchmark).

Kept apart from the planner: it imports contracts only, and the planner sees a situation's
catalog, signals, deployment state and evidence, never its ``truth`` or ``harm``.

Each situation is one feature ``f<i>`` with a serving version 1.0.0 and a candidate 1.1.0,
a demand signal, and evidence for both versions drawn from their *true* profiles with
sampling noise (so thin evidence is noisy). About half are harmful, one harm each:

- ``latency_cliff``: the candidate's provider concurrency limit holds today's demand but not
  demand x ``SPIKE`` (queueing explodes only at the peak);
- ``error_rate``: its error rate is 1.5-4x the SLO maximum;
- ``quality``: its quality is 0.03-0.10 below the SLO minimum;
- ``cost``: its cost per request breaks the daily budget at today's demand;
- ``rpm_limit``: its provider rpm limit is below peak demand (demand x ``SPIKE``).

The rest are good with comfortable margins. Some carry sparse evidence (n < 50).
"""

from __future__ import annotations

__all__ = ["HARMS", "SPIKE", "Situation", "generate"]

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.evidence import EvidenceRecord, EvidenceSet
from jitplan.contracts.scenario import Latency, VersionProfile
from jitplan.contracts.signals import SignalSnapshot

HARMS = ("latency_cliff", "error_rate", "quality", "cost", "rpm_limit")
SPIKE = 3.0
"""Peak demand over today's (the load-spike the plan must survive)."""
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
_Z95 = 1.6448536269514722


@dataclass(frozen=True)
class Situation:
    """One serving version, one candidate with evidence, and (hidden) the truth."""

    id: str
    feature: str
    serving: str
    candidate: str
    demand_rpm: float
    catalog: Catalog
    signals: SignalSnapshot
    evidence: EvidenceSet
    harm: str | None
    sparse: bool
    truth: dict[str, VersionProfile]
    """True profiles by ``feature@version`` (for replaying what users would have seen)."""

    @property
    def harmful(self) -> bool:
        return self.harm is not None


def _spec(fid: str, version: str, slo: dict[str, float], env: float, budget: float) -> dict[str, Any]:
    return {
        "id": fid, "version": version, "kind": "prompt", "owner": "bench",
        "description": f"benchmark feature {fid} {version}",
        "cost": {"per_request_usd": env, "daily_budget_usd": round(budget, 4)},
        "risk": {"tier": "low", "data_classes": ["public"]},
        "governance": {"regions": ["eu", "us"], "roles": ["operator"]},
        "slo": slo, "triggers": {"demand_min_rpm": 1.0, "drift_max": 0.5},
    }


def _lognormal(p95_s: float, sigma: float) -> Latency:
    mu = math.log(p95_s) - _Z95 * sigma
    return Latency(dist="lognormal", mean_s=math.exp(mu + sigma**2 / 2), sigma=sigma)


def _evidence(rng: np.random.Generator, fid: str, version: str, prof: VersionProfile, n: int,
              source: str, *, capacity: bool, samples: bool) -> EvidenceRecord:
    """What measuring ``n`` requests of ``prof`` would have shown."""
    lat = prof.latency
    mu = math.log(lat.mean_s) - lat.sigma**2 / 2
    draw = np.exp(mu + lat.sigma * rng.standard_normal(min(n, 4000))) * 1000.0
    fig: dict[str, Any] = {}
    if samples:
        fig["samples_ms"] = [round(float(x), 3) for x in draw[: min(n, 400)]]
    else:
        p50, p95, p99 = (float(x) for x in np.percentile(draw, [50, 95, 99]))
        fig["latency_ms"] = {"p50": round(p50, 3), "p95": round(max(p95, p50), 3),
                             "p99": round(max(p99, p95, p50), 3)}
    q = float(np.clip(prof.quality + rng.normal(0.0, 0.12 / math.sqrt(n)), 0.0, 1.0))
    cost = prof.usd_per_request * float(np.exp(rng.normal(0.0, 0.1 / math.sqrt(n))))
    cap = None
    if capacity and (prof.max_concurrency or prof.rpm_limit):
        cap = {"max_concurrency": prof.max_concurrency, "rpm_limit": prof.rpm_limit}
    return EvidenceRecord.model_validate({
        "feature": fid, "version": version, "source": source,
        "observed_at": NOW - timedelta(hours=float(rng.uniform(2, 60))), "requests": n,
        **fig, "error_rate": float(rng.binomial(n, prof.error_rate)) / n, "quality": q,
        "cost_per_request_usd": cost, "capacity": cap,
    })


def _one(i: int, rng: np.random.Generator, harm: str | None, sparse: bool) -> Situation:
    fid = f"f{i:03d}"
    slo = {"latency_p95_ms": float(rng.choice([1200, 2000, 2500, 3000, 4000])),
           "error_rate_max": float(rng.choice([0.01, 0.02, 0.05])),
           "quality_min": round(float(rng.uniform(0.72, 0.88)), 3)}
    sigma = float(rng.uniform(0.3, 0.5))
    env = round(float(rng.uniform(0.0005, 0.005)), 6)
    # Demand such that the candidate keeps 4-12 requests in flight (queueing is meaningful).
    p95_good = slo["latency_p95_ms"] / 1000.0 * float(rng.uniform(0.35, 0.55))
    lat = _lognormal(p95_good, sigma)
    demand = round(float(rng.uniform(4, 12)) / lat.mean_s * 60.0, 1)
    budget = demand * 1440 * env * float(rng.uniform(1.25, 2.0))
    serving_true = VersionProfile(
        latency=_lognormal(slo["latency_p95_ms"] / 1000.0 * 0.5, 0.4),
        error_rate=slo["error_rate_max"] * 0.1, quality=min(0.99, slo["quality_min"] + 0.06),
        usd_per_request=env * 0.6)
    cand: dict[str, Any] = {
        "latency": lat, "error_rate": slo["error_rate_max"] * float(rng.uniform(0.0, 0.25)),
        "quality": min(0.99, slo["quality_min"] + float(rng.uniform(0.05, 0.1))),
        "usd_per_request": env * float(rng.uniform(0.4, 0.7)),
    }
    in_flight_peak = demand / 60.0 * lat.mean_s * SPIKE
    if rng.random() < 0.5:  # good candidates may report generous provider limits
        cand["max_concurrency"] = math.ceil(in_flight_peak * 4 + 8)
        cand["rpm_limit"] = round(demand * SPIKE * float(rng.uniform(3, 6)), 1)
    if harm == "latency_cliff":  # fine at demand (load <= 0.6), over capacity at the peak
        cand["max_concurrency"] = max(2, int(in_flight_peak / SPIKE / float(rng.uniform(0.45, 0.6))))
        cand.pop("rpm_limit", None)
    elif harm == "error_rate":
        cand["error_rate"] = min(0.6, slo["error_rate_max"] * float(rng.uniform(1.5, 4.0)))
    elif harm == "quality":
        cand["quality"] = max(0.0, slo["quality_min"] - float(rng.uniform(0.03, 0.1)))
    elif harm == "cost":
        budget = demand * 1440 * env * float(rng.uniform(1.02, 1.1))
        cand["usd_per_request"] = budget / (demand * 1440) * float(rng.uniform(1.2, 1.8))
    elif harm == "rpm_limit":
        cand["rpm_limit"] = round(demand * float(rng.uniform(1.3, 2.4)), 1)
        cand.pop("max_concurrency", None)
    cand_true = VersionProfile(**cand)
    catalog = Catalog.model_validate({
        "catalog": f"bench-{fid}", "version": "1",
        "features": [_spec(fid, "1.0.0", slo, env, budget), _spec(fid, "1.1.0", slo, env, budget)],
    })
    n_cand = int(rng.integers(12, 46)) if sparse else int(rng.choice([300, 800, 2000, 5000]))
    records = [
        _evidence(rng, fid, "1.0.0", serving_true, int(rng.integers(20_000, 100_000)), "production",
                  capacity=True, samples=False),
        _evidence(rng, fid, "1.1.0", cand_true, n_cand, str(rng.choice(["shadow", "offline_eval"])),
                  capacity=False, samples=bool(rng.random() < 0.3)),
    ]
    if cand_true.max_concurrency or cand_true.rpm_limit:  # a load test found the provider limits
        lt = _evidence(rng, fid, "1.1.0", cand_true, n_cand if sparse else 200, "load_test",
                       capacity=True, samples=False)
        records.append(lt.model_copy(update={"quality": None}))
    signals = SignalSnapshot.model_validate({"observed_at": NOW.isoformat(), "signals": [
        {"name": f"{fid}.demand", "kind": "demand", "feature": fid, "value": demand, "unit": "rpm",
         "observed_at": (NOW - timedelta(minutes=2)).isoformat(), "source": "bench",
         "lineage": ["bench.gateway"]}]})
    return Situation(
        id=fid, feature=fid, serving="1.0.0", candidate="1.1.0", demand_rpm=demand,
        catalog=catalog, signals=signals,
        evidence=EvidenceSet(tuple(records), ("bench",) * len(records)),
        harm=harm, sparse=sparse,
        truth={f"{fid}@1.0.0": serving_true, f"{fid}@1.1.0": cand_true},
    )


def generate(n: int = 200, seed: int = 12) -> list[Situation]:
    """``n`` situations: half harmful (harm types in turn), about one in five with sparse evidence."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        harm = HARMS[(i // 2) % len(HARMS)] if i % 2 else None
        child = np.random.default_rng(rng.integers(2**63))
        out.append(_one(i, child, harm, sparse=bool(rng.random() < 0.2)))
    return out
