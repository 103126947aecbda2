"""The graph state of one planning cycle (a TypedDict of plain JSON values).

Everything here is JSON so checkpoints stay portable and readable; loaded inputs (catalog,
contracts, policy bundle) are rebuilt from the paths in ``inputs`` by ``agent.nodes.common``.
"""

from __future__ import annotations

__all__ = ["CycleState"]

from typing import Any, TypedDict


class CycleState(TypedDict, total=False):
    """One cycle's state; each node returns the keys it changes."""

    thread_id: str
    inputs: dict[str, Any]
    """``PlanRequest`` as a dict (paths, request text, role, region, model, caps)."""
    signals: list[dict[str, Any]]
    """Every signal with its verdict: ``{signal, ok, reasons}``."""
    quarantined: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    """Findings within the cycle's scope (the ones its plan handles)."""
    scope: dict[str, Any] | None
    """``Scope.to_dict()`` plus ``deferred``: other triggered features, each planned in its own
    cycle; None for a signal-driven cycle over every feature."""
    parent_thread_id: str | None
    """For the separate cycle of a deferred feature: the request's cycle that deferred it."""
    fast_path: bool
    cache_key: str | None
    cache_hit: bool
    policy: dict[str, Any] | None
    plan: dict[str, Any] | None
    """The current draft (raw dict: from an LLM it may break the schema)."""
    plan_errors: list[dict[str, Any]]
    """Parse problems of the last draft (as violations) before validation."""
    planner: str
    revision: int
    fallback: bool
    feedback: list[dict[str, Any]]
    """Violations fed back to the planner for the next revision."""
    capped: str | None
    """Set when a cap (LLM calls, tool calls) stopped the planner: the reason."""
    route: str
    """Where the last checking node sends the cycle next (read by the graph's routers)."""
    validation: dict[str, Any]
    simulation: dict[str, Any]
    llm: dict[str, Any]
    """Counters: ``calls``, ``tool_calls``, ``input_tokens``, ``output_tokens``, ``cost_usd``."""
    decision: str | None
    reasons: list[str]
    escalation: dict[str, Any] | None
    approval: dict[str, Any] | None
    execution: dict[str, Any] | None
    done: bool
