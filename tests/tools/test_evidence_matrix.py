"""tools.evidence_matrix: a matrix scenario's versions get their evidence, or stay nominal."""

from __future__ import annotations

from datetime import timedelta

from jitplan.contracts.evidence import EvidenceSet
from jitplan.contracts.scenario import Latency, Scenario, Service, Spike, Traffic, VersionProfile
from jitplan.contracts.signals import Signal, SignalStatus
from jitplan.tools.evidence import index_evidence
from jitplan.tools.evidence_matrix import apply_evidence, evidence_now, exposed_versions

from .test_evidence_plans import CATALOG, NOW, SERVING, record, rollout


def _scenario(spike: float = 1.0) -> Scenario:
    nominal = VersionProfile(latency=Latency(dist="lognormal", mean_s=0.5, sigma=0.5), quality=0.9)
    return Scenario(name="m", duration_s=600, traffic=Traffic(rate_rps=8, spikes=[
        Spike(start_s=0, duration_s=600, multiplier=spike)]),
        service=Service(concurrency=8, baseline="summ@1.0.0", versions={"summ@1.1.0": nominal}))


def test_proven_versions_take_their_evidence_the_rest_stay_nominal() -> None:
    index = index_evidence(CATALOG, EvidenceSet((SERVING,), ("t",)), now=NOW)
    view = apply_evidence(_scenario(), CATALOG, "summ", index, [], serving="1.0.0")
    assert view.unproven == ("summ@1.1.0",)
    assert view.provenance["summ@1.1.0"] == "nominal"
    assert view.provenance["summ@1.0.0"]["source"] == "production"
    svc = view.scenario.service
    assert svc.latency == SERVING_POINT.latency and svc.error_rate == SERVING.error_rate
    assert svc.versions["summ@1.1.0"].latency.mean_s == 0.5  # nominal, untouched
    assert set(view.profiles) == {"summ@1.0.0"}


def test_capacity_reaches_the_scenario_and_the_shared_pool_is_not_the_bottleneck() -> None:
    cand = record("1.1.0", capacity={"max_concurrency": 16, "rpm_limit": 900})
    index = index_evidence(CATALOG, EvidenceSet((SERVING, cand), ("t", "t")), now=NOW)
    view = apply_evidence(_scenario(spike=3.0), CATALOG, "summ", index, [], serving="1.0.0")
    v = view.scenario.service.versions["summ@1.1.0"]
    assert (v.max_concurrency, v.rpm_limit) == (16, 900)
    # 24 rps at the peak x ~0.73 s mean service: the shared pool keeps its load <= 0.25
    assert view.scenario.service.concurrency >= 24 * 0.7 / 0.25


def test_serving_signals_are_its_evidence() -> None:
    sig = [SignalStatus(ok=True, signal=Signal(name=n, kind=k, feature="summ", value=v, unit=u,
                                                   observed_at=NOW - timedelta(minutes=1), source="t"))
           for n, k, v, u in (("d", "demand", 600, "rpm"), ("l", "latency", 1800, "ms"),
                              ("e", "error_rate", 0.004, "ratio"), ("c", "cost", 0.0007, "usd_per_request"))]
    index = index_evidence(CATALOG, EvidenceSet((SERVING,), ("t",)), now=NOW)
    view = apply_evidence(_scenario(), CATALOG, "summ", index, sig, serving="1.0.0")
    assert view.provenance["summ@1.0.0"]["source"] == "production"
    assert view.provenance["summ@1.0.0"]["requests"] == SERVING.requests + 600 * 5
    assert evidence_now(sig) == NOW - timedelta(minutes=1)


def test_exposed_versions_ignore_shadows() -> None:
    assert exposed_versions(rollout(), "summ") == ["summ@1.1.0"]


SERVING_POINT = index_evidence(CATALOG, EvidenceSet((SERVING,), ("t",)), now=NOW).profiles["summ@1.0.0"].point()
