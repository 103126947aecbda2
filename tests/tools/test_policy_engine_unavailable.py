"""Deny by default when the policy engine itself is unavailable: regopy missing or broken.

Issue 17: a mutation that *allowed* on this path went unnoticed (the other deny-by-default paths
were tested). A plan the shipped policy would refuse must never pass because the engine could not
run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import jitplan.tools.policy as policy_mod
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.policy import PolicyRequest
from jitplan.contracts.state import DeploymentState
from jitplan.tools.policy import PolicyBundle, evaluate_policy
from jitplan.tools.validator import validate

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
ALLOW_ALL = PolicyBundle.from_sources([(
    "p.rego",
    'package jitplan\nimport rego.v1\ndeny contains "never" if { false }\n'
    'escalate contains "never" if { false }\n',
)])
GOOD_PLAN = json.loads((ROOT / "tests" / "policies" / "plans" / "good-summarizer-canary.json")
                       .read_text())


@pytest.fixture(autouse=True)
def _no_pooled_interpreters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pooled interpreters would skip loading the engine; every test here starts without one."""
    monkeypatch.setattr(policy_mod, "_pool", {})


def _regopy_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # ``None`` in sys.modules makes ``from regopy import ...`` raise ImportError, as when the
    # package is not installed.
    monkeypatch.setitem(sys.modules, "regopy", None)


def _regopy_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    import regopy

    class Broken:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("librego.so: cannot open shared object file")

    monkeypatch.setattr(regopy, "Interpreter", Broken)


BREAKAGES = {"missing": (_regopy_missing, "ModuleNotFoundError: import of regopy"),
             "broken": (_regopy_broken, "RuntimeError: librego.so")}


def test_the_allow_all_bundle_allows_with_a_working_engine() -> None:
    # the control: the same bundle and input allow when the engine runs
    assert evaluate_policy(ALLOW_ALL, {"request": {}}).allowed


@pytest.mark.parametrize("how", sorted(BREAKAGES))
def test_an_unavailable_engine_denies(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    breakage, needle = BREAKAGES[how]
    breakage(monkeypatch)
    decision = evaluate_policy(ALLOW_ALL, {"request": {}})
    assert not decision.allowed
    assert decision.error is not None and decision.error.startswith("policy engine unavailable: ")
    assert needle in decision.error
    assert decision.deny == [decision.error] and decision.escalate == []
    assert decision.bundle_sha256 == ALLOW_ALL.sha256


@pytest.mark.parametrize("how", sorted(BREAKAGES))
def test_a_good_plan_is_invalid_when_the_engine_is_unavailable(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = Catalog.from_file(WORLD / "catalog.yaml")
    state = DeploymentState.from_flagd(json.loads((WORLD / "flags.json").read_text()))
    request = PolicyRequest(role="operator", region="eu")
    bundle = PolicyBundle.load(ROOT / "tools" / "policy_bundle")
    assert validate(GOOD_PLAN, catalog, [], state, bundle, request).ok  # control
    monkeypatch.setattr(policy_mod, "_pool", {})
    BREAKAGES[how][0](monkeypatch)
    report = validate(GOOD_PLAN, catalog, [], state, bundle, request)
    assert not report.ok and report.codes() == ["policy_deny"]
    assert report.policy is not None and not report.policy.allowed
    assert "policy engine unavailable" in report.violations[0].message


def test_jitplan_validate_refuses_when_regopy_is_missing(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(GOOD_PLAN))
    args = ("validate", plan_file, "--catalog", WORLD / "catalog.yaml", "--state",
            WORLD / "flags.json", "--json")
    assert cli(*args).code == 0  # control: the shipped policy allows this plan
    monkeypatch.setattr(policy_mod, "_pool", {})
    _regopy_missing(monkeypatch)
    r = cli(*args)
    assert r.code == 1, r.out + r.err
    out = json.loads(r.out)
    assert [v["code"] for v in out["violations"]] == ["policy_deny"]
    assert "policy engine unavailable: ModuleNotFoundError" in out["violations"][0]["message"]
