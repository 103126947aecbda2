"""The validator on hand-written plans: one bad plan per check, and good plans that pass."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.plan import MAX_PLAN_STEPS, Plan
from jitplan.contracts.policy import PolicyRequest
from jitplan.contracts.signals import ContractSet, Signal, SignalSnapshot, SignalStatus
from jitplan.contracts.state import DeploymentState
from jitplan.contracts.validation import VIOLATION_CODES
from jitplan.tools.policy import PolicyBundle
from jitplan.tools.signal_check import check_signals
from jitplan.tools.validator import validate

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = PolicyRequest(role="operator", region="eu")
"""The requester (no default: a missing role or region is refused where the catalog restricts)."""
WORLD = ROOT / "scenarios" / "world"
PLANS = ROOT / "tests" / "policies" / "plans"

ERR = {"metric": "error_rate", "comparator": "<=", "threshold": 0.01}
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
STRICT = {"metric": "error_rate", "comparator": "<", "threshold": 0.001}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_file(WORLD / "catalog.yaml")


@pytest.fixture(scope="module")
def state() -> DeploymentState:
    return DeploymentState.from_flagd(json.loads((WORLD / "flags.json").read_text()))


@pytest.fixture(scope="module")
def bundle() -> PolicyBundle:
    return PolicyBundle.load(ROOT / "tools" / "policy_bundle")


def signals(catalog: Catalog, name: str) -> list[SignalStatus]:
    return check_signals(SignalSnapshot.from_file(WORLD / "signals" / f"{name}.yaml"),
                         ContractSet.from_file(WORLD / "contracts.yaml"), catalog)


def step(sid: str, action: str, feature: str | None, version: str | None = None,
         **extra: Any) -> dict[str, Any]:
    """A well-formed step: mutating ones get a tolerance and a matching compensation."""
    s: dict[str, Any] = {"id": sid, "action": action, "feature": feature}
    if version is not None:
        s["version"] = version
    if action in ("enable", "canary", "promote", "shadow", "refresh_prompt", "pin_version",
                  "disable", "set_budget"):
        s["tolerances"] = [ERR]
        undo = {"enable": "disable", "disable": "enable", "set_budget": "set_budget"}.get(
            action, "rollback")
        comp: dict[str, Any] = {"id": f"{sid}-undo", "action": undo, "feature": feature}
        if undo == "set_budget":
            comp["params"] = {"usd_per_day": 1}
        s["compensation"] = comp
    if action == "canary":
        s["params"] = {"weight": 10}
    s.update(extra)
    return s


def plan(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "p1", "goal": "test", "steps": list(steps), **extra}


def good_plan() -> dict[str, Any]:
    return json.loads((PLANS / "good-summarizer-canary.json").read_text())


# ---- good plans --------------------------------------------------------------------------

GOOD = {
    "summarizer canary then promote": good_plan(),
    "answer-synthesizer canary at moderate demand": plan(
        step("s1", "canary", "answer-synthesizer", "1.0.0", params={"weight": 20}),
        step("s2", "canary", "answer-synthesizer", "1.0.0", params={"weight": 60}, depends_on=["s1"],
             compensation={"id": "s2-undo", "action": "canary", "feature": "answer-synthesizer",
                           "version": "1.0.0", "params": {"weight": 20}}),
    ),
    "refresh the summarizer prompt to a newer version": plan(step(
        "s1", "refresh_prompt", "ticket-summarizer", "1.2.0",
        tolerances=[ERR, {"metric": "quality", "comparator": ">=", "threshold": 0.9}],
        compensation={"id": "u", "action": "pin_version", "feature": "ticket-summarizer",
                      "version": "1.1.0"})),
    "redactor canary before a pii feature that needs it": plan(
        step("s1", "canary", "pii-redactor", "1.1.0", params={"weight": 30}, tolerances=[STRICT]),
        step("s2", "promote", "pii-redactor", "1.1.0", depends_on=["s1"], tolerances=[STRICT],
             compensation={"id": "s2-undo", "action": "rollback", "feature": "pii-redactor",
                           "params": {"to_version": "1.0.0"}}),
        step("s3", "set_budget", "tone-rewriter", params={"usd_per_day": 8},
             compensation={"id": "u3", "action": "set_budget", "feature": "tone-rewriter",
                           "params": {"usd_per_day": 10}}),
    ),
    # Shadow-first (no evidence yet): mirrored traffic may flow through a dependency's own
    # shadow at an admitted version; no user sees either (was dependency_order).
    "a pii feature shadowed behind its redactor's shadow": plan(
        step("s1", "shadow", "pii-redactor", "1.1.0", tolerances=[STRICT]),
        step("s2", "shadow", "refund-advisor", "1.0.0", depends_on=["s1"], tolerances=[STRICT]),
    ),
    "noop and escalate need nothing": plan({"id": "n", "action": "noop"},
                                            {"id": "e", "action": "escalate", "feature": "sql-copilot"}),
}


@pytest.mark.parametrize("name", list(GOOD))
def test_good_plans_pass(name: str, catalog: Catalog, state: DeploymentState,
                         bundle: PolicyBundle) -> None:
    report = validate(GOOD[name], catalog, signals(catalog, "steady"), state, bundle, OPERATOR)
    assert report.ok, report.feedback()
    assert report.violations == [] and report.policy is not None and report.policy.allowed
    assert set(report.inputs) == {"plan", "catalog", "signals", "state", "policy"}
    assert report.inputs["catalog"] == catalog.digest()
    assert report.inputs["policy"] == bundle.sha256
    assert report.inputs["state"] == state.digest()


def test_a_plan_object_and_its_dict_give_the_same_report(
    catalog: Catalog, state: DeploymentState, bundle: PolicyBundle
) -> None:
    doc = good_plan()
    from_dict = validate(doc, catalog, [], state, bundle, OPERATOR)
    from_model = validate(Plan.from_data(doc), catalog, [], state, bundle, OPERATOR)
    assert from_dict == from_model


def test_escalation_is_flagged_not_a_violation(catalog: Catalog, state: DeploymentState,
                                               bundle: PolicyBundle) -> None:
    doc = plan(step("s1", "canary", "refund-advisor", "1.0.0", params={"weight": 5},
                    tolerances=[{"metric": "error_rate", "comparator": "<=", "threshold": 0.005}]))
    report = validate(doc, catalog, [], state.with_feature(
        "pii-redactor", state.get("pii-redactor").model_copy(update={"version": "1.1.0"})), bundle,
        OPERATOR)
    assert report.ok, report.feedback()
    assert any("high risk" in r for r in report.escalate)
    assert any("human approval" in r for r in report.escalate)


# ---- one bad plan per check --------------------------------------------------------------


def _mut(fn: Any) -> dict[str, Any]:
    doc = good_plan()
    fn(doc)
    return doc


BAD: list[tuple[str, dict[str, Any], str, str | None, str]] = [
    ("not a plan at all", {"goal": 3}, "schema", None, "id: required field is missing"),
    ("unknown field", _mut(lambda d: d["steps"][0].update(surprise=1)), "schema", "s1",
     "steps[0].surprise: unknown field"),
    ("bad tolerance comparator",
     _mut(lambda d: d["steps"][0]["tolerances"][0].update(comparator="==")), "schema", "s1",
     "comparator"),
    ("unknown action", _mut(lambda d: d["steps"][1].update(action="launch")), "out_of_scope", "s2",
     "'launch' is not a known action"),
    ("unknown compensation action",
     _mut(lambda d: d["steps"][0]["compensation"].update(action="format_disk")), "out_of_scope",
     "s1", "steps[0].compensation.action"),
    ("path in params", _mut(lambda d: d["steps"][0]["params"].update(prompt="../../etc/passwd")),
     "out_of_scope", "s1", "steps[0].params.prompt"),
    ("path in a params key", _mut(lambda d: d["steps"][0]["params"].update({"..\\x": 1})),
     "out_of_scope", "s1", "path-like"),
    ("path in the goal", _mut(lambda d: d.update(goal="read ../secrets")), "out_of_scope", None,
     "field goal"),
    ("path in a nested rationale",
     _mut(lambda d: d["steps"][2]["compensation"].update(rationale="see a/../b")), "out_of_scope",
     "s3", "steps[2].compensation.rationale"),
    ("too many steps", plan(*[{"id": f"n{i}", "action": "noop"} for i in range(MAX_PLAN_STEPS + 1)]),
     "too_many_steps", None, f"more than the cap of {MAX_PLAN_STEPS}"),
    ("missing feature", plan(step("s1", "enable", None)), "missing_feature", "s1", "names no feature"),
    ("unknown flag key", plan(step("s1", "enable", "voice-bot", "1.0.0")), "unknown_feature", "s1",
     "'voice-bot', which is not in the catalog or the deployment state (unknown flag key)"),
    ("typo in a feature id", plan(step("s1", "enable", "tone-rewritter", "1.0.0")),
     "unknown_feature", "s1", "did you mean tone-rewriter"),
    ("unknown version", _mut(lambda d: d["steps"][0].update(version="9.9.9")), "unknown_version",
     "s1", "known versions: 1.0.0, 1.1.0, 1.2.0"),
    ("canary without a version", plan(step("s1", "canary", "tone-rewriter")), "missing_version",
     "s1", "names no version"),
    ("promote with nothing to promote", plan(step("s1", "promote", "tone-rewriter")),
     "missing_version", "s1", "no canary is in progress"),
    ("duplicate step id", _mut(lambda d: d["steps"][2].update(id="s1")), "duplicate_step_id", "s1",
     "used by steps[0] and steps[2]"),
    ("unknown dependency step", _mut(lambda d: d["steps"][1].update(depends_on=["s9"])),
     "unknown_dependency_step", "s2", "'s9', which is not a step"),
    ("dependency on a later step", _mut(lambda d: d["steps"][0].update(depends_on=["s3"])),
     "step_order", "s1", "comes later in the plan"),
    ("dependency cycle", _mut(lambda d: d["steps"][0].update(depends_on=["s3"])),
     "dependency_cycle", "s1", "s1 -> s3 -> s2 -> s1"),
    ("self dependency", _mut(lambda d: d["steps"][0].update(depends_on=["s1"])),
     "dependency_cycle", "s1", "depends on itself"),
    ("feature dependency not active", plan(step("s1", "disable", "sentiment-tagger"),
                                           step("s2", "canary", "churn-predictor", "2.0.0")),
     "dependency_order", "s2", "depends on sentiment-tagger >=1.0; sentiment-tagger is not active"),
    ("feature dependency at a version outside the range",
     plan(step("s1", "canary", "refund-advisor", "1.0.0")),
     "dependency_order", "s1", "needs pii-redactor >=1.1, but pii-redactor serves 1.0.0"),
    ("users served behind a dependency that is only shadowed",
     plan(step("s1", "shadow", "pii-redactor", "1.1.0"),
          step("s2", "canary", "refund-advisor", "1.0.0", depends_on=["s1"])),
     "dependency_order", "s2", "needs pii-redactor >=1.1, but pii-redactor serves 1.0.0"),
    ("disabling a dependency of an active feature", plan(step("s1", "disable", "pii-redactor")),
     "dependency_order", "s1", "while reply-drafter@2.0.0, which depends on it, is still active"),
    ("canary weight out of range", _mut(lambda d: d["steps"][0]["params"].update(weight=150)),
     "canary_weight_range", "s1",
     "steps[0].params.weight: Input should be less than or equal to 100 (got 150)"),
    ("canary weight zero", _mut(lambda d: d["steps"][0]["params"].update(weight=0)),
     "canary_weight_range", "s1", "steps[0].params.weight: Input should be greater than 0"),
    ("canary weight missing", _mut(lambda d: d["steps"][0].update(params={})),
     "canary_weight_range", "s1", "steps[0].params.weight: required parameter is missing"),
    ("canary weight not a number", _mut(lambda d: d["steps"][0]["params"].update(weight="10")),
     "canary_weight_range", "s1", "(got '10')"),
    ("canary weight under an old alias",
     _mut(lambda d: d["steps"][0].update(params={"canary_weight": 10})), "bad_params", "s1",
     "steps[0].params.canary_weight: unknown parameter for a canary step (accepted: weight); "
     "did you mean 'weight'?"),
    ("canary of the serving version", plan(step("s1", "canary", "tone-rewriter", "1.0.0")),
     "bad_params", "s1", "canary of tone-rewriter@1.0.0, which already serves"),
    ("rollback naming a version", plan(step("s1", "rollback", "tone-rewriter", "1.0.0")),
     "schema", "s1", "a rollback names the version it returns to in params.to_version"),
    ("rollback to a version that never served",
     plan(step("s1", "rollback", "tone-rewriter", params={"to_version": "1.1.0"})),
     "bad_params", "s1", "rolls tone-rewriter back to 1.1.0, which was not serving before"),
    ("enable from off naming no version", plan(step("s1", "enable", "answer-synthesizer")),
     "missing_version", "s1", "enable answer-synthesizer needs a version (the feature is off)"),
    ("canary weight decreasing", _mut(lambda d: d["steps"][1]["params"].update(weight=5)),
     "canary_weight_decreasing", "s2",
     "canary weight 5 for ticket-summarizer is lower than the previous 10"),
    ("mutating step without tolerances", _mut(lambda d: d["steps"][1].update(tolerances=[])),
     "missing_tolerance", "s2", "has no tolerances"),
    ("mutating step without compensation", _mut(lambda d: d["steps"][2].pop("compensation")),
     "missing_compensation", "s3", "has no compensation"),
    ("compensation on another feature",
     _mut(lambda d: d["steps"][0]["compensation"].update(feature="tone-rewriter")),
     "compensation_mismatch", "s1", "instead of 'ticket-summarizer'"),
    ("compensation that does not undo", _mut(lambda d: d["steps"][2]["compensation"].update(
        action="enable")), "compensation_mismatch", "s3", "does not undo a promote"),
    ("canary compensation raising the weight",
     _mut(lambda d: d["steps"][1]["compensation"]["params"].update(weight=80)),
     "compensation_mismatch", "s2", "does not lower"),
    ("compensation restoring the wrong version",
     _mut(lambda d: d["steps"][2]["compensation"].update(version="1.0.0")),
     "compensation_mismatch", "s3", "restores 1.0.0, but 1.1.0 was serving"),
    ("unknown metric", _mut(lambda d: d["steps"][0]["tolerances"].append(
        {"metric": "vibes", "comparator": ">", "threshold": 1})), "unknown_metric", "s1", "'vibes'"),
    ("tolerance in the wrong direction", _mut(lambda d: d["steps"][0]["tolerances"].append(
        {"metric": "error_rate", "comparator": ">=", "threshold": 0.01})), "tolerance_direction",
     "s1", "must be an upper bound"),
    ("insane threshold", _mut(lambda d: d["steps"][0]["tolerances"].append(
        {"metric": "quality", "comparator": ">=", "threshold": 1.5})), "tolerance_threshold", "s1",
     "between 0 and 1"),
    ("latency looser than the SLO", _mut(lambda d: d["steps"][0]["tolerances"].append(
        {"metric": "latency_p95_ms", "comparator": "<=", "threshold": 9000})),
     "tolerance_looser_than_slo", "s1", "SLO latency_p95_ms of 2800"),
    ("error rate looser than the SLO", _mut(lambda d: d["steps"][1]["tolerances"][0].update(
        threshold=0.2)), "tolerance_looser_than_slo", "s2", "error_rate_max of 0.01"),
    ("quality looser than the SLO", _mut(lambda d: d["steps"][0]["tolerances"].append(
        {"metric": "quality", "comparator": ">=", "threshold": 0.5})),
     "tolerance_looser_than_slo", "s1", "quality_min of 0.85"),
    ("set_budget without an amount", plan(step("s1", "set_budget", "tone-rewriter", params={})),
     "bad_params", "s1", "steps[0].params.usd_per_day: required parameter is missing"),
    ("set_budget under an old alias", plan(step("s1", "set_budget", "tone-rewriter",
                                                 params={"budget_usd_per_day": 5})),
     "bad_params", "s1", "steps[0].params.budget_usd_per_day: unknown parameter for a set_budget "
     "step (accepted: usd_per_day); did you mean 'usd_per_day'?"),
    ("set_budget above the ceiling", plan(step("s1", "set_budget", "tone-rewriter",
                                                params={"usd_per_day": 500})),
     "over_budget", "s1", "above its catalog ceiling of 10 USD/day"),
    ("refresh_prompt to an older version", plan(step("s1", "refresh_prompt", "ticket-summarizer",
                                                      "1.0.0")),
     "refresh_prompt_target", "s1", "not newer than the serving 1.1.0; newer prompt versions: 1.2.0"),
    ("refresh_prompt on a feature without prompts", plan(step("s1", "refresh_prompt",
                                                               "kb-retriever", "2.1.0")),
     "refresh_prompt_target", "s1", "has no prompt"),
]


@pytest.mark.parametrize(("doc", "code", "sid", "fragment"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_plan_is_rejected_with_a_specific_violation(
    doc: dict[str, Any], code: str, sid: str | None, fragment: str,
    catalog: Catalog, state: DeploymentState,
) -> None:
    report = validate(copy.deepcopy(doc), catalog, signals(catalog, "steady"), state, None)
    assert not report.ok
    hits = [v for v in report.violations if v.code == code]
    assert hits, report.feedback()
    assert any(v.step == sid and fragment in v.message for v in hits), report.feedback()


def test_every_violation_code_is_exercised() -> None:
    used = {b[2] for b in BAD} | {"over_budget", "quarantined_signal", "policy_deny"}
    assert used == set(VIOLATION_CODES)


def demand(feature: str, rpm: float) -> SignalStatus:
    """A usable demand signal (the world's budgets may change; these tests set their own)."""
    return SignalStatus(signal=Signal(name=f"{feature}.demand", kind="demand", feature=feature,
                                      value=rpm, unit="rpm", observed_at=NOW, lineage=["gw"]),
                        ok=True)


def test_over_budget_from_demand(catalog: Catalog, state: DeploymentState) -> None:
    spec = catalog.get("ticket-summarizer", "1.2.0")
    assert spec is not None
    # demand at which a 50% canary fits but the full rollout does not
    rpm = 1.5 * spec.cost.daily_budget_usd / (1440 * spec.cost.per_request_usd)
    report = validate(good_plan(), catalog, [demand("ticket-summarizer", rpm)], state, None)
    [v] = report.violations
    assert (v.code, v.step) == ("over_budget", "s3")
    full = rpm * 1440 * spec.cost.per_request_usd
    assert f"projected {full:.2f} USD/day" in v.message
    assert f"ceiling of {spec.cost.daily_budget_usd:g} USD/day" in v.message


def test_over_budget_respects_a_lower_budget_in_the_state(catalog: Catalog,
                                                          state: DeploymentState) -> None:
    fs = state.get("ticket-summarizer").model_copy(update={"budget_usd_per_day": 1.0})
    report = validate(good_plan(), catalog, [demand("ticket-summarizer", 95)],
                      state.with_feature("ticket-summarizer", fs), None)
    assert {v.step for v in report.violations if v.code == "over_budget"} == {"s1", "s2", "s3"}


def test_observed_cost_above_the_envelope_is_over_budget(catalog: Catalog,
                                                         state: DeploymentState) -> None:
    cost = SignalStatus(signal=Signal(name="tone-rewriter.cost", kind="cost", feature="tone-rewriter",
                                      value=0.01, unit="usd_per_request", observed_at=NOW), ok=True)
    # pinning the serving version keeps its observed per-request cost (a canary of the serving
    # version is refused: the flags file could not express it)
    doc = plan(step("s1", "pin_version", "tone-rewriter", "1.0.0"))
    report = validate(doc, catalog, [cost, demand("tone-rewriter", 0.1)], state, None)
    assert [v.code for v in report.violations] == ["over_budget"]
    assert "observed per-request cost breaks the envelope" in report.violations[0].message


def test_quarantined_triggering_signal_blocks_every_acting_step(catalog: Catalog,
                                                                state: DeploymentState) -> None:
    report = validate(good_plan(), catalog, signals(catalog, "stale"), state, None)
    assert report.codes() == ["quarantined_signal"]
    assert [v.step for v in report.violations] == ["s1", "s2", "s3"]
    assert "ticket-summarizer.drift is quarantined (value 1.7 above" in report.violations[0].message


def test_quarantined_signal_not_named_as_trigger_does_not_block(catalog: Catalog,
                                                                state: DeploymentState) -> None:
    doc = good_plan()
    doc["trigger"] = [{"signal": "ticket-summarizer.latency_p95"}]
    report = validate(doc, catalog, signals(catalog, "stale"), state, None)
    assert report.ok, report.feedback()


def test_policy_deny_becomes_a_violation_with_its_step(catalog: Catalog, state: DeploymentState,
                                                       bundle: PolicyBundle) -> None:
    doc = plan(step("s1", "promote", "pii-redactor", "1.1.0",
                    compensation={"id": "u", "action": "pin_version", "feature": "pii-redactor",
                                  "version": "1.0.0"}))
    report = validate(doc, catalog, [], state, bundle, OPERATOR)
    deny = [v for v in report.violations if v.code == "policy_deny"]
    assert [v.step for v in deny] == ["s1"]
    assert "without a canary step first" in deny[0].message
    assert report.policy is not None and not report.policy.allowed


def test_policy_role_and_region_are_checked_on_the_plan(catalog: Catalog, state: DeploymentState,
                                                        bundle: PolicyBundle) -> None:
    report = validate(good_plan(), catalog, [], state, bundle,
                      PolicyRequest(role="payments-lead", region="apac"))
    messages = " ".join(v.message for v in report.violations if v.code == "policy_deny")
    assert 'role "payments-lead"' in messages and 'region "apac"' in messages


def test_a_broken_policy_bundle_denies_the_plan(catalog: Catalog, state: DeploymentState) -> None:
    broken = PolicyBundle.from_sources([("p.rego", "package jitplan\ndeny contains x if {\n")])
    report = validate(good_plan(), catalog, [], state, broken)
    assert not report.ok and report.codes() == ["policy_deny"]
    assert "does not compile" in report.violations[0].message


def test_feedback_lists_every_violation(catalog: Catalog, state: DeploymentState) -> None:
    doc = _mut(lambda d: (d["steps"][1].update(tolerances=[]), d["steps"][2].pop("compensation")))
    report = validate(doc, catalog, [], state, None)
    text = report.feedback()
    assert text.splitlines()[0].startswith("1. [missing_tolerance] step s2")
    assert "2. [missing_compensation] step s3" in text


def test_garbage_never_raises(catalog: Catalog) -> None:
    for junk in ({}, {"steps": "x"}, {"id": "p", "goal": "g", "steps": [1, None, "a"]},
                 {"id": "p", "goal": "g", "steps": [{"id": "s", "action": None}]},
                 {"a": {"b": {"c": [[[["../x"]]]]}}}):
        report = validate(junk, catalog, [], None, None)
        assert not report.ok and report.violations
    assert not validate([1, 2], catalog, [], None, None).ok  # type: ignore[arg-type]


def test_set_budget_on_a_feature_that_is_off_is_still_checked(catalog: Catalog,
                                                                state: DeploymentState) -> None:
    doc = plan(step("s1", "set_budget", "answer-synthesizer", params={"usd_per_day": 1e6},
                    compensation={"id": "u", "action": "set_budget", "feature": "answer-synthesizer",
                                  "params": {"usd_per_day": 1}}))
    report = validate(doc, catalog, [], state, None)
    assert [v.code for v in report.violations] == ["over_budget"]


def test_tolerances_on_non_mutating_steps_are_still_checked() -> None:
    """Found by the property test: an escalate step carried a tolerance on metric 'vibes'."""
    from jitplan.contracts.catalog import Catalog
    from jitplan.tools.validator import validate

    world = Path(__file__).resolve().parents[2] / "scenarios" / "world"
    cat = Catalog.from_file(world / "catalog.yaml")
    for action in ("escalate", "noop", "rollback"):
        doc = {"id": "p", "goal": "g", "steps": [{
            "id": "s0", "action": action, "feature": "answer-synthesizer",
            "tolerances": [{"metric": "vibes", "comparator": "<", "threshold": 0.0}]}]}
        report = validate(doc, cat, [], None, None)
        assert "unknown_metric" in report.codes(), (action, report.codes())


def test_a_plan_over_the_step_cap_is_rejected_without_asking_the_policy(
    catalog: Catalog, state: DeploymentState, bundle: PolicyBundle
) -> None:
    report = validate(good_plan(), catalog, [], state, bundle, max_steps=2)
    assert "too_many_steps" in report.codes()
    assert report.policy is None  # a hostile plan does not get to cost a policy evaluation
    assert validate(good_plan(), catalog, [], state, bundle).policy is not None


def test_hostile_text_in_a_quarantine_reason_reaches_the_policy_verdict_intact(
    catalog: Catalog, state: DeploymentState, bundle: PolicyBundle
) -> None:
    # a unit with quotes, backslashes and a newline ends up inside the policy's deny reason;
    # rego-cpp must still produce a readable verdict (not an evaluation error)
    hostile = 'r"p\\m\n'
    statuses = [SignalStatus(
        signal=Signal(name="ticket-summarizer.demand", kind="demand", feature="ticket-summarizer",
                      value=5.0, unit=hostile, observed_at=NOW, lineage=["gw"]),
        ok=False, reasons=[f"unit {hostile!r} does not match the contract's 'rpm'"])]
    report = validate(good_plan(), catalog, statuses, state, bundle, OPERATOR)
    assert report.policy is not None and report.policy.error is None
    denies = [v.message for v in report.violations if v.code == "policy_deny"]
    assert denies == [f"policy denies: ticket-summarizer cannot be activated: its signal "
                      f"ticket-summarizer.demand is quarantined (unit {hostile!r} does not match "
                      "the contract's 'rpm')"]
