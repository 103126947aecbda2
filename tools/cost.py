"""Cost estimator: demand x per-request cost against a feature's per-request and daily envelopes.

Projected daily cost = demand (requests per minute) x 1440 x per-request cost x traffic share.
The per-request cost is an observed figure when one is given (a usable ``cost`` signal), else the
catalog's envelope figure; the daily ceiling is the lower of the catalog envelope and any budget
set in the deployment state or by the plan.
"""

from __future__ import annotations

__all__ = ["MINUTES_PER_DAY", "CostEstimate", "estimate_cost"]

from dataclasses import dataclass

from jitplan.contracts.catalog import FeatureSpec

MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class CostEstimate:
    """One projection and how it compares with the envelopes."""

    feature: str
    version: str
    demand_rpm: float
    share: float
    per_request_usd: float
    per_request_limit_usd: float
    daily_usd: float
    daily_limit_usd: float

    @property
    def within_per_request(self) -> bool:
        return self.per_request_usd <= self.per_request_limit_usd

    @property
    def within_daily(self) -> bool:
        return self.daily_usd <= self.daily_limit_usd

    @property
    def ok(self) -> bool:
        return self.within_per_request and self.within_daily

    def describe(self) -> str:
        """One sentence with the numbers (for violation messages and the planner)."""
        return (
            f"{self.feature}@{self.version} projected {self.daily_usd:.2f} USD/day "
            f"({self.demand_rpm:g} rpm x {MINUTES_PER_DAY} min x {self.per_request_usd:g} USD/request"
            f" x {self.share * 100:g}% of traffic) against a ceiling of "
            f"{self.daily_limit_usd:g} USD/day; per request {self.per_request_usd:g} USD against "
            f"{self.per_request_limit_usd:g} USD"
        )


def estimate_cost(
    feature: FeatureSpec,
    demand_rpm: float,
    *,
    per_request_usd: float | None = None,
    share: float = 1.0,
    daily_limit_usd: float | None = None,
) -> CostEstimate:
    """Project one feature version's daily cost at ``share`` (0-1) of ``demand_rpm``."""
    if demand_rpm < 0 or not 0 <= share <= 1:
        raise ValueError("demand_rpm must be >= 0 and share within [0, 1]")
    per_request = feature.cost.per_request_usd if per_request_usd is None else per_request_usd
    ceiling = feature.cost.daily_budget_usd
    if daily_limit_usd is not None:
        ceiling = min(ceiling, daily_limit_usd)
    return CostEstimate(
        feature=feature.id,
        version=feature.version,
        demand_rpm=demand_rpm,
        share=share,
        per_request_usd=per_request,
        per_request_limit_usd=feature.cost.per_request_usd,
        daily_usd=demand_rpm * MINUTES_PER_DAY * per_request * share,
        daily_limit_usd=ceiling,
    )
