"""What the planner and the orchestrator use: catalog store and checks, signal contracts,
dependency graph, cost estimator, policy engine, validator, plan simulation, flag store,
audit log, telemetry, canary gate, and their LangChain tool wrappers.

Names are exported lazily (PEP 562): importing ``tools`` costs nothing until a name is used.
"""

from __future__ import annotations

from jitplan.contracts.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "check_catalog": "catalog_check",
    "check_signals": "signal_check",
    "CatalogStore": "catalog_store",
    "DependencyGraph": "depgraph",
    "CostEstimate": "cost", "estimate_cost": "cost",
    "PolicyBundle": "policy", "evaluate_policy": "policy", "policy_input": "policy",
    "governance_refusals": "catalog_governance",
    "validate": "validator",
    "simulate_plan": "plan_simulation",
    "EvidenceIndex": "evidence", "index_evidence": "evidence",
    "EvidenceProfile": "evidence_profile", "fit_profile": "evidence_profile",
    "run_drawn": "evidence_sim", "from_promptfoo": "evidence_import", "from_spans": "evidence_import",
    "PlanCache": "plan_cache", "cache_key": "plan_cache",
    "ToolContext": "lc_tools", "make_tools": "lc_tools",
    "FlagStore": "flags",
    "AuditLog": "audit", "AuditHead": "audit", "VerifyReport": "audit",
    "setup_telemetry": "telemetry", "span": "telemetry", "record_llm_call": "telemetry",
    "GateConfig": "gate", "evaluate_gate": "gate", "mann_whitney_u": "gate",
    "SignalSource": "signal_source", "SnapshotFileSource": "signal_source",
    "FolderSource": "signal_source", "StaticSource": "signal_source",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
