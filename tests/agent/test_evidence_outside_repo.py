"""A catalog that is not in the repository, with its own evidence files, run from a temporary
directory outside the repository: plans are judged on that evidence alone.

Its ``ticket-summarizer@1.1.0`` shares a name with a version of the sample world. The old
simulation borrowed that version's profile from the repository's ``scenarios/sim/baseline.yaml``
(p95 about 2 s) and rejected a refresh that this catalog's own evidence (p95 0.9 s, SLO 1.5 s)
shows is healthy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
JITPLAN = Path(sys.executable).parent / "jitplan"
NOW = "2026-11-26T12:00:00Z"


def _feature(version: str) -> dict[str, Any]:
    return {"id": "ticket-summarizer", "version": version, "kind": "prompt", "owner": "support",
            "description": "our own summarizer", "model": "openai/gpt-4o-mini",
            "cost": {"per_request_usd": 0.001, "daily_budget_usd": 400},
            "risk": {"tier": "low", "data_classes": ["public"]},
            "governance": {"regions": ["eu"], "roles": ["operator"]},
            "slo": {"latency_p95_ms": 1500, "error_rate_max": 0.01, "quality_min": 0.8},
            "triggers": {"demand_min_rpm": 10, "drift_max": 0.5}}


def _evidence(version: str, source: str, **kw: Any) -> dict[str, Any]:
    rec = {"feature": "ticket-summarizer", "version": version, "source": source,
           "observed_at": "2026-11-26T08:00:00Z", "requests": 4000,
           "latency_ms": {"p50": 550, "p95": 900}, "error_rate": 0.001, "quality": 0.9,
           "cost_per_request_usd": 0.0005}
    rec.update(kw)
    return rec


@pytest.fixture
def world(tmp_path: Path) -> Path:
    d = tmp_path / "our-world"
    (d / "evidence").mkdir(parents=True)
    (d / "catalog.yaml").write_text(yaml.safe_dump({"catalog": "our-desk", "version": "1",
                                                    "features": [_feature("1.0.0"), _feature("1.1.0")]}))
    (d / "contracts.yaml").write_text(yaml.safe_dump({"contracts": [
        {"kind": "demand", "unit": "rpm", "min": 0, "max": 100000, "max_age_s": 900}]}))
    (d / "signals.yaml").write_text(yaml.safe_dump({"observed_at": NOW, "signals": [
        {"name": "ts.demand", "kind": "demand", "feature": "ticket-summarizer", "value": 120,
         "unit": "rpm", "observed_at": NOW, "source": "gw", "lineage": ["gw"]}]}))
    (d / "flags.json").write_text(json.dumps({"flags": {"ticket-summarizer": {
        "state": "ENABLED", "defaultVariant": "1.0.0",
        "variants": {"1.0.0": "1.0.0", "1.1.0": "1.1.0", "off": "off"}}}}))
    (d / "evidence" / "production.yaml").write_text(yaml.safe_dump({"evidence": [
        _evidence("1.0.0", "production", requests=50000)]}))
    return d


def _plan(world: Path, cwd: Path, *extra: str) -> dict[str, Any]:
    env = {**os.environ, "JITPLAN_HOME": str(cwd / ".home"), "JITPLAN_ROLE": "operator",
           "JITPLAN_REGION": "eu"}
    env.pop("JITPLAN_SIM_DIR", None)
    proc = subprocess.run(
        [str(JITPLAN), "plan", "--catalog", str(world / "catalog.yaml"), "--signals", str(world / "signals.yaml"),
         "--contracts", str(world / "contracts.yaml"), "--state", str(world / "flags.json"),
         "--request", "roll out ticket-summarizer@1.1.0 to 100%", "--now", NOW, "--replications", "4",
         "--no-cache", "--json", *extra],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_judged_on_its_own_evidence_from_outside_the_repository(world: Path, tmp_path: Path) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    assert ROOT not in cwd.parents and ROOT not in world.parents
    ev = ["--evidence", str(world / "evidence")]
    # 1. No evidence for 1.1.0 yet: the plan shadows it (no user exposure), nothing is borrowed.
    first = _plan(world, cwd, *ev)
    assert first["decision"] == "approved", first["reasons"]
    assert [s["action"] for s in first["plan"]["steps"]] == ["shadow"]
    assert first["simulation"]["provenance"]["ticket-summarizer@1.1.0"] == "nominal"
    # 2. The shadow's observations are evidence: the next cycle canaries on them.
    (world / "evidence" / "shadow.yaml").write_text(yaml.safe_dump({"evidence": [_evidence("1.1.0", "shadow")]}))
    second = _plan(world, cwd, *ev)
    assert second["decision"] == "approved", second["simulation"].get("failures")
    assert [s["action"] for s in second["plan"]["steps"]][:1] == ["canary"]
    assert second["simulation"]["verdict"] == "passed"
    assert second["simulation"]["provenance"]["ticket-summarizer@1.1.0"] == {
        "source": "shadow", "requests": 4000, "age_s": 14400.0}
    assert {r["verdict"] for r in second["simulation"]["scenarios"].values()} == {"passed"}
    # 3. The same catalog with evidence of a slow candidate: rejected on that evidence alone.
    (world / "evidence" / "shadow.yaml").write_text(yaml.safe_dump({"evidence": [
        _evidence("1.1.0", "shadow", latency_ms={"p50": 1400, "p95": 2600})]}))
    third = _plan(world, cwd, *ev)
    assert third["decision"] == "rejected"
    assert third["simulation"]["verdict"] == "failed"
    assert any("latency_p95_ms" in f for f in third["simulation"]["failures"])


def test_stale_evidence_is_reported_in_the_plan(world: Path, tmp_path: Path) -> None:
    (world / "evidence" / "shadow.yaml").write_text(yaml.safe_dump({"evidence": [
        _evidence("1.1.0", "shadow", observed_at="2026-09-01T00:00:00Z"),
        _evidence("9.9.9", "shadow")]}))
    doc = _plan(world, tmp_path, "--evidence", str(world / "evidence"))
    notes = " ".join(doc["simulation"].get("evidence_notes", []))
    assert "ticket-summarizer@1.1.0" in notes and "is stale" in notes
    assert "ticket-summarizer@9.9.9 ignored" in notes
    assert doc["simulation"]["provenance"]["ticket-summarizer@1.1.0"]["stale"] is True
