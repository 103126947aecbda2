"""``jitplan regress``: a bad suite (or a bad ``--junit``) is exit 2 with one line naming the file
and the field, before any case runs; exit 1 is kept for cases that fail (issue 13)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from jitplan.contracts.suite import load_suite

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
SIM = ROOT / "scenarios" / "sim"
SMOKE = ROOT / "scenarios" / "suites" / "smoke.yaml"
STEADY = str(WORLD / "signals" / "steady.yaml")


def _suite(tmp_path: Path, cases: list[dict[str, Any]], **top: Any) -> Path:
    doc = {"name": "t", "defaults": {
        "catalog": str(WORLD / "catalog.yaml"), "contracts": str(WORLD / "contracts.yaml"),
        "state": str(WORLD / "flags.json"), "evidence": [str(WORLD / "evidence")], "replications": 2,
    }, "cases": cases, **top}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def no_case_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError("a case ran before the suite was checked")

    monkeypatch.setattr(importlib.import_module("jitplan.agent.regress"), "run_case", boom)


def _one_line(res: Any) -> str:
    assert res.code == 2, res.out + res.err
    assert "Traceback" not in res.err
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    return str(lines[0])


# --junit --------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["no-such-dir", "a-dir"])
def test_unwritable_junit_is_exit_2_naming_junit_before_cases_run(
    cli: Any, tmp_path: Path, no_case_runs: None, where: str
) -> None:
    target = tmp_path / "nope" / "out.xml" if where == "no-such-dir" else tmp_path
    line = _one_line(cli("regress", SMOKE, "--junit", target))
    assert line.startswith("jitplan: error: --junit: ") and str(target) in line
    res = cli("regress", SMOKE, "--junit", target, "--json")
    _one_line(res)
    doc = json.loads(res.out)
    assert doc["exit_code"] == 2 and doc["error"]["file"] == "--junit"


def test_a_junit_write_failure_after_the_run_is_one_line(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xml.etree.ElementTree as ET

    def full(self: Any, *a: Any, **k: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ET.ElementTree, "write", full)
    out = tmp_path / "out.xml"
    line = _one_line(cli("regress", SMOKE, "-k", "steady", "--junit", out, "--no-progress"))
    assert line == f"jitplan: error: --junit: cannot write {out}: No space left on device"


# referenced files that exist but are broken -----------------------------------------------------

def _trace_missing(tmp_path: Path) -> str:
    doc = yaml.safe_load((SIM / "azure_trace_replay.yaml").read_text())
    doc["traffic"]["path"] = str(tmp_path / "no-such-trace.csv")
    p = tmp_path / "trace_missing.yaml"
    p.write_text(yaml.safe_dump(doc))
    return str(p)


@pytest.mark.parametrize(("case", "field", "ref_error"), [
    ({"kind": "simulation", "scenario": "BAD", "expect": {}}, "scenario", "BAD: malformed YAML at line 2"),
    ({"kind": "simulation", "scenario": str(WORLD / "catalog.yaml"), "expect": {}}, "scenario",
     f"{WORLD / 'catalog.yaml'}: name: required field is missing"),
    ({"kind": "simulation", "scenario": str(SIM / "mm10.yaml"), "plan": str(WORLD / "flags.json"), "expect": {}},
     "plan", f"{WORLD / 'flags.json'}: "),
    ({"kind": "simulation", "scenario": "TRACE", "expect": {}}, "scenario", "trace file not found"),
    ({"signals": str(WORLD / "catalog.yaml"), "expect": {}}, "signals", f"{WORLD / 'catalog.yaml'}: "),
    ({"signals": STEADY, "catalog": "BAD", "expect": {}}, "catalog", "BAD: malformed YAML"),
    ({"signals": STEADY, "state": str(WORLD / "catalog.yaml"), "expect": {}}, "state", "flags"),
    ({"signals": STEADY, "contracts": None, "expect": {}}, "contracts", "no data contracts"),
    ({"signals": STEADY, "evidence": [str(WORLD / "catalog.yaml")], "expect": {}}, "evidence[0]",
     f"{WORLD / 'catalog.yaml'}: "),
    ({"signals": STEADY, "policy": str(WORLD), "expect": {}}, "policy", "no .rego files"),
    ({"signals": STEADY, "planner": "scripted:BAD", "expect": {}}, "planner", "BAD: malformed YAML"),
])
def test_a_broken_referenced_file_is_a_bad_suite(
    cli: Any, tmp_path: Path, no_case_runs: None, case: dict[str, Any], field: str, ref_error: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1\n")
    subst = {"BAD": str(bad), "TRACE": _trace_missing(tmp_path) if case.get("scenario") == "TRACE" else ""}
    case = {k: (v.replace("BAD", subst["BAD"]) if k == "planner" else subst.get(v, v)) if isinstance(v, str) else v
            for k, v in case.items()}
    path = _suite(tmp_path, [{"name": "x", **case}])
    line = _one_line(cli("regress", path))
    assert line.startswith(f"jitplan: error: {path}: cases[0].{field}: "), line
    assert ref_error.replace("BAD", str(bad)) in line


# one problem, one line, the case's own field path ---------------------------------------------

@pytest.mark.parametrize(("case", "field", "message"), [
    ({"signals": STEADY, "bogus": 1, "expect": {}}, "cases[0].bogus", "unknown field"),
    ({"signals": STEADY, "expect": {"decison": "noop"}}, "cases[0].expect.decison", "unknown field"),
    ({"signals": STEADY, "expect": {"decision": "approve"}}, "cases[0].expect.decision", "'approved'"),
    ({"signals": STEADY, "planner": "gpt-4o", "expect": {}}, "cases[0].planner", "'offline'"),
    ({"kind": "simulation", "scenario": str(SIM / "mm10.yaml"), "expect": {"metrics": ["latency_p95_s ~ 3"]}},
     "cases[0].expect.metrics", "metric <op> number"),
    ({"kind": "simulation", "scenario": str(SIM / "mm10.yaml"), "expect": {"metricz": []}},
     "cases[0].expect.metricz", "unknown field"),
    ({"kind": "simlation", "scenario": str(SIM / "mm10.yaml"), "expect": {}}, "cases[0].kind",
     "unknown kind 'simlation', expected planning or simulation"),
    ({"signals": STEADY, "catalog": None, "expect": {}}, "cases[0].catalog", "required field is missing"),
])
def test_one_typo_is_one_problem_on_one_line(
    cli: Any, tmp_path: Path, case: dict[str, Any], field: str, message: str
) -> None:
    case = {"name": "x", **case}
    if case.get("catalog", "") is None:
        del case["catalog"]
        path = _suite(tmp_path, [case], defaults={"contracts": str(WORLD / "contracts.yaml")})
    else:
        path = _suite(tmp_path, [case])
    line = _one_line(cli("regress", path))
    assert line.startswith(f"jitplan: error: {path}: {field}: "), line
    assert message in line and "problems" not in line and "at least 1 item" not in line
    assert ".planning." not in line and ".simulation." not in line
    sandbox = cli("sandbox", WORLD / "catalog.yaml", "--suite", path)
    assert _one_line(sandbox) == line


def test_an_empty_case_list_is_one_line(cli: Any, tmp_path: Path) -> None:
    path = _suite(tmp_path, [])
    assert _one_line(cli("regress", path)) == f"jitplan: error: {path}: cases: expected at least one case"


# evidence as one path; verdict spellings; a verdict without a plan ------------------------------

def test_evidence_may_be_a_single_path(tmp_path: Path) -> None:
    path = _suite(tmp_path, [{"name": "x", "signals": STEADY, "evidence": str(WORLD / "evidence"), "expect": {}}])
    assert load_suite(path).cases[0].evidence == (str(WORLD / "evidence"),)  # type: ignore[union-attr]
    path = _suite(tmp_path, [{"name": "x", "signals": STEADY, "expect": {}}],
                  defaults={"catalog": str(WORLD / "catalog.yaml"), "evidence": str(WORLD / "evidence")})
    assert load_suite(path).cases[0].evidence == (str(WORLD / "evidence"),)  # type: ignore[union-attr]


@pytest.mark.parametrize(("given", "stored"), [("pass", "passed"), ("passed", "passed"), ("fail", "failed"),
                                               ("failed", "failed"), ("unproven", "unproven"),
                                               ("not_run", "not_run")])
def test_planning_simulation_verdict_accepts_both_spellings(tmp_path: Path, given: str, stored: str) -> None:
    path = _suite(tmp_path, [{"name": "x", "signals": STEADY, "expect": {"simulation_verdict": given}}])
    assert load_suite(path).cases[0].expect.simulation_verdict == stored  # type: ignore[union-attr]


@pytest.mark.parametrize(("given", "stored"), [("pass", "pass"), ("passed", "pass"), ("fail", "fail"),
                                               ("failed", "fail")])
def test_simulation_verdict_accepts_both_spellings(tmp_path: Path, given: str, stored: str) -> None:
    path = _suite(tmp_path, [{"name": "x", "kind": "simulation", "scenario": str(SIM / "mm10.yaml"),
                              "plan": str(SIM / "plans" / "canary_ticket_summarizer.json"),
                              "expect": {"verdict": given}}])
    assert load_suite(path).cases[0].expect.verdict == stored  # type: ignore[union-attr]


def test_an_unknown_verdict_lists_the_allowed_ones(cli: Any, tmp_path: Path) -> None:
    path = _suite(tmp_path, [{"name": "x", "signals": STEADY, "expect": {"simulation_verdict": "green"}}])
    line = _one_line(cli("regress", path))
    assert f"{path}: cases[0].expect.simulation_verdict: unknown verdict 'green'" in line
    assert "passed, failed, unproven, not_run" in line
    path = _suite(tmp_path, [{"name": "x", "kind": "simulation", "scenario": str(SIM / "mm10.yaml"),
                              "expect": {"verdict": "green"}}])
    assert "cases[0].expect.verdict: unknown verdict 'green', expected pass or fail" in _one_line(cli("regress", path))


def test_simulation_pass_spelling_passes_at_run(cli: Any, tmp_path: Path) -> None:
    """``simulation_verdict: pass`` used to load and then always fail (the cycle says passed)."""
    path = _suite(tmp_path, [{"name": "x", "signals": str(WORLD / "signals" / "demand-rise.yaml"),
                              "expect": {"simulation_verdict": "pass"}}])
    res = cli("regress", path, "--no-progress")
    assert res.code == 0, res.out


def test_a_verdict_without_a_plan_is_a_bad_suite(cli: Any, tmp_path: Path, no_case_runs: None) -> None:
    path = _suite(tmp_path, [{"name": "x", "kind": "simulation", "scenario": str(SIM / "mm10.yaml"),
                              "expect": {"verdict": "pass"}}])
    line = _one_line(cli("regress", path))
    assert line.startswith(f"jitplan: error: {path}: cases[0].expect.verdict: a verdict needs a plan under test")
