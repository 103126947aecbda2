"""A shadow's (or canary's) gate observations become evidence for the next cycle."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.evidence import load_evidence
from jitplan.contracts.execution import ExecutionResult, GateVerdict, StepOutcome, ToleranceCheck
from jitplan.contracts.plan import Plan
from jitplan.tools.evidence_observed import records_from_execution, write_observed

SINCE = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
PLAN = Plan.model_validate({"id": "p:1", "goal": "g", "steps": [
    {"id": "sh", "action": "shadow", "feature": "ticket-summarizer", "version": "1.2.0"},
    {"id": "bud", "action": "set_budget", "feature": "ticket-summarizer", "params": {"usd_per_day": 5}},
]})


def _check(metric: str, observed: float, n: int = 300) -> ToleranceCheck:
    return ToleranceCheck(metric=metric, comparator="<=", threshold=1e9, observed=observed, n=n,
                          verdict="pass", reason="ok")


def _result(gate: GateVerdict | None) -> ExecutionResult:
    steps = [StepOutcome(step_id="sh", action="shadow", feature="ticket-summarizer", status="applied", gate=gate),
             StepOutcome(step_id="bud", action="set_budget", feature="ticket-summarizer", status="applied",
                         gate=gate)]
    return ExecutionResult(plan_id="p:1", plan_sha256="x", status="applied", steps=steps,
                           state_before_sha256="a", state_after_sha256="b")


def test_a_shadow_gate_becomes_a_shadow_record(tmp_path: Path) -> None:
    gate = GateVerdict(verdict="pass", since=SINCE, tolerances=[
        _check("latency_p95_ms", 1800.0), _check("error_rate", 0.002), _check("quality", 0.9),
        _check("cost_per_request_usd", 0.0005)])
    (rec,) = records_from_execution(_result(gate), PLAN)  # the set_budget step is not evidence
    assert (rec.key, rec.source, rec.requests, rec.observed_at) == ("ticket-summarizer@1.2.0", "shadow", 300, SINCE)
    assert rec.latency_ms is not None and rec.latency_ms.p95 == 1800.0 and rec.latency_ms.p50 < 1800.0
    assert (rec.error_rate, rec.quality, rec.cost_per_request_usd) == (0.002, 0.9, 0.0005)
    path = write_observed([rec], tmp_path / "ev", PLAN.id)
    assert path is not None and path.name == "observed-p-1.yaml"
    assert load_evidence([tmp_path / "ev"]).records == (rec,)


def test_no_gate_or_no_observation_gives_no_evidence(tmp_path: Path) -> None:
    assert records_from_execution(_result(None), PLAN) == []
    empty = GateVerdict(verdict="inconclusive", tolerances=[
        ToleranceCheck(metric="error_rate", comparator="<=", threshold=0.01, observed=None, n=0,
                       verdict="inconclusive", reason="no data")])
    assert records_from_execution(_result(empty), PLAN) == []
    assert write_observed([], tmp_path / "none", "x") is None and not (tmp_path / "none").exists()


def test_apply_writes_the_shadows_observations_as_evidence(cli: Any, tmp_path: Path, world: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.agent.test_apply_cli import PLAN as APPLY_PLAN
    from tests.agent.test_apply_cli import approve, fresh

    flags = tmp_path / "flags.json"
    shutil.copyfile(world / "flags.json", flags)
    catalog = tmp_path / "catalog.yaml"
    shutil.copyfile(world / "catalog.yaml", catalog)
    policy = tmp_path / "policies"
    shutil.copytree(Path(__file__).parents[2] / "tools" / "policy_bundle", policy)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(APPLY_PLAN))
    ws = {"flags": flags, "catalog": catalog, "policy": policy, "plan": plan}
    approve(ws)
    steady = fresh(world / "signals" / "steady.yaml", tmp_path / "steady.json")
    out = tmp_path / "evidence"
    res = cli("apply", plan, "--state", flags, "--signals", steady, "--evidence", out)
    assert res.code == 0, res.err
    (rec,) = load_evidence([out]).records
    assert rec.key == "ticket-summarizer@1.2.0" and rec.source == "shadow"
    assert "observations written as evidence" in res.err
