"""What one cycle may plan: a request plans what it names and that feature's dependencies.

Signal findings on any other feature are *deferred*: each such feature gets its own cycle
(``PlanRequest.focus``), with its own plan, thread id and decision, so approving the plan of a
request never approves a change nobody asked for. A cycle without a request (and without
``focus``) is signal-driven and plans every triggered feature, as before.
"""

from __future__ import annotations

__all__ = ["Scope", "followup_thread_id", "out_of_scope", "scope_of", "split_findings"]

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from jitplan.agent.planners.findings import Finding
    from jitplan.contracts.agent import PlanRequest
    from jitplan.contracts.catalog import Catalog

ScopeKind = Literal["request", "focus"]


@dataclass(frozen=True)
class Scope:
    """The features a cycle is about (``features``) and what its plan may change (``allowed``)."""

    kind: ScopeKind
    features: tuple[str, ...]
    dependencies: tuple[str, ...]
    fallbacks: tuple[str, ...] = ()

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset((*self.features, *self.dependencies, *self.fallbacks))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "features": list(self.features),
                "dependencies": list(self.dependencies), "fallbacks": list(self.fallbacks)}


def _closure(catalog: Catalog, ids: tuple[str, ...]) -> tuple[str, ...]:
    from jitplan.tools.depgraph import DependencyGraph

    graph = DependencyGraph(catalog)
    return tuple(f for f in graph.order(list(ids)) if f not in ids)


def scope_of(request: PlanRequest, catalog: Catalog) -> Scope | None:
    """The scope of a cycle, or None when it is signal-driven over the whole catalog.

    A structured request names one feature; free text (``--model``) is scoped to the catalog ids
    it names, and is unscoped when it names none. A ``focus`` cycle (the separate cycle of a
    deferred feature) may also bring in the feature's declared fallback, which the cost rule
    enables before disabling it.
    """
    from jitplan.agent.planners.requests import mentioned_features, parse_request

    if request.request.strip():
        intent = parse_request(request.request)
        named = (intent.feature,) if intent is not None else mentioned_features(request.request, catalog)
        named = tuple(f for f in named if catalog.get(f) is not None)
        if not named:
            return None
        return Scope("request", named, _closure(catalog, named))
    if request.focus:
        named = tuple(dict.fromkeys(request.focus))
        fbs = tuple(dict.fromkeys(
            s.fallback for f in named for s in catalog.versions(f) if s.fallback and s.fallback not in named))
        deps = _closure(catalog, (*named, *fbs))
        return Scope("focus", named, tuple(d for d in deps if d not in fbs), fbs)
    return None


def split_findings(findings: list[Finding], scope: Scope | None) -> tuple[list[Finding], list[dict[str, Any]]]:
    """Findings this cycle plans for, and the rest grouped per feature (``{feature, findings}``).

    Only a request defers: a focus cycle drops other features' findings (their own cycles
    handle them).
    """
    if scope is None:
        return list(findings), []
    kept = [f for f in findings if f.feature in scope.features]
    if scope.kind != "request":
        return kept, []
    deferred: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        if f.feature not in scope.features:
            deferred.setdefault(f.feature, []).append(
                {"kind": f.kind, "signal": f.signal, "detail": f.detail})
    return kept, [{"feature": k, "findings": v} for k, v in sorted(deferred.items())]


def followup_thread_id(thread_id: str, feature: str) -> str:
    """The thread id of the separate cycle planning ``feature`` for a request's cycle."""
    return f"{thread_id}.{feature}"


def out_of_scope(plan: dict[str, Any], scope: dict[str, Any]) -> list[dict[str, Any]]:
    """Violations (``{code, message, step}``) for steps changing a feature outside the scope."""
    allowed = {*scope.get("features", []), *scope.get("dependencies", []), *scope.get("fallbacks", [])}
    steps = plan.get("steps")
    out: list[dict[str, Any]] = []
    for s in steps if isinstance(steps, list) else []:
        if not isinstance(s, dict):
            continue
        feature = s.get("feature")
        if feature and feature not in allowed:
            named = ", ".join(scope.get("features", []))
            out.append({"code": "out_of_scope", "step": s.get("id"),
                        "message": f"step {s.get('id')} changes {feature}, outside this cycle's scope "
                                   f"({named} and its dependencies): other features get their own cycle"})
    return out
