"""``jitplan regress``: suites, expectations, JUnit XML, exit codes, -k and workers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from junitparser import Error, Failure, JUnitXml

from jitplan.contracts.suite import MetricExpectation, load_suite

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
SMOKE = ROOT / "scenarios" / "suites" / "smoke.yaml"
FULL = ROOT / "scenarios" / "suites" / "full.yaml"


def _suite(tmp_path: Path, cases: list[dict[str, Any]], **top: Any) -> Path:
    doc = {"name": "t", "defaults": {
        "catalog": str(WORLD / "catalog.yaml"), "contracts": str(WORLD / "contracts.yaml"),
        "state": str(WORLD / "flags.json"), "evidence": [str(WORLD / "evidence")], "replications": 2,
    }, "cases": cases, **top}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _cases(xml: Path) -> dict[str, Any]:
    return {case.name: case for suite in JUnitXml.fromfile(str(xml)) for case in suite}


def test_smoke_suite_passes_and_its_junit_xml_parses(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "smoke.xml"
    home_before = os.environ["JITPLAN_HOME"]
    res = cli("regress", SMOKE, "--junit", out, "--workers", "2")
    assert res.code == 0, res.out + res.err
    assert "5 passed, 0 failed" in res.out
    assert "[5/5]" in res.err  # progress on stderr
    cases = _cases(out)
    assert set(cases) == {c.name for c in load_suite(SMOKE).cases}
    assert all(c.is_passed for c in cases.values())
    assert os.environ["JITPLAN_HOME"] == home_before  # the private home is undone
    assert list(Path(home_before).iterdir()) == []  # cases checkpointed and audited elsewhere


def test_a_broken_case_fails_with_a_readable_message(cli: Any, tmp_path: Path) -> None:
    path = _suite(tmp_path, [
        {"name": "steady-is-noop", "signals": str(WORLD / "signals" / "steady.yaml"),
         "expect": {"decision": "noop"}},
        {"name": "steady-wrongly-approved", "signals": str(WORLD / "signals" / "steady.yaml"),
         "expect": {"decision": "approved", "actions_include": ["canary:answer-synthesizer"],
                    "features_touched": ["answer-synthesizer"]}},
        {"name": "mm10-too-fast", "kind": "simulation", "scenario": str(ROOT / "scenarios" / "sim" / "mm10.yaml"),
         "replications": 1, "expect": {"metrics": ["latency_p95_s < 0.5", "error_rate <= 0.01"]}},
    ])
    out = tmp_path / "out.xml"
    res = cli("regress", path, "--junit", out)
    assert res.code == 1
    assert "1 passed, 2 failed" in res.out
    cases = _cases(out)
    assert cases["steady-is-noop"].is_passed
    wrong = cases["steady-wrongly-approved"].result
    assert len(wrong) == 1 and isinstance(wrong[0], Failure)
    msg = wrong[0].message
    assert "decision: expected approved, got noop" in msg
    assert "actions_include: expected canary:answer-synthesizer in the plan, got [noop]" in msg
    assert "features_touched: expected ['answer-synthesizer'], got []" in msg
    sim = cases["mm10-too-fast"].result[0]
    assert isinstance(sim, Failure) and sim.message.startswith("latency_p95_s < 0.5: observed ")
    assert "error_rate" not in sim.message  # only unmet expectations are reported


def test_json_reports_every_case_with_what_was_observed(cli: Any, tmp_path: Path) -> None:
    path = _suite(tmp_path, [
        {"name": "rise-no-evidence", "signals": str(WORLD / "signals" / "demand-rise.yaml"), "evidence": [],
         "expect": {"decision": "approved", "actions_exclude": ["shadow"], "max_projected_cost_usd": 0.0}},
    ])
    res = cli("regress", path, "--json", "--no-progress")
    assert res.code == 1 and res.err == ""
    doc = json.loads(res.out)
    assert (doc["suite"], doc["passed"], doc["failed"]) == ("t", 0, 1)
    case = doc["cases"][0]
    assert case["observed"]["actions"] == ["shadow:answer-synthesizer"]
    assert case["failures"][0] == "actions_exclude: shadow must not appear, got [shadow:answer-synthesizer]"
    assert case["failures"][1].startswith("max_projected_cost_usd: expected <= 0, got ")


def test_a_case_that_cannot_run_is_a_junit_error(cli: Any, tmp_path: Path) -> None:
    # A valid script that runs out of answers: the case fails while running (a broken file it
    # references is a bad suite instead: test_regress_bad_suite).
    script = tmp_path / "short.yaml"
    script.write_text('responses:\n  - content: "not a plan"\n')
    path = _suite(tmp_path, [{"name": "script-runs-out", "planner": f"scripted:{script}",
                              "signals": str(WORLD / "signals" / "demand-rise.yaml"), "expect": {}}])
    out = tmp_path / "out.xml"
    assert cli("regress", path, "--junit", out).code == 1
    result = _cases(out)["script-runs-out"].result
    assert isinstance(result[0], Error) and "ScriptExhausted" in result[0].message


@pytest.mark.parametrize(("case", "field"), [
    ({"name": "x", "signals": "steady.yaml", "expect": {"decision": "approve"}}, "cases[0].expect.decision"),
    ({"name": "x", "signals": "nope.yaml", "expect": {}}, "cases[0].signals"),
    ({"name": "x", "signals": "steady.yaml", "expect": {"decison": "noop"}}, "cases[0].expect.decison"),
    ({"name": "x", "signals": "steady.yaml", "planner": "openai/gpt-4o", "expect": {}}, "cases[0].planner"),
    ({"name": "x", "kind": "simulation", "scenario": "mm10.yaml", "expect": {"metrics": ["p95 ~ 3"]}},
     "cases[0].expect.metrics"),
    ({"name": "x", "kind": "simulation", "scenario": "mm10.yaml", "expect": {"metrics": ["latency_p96_s < 3"]}},
     "cases[0].expect.metrics[0]"),
])
def test_a_bad_suite_exits_2_naming_file_and_field(cli: Any, tmp_path: Path, case: dict[str, Any], field: str) -> None:
    (tmp_path / "steady.yaml").write_text((WORLD / "signals" / "steady.yaml").read_text())
    (tmp_path / "mm10.yaml").write_text((ROOT / "scenarios" / "sim" / "mm10.yaml").read_text())
    path = _suite(tmp_path, [case])
    res = cli("regress", path)
    assert res.code == 2, res.out + res.err
    assert f"{path}: {field}" in res.err and "Traceback" not in res.err


def test_duplicate_case_names_and_unknown_defaults_are_rejected(cli: Any, tmp_path: Path) -> None:
    sig = str(WORLD / "signals" / "steady.yaml")
    path = _suite(tmp_path, [{"name": "a", "signals": sig, "expect": {}}, {"name": "a", "signals": sig, "expect": {}}])
    res = cli("regress", path)
    assert res.code == 2 and "duplicate case name 'a'" in res.err
    path = _suite(tmp_path, [{"name": "a", "signals": sig, "expect": {}}], defaults={"scenario": "x"})
    res = cli("regress", path)
    assert res.code == 2 and f"{path}: defaults.scenario" in res.err


def test_paths_resolve_relative_to_the_suite_file() -> None:
    suite = load_suite(SMOKE)
    case = suite.cases[0]
    assert case.kind == "planning" and case.catalog == str(WORLD / "catalog.yaml")
    assert case.evidence == (str(WORLD / "evidence"),)


def test_k_selects_cases_by_substring_or_glob(cli: Any, tmp_path: Path) -> None:
    res = cli("regress", SMOKE, "-k", "steady", "--json")
    assert res.code == 0
    assert [c["name"] for c in json.loads(res.out)["cases"]] == ["steady-noop"]
    res = cli("regress", SMOKE, "-k", "*-shadow", "--json")
    assert [c["name"] for c in json.loads(res.out)["cases"]] == ["demand-rise-without-evidence-shadow"]
    res = cli("regress", SMOKE, "-k", "no-such-case")
    assert res.code == 2 and "-k" in res.err


def test_full_suite_loads() -> None:
    suite = load_suite(FULL)
    kinds = {c.kind for c in suite.cases}
    assert kinds == {"planning", "simulation"}
    sims = {Path(c.scenario).name for c in suite.cases if c.kind == "simulation"}
    assert sims == {p.name for p in (ROOT / "scenarios" / "sim").glob("*.yaml")}
    scripted = {Path(c.planner.removeprefix("scripted:")).name for c in suite.cases
                if c.kind == "planning" and c.planner.startswith("scripted:")}
    assert scripted == {p.name for p in (ROOT / "tests" / "fixtures" / "scripted").glob("*.yaml")}


@pytest.mark.parametrize(("text", "observed", "holds"), [
    ("latency_p95_s < 1.2", 1.1, True), ("latency_p95_s < 1.2", 1.2, False),
    ("error_rate <= 0.01", 0.01, True), ("error_rate <= 0.01", 0.011, False),
    ("quality_mean >= 0.9", 0.9, True), ("quality_mean > 0.9", 0.9, False),
    ("retries == 0", 0.0, True), ("retries != 0", 0.0, False),
])
def test_metric_expectations_parse_and_compare(text: str, observed: float, holds: bool) -> None:
    assert MetricExpectation.parse(text).holds(observed) is holds


def test_metric_expectation_syntax_errors() -> None:
    with pytest.raises(ValueError, match="metric <op> number"):
        MetricExpectation.parse("latency_p95_s about 1")
    with pytest.raises(ValueError, match="not a number"):
        MetricExpectation.parse("latency_p95_s < fast")
