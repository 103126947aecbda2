"""Shared vocabulary of jitplan: pydantic models for every file, message and record.

Names are exported lazily (PEP 562) so that importing one contract does not import them all.
"""

from __future__ import annotations

from jitplan.contracts.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # errors and loading
    "JitplanError": "errors", "UserError": "errors", "InputError": "errors", "RunError": "errors",
    "BudgetExceeded": "errors", "FieldProblem": "errors",
    "FromFile": "loading", "load_document": "loading",
    # catalog
    "Catalog": "catalog", "FeatureSpec": "catalog", "CostEnvelope": "catalog", "RiskProfile": "catalog",
    "Governance": "catalog", "Slo": "catalog", "Triggers": "catalog", "Dependency": "catalog",
    "PromptRef": "catalog",
    # signals
    "Signal": "signals", "SignalSnapshot": "signals", "DataContract": "signals",
    "ContractSet": "signals", "SignalStatus": "signals",
    "SignalKindSpec": "signal_kinds", "UnitConversion": "signal_kinds", "register_kind": "signal_kinds",
    "kinds_registered": "signal_kinds", "get_kind": "signal_kinds",
    "UnitError": "units",
    # plans, state, policy, validation
    "Plan": "plan", "Step": "plan", "Tolerance": "plan", "TriggerRef": "plan",
    "DeploymentState": "state", "FeatureState": "state", "StepError": "state",
    "StepParams": "step_params", "validate_params": "step_params", "describe_params": "step_params",
    "REFRESH_CANARY_WEIGHT": "step_params",
    "PolicyRequest": "policy", "PolicyDecision": "policy",
    "Violation": "validation", "ValidationReport": "validation", "VIOLATION_CODES": "validation",
    # scenarios (simulator input)
    "Scenario": "scenario",
    # evidence (measured version behaviour)
    "EvidenceFile": "evidence", "EvidenceRecord": "evidence", "EvidenceSet": "evidence",
    "load_evidence": "evidence",
    # planning cycle I/O
    "PlanRequest": "agent", "CycleResult": "agent", "Decision": "agent",
    # regression suites (jitplan regress)
    "Suite": "suite", "PlanningCase": "suite", "SimulationCase": "suite", "load_suite": "suite",
    # execution and audit
    "ExecutionResult": "execution", "StepOutcome": "execution", "GateVerdict": "execution",
    "MetricComparison": "execution", "RunJournal": "execution",
    "AuditRecord": "audit",
    "jitplan_home": "home",
    # configuration
    "Settings": "settings", "get_settings": "settings",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
