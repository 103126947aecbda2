"""`catalog diff` rules (tools.catalog_diff, tools.contract_diff): one test per finding type,
with file and line checked against the YAML."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from jitplan.contracts.errors import UserError
from jitplan.tools.catalog_diff import DiffReport, Finding, diff_files

SLO = {"latency_p95_ms": 1000, "error_rate_max": 0.01, "quality_min": 0.8}
GOV = {"regions": ["eu", "us"], "roles": ["operator", "lead"]}


def feature(fid: str, version: str, **extra: Any) -> dict[str, Any]:
    return {"id": fid, "version": version, "kind": "prompt", "description": "d", "owner": "o",
            "cost": {"per_request_usd": 0.001, "daily_budget_usd": 10},
            "risk": {"tier": "low", "data_classes": ["public"]}, "governance": dict(GOV), "slo": SLO,
            **extra}


BASE: list[dict[str, Any]] = [
    feature("redactor", "1.0.0", kind="adapter", provides=["pii_redaction"],
            inputs={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
    feature("summarizer", "1.0.0", prompt={"path": "prompts/s.md"}, fallback="rewriter",
            outputs={"type": "object", "properties": {"problem": {"type": "string"},
                                                      "sentiment": {"enum": ["neg", "pos"]}},
                     "required": ["problem"]}),
    feature("rewriter", "1.0.0"),
    feature("drafter", "1.0.0", risk={"tier": "medium", "data_classes": ["pii"]},
            depends_on=[{"id": "summarizer", "version": ">=1.0,<2"}, {"id": "redactor", "version": ">=1,<2"}]),
]
PROMPT = "Summarize the ticket.\nOutput JSON: {\"problem\": str}.\n"
STATE = {"flags": {
    "summarizer": {"state": "ENABLED", "defaultVariant": "1.0.0", "variants": {"1.0.0": "1.0.0", "off": "off"}},
    "drafter": {"state": "ENABLED", "defaultVariant": "1.0.0", "variants": {"1.0.0": "1.0.0", "off": "off"}},
    "redactor": {"state": "ENABLED", "defaultVariant": "1.0.0", "variants": {"1.0.0": "1.0.0", "off": "off"}},
}}


def write(tmp: Path, name: str, features: list[dict[str, Any]], prompt: str = PROMPT) -> Path:
    d = tmp / name
    (d / "prompts").mkdir(parents=True, exist_ok=True)
    (d / "prompts" / "s.md").write_text(prompt)
    path = d / "catalog.yaml"
    path.write_text(yaml.safe_dump({"catalog": "t", "version": 1, "features": features}, sort_keys=False))
    return path


def run(tmp_path: Path, change: Any = None, *, prompt: str = PROMPT, state: bool = True) -> DiffReport:
    new = copy.deepcopy(BASE)
    if change is not None:
        new = change(new) or new
    old_p = write(tmp_path, "old", BASE)
    new_p = write(tmp_path, "new", new, prompt)
    st = None
    if state:
        st = tmp_path / "flags.json"
        st.write_text(json.dumps(STATE))
    return diff_files(str(old_p), str(new_p), state_path=str(st) if st else None)


def only(report: DiffReport, code: str) -> Finding:
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, report.findings
    return found[0]


def line_in(f: Finding) -> str:
    assert f.line is not None
    return Path(f.file).read_text().splitlines()[f.line - 1]


def test_identical_catalogs_are_compatible(tmp_path: Path) -> None:
    r = run(tmp_path)
    assert r.findings == () and r.compatible and r.exit_code == 0
    assert r.counts == {"breaking": 0, "needs-review": 0, "info": 0}


def test_output_required_field_removed_in_place_is_breaking_with_its_line(tmp_path: Path) -> None:
    def change(fs: list[dict[str, Any]]) -> None:
        fs[1]["outputs"]["required"] = []
    r = run(tmp_path, change)
    f = only(r, "required_removed")
    assert (f.severity, f.feature, f.version) == ("breaking", "summarizer", "1.0.0")
    assert f.path == "features[1].outputs.required" and f.file.endswith("new/catalog.yaml")
    assert line_in(f).strip().startswith("required:")
    assert not r.compatible and r.exit_code == 1


def test_version_removed_while_deployed_is_breaking_else_info(tmp_path: Path) -> None:
    def drop_summarizer(fs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = [f for f in fs if f["id"] != "summarizer"]
        kept.append(feature("summarizer", "1.1.0", prompt={"path": "prompts/s.md"}, outputs=fs[1]["outputs"],
                            fallback="rewriter"))
        return kept
    f = only(run(tmp_path, drop_summarizer), "version_removed")
    assert f.severity == "breaking" and "serving" in f.message and f.file.endswith("old/catalog.yaml")
    assert "summarizer" in line_in(f)

    def drop_rewriter(fs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [f for f in fs if f["id"] != "rewriter"]
    r = run(tmp_path / "b", drop_rewriter)
    assert only(r, "version_removed").severity == "info"  # not in the state
    assert only(r, "fallback_unresolved").severity == "breaking"  # summarizer fell back to it
    r = run(tmp_path / "c", drop_rewriter, state=False)
    assert only(r, "version_removed").severity == "needs-review"  # unknown without --state


def test_dependency_range_that_no_longer_resolves(tmp_path: Path) -> None:
    def change(fs: list[dict[str, Any]]) -> None:
        fs[3]["depends_on"][0]["version"] = ">=2"
    f = only(run(tmp_path, change), "dependency_unresolved")
    assert f.severity == "breaking" and f.path == "features[3].depends_on[0].version"
    assert ">=2" in line_in(f) or "version" in line_in(f)


def test_dependency_excluding_the_serving_version_needs_review(tmp_path: Path) -> None:
    def change(fs: list[dict[str, Any]]) -> None:
        fs.append(feature("summarizer", "1.1.0", prompt={"path": "prompts/s.md"}, outputs=fs[1]["outputs"]))
        fs[3]["depends_on"][0]["version"] = ">=1.1"
    f = only(run(tmp_path, change), "dependency_excludes_serving")
    assert f.severity == "needs-review" and "summarizer@1.0.0" in f.message


def test_cost_and_risk_increases(tmp_path: Path) -> None:
    def change(fs: list[dict[str, Any]]) -> None:
        fs[2]["cost"]["per_request_usd"] = 0.01
        fs[2]["risk"]["tier"] = "high"
    r = run(tmp_path, change)
    assert only(r, "cost_increased").severity == "needs-review"
    assert only(r, "cost_increased").path == "features[2].cost.per_request_usd"
    assert only(r, "risk_increased").severity == "needs-review"
    assert "tier" in line_in(only(r, "risk_increased"))
    assert r.compatible


def test_governance_narrowing_is_breaking(tmp_path: Path) -> None:
    def change(fs: list[dict[str, Any]]) -> None:
        fs[2]["governance"] = {"regions": ["us"], "roles": ["operator", "lead", "admin"]}
    r = run(tmp_path, change)
    f = only(r, "governance_narrowed")
    assert f.severity == "breaking" and "eu" in f.message and f.path == "features[2].governance.regions"
    assert only(r, "governance_widened").severity == "info"  # the added role


def test_prompt_changed_without_version_bump_is_breaking(tmp_path: Path) -> None:
    r = run(tmp_path, prompt=PROMPT + "Be brief.\n")
    f = only(r, "prompt_changed_in_place")
    assert f.severity == "breaking" and f.feature == "summarizer" and "prompt" in line_in(f)


def test_successor_breaking_change_needs_review_only_after_a_major_bump(tmp_path: Path) -> None:
    def successor(version: str) -> Any:
        def change(fs: list[dict[str, Any]]) -> None:
            out = copy.deepcopy(fs[1]["outputs"])
            out["required"] = []
            fs.append(feature("summarizer", version, prompt={"path": "prompts/s.md"}, outputs=out))
        return change
    minor = only(run(tmp_path / "a", successor("1.1.0")), "required_removed")
    assert minor.severity == "breaking" and minor.version == "1.1.0" and "from 1.0.0" in minor.message
    major = only(run(tmp_path / "b", successor("2.0.0")), "required_removed")
    assert major.severity == "needs-review" and "major bump" in major.message


def test_capability_removed(tmp_path: Path) -> None:
    def change(fs: list[dict[str, Any]]) -> None:
        fs[0]["provides"] = []
    assert only(run(tmp_path, change), "capability_removed").severity == "breaking"


def test_hygiene_findings_of_the_new_catalog(tmp_path: Path) -> None:
    r = run(tmp_path, prompt="Summarize. Output JSON.\nAuthorization: Bearer abcdefghijklmnopqrstuvwxyz012345\n")
    f = only(r, "secret")
    assert f.severity == "breaking" and f.file.endswith("prompts/s.md") and f.line == 2
    assert "abcdefghijklmnop" not in f.message


def test_findings_are_ordered_by_severity(tmp_path: Path) -> None:
    def change(fs: list[dict[str, Any]]) -> None:
        fs[2]["cost"]["per_request_usd"] = 0.0001  # info
        fs[1]["outputs"]["required"] = []  # breaking
        fs[2]["risk"]["tier"] = "high"  # needs-review
    sev = [f.severity for f in run(tmp_path, change).findings]
    assert sev == sorted(sev, key=["breaking", "needs-review", "info"].index)


CONTRACTS = {"contracts": [
    {"kind": "latency", "unit": "ms", "min": 0, "max": 60000, "max_age_s": 600},
    {"kind": "drift", "unit": "ratio", "min": 0, "max": 1, "max_age_s": 3600, "lineage_required": False},
    {"kind": "demand", "unit": "rpm", "min": 0, "max": 100000},
]}


def contracts(tmp_path: Path, change: Any) -> DiffReport:
    new = copy.deepcopy(CONTRACTS)
    change(new["contracts"])
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(CONTRACTS, sort_keys=False))
    (tmp_path / "new.yaml").write_text(yaml.safe_dump(new, sort_keys=False))
    return diff_files(str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"))


def test_contracts_range_narrowed_and_widened(tmp_path: Path) -> None:
    def change(cs: list[dict[str, Any]]) -> None:
        cs[0]["max"] = 30000
        cs[1]["min"] = -1
    r = contracts(tmp_path, change)
    assert r.kind == "contracts"
    f = only(r, "range_narrowed")
    assert (f.severity, f.signal_kind, f.path, f.feature) == ("breaking", "latency", "contracts[0].max", None)
    assert line_in(f).strip().startswith("max:")
    assert only(r, "range_widened").severity == "info"


def test_contracts_unit_change_compares_limits_in_the_canonical_unit(tmp_path: Path) -> None:
    def same_range(cs: list[dict[str, Any]]) -> None:
        cs[0].update(unit="s", max=60)
    r = contracts(tmp_path, same_range)
    assert [(f.code, f.severity) for f in r.findings] == [("unit_changed", "needs-review")]

    def narrower(cs: list[dict[str, Any]]) -> None:
        cs[0].update(unit="s", max=6)
    assert only(contracts(tmp_path / "b", narrower), "range_narrowed").severity == "breaking"


def test_contracts_removed_age_and_lineage(tmp_path: Path) -> None:
    def change(cs: list[dict[str, Any]]) -> None:
        del cs[2]
        cs[1]["max_age_s"] = 60
        cs[1]["lineage_required"] = True
    r = contracts(tmp_path, change)
    assert only(r, "contract_removed").file.endswith("old.yaml")
    assert only(r, "max_age_narrowed").severity == "breaking"
    assert only(r, "lineage_required_added").severity == "breaking"
    assert r.counts["breaking"] == 3


def test_kinds_must_match(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(CONTRACTS))
    cat = write(tmp_path, "cat", BASE)
    with pytest.raises(UserError, match="diff two of a kind"):
        diff_files(str(cat), str(tmp_path / "c.yaml"))
    (tmp_path / "x.yaml").write_text("something: 1\n")
    with pytest.raises(UserError, match="--kind"):
        diff_files(str(tmp_path / "x.yaml"), str(cat))
