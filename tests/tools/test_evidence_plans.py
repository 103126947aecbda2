"""Plans judged on evidence: each harm type is caught from the candidate's evidence and its good
twin passes; a version without evidence is ``unproven``; provenance is reported per version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.evidence import EvidenceRecord, EvidenceSet
from jitplan.contracts.plan import Plan
from jitplan.contracts.signals import Signal, SignalStatus
from jitplan.tools.evidence import index_evidence
from jitplan.tools.plan_simulation import simulate_plan

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DEMAND_RPM = 480.0  # 8 rps; at ~1 s per request, ~8 in flight (24 at the x3 peak)
SLO = {"latency_p95_ms": 2500, "error_rate_max": 0.01, "quality_min": 0.8}
ENV = 0.001  # per-request envelope
BUDGET = DEMAND_RPM * 1440 * ENV * 1.3


def _spec(version: str) -> dict[str, Any]:
    return {"id": "summ", "version": version, "kind": "prompt", "owner": "t", "description": "d",
            "cost": {"per_request_usd": ENV, "daily_budget_usd": BUDGET},
            "risk": {"tier": "low", "data_classes": ["public"]},
            "governance": {"regions": ["eu"], "roles": ["operator"]}, "slo": SLO}


CATALOG = Catalog.model_validate({"catalog": "not-the-sample-world", "version": "1",
                                  "features": [_spec("1.0.0"), _spec("1.1.0")]})
SIGNALS = [SignalStatus(signal=Signal(name="summ.demand", kind="demand", feature="summ", value=DEMAND_RPM,
                                      unit="rpm", observed_at=NOW, source="t", lineage=["t"]), ok=True)]


def _tol() -> list[dict[str, Any]]:
    return [{"metric": "latency_p95_ms", "comparator": "<=", "threshold": 2500, "window_s": 300},
            {"metric": "error_rate", "comparator": "<=", "threshold": 0.01, "window_s": 300},
            {"metric": "quality", "comparator": ">=", "threshold": 0.8, "window_s": 300},
            {"metric": "cost_per_request_usd", "comparator": "<=", "threshold": ENV, "window_s": 300}]


def rollout() -> Plan:
    steps: list[dict[str, Any]] = []
    undo = {"action": "rollback", "feature": "summ", "params": {"to_version": "1.0.0"}}
    prev: list[str] = []
    for i, w in enumerate((5, 25, 50, 100)):
        steps.append({"id": f"c{i}", "action": "canary", "feature": "summ", "version": "1.1.0",
                      "params": {"weight": w}, "tolerances": _tol(), "depends_on": prev,
                      "compensation": {"id": f"c{i}-undo", **undo}})
        prev = [f"c{i}"]
    steps.append({"id": "p", "action": "promote", "feature": "summ", "version": "1.1.0",
                  "tolerances": _tol(), "depends_on": prev, "compensation": {"id": "p-undo", **undo}})
    return Plan.model_validate({"id": "rollout", "goal": "g", "planner": "offline", "steps": steps})


def record(version: str, **kw: Any) -> EvidenceRecord:
    base: dict[str, Any] = {"feature": "summ", "version": version, "source": "shadow",
                            "observed_at": NOW - timedelta(hours=3), "requests": 3000,
                            "latency_ms": {"p50": 700, "p95": 1100}, "error_rate": 0.001,
                            "quality": 0.9, "cost_per_request_usd": 0.0006}
    base.update(kw)
    return EvidenceRecord.model_validate(base)


SERVING = record("1.0.0", source="production", requests=50_000)
GOOD = {"latency_ms": {"p50": 700, "p95": 1100}, "error_rate": 0.001, "quality": 0.9,
        "cost_per_request_usd": 0.0006}
# Each harm, shown by the candidate's evidence, and the good twin that differs in that figure only.
HARMS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # ~8 in flight at demand: 16 slots hold it (load 0.5); at the x3 peak they saturate.
    "latency_cliff": ({"capacity": {"max_concurrency": 16}}, {"capacity": {"max_concurrency": 80}}),
    "error_rate": ({"error_rate": 0.03}, {"error_rate": 0.002}),
    "quality": ({"quality": 0.74}, {"quality": 0.88}),
    "cost": ({"cost_per_request_usd": 0.0016}, {"cost_per_request_usd": 0.0007}),
    # 480 rpm today, 1440 at the peak: a 1000 rpm provider limit rejects the excess.
    "rpm_limit": ({"capacity": {"rpm_limit": 1000}}, {"capacity": {"rpm_limit": 6000}}),
}


def judge(candidate: dict[str, Any] | None, plan: Plan | None = None) -> dict[str, Any]:
    recs = [SERVING] + ([record("1.1.0", **{**GOOD, **candidate})] if candidate is not None else [])
    index = index_evidence(CATALOG, EvidenceSet(tuple(recs), ("t",) * len(recs)), now=NOW)
    return simulate_plan(plan or rollout(), CATALOG, SIGNALS, replications=4,
                         serving={"summ": "1.0.0"}, evidence=index)


@pytest.mark.parametrize("harm", sorted(HARMS))
def test_each_harm_is_caught_from_evidence_and_its_twin_passes(harm: str) -> None:
    bad, good = HARMS[harm]
    caught = judge(bad)
    assert caught["passed"] is False and caught["verdict"] == "failed", caught["failures"]
    ok = judge(good)
    assert ok["passed"] is True and ok["verdict"] == "passed", ok["failures"]
    assert {r["verdict"] for r in ok["scenarios"].values()} == {"passed"}
    if harm in ("latency_cliff", "rpm_limit"):  # only at the peak: the load-spike row catches it
        assert caught["scenarios"]["summ:baseline"]["verdict"] == "passed"
        assert caught["scenarios"]["summ:load_spike"]["verdict"] == "failed"


def test_no_evidence_means_unproven_never_passed() -> None:
    res = judge(None)
    assert res["passed"] is False and res["verdict"] == "unproven"
    assert {r["verdict"] for k, r in res["scenarios"].items()} == {"unproven"}
    assert res["provenance"]["summ@1.1.0"] == "nominal"
    assert res["provenance"]["summ@1.0.0"]["source"] == "production"


def test_sparse_evidence_is_unproven() -> None:
    res = judge({**GOOD, "requests": 30})
    assert res["verdict"] == "unproven"
    assert res["provenance"]["summ@1.1.0"]["sparse"] is True


def test_a_shadow_exposes_nobody_and_can_pass_without_evidence() -> None:
    shadow = Plan.model_validate({"id": "sh", "goal": "g", "planner": "offline", "steps": [
        {"id": "s1", "action": "shadow", "feature": "summ", "version": "1.1.0", "tolerances": [],
         "compensation": {"id": "s1-undo", "action": "rollback", "feature": "summ",
                          "params": {"to_version": "1.0.0"}}}]})
    res = judge(None, shadow)
    assert res["verdict"] == "passed", res["failures"]
    assert res["provenance"]["summ@1.1.0"] == "nominal"


def test_provenance_reports_source_requests_and_age() -> None:
    res = judge(GOOD)
    assert res["provenance"]["summ@1.1.0"] == {"source": "shadow", "requests": 3000, "age_s": 10800.0}
