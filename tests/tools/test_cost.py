"""Cost estimator: demand x 1440 x per-request cost x share against the envelopes."""

from __future__ import annotations

import pytest

from jitplan.contracts.catalog import FeatureSpec
from jitplan.tools.cost import MINUTES_PER_DAY, estimate_cost


def spec(per_request: float = 0.001, daily: float = 100.0) -> FeatureSpec:
    return FeatureSpec.model_validate({
        "id": "f", "version": "1.0.0", "kind": "prompt", "description": "d", "owner": "o",
        "cost": {"per_request_usd": per_request, "daily_budget_usd": daily},
        "risk": {"tier": "low"},
        "slo": {"latency_p95_ms": 100, "error_rate_max": 0.01, "quality_min": 0.5},
    })


def test_projection_uses_demand_minutes_cost_and_share() -> None:
    est = estimate_cost(spec(0.001, 100), demand_rpm=50, share=0.5)
    assert est.daily_usd == pytest.approx(50 * MINUTES_PER_DAY * 0.001 * 0.5)  # 36 USD
    assert est.within_daily and est.within_per_request and est.ok
    assert "36.00 USD/day" in est.describe() and "50% of traffic" in est.describe()


def test_over_the_daily_budget() -> None:
    est = estimate_cost(spec(0.001, 100), demand_rpm=100)
    assert est.daily_usd == pytest.approx(144.0)
    assert not est.within_daily and not est.ok


def test_observed_per_request_cost_against_the_envelope() -> None:
    est = estimate_cost(spec(0.004, 1000), demand_rpm=10, per_request_usd=0.0065)
    assert not est.within_per_request and est.within_daily
    assert est.per_request_limit_usd == 0.004


def test_a_lower_budget_in_force_wins() -> None:
    assert estimate_cost(spec(0.001, 100), 10, daily_limit_usd=5).daily_limit_usd == 5
    assert estimate_cost(spec(0.001, 100), 10, daily_limit_usd=500).daily_limit_usd == 100


@pytest.mark.parametrize(("demand", "share"), [(-1, 1.0), (1, 1.5), (1, -0.1)])
def test_nonsense_arguments_raise(demand: float, share: float) -> None:
    with pytest.raises(ValueError):
        estimate_cost(spec(), demand, share=share)


def test_zero_demand_costs_nothing() -> None:
    assert estimate_cost(spec(), 0).daily_usd == 0.0
