"""I/O contracts of the planning agent: what a cycle is asked (``PlanRequest``) and what it
answers (``CycleResult``, the ``jitplan plan --json`` document)."""

from __future__ import annotations

__all__ = ["DECISIONS", "CycleResult", "Decision", "PlanRequest"]

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

Decision = Literal["approved", "rejected", "escalated", "noop"]
DECISIONS: tuple[str, ...] = get_args(Decision)


class PlanRequest(BaseModel):
    """The inputs of one planning cycle: file paths plus who asks for what.

    Policy is on by default: with ``policy`` None the shipped bundle is applied; only
    ``no_policy=True`` turns it off, and then the cycle cannot auto-approve.

    Paths (not loaded objects) are what the graph state keeps, so a cycle resumed in another
    process (``jitplan approve``, ``--resume``) reloads the same inputs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    catalog: str = Field(min_length=1)
    signals: str = Field(min_length=1)
    contracts: str | None = None
    state: str | None = None
    policy: str | None = None
    """A policy bundle directory; None: the default bundle shipped in the package."""
    no_policy: bool = False
    """Explicitly evaluate no bundle (``--no-policy``): audited, and the cycle always escalates."""
    request: str = Field(default="", max_length=4000)
    role: str = Field(min_length=1, max_length=128)
    """The requester's role (``--as`` / ``JITPLAN_ROLE``); required, never defaulted."""
    region: str = Field(min_length=1, max_length=64)
    """The requester's region (``--region`` / ``JITPLAN_REGION``); required, never defaulted."""
    model: str | None = Field(default=None, max_length=500)
    now: str | None = None
    apply: bool = False
    max_revisions: int = Field(default=3, ge=0, le=10)
    max_llm_calls: int = Field(default=12, ge=1, le=200)
    max_tool_calls: int = Field(default=24, ge=0, le=500)
    replications: int = Field(default=10, ge=1, le=100)
    use_cache: bool = True
    focus: tuple[str, ...] = ()
    """Feature ids a signal-driven cycle is limited to (the separate cycle of a feature that a
    request's cycle left out); empty: every triggered feature."""
    evidence: tuple[str, ...] = ()
    """Evidence files or directories (``--evidence``): measured behaviour of the catalog's
    versions; a version without evidence is unproven and shadowed before users see it."""

    @model_validator(mode="after")
    def _one_policy_choice(self) -> PlanRequest:
        if self.no_policy and self.policy:
            raise ValueError("give either a policy bundle (policy) or no_policy, not both")
        return self


class CycleResult(BaseModel):
    """The outcome of one cycle (``jitplan plan --json`` prints exactly this)."""

    model_config = ConfigDict(extra="forbid")

    thread_id: str
    decision: Decision | None
    status: Literal["done", "interrupted"] = "done"
    plan: dict[str, Any] | None = None
    plan_sha256: str | None = None
    planner: str = "offline"
    reasons: list[str] = Field(default_factory=list)
    validation: dict[str, Any] = Field(default_factory=dict)
    simulation: dict[str, Any] = Field(default_factory=dict)
    quarantined: list[dict[str, Any]] = Field(default_factory=list)
    fast_path: bool = False
    cache_hit: bool = False
    revisions: int = 0
    llm: dict[str, Any] = Field(default_factory=dict)
    policy: dict[str, Any] | None = None
    approval: dict[str, Any] | None = None
    escalation: dict[str, Any] | None = None
    execution: dict[str, Any] | None = None
    scope: dict[str, Any] | None = None
    """What this cycle may plan (``kind`` "request" or "focus", ``features``, ``dependencies``)
    and, for a request, the other triggered features (``deferred``) with the thread id and
    decision of their own cycles; None for a signal-driven cycle over every feature."""
