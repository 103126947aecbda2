"""LangChain tool wrappers the LLM planner calls (catalog, dependencies, cost, signals,
policy, validate, simulate).

Every tool returns compact JSON and never raises: bad arguments come back as
``{"error": ...}`` so a confused model gets a useful answer instead of crashing the cycle.
Each tool's parameters are a pydantic model with a description per field (what the model sees in
the request's ``tools``); ``validate_plan`` and ``simulate_plan`` take the plan as a JSON object,
not as a JSON-encoded string (a string is still accepted and parsed).
"""

from __future__ import annotations

__all__ = ["TOOL_ARGS", "TOOL_NAMES", "ToolContext", "invalid_call", "make_tools", "run_tool"]

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.policy import PolicyRequest
    from jitplan.contracts.signals import SignalStatus
    from jitplan.contracts.state import DeploymentState
    from jitplan.tools.policy import PolicyBundle

TOOL_NAMES: tuple[str, ...] = (
    "search_catalog", "get_feature", "dependency_graph", "estimate_cost", "read_signals",
    "check_policy", "validate_plan", "simulate_plan",
)
MAX_RESULTS = 20

_FEATURE = "a feature id from the catalog"
_PLAN = "the draft plan: a JSON object shaped like your final answer (not a string)"


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchCatalogArgs(_Args):
    query: str = Field(description="words that must all appear in a feature's id or description")


class GetFeatureArgs(_Args):
    feature_id: str = Field(description=_FEATURE)
    version: str = Field(default="", description="a version, e.g. 1.2.0 (default: the newest)")


class FeatureArgs(_Args):
    feature_id: str = Field(description=_FEATURE)


class EstimateCostArgs(_Args):
    feature_id: str = Field(description=_FEATURE)
    demand_rpm: float = Field(description="demand in requests per minute")


class ReadSignalsArgs(_Args):
    feature_id: str = Field(default="", description="a feature id (default: all signals)")


class CheckPolicyArgs(_Args):
    feature_ids: list[str] = Field(description="feature ids the plan would activate")


class PlanArgs(_Args):
    plan: dict[str, Any] = Field(description=_PLAN)


TOOL_ARGS: dict[str, type[BaseModel]] = {
    "search_catalog": SearchCatalogArgs, "get_feature": GetFeatureArgs,
    "dependency_graph": FeatureArgs, "estimate_cost": EstimateCostArgs,
    "read_signals": ReadSignalsArgs, "check_policy": CheckPolicyArgs,
    "validate_plan": PlanArgs, "simulate_plan": PlanArgs,
}
"""Each tool's parameters (the JSON schema the model sees)."""


@dataclass(frozen=True)
class ToolContext:
    """What the tools may read (one planning cycle's inputs)."""

    catalog: Catalog
    signals: tuple[SignalStatus, ...]
    state: DeploymentState
    policy: PolicyBundle | None
    request: PolicyRequest
    replications: int = 3
    evidence: Any = None
    """The catalog's ``EvidenceIndex``: simulate_plan judges versions on it."""


