"""The validator's report: every violation as ``{code, message, step}`` with stable codes.

Messages are written to be fed back to a planner (an LLM among them) for a revision: they name
the step, the feature, the offending value and what would be accepted.
"""

from __future__ import annotations

__all__ = ["VIOLATION_CODES", "ValidationReport", "Violation"]

from pydantic import BaseModel, ConfigDict, Field

from jitplan.contracts.policy import PolicyDecision

VIOLATION_CODES: tuple[str, ...] = (
    "schema",
    "out_of_scope",
    "too_many_steps",
    "missing_feature",
    "unknown_feature",
    "missing_version",
    "unknown_version",
    "duplicate_step_id",
    "unknown_dependency_step",
    "step_order",
    "dependency_cycle",
    "dependency_order",
    "bad_params",
    "canary_weight_range",
    "canary_weight_decreasing",
    "missing_tolerance",
    "missing_compensation",
    "compensation_mismatch",
    "unknown_metric",
    "tolerance_direction",
    "tolerance_threshold",
    "tolerance_looser_than_slo",
    "over_budget",
    "refresh_prompt_target",
    "quarantined_signal",
    "policy_deny",
)
"""Every code the validator emits (stable: tools and tests match on them)."""


class Violation(BaseModel):
    """One broken rule: a stable ``code``, a specific ``message``, the step id (or None)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    message: str
    step: str | None = None

    def render(self) -> str:
        """``[code] message`` (messages already name their step)."""
        return f"[{self.code}] {self.message}"


class ValidationReport(BaseModel):
    """The validator's verdict on one plan; ``ok`` iff there are no violations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ok: bool
    violations: list[Violation] = Field(default_factory=list)
    escalate: list[str] = Field(default_factory=list)
    policy: PolicyDecision | None = None
    inputs: dict[str, str] = Field(default_factory=dict)
    """sha256 of what was checked: ``plan``, ``catalog``, ``policy``, ``state``, ``signals``."""

    def codes(self) -> list[str]:
        """The distinct violation codes, sorted."""
        return sorted({v.code for v in self.violations})

    def feedback(self) -> str:
        """All violations as one numbered text block (for a planner revision prompt)."""
        return "\n".join(f"{i}. {v.render()}" for i, v in enumerate(self.violations, 1))
