"""The planner extension point: a ``Planner`` turns a ``PlanningContext`` into a ``PlanDraft``."""

from __future__ import annotations

__all__ = ["MAX_LLM_ERRORS", "LlmUsage", "PlanDraft", "Planner", "PlanningContext"]

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from jitplan.agent.planners.findings import Finding
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.signals import SignalStatus
    from jitplan.contracts.state import DeploymentState


@dataclass(frozen=True)
class PlanningContext:
    """Everything a planner may look at for one draft (read-only)."""

    catalog: Catalog
    statuses: tuple[SignalStatus, ...]
    state: DeploymentState
    findings: tuple[Finding, ...] = ()
    request: str = ""
    role: str = "operator"
    region: str = "eu"
    policy: dict[str, Any] | None = None
    feedback: tuple[dict[str, Any], ...] = ()
    """Violations of the previous draft (``{code, message, step}``), empty on the first draft."""
    revision: int = 0
    previous: dict[str, Any] | None = None
    """The previous draft (revisions only), shown to the planner next to its violations."""
    notes: tuple[str, ...] = ()
    """Why signals were not used (quarantine, unknown features)."""
    seed_id: str = ""
    """Stable input hash used for deterministic plan ids."""
    evidence: Any = None
    """This catalog's ``EvidenceIndex`` (``--evidence``); a version it does not prove is shadowed
    before any user sees it. None: evidence is not considered (library callers)."""


MAX_LLM_ERRORS = 5
"""How many LLM error reasons a cycle's ``llm`` totals keep (the most recent)."""


@dataclass(frozen=True)
class LlmUsage:
    """What one draft cost in model calls (all zero for the offline planner).

    ``calls`` counts every model call, failed ones included; ``failed_calls`` those that got
    no usable answer (transport errors after the retries, empty answers); ``attempts`` the HTTP
    attempts (retries included); ``invalid_tool_calls`` tool calls with malformed arguments or
    an unknown tool name (answered to the model as errors); ``errors`` one-line reasons.
    """

    calls: int = 0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    failed_calls: int = 0
    attempts: int = 0
    invalid_tool_calls: int = 0
    errors: tuple[str, ...] = ()

    def add_to(self, totals: dict[str, Any]) -> dict[str, Any]:
        out = dict(totals)
        for name in ("calls", "tool_calls", "input_tokens", "output_tokens", "failed_calls", "attempts",
                     "invalid_tool_calls"):
            out[name] = int(out.get(name, 0)) + int(getattr(self, name))
        out["cost_usd"] = round(float(out.get("cost_usd", 0.0)) + self.cost_usd, 8)
        out["errors"] = [*list(out.get("errors") or []), *self.errors][-MAX_LLM_ERRORS:]
        return out


@dataclass(frozen=True)
class PlanDraft:
    """A planner's answer: a plan document (untrusted until validated) or errors."""

    plan: dict[str, Any] | None
    planner: str
    errors: tuple[dict[str, Any], ...] = ()
    """Parse/schema problems as violations ``{code, message, step}``."""
    reasons: tuple[str, ...] = ()
    usage: LlmUsage = field(default_factory=LlmUsage)
    capped: str | None = None
    """Set when a bounded-work cap stopped the planner (the reason)."""


class Planner(Protocol):
    """Produces plan drafts; implementations: offline (rules), llm (model + tools)."""

    name: str

    def draft(self, ctx: PlanningContext) -> PlanDraft:
        """One draft for ``ctx`` (revisions see the previous violations in ``ctx.feedback``)."""
        ...
