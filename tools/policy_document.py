"""The policy input document: the policy-relevant view of a request, its features, signals,
plan and deployment state.

The input document (also described in ``scenarios/policies/README.md``)::

    {
      "request":  {"role": str | null, "region": str | null, "purpose": str},  # null: not given
      "features": [FeatureSpec as JSON, ...],      # every feature version the request touches;
                                                   # depends_on entries carry "provides"
      "signals":  [{...Signal as JSON, "quarantined": bool, "reasons": [str, ...]}, ...],
      "plan":     Plan as JSON | null,             # null: "may these features be activated?"
      "state":    {feature_id: {...FeatureState as JSON, "enabled": bool,
                                "active_versions": [str, ...]}} | null
    }

Each part is the policy-relevant view (``FEATURE_FIELDS``, ``STEP_FIELDS``, ``SIGNAL_FIELDS``):
specs without descriptions and I/O schemas, steps without tolerances and compensations, only
the signals of the listed features, only the state of the listed features and their
dependencies. rego-cpp's evaluation time grows with the input's size.
"""

from __future__ import annotations

__all__ = [
    "FEATURE_FIELDS",
    "SIGNAL_FIELDS",
    "STEP_FIELDS",
    "feature_doc",
    "policy_input",
    "signal_docs",
    "touched_features",
]

from collections.abc import Sequence
from typing import Any

from jitplan.contracts.catalog import Catalog, Dependency, FeatureSpec
from jitplan.contracts.plan import Plan, Step
from jitplan.contracts.policy import PolicyRequest
from jitplan.contracts.signals import SignalStatus
from jitplan.contracts.state import DeploymentState
from jitplan.tools.catalog_store import CatalogStore

FEATURE_FIELDS: tuple[str, ...] = (
    "id", "version", "kind", "cost", "risk", "governance", "slo", "depends_on", "provides",
)
"""FeatureSpec fields carried in the policy input (the policy-relevant view of a spec).

Each ``depends_on`` entry also carries ``provides``: the capabilities (e.g. ``pii_redaction``)
that every catalog version the dependency's range admits declares."""
STEP_FIELDS: tuple[str, ...] = ("id", "action", "feature", "version", "params", "depends_on")
"""Step fields carried in the policy input (tolerances, compensations and rationale are not)."""
_RESTORING = frozenset({"rollback", "disable"})
"""Compensation actions that only return a feature towards its deployed state."""
SIGNAL_FIELDS: tuple[str, ...] = ("name", "kind", "feature", "value", "unit", "observed_at")


def _state_doc(state: DeploymentState, ids: set[str] | None) -> dict[str, Any]:
    return {
        fid: {**fs.model_dump(mode="json"), "enabled": fs.enabled,
              "active_versions": fs.active_versions()}
        for fid, fs in sorted(state.features.items())
        if ids is None or fid in ids
    }


def _provided(store: CatalogStore, dep: Dependency) -> list[str]:
    """Capabilities every catalog version admitted by ``dep`` provides (none admitted: none)."""
    common: set[str] | None = None
    for spec in store.versions(dep.id):
        if dep.admits(spec.version):
            common = set(spec.provides) if common is None else common & set(spec.provides)
    return sorted(common or ())


def feature_doc(spec: FeatureSpec, store: CatalogStore,
                memo: dict[tuple[str, str], list[str]] | None = None) -> dict[str, Any]:
    """One spec as the policy input carries it (``FEATURE_FIELDS``; dependencies with ``provides``).

    ``memo`` shares the dependency lookups across the specs of one input document.
    """
    memo = {} if memo is None else memo
    doc = spec.model_dump(mode="json", include=set(FEATURE_FIELDS))
    deps = []
    for d, dep in zip(doc["depends_on"], spec.depends_on, strict=True):
        key = (dep.id, dep.version)
        if key not in memo:
            memo[key] = _provided(store, dep)
        deps.append({**d, "provides": memo[key]})
    doc["depends_on"] = deps
    return doc


