"""Building plan steps with stable ids, SLO tolerances and compensations."""

from __future__ import annotations

__all__ = ["StepBuilder", "slo_tolerances"]

from typing import TYPE_CHECKING, Any

from jitplan.contracts.step_params import validate_params

if TYPE_CHECKING:
    from jitplan.contracts.catalog import FeatureSpec


def slo_tolerances(spec: FeatureSpec, *, window_s: float = 300.0) -> list[dict[str, Any]]:
    """Gate conditions from the catalog entry: latency, errors, quality, cost per request."""
    return [
        {"metric": "latency_p95_ms", "comparator": "<=", "threshold": spec.slo.latency_p95_ms, "window_s": window_s},
        {"metric": "error_rate", "comparator": "<=", "threshold": spec.slo.error_rate_max, "window_s": window_s},
        {"metric": "quality", "comparator": ">=", "threshold": spec.slo.quality_min, "window_s": window_s},
        {"metric": "cost_per_request_usd", "comparator": "<=", "threshold": spec.cost.per_request_usd, "window_s": window_s},
    ]


class StepBuilder:
    """Accumulates steps as plain dicts (the ``Step`` schema) with ids ``s1``, ``s2``, ...

    Params are checked against their action's model (``contracts.step_params``) as each step
    is added: canonical keys only (``weight``, ``usd_per_day``, ``to_version``, ...).
    """

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []

    def add(
        self,
        action: str,
        feature: str | None = None,
        version: str | None = None,
        *,
        params: dict[str, Any] | None = None,
        tolerances: list[dict[str, Any]] | None = None,
        depends_on: list[str] | None = None,
        compensation: dict[str, Any] | None = None,
        rationale: str = "",
        timeout_s: float = 600.0,
    ) -> str:
        sid = f"s{len(self.steps) + 1}"
        step: dict[str, Any] = {
            "id": sid,
            "action": action,
            "feature": feature,
            "version": version,
            "params": dict(params or {}),
            "tolerances": list(tolerances or []),
            "depends_on": list(depends_on or []),
            "compensation": None,
            "timeout_s": timeout_s,
            "rationale": rationale,
        }
        validate_params(action, step["params"])  # a planner bug surfaces here, not at apply
        if compensation is not None:
            comp: dict[str, Any] = {
                "id": f"{sid}-undo",
                "params": {},
                "tolerances": [],
                "depends_on": [],
                "compensation": None,
                "timeout_s": timeout_s,
                "rationale": "",
                "feature": feature,
                "version": None,
            }
            comp.update(compensation)
            validate_params(comp["action"], comp["params"])
            step["compensation"] = comp
        self.steps.append(step)
        return sid

    @property
    def last(self) -> str | None:
        return self.steps[-1]["id"] if self.steps else None
