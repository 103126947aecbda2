"""``jitplan evidence import`` (promptfoo results, jitplan spans) and ``jitplan evidence check``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from jitplan.contracts.evidence import load_evidence

PROMPTFOO = Path(__file__).parents[1] / "tools" / "data" / "promptfoo_results.json"
MAPS = ["--map", "prompts/ticket-summarizer.v1.1.0.md=ticket-summarizer@1.1.0",
        "--map", "prompts/ticket-summarizer.v1.2.0.md=ticket-summarizer@1.2.0"]


def test_import_promptfoo_writes_a_loadable_evidence_file(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "pf.yaml"
    r = cli("evidence", "import", PROMPTFOO, *MAPS, "-o", out)
    assert r.code == 0, r.err
    ev = load_evidence([out])
    assert [rec.key for rec in ev.records] == ["ticket-summarizer@1.1.0", "ticket-summarizer@1.2.0"]
    assert {rec.source for rec in ev.records} == {"offline_eval"}


def test_import_without_a_mapping_exits_2_naming_the_file(cli: Any) -> None:
    r = cli("evidence", "import", PROMPTFOO)
    assert r.code == 2
    assert str(PROMPTFOO) in r.err and "--map" in r.err and "Traceback" not in r.err


def test_import_spans_jsonl(cli: Any, tmp_path: Path) -> None:
    spans = tmp_path / "traces.jsonl"
    rows = [{"name": "serve", "duration_ms": 120 + i, "status": "OK", "end": "2026-11-26T10:00:00+00:00",
             "attributes": {"jitplan.feature": "f", "jitplan.version": "1.0.0"}} for i in range(3)]
    spans.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = cli("evidence", "import", spans, "--source", "shadow")
    assert r.code == 0, r.err
    (rec,) = yaml.safe_load(r.out)["evidence"]
    assert rec["source"] == "shadow" and rec["requests"] == 3 and rec["samples_ms"] == [120, 121, 122]
    spans.write_text("{not json\n")
    bad = cli("evidence", "import", spans)
    assert bad.code == 2 and "line 1" in bad.err


def test_check_reports_unknown_and_stale_evidence(cli: Any, world: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ev = tmp_path / "ev.yaml"
    ev.write_text(yaml.safe_dump({"evidence": [
        {"feature": "ticket-summarizer", "version": "1.2.0", "source": "shadow",
         "observed_at": "2020-01-01T00:00:00Z", "requests": 500, "latency_ms": {"p50": 900, "p95": 1500},
         "error_rate": 0.001, "quality": 0.9, "cost_per_request_usd": 0.0004},
        {"feature": "ticket-summarizer", "version": "9.9.9", "source": "shadow",
         "observed_at": "2026-11-26T00:00:00Z", "requests": 500}]}))
    monkeypatch.setenv("JITPLAN_EVIDENCE_MAX_AGE_DAYS", "30")
    r = cli("evidence", "check", "--catalog", world / "catalog.yaml", "--evidence", ev, "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert "is stale" in r.err and "ticket-summarizer@9.9.9 ignored" in r.err
    (row,) = doc["versions"]
    assert row["version"] == "ticket-summarizer@1.2.0" and row["stale"] is True
    assert "ticket-summarizer@9.9.9" not in json.dumps(doc["versions"])
    assert "ticket-summarizer@1.0.0" in doc["unproven"]


def test_sample_world_evidence_loads(cli: Any, world: Path) -> None:
    r = cli("evidence", "check", "--catalog", world / "catalog.yaml",
            "--evidence", world / "evidence", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["unknown"] == []
    assert "answer-synthesizer@1.0.0" in {v["version"] for v in doc["versions"]}


def test_simulate_catalog_judges_a_plan_on_evidence(cli: Any, world: Path, tmp_path: Path) -> None:
    from jitplan.agent.planners.steps import slo_tolerances
    from jitplan.contracts.catalog import Catalog

    spec = Catalog.from_file(world / "catalog.yaml").get("answer-synthesizer")
    assert spec is not None
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"id": "p", "goal": "g", "steps": [
        {"id": f"s{i}", "action": "canary", "feature": "answer-synthesizer", "version": "1.0.0",
         "params": {"weight": w}, "tolerances": slo_tolerances(spec), "depends_on": [f"s{i - 1}"] if i else [],
         "compensation": {"id": f"u{i}", "action": "rollback", "feature": "answer-synthesizer", "params": {}}}
        for i, w in enumerate((5, 25))]}))
    common = ["simulate", "--catalog", world / "catalog.yaml", "--plan", plan, "--signals",
              world / "signals" / "demand-rise.yaml", "--contracts", world / "contracts.yaml",
              "--state", world / "flags.json", "--replications", "2", "--json"]
    bare = cli(*common)
    assert bare.code == 1 and json.loads(bare.out)["verdict"] == "unproven"
    backed = cli(*common, "--evidence", world / "evidence")
    doc = json.loads(backed.out)
    assert backed.code == 0 and doc["verdict"] == "passed", doc["failures"]
    assert doc["provenance"]["answer-synthesizer@1.0.0"]["source"] == "shadow"
    assert cli("simulate", world / "catalog.yaml", "--catalog", world / "catalog.yaml", "--plan", plan).code == 2


def test_new_evidence_is_not_answered_from_the_plan_cache(cli: Any, world: Path) -> None:
    # Old key: catalog, signals, policy, state, planner, request. The shadow-first plan cached
    # without evidence was served again after the shadow's evidence arrived.
    args = ["plan", "--catalog", world / "catalog.yaml", "--signals", world / "signals" / "demand-rise.yaml",
            "--contracts", world / "contracts.yaml", "--state", world / "flags.json",
            "--replications", "2", "--json"]
    first = json.loads(cli(*args).out)
    assert [s["action"] for s in first["plan"]["steps"]] == ["shadow"]
    again = json.loads(cli(*args).out)
    assert again["cache_hit"] is True
    backed = json.loads(cli(*args, "--evidence", world / "evidence").out)
    assert backed["cache_hit"] is False
    assert backed["plan"]["steps"][0]["action"] == "canary"