def _plan_doc(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "goal": plan.goal,
        "planner": plan.planner,
        "trigger": [t.model_dump(mode="json") for t in plan.trigger],
        "steps": [s.model_dump(mode="json", include=set(STEP_FIELDS)) for s in plan.steps],
    }


def signal_docs(signals: Sequence[SignalStatus]) -> list[dict[str, Any]]:
    """Signals with their quarantine status, as the policy input carries them.

    Values and units are canonical (``contracts.signal_kinds``: demand in rpm, cost in
    usd_per_request, latency in ms, ratios in [0, 1]): the contract check converted them.
    """
    return [
        {**s.signal.model_dump(mode="json", include=set(SIGNAL_FIELDS)),
         "quarantined": not s.ok, "reasons": list(s.reasons)}
        for s in signals
    ]


def _target(step: Step) -> str | None:
    """The version a step acts on: a rollback's ``params.to_version``, else its ``version``."""
    if step.action == "rollback":
        to = step.params.get("to_version")
        return to if isinstance(to, str) else None
    return step.version


def touched_features(
    plan: Plan,
    catalog: Catalog,
    state: DeploymentState | None = None,
    *,
    store: CatalogStore | None = None,
) -> list[FeatureSpec]:
    """The catalog specs a plan's steps (and their compensations) act on, by key.

    A step without a version touches the serving version (from ``state``), else the newest; a
    rollback's version is the one it returns to (``params.to_version``).
    A compensation that rolls back or disables its own step's feature, naming no version or the
    serving one, touches nothing new: it returns to the deployed state, and its step already put that feature in front of the
    policy. (Listing the serving spec for every such undo doubled the input of a typical plan.)
    """
    lookup = store if store is not None and store.catalog is catalog else CatalogStore(catalog)
    found: dict[str, FeatureSpec] = {}

    def add(fid: str | None, version: str | None) -> None:
        if fid is None:
            return
        if version is None and state is not None:
            version = state.get(fid).version
            if version is not None and lookup.get(fid, version) is None:
                version = None
        spec = lookup.get(fid, version)
        if spec is not None:
            found.setdefault(spec.key, spec)

    for step in plan.steps:
        if step.action in ("noop", "escalate"):
            continue  # changes nothing, so needs no rights over the feature
        add(step.feature, _target(step))
        undo = step.compensation
        serving = state.get(step.feature).version if state is not None and step.feature else None
        if undo is not None and not (undo.feature == step.feature
                                     and undo.action in _RESTORING
                                     and _target(undo) in (None, serving)):
            add(undo.feature, _target(undo))
    return [found[k] for k in sorted(found)]


def policy_input(
    request: PolicyRequest,
    catalog: Catalog,
    features: Sequence[FeatureSpec],
    signals: Sequence[SignalStatus],
    plan: Plan | None = None,
    state: DeploymentState | None = None,
    *,
    store: CatalogStore | None = None,
) -> dict[str, Any]:
    """The policy input document (see the module docstring).

    With a plan, the features it touches are added to ``features``. The document carries the
    policy-relevant view of each contract (``FEATURE_FIELDS``, ``STEP_FIELDS``,
    ``SIGNAL_FIELDS``), only the signals of the listed features, and only the state of the
    listed features and their dependencies: rego-cpp's cost grows with the input's size.
    """
    lookup = store if store is not None and store.catalog is catalog else CatalogStore(catalog)
    memo: dict[tuple[str, str], list[str]] = {}
    specs: dict[str, FeatureSpec] = {f.key: f for f in features}
    if plan is not None:
        for f in touched_features(plan, catalog, state, store=lookup):
            specs.setdefault(f.key, f)
    ids = {f.id for f in specs.values()}
    related = ids | {d.id for f in specs.values() for d in f.depends_on}
    return {
        "request": request.model_dump(mode="json"),
        "features": [feature_doc(specs[k], lookup, memo) for k in sorted(specs)],
        "signals": signal_docs([s for s in signals if s.signal.feature in ids]),
        "plan": _plan_doc(plan) if plan is not None else None,
        "state": _state_doc(state, related) if state is not None else None,
    }