def _round(value: Any) -> Any:
    """Floats to 6 significant digits, recursively (tool results are read by a model)."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v) for v in value]
    return value


def _json(value: Any) -> str:
    return json.dumps(_round(value), sort_keys=True, default=str, separators=(",", ":"))


def _plan_arg(plan: Any) -> Any:
    if isinstance(plan, str):
        try:
            plan = json.loads(plan)
        except json.JSONDecodeError as exc:
            raise ValueError(f"plan is not valid JSON: {exc.msg} at line {exc.lineno}; "
                             "pass the plan as a JSON object") from None
    if not isinstance(plan, dict):
        raise ValueError(f"plan must be a JSON object, got {type(plan).__name__}")
    return plan


def _functions(ctx: ToolContext) -> dict[str, Callable[..., Any]]:
    cat = ctx.catalog

    def search_catalog(query: str) -> Any:
        """Search catalog features by words in their id or description."""
        words = [w for w in query.lower().split() if w]
        hits = [f for f in cat.features
                if all(w in (f.id + " " + f.description).lower() for w in words)]
        return [{"id": f.id, "version": f.version, "kind": f.kind, "risk": f.risk.tier,
                 "description": f.description[:300]} for f in hits[:MAX_RESULTS]]

    def get_feature(feature_id: str, version: str | None = None) -> Any:
        """One catalog entry (newest version unless given) with its SLO, cost, risk, governance."""
        spec = cat.get(feature_id, version or None)
        if spec is None:
            return {"error": f"unknown feature {feature_id!r}" + (f" version {version!r}" if version else ""),
                    "versions": [f.version for f in cat.versions(feature_id)]}
        return {**spec.model_dump(mode="json"), "all_versions": [f.version for f in cat.versions(feature_id)],
                "deployed": ctx.state.get(feature_id).model_dump(mode="json")}

    def dependency_graph(feature_id: str) -> Any:
        """Transitive dependencies of a feature (dependencies first) and admitted versions."""
        from jitplan.tools.depgraph import DependencyGraph

        spec = cat.get(feature_id)
        if spec is None:
            return {"error": f"unknown feature {feature_id!r}"}
        g = DependencyGraph(cat)
        return {"feature": feature_id, "order": g.dependencies(feature_id),
                "direct": [{"id": d.id, "range": d.version, "newest_admitted": r.version}
                           for d, r in zip(spec.depends_on, g.resolve(spec), strict=False)],
                "active": {d: ctx.state.is_active(d) for d in g.dependencies(feature_id)}}

    def estimate_cost(feature_id: str, demand_rpm: float) -> Any:
        """Estimated cost of serving a feature at a demand (requests per minute)."""
        from jitplan.tools.cost import estimate_cost as estimate

        spec = cat.get(feature_id)
        if spec is None:
            return {"error": f"unknown feature {feature_id!r}"}
        est: Any = estimate(spec, float(demand_rpm))
        if dataclasses.is_dataclass(est) and not isinstance(est, type):
            return dataclasses.asdict(est)
        return est.model_dump(mode="json") if hasattr(est, "model_dump") else est

    def read_signals(feature_id: str | None = None) -> Any:
        """The cycle's signals with their data-contract verdict (optionally for one feature).

        Values are in their kind's canonical unit; ``observed_as`` says what was reported.
        """
        return [{**s.signal.model_dump(mode="json"), "verdict": "ok" if s.ok else "quarantined",
                 "reasons": s.reasons,
                 **({"observed_as": f"{s.original_value:g} {s.original_unit}"} if s.original_unit else {})}
                for s in ctx.signals if feature_id in (None, "", s.signal.feature)]

    def check_policy(feature_ids: list[str]) -> Any:
        """Evaluate the policy bundle for activating these features (as the requester)."""
        from jitplan.tools.policy import evaluate_policy, policy_input

        if ctx.policy is None:
            return {"note": "no policy bundle configured"}
        specs = [s for s in (cat.get(f) for f in feature_ids) if s is not None]
        doc = policy_input(ctx.request, cat, specs, list(ctx.signals), None, ctx.state)
        return evaluate_policy(ctx.policy, doc).model_dump(mode="json")

    def validate_plan(plan: dict[str, Any]) -> Any:
        """Validate a draft plan: schema, catalog, dependencies, tolerances, compensations and
        policy. Returns ok and the violations to fix."""
        from jitplan.tools.validator import validate

        rep = validate(_plan_arg(plan), cat, list(ctx.signals), ctx.state, ctx.policy, ctx.request)
        return {"ok": rep.ok, "violations": [v.model_dump(mode="json") for v in rep.violations],
                "escalate": rep.escalate}

    def simulate_plan(plan: dict[str, Any]) -> Any:
        """Simulate a draft plan against the scenario matrix (few seeded replications); returns
        whether each scenario's gates held."""
        from jitplan.contracts.plan import Plan
        from jitplan.tools.plan_simulation import simulate_plan as simulate

        p = Plan.model_validate(_plan_arg(plan))
        serving = {s.feature: ctx.state.get(s.feature).version for s in p.steps if s.feature}
        return simulate(p, cat, list(ctx.signals), replications=ctx.replications, serving=serving,
                        evidence=ctx.evidence)

    return {
        "search_catalog": search_catalog, "get_feature": get_feature,
        "dependency_graph": dependency_graph, "estimate_cost": estimate_cost,
        "read_signals": read_signals, "check_policy": check_policy,
        "validate_plan": validate_plan, "simulate_plan": simulate_plan,
    }


def invalid_call(name: str, args: Any) -> str | None:
    """Why a tool call cannot run (unknown tool, arguments not matching its schema), or None.

    A plan passed as a JSON string is accepted (parsed) for ``validate_plan``/``simulate_plan``.
    """
    model = TOOL_ARGS.get(name)
    if model is None:
        return f"unknown tool {str(name)[:128]!r}; tools: {', '.join(TOOL_NAMES)}"
    if not isinstance(args, dict):
        return f"arguments for {name} must be a JSON object"
    if isinstance(args.get("plan"), str):
        try:
            args = {**args, "plan": json.loads(args["plan"])}
        except json.JSONDecodeError as exc:
            return (f"invalid arguments for {name}: plan is not valid JSON ({exc.msg} at line {exc.lineno}); "
                    "pass the plan as a JSON object")
    try:
        model.model_validate(args)
    except ValidationError as exc:
        probs = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'arguments'}: {e['msg']}"
                          for e in exc.errors()[:5])
        return f"invalid arguments for {name}: {probs}; parameters: {', '.join(model.model_fields)}"
    return None


def run_tool(ctx: ToolContext, name: str, args: dict[str, Any]) -> str:
    """Call one tool by name; every failure is returned as ``{"error": ...}`` JSON."""
    from jitplan.tools.telemetry import record_error, span

    fn = _functions(ctx).get(name)
    shown = name if fn is not None else "unknown"
    with span(f"jitplan.tool.{shown}", attrs={"gen_ai.operation.name": "execute_tool",
                                              "gen_ai.tool.name": str(name)[:128]}) as sp:
        why = invalid_call(name, args)
        if fn is None or why is not None:
            record_error(sp, "unknown_tool" if fn is None else "invalid_arguments", str(why))
            return _json({"error": why})
        try:
            return _json(fn(**args))
        except Exception as exc:  # a tool must never crash the planner
            why = f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}"
            record_error(sp, type(exc).__name__, why)
            return _json({"error": why})


def _bound(ctx: ToolContext, name: str) -> Callable[..., str]:
    def call(**kwargs: Any) -> str:
        return run_tool(ctx, name, kwargs)

    return call


def make_tools(ctx: ToolContext) -> list[BaseTool]:
    """The tools as LangChain ``StructuredTool``s (their schemas are ``TOOL_ARGS``)."""
    from langchain_core.tools import StructuredTool

    out: list[BaseTool] = []
    for name, fn in _functions(ctx).items():
        doc = " ".join((fn.__doc__ or name).split())
        tool = StructuredTool.from_function(func=fn, name=name, description=doc, args_schema=TOOL_ARGS[name])
        # Execute through run_tool so errors come back as JSON, never as exceptions.
        tool.func = _bound(ctx, name)
        out.append(tool)
    return out
