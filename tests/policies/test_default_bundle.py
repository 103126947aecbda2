"""Table tests for the default policy bundle: each row of cases.yaml is an input -> decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from jitplan.contracts.catalog import Catalog
from jitplan.tools.catalog_store import CatalogStore
from jitplan.tools.policy import PolicyBundle, evaluate_policy, forbidden_builtins
from jitplan.tools.policy_document import feature_doc

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_DIR = ROOT / "tools" / "policy_bundle"
CASES = yaml.safe_load((Path(__file__).parent / "cases.yaml").read_text())["cases"]


@pytest.fixture(scope="module")
def bundle() -> PolicyBundle:
    return PolicyBundle.load(BUNDLE_DIR)


@pytest.fixture(scope="module")
def specs() -> dict[str, dict[str, Any]]:
    catalog = Catalog.from_file(ROOT / "scenarios" / "world" / "catalog.yaml")
    store = CatalogStore(catalog)
    return {f.key: feature_doc(f, store) for f in catalog.features}


def build_input(case: dict[str, Any], specs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    plan = case.get("plan")
    if plan is not None:
        plan = {"id": "p", "goal": case["name"], "trigger": [], **plan}
        for step in plan["steps"]:
            step.setdefault("params", {})
            step.setdefault("version", None)
    return {
        "request": {"role": "operator", "region": "eu", "purpose": "", **case.get("request", {})},
        "features": [specs[key] for key in case["features"]],
        "signals": case.get("signals", []),
        "plan": plan,
        "state": case.get("state"),
    }


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any], bundle: PolicyBundle, specs: dict[str, dict[str, Any]]) -> None:
    decision = evaluate_policy(bundle, build_input(case, specs))
    expect = case["expect"]
    assert decision.error is None, decision.error
    assert decision.allowed is expect["allowed"], decision
    for kind in ("deny", "escalate"):
        got: list[str] = getattr(decision, kind)
        wanted: list[str] = expect[kind]
        assert len(got) == len(wanted), (kind, got)
        for fragment in wanted:
            assert any(fragment in reason for reason in got), (kind, fragment, got)
    assert decision.bundle_sha256 == bundle.sha256


def test_table_covers_every_rule_family() -> None:
    text = " ".join(str(c["expect"]) for c in CASES)
    for fragment in ("role", "region", "pii", "projected daily cost", "quarantined",
                     "without a canary", "high risk", "critical risk", "budget to"):
        assert fragment in text, fragment


def test_default_bundle_avoids_non_deterministic_builtins(bundle: PolicyBundle) -> None:
    assert bundle.forbidden == ()
    for name, text in bundle.files:
        assert forbidden_builtins(text, name) == []


def test_default_bundle_is_deterministic(bundle: PolicyBundle, specs: dict[str, dict[str, Any]]) -> None:
    case = next(c for c in CASES if c["name"].startswith("several denials"))
    first = evaluate_policy(bundle, build_input(case, specs))
    assert all(evaluate_policy(bundle, build_input(case, specs)) == first for _ in range(5))
