"""Issue 16: the shipped bundle as package data, the catalog's roles and regions enforced outside
Rego, the explicit no-policy bundle, and pii redaction as a declared capability."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.policy import PolicyRequest
from jitplan.contracts.state import DeploymentState
from jitplan.tools.catalog_check import check_catalog
from jitplan.tools.policy import (
    NO_POLICY_ESCALATION,
    PolicyBundle,
    evaluate_policy,
    governance_refusals,
    policy_input,
)

ROOT = Path(__file__).resolve().parents[2]
GOV = Catalog.from_file(ROOT / "tests" / "fixtures" / "governed" / "catalog.yaml")
FORGETFUL = PolicyBundle.from_sources(
    [("p.rego", "package jitplan\nimport rego.v1\ndeny := set()\nescalate := set()\n")])
"""A custom bundle that forgets the role and region rules."""


def _doc(catalog: Catalog, fid: str, role: str | None, region: str | None,
         state: DeploymentState | None = None) -> dict[str, Any]:
    spec = catalog.get(fid)
    assert spec is not None
    return policy_input(PolicyRequest(role=role, region=region), catalog, [spec], [], None, state)


# ---- the default bundle ships in the package ----------------------------------------------


def test_the_default_bundle_is_package_data_read_with_importlib_resources() -> None:
    bundle = PolicyBundle.default()
    shipped = files("jitplan.tools").joinpath("policy_bundle")
    assert bundle.path == str(shipped) and bundle.files
    assert [n for n, _ in bundle.files] == sorted(
        p.name for p in (ROOT / "tools" / "policy_bundle").glob("*.rego"))
    assert bundle.sha256 == PolicyBundle.load(ROOT / "tools" / "policy_bundle").sha256
    # one source of truth: the example folder holds no copy of the rules
    assert not list((ROOT / "scenarios" / "policies").rglob("*.rego"))


# ---- catalog governance, whatever the bundle ----------------------------------------------


def test_a_custom_bundle_that_forgets_roles_and_regions_still_denies() -> None:
    decision = evaluate_policy(FORGETFUL, _doc(GOV, "product-description", "intern", "apac"))
    assert not decision.allowed
    assert decision.deny == [
        'region "apac" is not allowed for product-description (data sovereignty; allowed '
        "regions: eu, us)",
        'role "intern" is not allowed to change product-description (allowed roles: operator, '
        "catalog-editor)",
    ]
    allowed = evaluate_policy(FORGETFUL, _doc(GOV, "product-description", "catalog-editor", "us"))
    assert allowed.allowed and allowed.deny == []


def test_the_default_bundle_and_the_catalog_check_agree_word_for_word() -> None:
    doc = _doc(GOV, "product-description", "intern", "apac")
    decision = evaluate_policy(PolicyBundle.default(), doc)
    # the same reasons from Rego and from the catalog check are reported once each
    assert decision.deny == sorted(governance_refusals(doc))


@pytest.mark.parametrize(("role", "region", "missing"), [(None, "eu", "role"), ("operator", None, "region")])
def test_a_requester_without_role_or_region_is_refused_where_the_catalog_restricts(
        role: str | None, region: str | None, missing: str) -> None:
    decision = evaluate_policy(PolicyBundle.default(), _doc(GOV, "product-description", role, region))
    assert not decision.allowed and decision.error is None
    assert [d for d in decision.deny if f"requester {missing} not given" in d]


def test_governance_is_merged_into_an_engine_error_decision() -> None:
    broken = PolicyBundle.from_sources([("p.rego", "package jitplan\nthis is not rego\n")])
    decision = evaluate_policy(broken, _doc(GOV, "product-description", "intern", "eu"))
    assert not decision.allowed and decision.error
    assert any('role "intern"' in d for d in decision.deny)


def test_malformed_governance_in_the_input_denies() -> None:
    doc = _doc(GOV, "search-ranker", "operator", "eu")
    doc["features"][0]["governance"] = {"roles": "operator"}
    assert governance_refusals(doc) and "malformed" in governance_refusals(doc)[0]


# ---- --no-policy ---------------------------------------------------------------------------


def test_the_no_policy_bundle_escalates_and_keeps_catalog_governance() -> None:
    off = PolicyBundle.no_policy()
    ok = evaluate_policy(off, _doc(GOV, "search-ranker", "operator", "eu"))
    assert ok.allowed and ok.escalate == [NO_POLICY_ESCALATION]
    denied = evaluate_policy(off, _doc(GOV, "product-description", "intern", "apac"))
    assert not denied.allowed and len(denied.deny) == 2
    assert off.sha256 != PolicyBundle.default().sha256


def test_a_cycle_with_no_policy_never_auto_approves(tmp_path: Path) -> None:
    from jitplan.agent.nodes.common import load_inputs
    from jitplan.agent.nodes.decide import escalation_reasons
    from jitplan.contracts.agent import PlanRequest
    from jitplan.contracts.plan import Plan

    world = ROOT / "scenarios" / "world"
    req = PlanRequest(catalog=str(world / "catalog.yaml"), signals=str(world / "signals" / "steady.yaml"),
                      contracts=str(world / "contracts.yaml"), no_policy=True, role="operator",
                      region="eu")
    cin = load_inputs(req.model_dump(mode="json"))
    assert cin.policy.disabled
    plan = Plan.from_data({"id": "p", "goal": "g", "steps": [
        {"id": "s", "action": "set_budget", "feature": "tone-rewriter",
         "params": {"usd_per_day": 5}}]})
    # even when the recorded policy verdict carries no escalation (e.g. an older checkpoint)
    why, _ = escalation_reasons(plan, cin, {"policy": {"escalate": []}})  # type: ignore[typeddict-item]
    assert why == [f"policy: {NO_POLICY_ESCALATION}"]
    with pytest.raises(ValueError, match="not both"):
        PlanRequest(catalog="c", signals="s", policy="d", no_policy=True, role="r", region="eu")


def test_a_plan_request_has_no_default_requester() -> None:
    from pydantic import ValidationError

    from jitplan.contracts.agent import PlanRequest

    with pytest.raises(ValidationError, match="role"):
        PlanRequest(catalog="c", signals="s", region="eu")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="region"):
        PlanRequest(catalog="c", signals="s", role="operator")  # type: ignore[call-arg]


# ---- pii redaction is a declared capability, not a naming convention ----------------------

REDACTION = {
    "catalog": "redaction", "version": 1, "features": [
        {"id": "scrubber", "version": "1.0.0", "kind": "adapter", "description": "d", "owner": "o",
         "cost": {"per_request_usd": 0, "daily_budget_usd": 1},
         "risk": {"tier": "low", "data_classes": ["pii"]},
         "slo": {"latency_p95_ms": 50, "error_rate_max": 0.01, "quality_min": 0.5},
         "provides": ["pii_redaction"]},
        {"id": "redact-x", "version": "1.0.0", "kind": "adapter", "description": "d", "owner": "o",
         "cost": {"per_request_usd": 0, "daily_budget_usd": 1},
         "risk": {"tier": "low", "data_classes": ["public"]},
         "slo": {"latency_p95_ms": 50, "error_rate_max": 0.01, "quality_min": 0.5}},
        {"id": "assistant", "version": "1.0.0", "kind": "prompt", "description": "d", "owner": "o",
         "cost": {"per_request_usd": 0, "daily_budget_usd": 1},
         "risk": {"tier": "low", "data_classes": ["pii"]},
         "slo": {"latency_p95_ms": 50, "error_rate_max": 0.01, "quality_min": 0.5},
         "depends_on": [{"id": "scrubber"}]},
        {"id": "replier", "version": "1.0.0", "kind": "prompt", "description": "d", "owner": "o",
         "cost": {"per_request_usd": 0, "daily_budget_usd": 1},
         "risk": {"tier": "low", "data_classes": ["pii"]},
         "slo": {"latency_p95_ms": 50, "error_rate_max": 0.01, "quality_min": 0.5},
         "depends_on": [{"id": "redact-x"}]},
    ]}


def _on(*ids: str) -> DeploymentState:
    return DeploymentState.from_flagd({"flags": {
        fid: {"defaultVariant": "1.0.0", "state": "ENABLED", "variants": {"1.0.0": "1.0.0", "off": "off"}}
        for fid in ids}})


def test_a_redactor_is_known_by_its_capability_not_its_name() -> None:
    cat = Catalog.from_data(REDACTION)
    bundle = PolicyBundle.default()
    state = _on("scrubber", "redact-x")
    assistant = evaluate_policy(bundle, _doc(cat, "assistant", "operator", "eu", state))
    assert assistant.allowed, assistant.deny  # 'scrubber' provides pii_redaction
    replier = evaluate_policy(bundle, _doc(cat, "replier", "operator", "eu", state))
    assert not replier.allowed  # 'redact-x' is named like a redactor but provides nothing
    assert replier.deny == ["replier handles pii but no dependency provides pii_redaction "
                            "(declare depends_on a feature with provides: [pii_redaction])"]
    # the capability's redactor must still be active
    off = evaluate_policy(bundle, _doc(cat, "assistant", "operator", "eu", _on("redact-x")))
    assert not off.allowed and "scrubber" in off.deny[0]


def test_the_catalog_check_reports_pii_without_a_redaction_dependency() -> None:
    problems = check_catalog(Catalog.from_data(REDACTION), "redaction.yaml")
    assert [(p.field, "pii_redaction" in p.message) for p in problems] == [
        ("features[3].depends_on", True)]
    assert check_catalog(Catalog.from_file(ROOT / "scenarios" / "world" / "catalog.yaml"), "w") == []


def test_a_capability_needs_every_admitted_version_to_provide_it() -> None:
    data = {**REDACTION, "features": [*REDACTION["features"], {
        **REDACTION["features"][0], "version": "2.0.0", "provides": []}]}
    cat = Catalog.from_data(data)
    doc = _doc(cat, "assistant", "operator", "eu", _on("scrubber"))
    assert doc["features"][0]["depends_on"] == [{"id": "scrubber", "version": ">=0", "provides": []}]
    assert not evaluate_policy(PolicyBundle.default(), doc).allowed
    assert any(p.field == "features[2].depends_on" for p in check_catalog(cat, "c"))


def test_capability_names_are_checked() -> None:
    from jitplan.contracts.errors import InputError

    bad = {**REDACTION, "features": [{**REDACTION["features"][0], "provides": ["PII Redaction"]}]}
    with pytest.raises(InputError, match="capability"):
        Catalog.from_data(bad)
