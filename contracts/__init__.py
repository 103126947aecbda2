"""Shared vocabulary of jitplan: pydantic models for every file, message and record.

Names are exported lazily (PEP 562) so that importing one contract does not import them all.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS: dict[str, str] = {
    # errors
    "JitplanError": "errors", "UserError": "errors", "InputError": "errors", "RunError": "errors",
    "BudgetExceeded": "errors", "FieldProblem": "errors",
    # loading
    "FromFile": "loading", "load_document": "loading",
    # catalog
    "Catalog": "catalog", "FeatureSpec": "catalog", "CostEnvelope": "catalog", "RiskProfile": "catalog",
    "Governance": "catalog", "Slo": "catalog", "Triggers": "catalog", "Dependency": "catalog",
    "PromptRef": "catalog",
    # signals
    "Signal": "signals", "SignalSnapshot": "signals", "DataContract": "signals",
    "ContractSet": "signals", "SignalStatus": "signals",
    # plans and state
    "Plan": "plan", "Step": "plan", "Tolerance": "plan", "TriggerRef": "plan",
    "DeploymentState": "state", "FeatureState": "state",
    # audit
    "AuditRecord": "audit",
    "jitplan_home": "home",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'contracts' has no attribute {name!r}")
    return getattr(import_module(f"contracts.{module}"), name)


def __dir__() -> list[str]:
    return __all__
