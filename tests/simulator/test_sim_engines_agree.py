"""The fast and exact engines agree statistically on a scenario using most features."""

from __future__ import annotations

import math

import pytest

from jitplan import simulator
from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic, VersionProfile

METRICS = (
    "wait_mean_s",
    "latency_mean_s",
    "latency_p95_s",
    "error_rate",
    "utilization",
    "cost_usd",
    "quality_mean",
    "throughput_rps",
)


def _scenario() -> Scenario:
    return Scenario(
        name="agree",
        seed=21,
        duration_s=2400.0,
        warmup_s=60.0,
        traffic=Traffic(
            rate_rps=30, spikes=[{"start_s": 1200, "duration_s": 120, "multiplier": 1.3}]
        ),
        service=Service(
            concurrency=32,
            timeout_s=8.0,
            max_retries=1,
            retry_backoff_s=0.2,
            baseline="api@1",
            latency=Latency(dist="lognormal", mean_s=0.6, sigma=0.6),
            error_rate=0.02,
            usd_per_request=0.001,
            output_tokens=100,
            usd_per_1k_output_tokens=0.002,
            quality=0.9,
            versions={
                "api@2": VersionProfile(
                    latency=Latency(mean_s=0.7), error_rate=0.01, usd_per_request=0.002, quality=0.8
                )
            },
        ),
        faults=[{"kind": "error_burst", "start_s": 600, "duration_s": 120, "error_rate": 0.3}],
        drift=[{"target": "api@1", "quality_decay_per_hour": 0.05}],
        plan={
            "id": "p",
            "goal": "canary",
            "steps": [
                {
                    "id": "c",
                    "action": "canary",
                    "feature": "api",
                    "version": "2",
                    "params": {"weight": 30},
                    "tolerances": [
                        {
                            "metric": "error_rate",
                            "comparator": "<=",
                            "threshold": 0.5,
                            "window_s": 900,
                        }
                    ],
                }
            ],
        },
    )


def test_fast_and_exact_agree_within_replication_ci() -> None:
    sc = _scenario()
    fast = simulator.run(sc, engine="fast", replications=4, workers=2)
    exact = simulator.run(sc, engine="exact", replications=4, workers=2)
    for m in METRICS:
        a, b = fast.metrics[m], exact.metrics[m]
        # two-sample check: difference within the combined 95 % half-widths (x1.5 margin)
        # plus the 1.8 % histogram bound for percentiles
        half = math.hypot(fast.ci95[m], exact.ci95[m])
        slack = 1.5 * half + 0.02 * abs(a)
        assert abs(a - b) <= slack, (m, a, b, half)
    assert fast.passed is True and exact.passed is True
    assert fast.metrics["retries"] > 0 and exact.metrics["retries"] > 0


@pytest.mark.parametrize("engine", ["fast", "exact"])
def test_timeouts_cap_latency_and_count_as_errors(engine: str) -> None:
    sc = Scenario(
        name="overload",
        seed=2,
        duration_s=600.0,
        traffic=Traffic(rate_rps=12),
        service=Service(concurrency=10, timeout_s=2.0, latency=Latency(mean_s=1.0)),
    )
    res = simulator.run(sc, engine=engine)
    assert res.metrics["latency_p99_s"] <= 2.0 * 1.02
    assert res.metrics["error_rate"] > 0.05  # ρ = 1.2: the queue overflows into timeouts
    assert res.metrics["utilization"] == pytest.approx(1.0, abs=0.03)
