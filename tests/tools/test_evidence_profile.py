"""Profiles fitted to evidence: lognormal from p50/p95, empirical from samples, Beta posteriors,
staleness weights, and parameter draws whose spread follows the sample size."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from jitplan.contracts.evidence import Capacity, EvidenceRecord, LatencyQuantiles
from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic
from jitplan.tools.evidence_profile import fit_profile
from jitplan.tools.evidence_sim import run_drawn

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def rec(n: int = 1000, age_days: float = 1.0, **kw: object) -> EvidenceRecord:
    base: dict[str, object] = {
        "feature": "f", "version": "1.0.0", "source": "shadow",
        "observed_at": NOW - timedelta(days=age_days), "requests": n,
        "latency_ms": LatencyQuantiles(p50=800, p95=1400), "error_rate": 0.02,
        "quality": 0.9, "cost_per_request_usd": 0.001,
    }
    base.update(kw)
    return EvidenceRecord.model_validate(base)


def test_lognormal_fit_reproduces_the_quantiles() -> None:
    p = fit_profile("f@1.0.0", [rec()], now=NOW)
    lat = p.point().latency
    assert lat.dist == "lognormal"
    mu = math.log(lat.mean_s) - lat.sigma**2 / 2
    assert math.exp(mu) == pytest.approx(0.8)
    assert math.exp(mu + 1.6448536 * lat.sigma) == pytest.approx(1.4)
    assert p.proven and p.provenance() == {"source": "shadow", "requests": 1000, "age_s": 86400.0}


def test_samples_give_an_empirical_distribution_and_capacity_is_kept() -> None:
    p = fit_profile("f@1.0.0", [rec(samples_ms=[100, 200, 300], latency_ms=None,
                                    capacity=Capacity(max_concurrency=4, rpm_limit=600))], now=NOW)
    prof = p.point()
    assert prof.latency == Latency(dist="empirical", values_s=[0.1, 0.2, 0.3])
    assert (prof.max_concurrency, prof.rpm_limit) == (4, 600)


def test_records_merge_and_missing_figures_leave_it_unproven() -> None:
    only_quality = rec(latency_ms=None, error_rate=None, cost_per_request_usd=None,
                       source="offline_eval")
    p = fit_profile("f@1.0.0", [only_quality], now=NOW)
    assert not p.proven and p.missing == ("latency", "error_rate", "cost_per_request_usd")
    merged = fit_profile("f@1.0.0", [only_quality, rec(quality=None, source="load_test")], now=NOW)
    assert merged.proven and merged.source == "load_test+offline_eval"


def test_intervals_narrow_with_more_requests() -> None:
    thin = fit_profile("f@1.0.0", [rec(n=40)], now=NOW)
    thick = fit_profile("f@1.0.0", [rec(n=40_000)], now=NOW)
    for a, b in ((thin.error_interval(), thick.error_interval()),
                 (thin.quality_interval(), thick.quality_interval())):
        assert a[0] < b[0] < b[1] < a[1]
        assert (a[1] - a[0]) > 10 * (b[1] - b[0])


def test_stale_evidence_is_flagged_and_weighted_down() -> None:
    fresh = fit_profile("f@1.0.0", [rec(n=1000, age_days=1)], now=NOW, max_age_s=14 * 86400)
    stale = fit_profile("f@1.0.0", [rec(n=1000, age_days=56)], now=NOW, max_age_s=14 * 86400)
    assert not fresh.stale and stale.stale and stale.provenance()["stale"] is True
    assert stale.effective_n == pytest.approx(250.0)  # 1000 x 14/56
    lo, hi = stale.error_interval()
    flo, fhi = fresh.error_interval()
    assert hi - lo > fhi - flo


def test_draws_are_seeded_and_spread_with_thin_evidence() -> None:
    thin = fit_profile("f@1.0.0", [rec(n=40)], now=NOW)
    a = [thin.draw(np.random.default_rng(3)) for _ in range(2)]
    assert a[0] == a[1]
    errs = [thin.draw(np.random.default_rng(i)).error_rate for i in range(200)]
    assert 0.0 < float(np.mean(errs)) < 0.06 and float(np.std(errs)) > 0.01


def _scenario() -> Scenario:
    return Scenario(name="ci", duration_s=600, seed=5, traffic=Traffic(rate_rps=5),
                    service=Service(concurrency=64, baseline="f@1.0.0"))


@pytest.mark.parametrize("metric", ["error_rate", "latency_p95_s", "quality_mean"])
def test_sparse_evidence_widens_the_simulated_interval(metric: str) -> None:
    widths = {}
    for n in (40, 40_000):
        prof = fit_profile("f@1.0.0", [rec(n=n)], now=NOW)
        res = run_drawn(_scenario(), None, {"f@1.0.0": prof}, replications=12)
        widths[n] = res.ci95[metric]
    assert widths[40] > 3 * widths[40_000], widths
