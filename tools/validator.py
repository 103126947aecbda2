"""The deterministic plan validator: ``validate(plan, catalog, signals, state, policy)``.

Pure and side-effect free: the same inputs give the same ``ValidationReport`` (violations in
plan order, each ``{code, message, step}`` with a stable code from
``contracts.validation.VIOLATION_CODES``). Nothing a planner writes is trusted: a dict that fails
the ``Plan`` schema yields ``schema`` violations, never an exception.

Checks, in order: scope (``../`` paths anywhere, unknown actions, step cap) and schema
(``tools.validation_scope``); step ids and ``depends_on``; per-step semantics over a simulated
deployment state (``tools.validation_steps``); finally the policy bundle is evaluated on the
plan itself — each deny becomes a ``policy_deny`` violation, escalations are listed in
``report.escalate`` (human approval), not violations.
"""

from __future__ import annotations

__all__ = ["catalog_context", "predict_state", "validate"]

import re
import threading
from collections import OrderedDict
from typing import Any

from jitplan.contracts.audit import canonical_json, sha256_hex
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.plan import MAX_PLAN_STEPS, Plan
from jitplan.contracts.policy import PolicyDecision, PolicyRequest
from jitplan.contracts.signals import SignalStatus
from jitplan.contracts.state import DeploymentState
from jitplan.contracts.validation import ValidationReport, Violation
from jitplan.tools.catalog_store import CatalogStore
from jitplan.tools.policy import (
    PendingDecision,
    PolicyBundle,
    policy_input,
    start_policy_evaluation,
)
from jitplan.tools.validation_scope import parse_plan, scope_violations, step_structure_violations
from jitplan.tools.validation_steps import StepChecker

_STEP_REASON = re.compile(r"^step (\S+) ")


_CACHE_SIZE = 4
_catalog_cache: OrderedDict[int, tuple[Catalog, CatalogStore, str]] = OrderedDict()
_cache_lock = threading.Lock()


def catalog_context(catalog: Catalog) -> tuple[CatalogStore, str]:
    """The catalog's index and digest, cached for the last few catalogs (they are immutable).

    Entries hold a strong reference to their catalog, so an ``id`` is never reused while cached.
    """
    key = id(catalog)
    with _cache_lock:
        hit = _catalog_cache.get(key)
        if hit is not None and hit[0] is catalog:
            _catalog_cache.move_to_end(key)
            return hit[1], hit[2]
    store, digest = CatalogStore(catalog), catalog.digest()
    with _cache_lock:
        _catalog_cache[key] = (catalog, store, digest)
        while len(_catalog_cache) > _CACHE_SIZE:
            _catalog_cache.popitem(last=False)
    return store, digest


def _inputs(
    plan_digest: str,
    catalog_digest: str,
    signals: list[SignalStatus],
    state: DeploymentState | None,
    policy: PolicyBundle | None,
) -> dict[str, str]:
    out = {
        "plan": plan_digest,
        "catalog": catalog_digest,
        "signals": sha256_hex(canonical_json([
            {**s.signal.model_dump(mode="json"), "ok": s.ok, "reasons": list(s.reasons)}
            for s in signals
        ])),
    }
    if state is not None:
        out["state"] = state.digest()
    if policy is not None:
        out["policy"] = policy.sha256
    return out


def _dedupe(violations: list[Violation]) -> list[Violation]:
    seen: set[tuple[str, str, str | None]] = set()
    out: list[Violation] = []
    for v in violations:
        key = (v.code, v.message, v.step)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def predict_state(
    plan: Plan,
    catalog: Catalog,
    state: DeploymentState | None,
    signals: list[SignalStatus] | None = None,
) -> DeploymentState:
    """The deployment state the validator predicts after ``plan``: its walk over the steps with
    ``DeploymentState.apply``, the executor's transition (for a valid plan, the flags it writes)."""
    store, _ = catalog_context(catalog)
    checker = StepChecker(store, list(signals or []), state)
    checker.run(plan)
    return checker.predicted


def validate(
    plan: Plan | dict[str, Any],
    catalog: Catalog,
    signals: list[SignalStatus],
    state: DeploymentState | None,
    policy: PolicyBundle | None,
    request: PolicyRequest | None = None,
    *,
    timeout_s: float = 2.0,
    max_steps: int = MAX_PLAN_STEPS,
) -> ValidationReport:
    """Check ``plan`` against everything it must satisfy; never raises on a bad plan."""
    store, catalog_digest = catalog_context(catalog)
    pending: PendingDecision | None = None

    def start_policy(parsed: Plan) -> PendingDecision | None:
        # The policy engine runs on its own thread (its C++ work releases the GIL) while the
        # plan is checked here. A plan over the step cap is rejected without asking it.
        if policy is None or len(parsed.steps) > max_steps:
            return None
        doc = policy_input(request or PolicyRequest(), catalog, [], signals, parsed, state,
                           store=store)
        return start_policy_evaluation(policy, doc, timeout_s=timeout_s)

    if isinstance(plan, Plan):
        parsed: Plan | None = plan
        pending = start_policy(plan)
        violations = scope_violations(plan.model_dump(mode="json"), max_steps)
        if len(plan.steps) > max_steps and not any(v.code == "too_many_steps" for v in violations):
            violations.append(Violation(
                code="too_many_steps",
                message=f"plan has {len(plan.steps)} steps, more than the cap of {max_steps}",
            ))
        plan_digest = plan.digest()
    elif isinstance(plan, dict):
        parsed, violations = parse_plan(plan, max_steps)
        if parsed is not None:
            pending = start_policy(parsed)
        plan_digest = parsed.digest() if parsed is not None else sha256_hex(canonical_json(plan))
    else:
        parsed, plan_digest = None, sha256_hex(repr(type(plan)))
        violations = [Violation(code="schema",
                                message=f"plan must be a JSON object, got {type(plan).__name__}")]
    decision: PolicyDecision | None = None
    inputs = _inputs(plan_digest, catalog_digest, list(signals), state, policy)
    if parsed is not None:
        violations.extend(step_structure_violations(parsed))
        violations.extend(StepChecker(store, list(signals), state).run(parsed))
        if pending is not None:
            decision = pending.result()
            for reason in decision.deny:
                m = _STEP_REASON.match(reason)
                step = m.group(1) if m and parsed.step(m.group(1)) is not None else None
                violations.append(Violation(code="policy_deny", message=f"policy denies: {reason}",
                                            step=step))
    violations = _dedupe(violations)
    return ValidationReport(
        ok=not violations,
        violations=violations,
        escalate=list(decision.escalate) if decision is not None else [],
        policy=decision,
        inputs=inputs,
    )
