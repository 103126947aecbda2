"""`jitplan sandbox`: a suite replayed against a new catalog side by side with the current one,
in a private home; the caller's home (and audit/checkpoint URLs) stay byte for byte untouched."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import WORLD

ROOT = WORLD.parents[1]


def tree_digest(root: Path) -> str:
    """sha256 over every path, mode and content under ``root`` (and whether it exists)."""
    h = hashlib.sha256(str(root.exists()).encode())
    for p in sorted(root.rglob("*")) if root.exists() else []:
        h.update(str(p.relative_to(root)).encode() + b"\0" + oct(p.stat().st_mode).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def write_suite(tmp: Path) -> Path:
    suite = {
        "name": "sandbox-t",
        "defaults": {"catalog": str(WORLD / "catalog.yaml"), "contracts": str(WORLD / "contracts.yaml"),
                     "state": str(WORLD / "flags.json"), "evidence": [str(WORLD / "evidence")],
                     "policy": str(ROOT / "tools" / "policy_bundle"), "replications": 2},
        "cases": [
            {"name": "demand-rise", "signals": str(WORLD / "signals" / "demand-rise.yaml"),
             "expect": {"decision": "approved", "actions_include": ["canary:answer-synthesizer"]}},
            {"name": "mm1", "kind": "simulation", "scenario": str(ROOT / "scenarios" / "sim" / "mm10.yaml"),
             "replications": 1, "expect": {"metrics": ["error_rate <= 0.5"]}},
        ],
    }
    path = tmp / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def narrowed_catalog(tmp: Path) -> Path:
    """The sample world with answer-synthesizer no longer allowed in region eu."""
    d = tmp / "new"
    shutil.copytree(WORLD / "prompts", d / "prompts")
    text = (WORLD / "catalog.yaml").read_text()
    start = text.index("  - id: answer-synthesizer")
    old = "governance: {regions: [eu, us], roles: [operator, ml-engineer, support-lead]}"
    at = text.index(old, start)
    (d / "catalog.yaml").write_text(text[:at] + old.replace("[eu, us]", "[us]") + text[at + len(old):])
    return d / "catalog.yaml"


@pytest.fixture
def real_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A caller's home with content, plus audit and checkpoint URLs outside it."""
    home = tmp_path / "real-home"
    (home / "sub").mkdir(parents=True)
    (home / "audit.db").write_bytes(b"not really a database")
    (home / "sub" / "note.txt").write_text("keep me")
    monkeypatch.setenv("JITPLAN_HOME", str(home))
    monkeypatch.setenv("JITPLAN_AUDIT_URL", f"sqlite:///{tmp_path / 'urls' / 'audit.db'}")
    monkeypatch.setenv("JITPLAN_CHECKPOINT_URL", str(tmp_path / "urls" / "checkpoints.db"))
    return home


def test_sandbox_reports_regressions_side_by_side_and_leaves_the_home_untouched(
        cli, tmp_path: Path, real_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite, new = write_suite(tmp_path), narrowed_catalog(tmp_path)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # a default ./.jitplan would appear here
    before = (tree_digest(real_home), tree_digest(tmp_path / "urls"), tree_digest(cwd))
    r = cli("sandbox", new, "--suite", suite, "--json", "--no-progress")
    assert (tree_digest(real_home), tree_digest(tmp_path / "urls"), tree_digest(cwd)) == before
    assert os.environ["JITPLAN_HOME"] == str(real_home)  # the environment is restored
    assert r.code == 1, r.err
    doc = json.loads(r.out)
    assert set(doc) >= {"suite", "source", "new_catalog", "current_catalog", "cases", "scenarios", "regressions",
                        "case_regressions", "scenario_regressions", "fixed", "compatible", "exit_code"}
    rows = {c["case"]: c for c in doc["cases"]}
    assert rows["demand-rise"]["current"]["status"] == "pass"
    assert rows["demand-rise"]["new"]["status"] == "fail"
    assert rows["demand-rise"]["change"] == "regression"
    assert "region" in rows["demand-rise"]["new"]["failures"][0]
    assert rows["mm1"]["change"] == "same" and rows["mm1"]["current"] == rows["mm1"]["new"]
    matrix = [s for s in doc["scenarios"] if s["case"] == "demand-rise"]
    assert matrix and all(s["current"]["verdict"] == "passed" for s in matrix)
    assert all(s["change"] == "regression" for s in matrix)
    assert doc["case_regressions"] == 1 and doc["scenario_regressions"] == len(matrix)
    assert doc["compatible"] is False and doc["exit_code"] == 1


def test_sandbox_same_catalog_has_no_regressions_and_prints_a_table(cli, tmp_path: Path) -> None:
    suite = write_suite(tmp_path)
    r = cli("sandbox", WORLD / "catalog.yaml", "--suite", suite, "-k", "demand", "--no-progress")
    assert r.code == 0, r.out + r.err
    assert "0 case and 0 scenario regression(s)" in r.out
    assert "scenario matrix" in r.out and "demand-rise" in r.out


@pytest.mark.parametrize("bad", ["missing.yaml", "malformed.yaml", "wrong.yaml"])
def test_sandbox_bad_input_is_exit_2_in_one_line(cli, tmp_path: Path, bad: str) -> None:
    (tmp_path / "malformed.yaml").write_text("catalog: [unclosed\n")
    (tmp_path / "wrong.yaml").write_text("catalog: t\nversion: 1\nfeatures: [{id: x}]\n")
    r = cli("sandbox", tmp_path / bad, "--suite", write_suite(tmp_path))
    assert r.code == 2 and "Traceback" not in r.err
    assert r.err.startswith("jitplan: error: ") and bad in r.err  # several schema problems: one per line
    r = cli("sandbox", WORLD / "catalog.yaml", "--suite", tmp_path / "malformed.yaml")
    assert r.code == 2 and "Traceback" not in r.err


def test_sandbox_unknown_pattern_is_exit_2(cli, tmp_path: Path) -> None:
    r = cli("sandbox", WORLD / "catalog.yaml", "--suite", write_suite(tmp_path), "-k", "nothing-matches")
    assert r.code == 2 and "-k" in r.err
