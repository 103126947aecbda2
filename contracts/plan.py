"""The ``Plan`` contract: explicit steps with tolerances, dependencies and compensations.

Plans come from planners (an LLM among them), so nothing here is trusted: the schema rejects
unknown fields and out-of-shape values, and ``tools.validator`` checks the semantics.
"""

from __future__ import annotations

__all__ = [
    "ACTIONS",
    "MAX_PLAN_STEPS",
    "METRICS",
    "MUTATING_ACTIONS",
    "Action",
    "Comparator",
    "Plan",
    "PlannerName",
    "Step",
    "Tolerance",
    "TriggerRef",
]

import re
from typing import Any, Literal, cast, get_args

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from jitplan.contracts.digest import model_digest, model_json
from jitplan.contracts.loading import FromFile
from jitplan.contracts.step_params import StepParams, validate_params

Action = Literal[
    "enable",
    "disable",
    "canary",
    "promote",
    "shadow",
    "rollback",
    "refresh_prompt",
    "set_budget",
    "pin_version",
    "escalate",
    "noop",
]
ACTIONS: tuple[str, ...] = get_args(Action)
MUTATING_ACTIONS: frozenset[str] = frozenset(
    {"enable", "disable", "canary", "promote", "shadow", "refresh_prompt", "set_budget", "pin_version"}
)
"""Actions that change deployment state and so need tolerances and a compensation."""

Comparator = Literal["<", "<=", ">", ">="]

METRICS: tuple[str, ...] = (
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_p50_ms",
    "error_rate",
    "quality",
    "cost_per_request_usd",
    "cost_usd_per_day",
)
"""The built-in gate metrics (what the simulator measures). The validator accepts these and any
metric of a registered signal kind (``contracts.signal_kinds.metric_directions``)."""

MAX_PLAN_STEPS = 64
"""Cap on steps per plan (bounded work); larger plans are rejected at the schema."""

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")


class _Strict(FromFile):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tolerance(_Strict):
    """A gate condition: ``metric comparator threshold`` must hold over ``window_s``."""

    metric: str
    comparator: Comparator
    threshold: float
    window_s: float = Field(default=300.0, gt=0, le=7 * 86400)

    def holds(self, value: float) -> bool:
        """True when an observed ``value`` satisfies this tolerance."""
        match self.comparator:
            case "<":
                return value < self.threshold
            case "<=":
                return value <= self.threshold
            case ">":
                return value > self.threshold
            case _:
                return value >= self.threshold


class Step(_Strict):
    """One explicit action on one feature version.

    ``params`` holds the action's parameters as written in the plan file; they are checked
    against the action's model (``contracts.step_params``) when the step is built, and
    ``typed_params`` gives them typed. What the step does is ``DeploymentState.apply``.
    """

    id: str
    action: Action
    feature: str | None = None
    version: str | None = None
    params: dict[str, Any] = Field(default_factory=dict, validate_default=True)
    tolerances: list[Tolerance] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    compensation: Step | None = None
    timeout_s: float = Field(default=600.0, gt=0, le=7 * 86400)
    rationale: str = Field(default="", max_length=2000)

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("step id must be 1-128 chars of letters, digits, _ . : -")
        return v

    @field_validator("feature")
    @classmethod
    def _check_feature(cls, v: str | None) -> str | None:
        if v is not None and not _SLUG.match(v):
            raise ValueError("feature id must be a lowercase slug (a-z, 0-9, _ and -)")
        return v

    @field_validator("params")
    @classmethod
    def _check_params(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        action = info.data.get("action")
        if isinstance(action, str):
            validate_params(action, v)  # a ValidationError located at params.<key>
        return v

    @model_validator(mode="after")
    def _check_rollback(self) -> Step:
        if self.action == "rollback" and self.version is not None:
            raise ValueError(
                "version: a rollback names the version it returns to in params.to_version "
                f"(null for off); leave version empty (got {self.version!r})")
        return self

    @property
    def typed_params(self) -> StepParams:
        """The parameters as the model of this step's action (validated when built)."""
        cached = self.__dict__.get("_typed_params")
        if cached is not None and cached[0] is self.params:
            return cast("StepParams", cached[1])
        typed = validate_params(self.action, self.params)
        # Kept next to the fields (pydantic compares and dumps fields only), with the params
        # object it was computed from: a copy with other params recomputes it.
        self.__dict__["_typed_params"] = (self.params, typed)
        return typed

    @property
    def weight(self) -> float | None:
        """The canary weight (percent) of a ``canary`` step; None for other actions."""
        p = self.typed_params
        return float(p.weight) if p.action == "canary" else None

    @property
    def mutating(self) -> bool:
        return self.action in MUTATING_ACTIONS


class TriggerRef(_Strict):
    """A signal that caused the plan."""

    signal: str
    feature: str | None = None
    kind: str | None = None
    value: float | None = None


PlannerName = str  # "offline" | "llm:<model>" | "scripted:<file>"


class Plan(_Strict):
    """A proposed change: goal, trigger, and ordered explicit steps."""

    id: str
    goal: str = Field(max_length=2000)
    planner: PlannerName = "offline"
    trigger: list[TriggerRef] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list, max_length=MAX_PLAN_STEPS)
    notes: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _check_plan_id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("plan id must be 1-128 chars of letters, digits, _ . : -")
        return v

    def canonical_json(self) -> str:
        """Stable JSON used for hashing and byte-identical output."""
        return model_json(self)

    def digest(self) -> str:
        """sha256 of the canonical JSON."""
        return model_digest(self)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    @property
    def is_noop(self) -> bool:
        return all(s.action == "noop" for s in self.steps)
