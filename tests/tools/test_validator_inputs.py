"""``tools.validator.validate`` around the step walk (found by ``make mutation``): the inputs it
records, the step cap, non-object plans, policy denies mapped to their step, duplicate
violations, and the predicted state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jitplan.contracts.audit import canonical_json, sha256_hex
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.plan import Plan
from jitplan.contracts.policy import PolicyRequest
from jitplan.contracts.signals import Signal, SignalStatus
from jitplan.contracts.state import DeploymentState
from jitplan.tools.policy import PolicyBundle
from jitplan.tools.validator import catalog_context, predict_state, validate

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
CAT = Catalog.from_file(WORLD / "catalog.yaml")
STATE = DeploymentState.from_flagd(json.loads((WORLD / "flags.json").read_text()))
OPERATOR = PolicyRequest(role="operator", region="eu")
ERR = {"metric": "error_rate", "comparator": "<=", "threshold": 0.01}
HEADER = "package jitplan\nimport rego.v1\n"


def good() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((ROOT / "tests" / "policies" / "plans" / "good-summarizer-canary.json").read_text())
    return doc


def bundle(body: str) -> PolicyBundle:
    return PolicyBundle.from_sources([("p.rego", HEADER + body + "\n")])


def status(ok: bool, reasons: list[str]) -> SignalStatus:
    s = Signal(name="ticket-summarizer.latency", kind="latency", feature="ticket-summarizer",  # type: ignore[arg-type]
               value=900, unit="ms", observed_at="2026-11-26T12:00:00Z")  # type: ignore[arg-type]
    return SignalStatus(signal=s, ok=ok, reasons=reasons)


def test_inputs_record_what_the_decision_rests_on() -> None:
    b = bundle('deny contains "x" if { false }\nescalate := set()')
    rep = validate(good(), CAT, [status(True, [])], STATE, b, OPERATOR)
    assert rep.ok, rep.feedback()
    assert rep.inputs["plan"] == Plan.from_data(good()).digest()
    assert rep.inputs["catalog"] == CAT.digest() and rep.inputs["state"] == STATE.digest()
    assert rep.inputs["policy"] == b.sha256
    expected = sha256_hex(canonical_json([{**status(True, []).signal.model_dump(mode="json"), "ok": True,
                                           "reasons": []}]))
    assert rep.inputs["signals"] == expected
    other = validate(good(), CAT, [status(False, ["stale"])], STATE, b, OPERATOR)
    assert other.inputs["signals"] != expected
    bare = validate(good(), CAT, [], None, None)
    assert set(bare.inputs) == {"plan", "catalog", "signals"} and bare.policy is None and bare.escalate == []


def test_policy_denies_name_their_step_when_it_exists() -> None:
    b = bundle('deny contains "step s2 is not allowed" if { true }\n'
               'deny contains "step s9 is not in the plan" if { true }\n'
               'deny contains "stepping out" if { true }\n'
               'escalate contains "look at s1" if { true }')
    rep = validate(good(), CAT, [], STATE, b, OPERATOR)
    denies = [(v.code, v.message, v.step) for v in rep.violations if v.code == "policy_deny"]
    assert denies == [("policy_deny", "policy denies: step s2 is not allowed", "s2"),
                      ("policy_deny", "policy denies: step s9 is not in the plan", None),
                      ("policy_deny", "policy denies: stepping out", None)]
    assert rep.escalate == ["look at s1"] and rep.policy is not None and not rep.policy.allowed
    assert not rep.ok


def test_over_the_step_cap_the_policy_is_not_asked() -> None:
    doc = good()
    rep = validate(doc, CAT, [], STATE, bundle('deny contains "asked" if { true }\nescalate := set()'), OPERATOR,
                   max_steps=2)
    codes = [v.code for v in rep.violations]
    assert codes.count("too_many_steps") == 1 and "policy_deny" not in codes and rep.policy is None
    plan = Plan.from_data(doc)
    rep2 = validate(plan, CAT, [], STATE, bundle('deny contains "asked" if { true }\nescalate := set()'),
                    OPERATOR, max_steps=2)
    assert [v.code for v in rep2.violations].count("too_many_steps") == 1 and rep2.policy is None
    at_cap = validate(plan, CAT, [], STATE, None, max_steps=3)
    assert "too_many_steps" not in [v.code for v in at_cap.violations]
    asked = validate(doc, CAT, [], STATE, bundle('deny contains "asked" if { true }\nescalate := set()'),
                     OPERATOR, max_steps=3)
    assert asked.policy is not None and "policy_deny" in [v.code for v in asked.violations]
    msg = next(v.message for v in rep2.violations if v.code == "too_many_steps")
    assert msg == "plan has 3 steps, more than the cap of 2; split it into smaller plans"


def test_a_plan_object_is_checked_like_its_document() -> None:
    plan = Plan.from_data(good())
    b = bundle('deny contains "step s1 no" if { true }\nescalate := set()')
    rep = validate(plan, CAT, [], STATE, b, OPERATOR)
    assert [(v.code, v.step) for v in rep.violations] == [("policy_deny", "s1")]
    assert rep.inputs["plan"] == plan.digest()
    # a Plan whose steps break the step rules is reported, not raised
    bad = Plan.from_data({**good(), "steps": [{**good()["steps"][0], "depends_on": ["s1"]}]})
    assert "dependency_cycle" in [v.code for v in validate(bad, CAT, [], STATE, None).violations]


def test_a_non_object_plan_is_a_schema_violation() -> None:
    rep = validate([1, 2], CAT, [], STATE, None)  # type: ignore[arg-type]
    assert not rep.ok
    assert [(v.code, v.message, v.step) for v in rep.violations] == [
        ("schema", "plan must be a JSON object, got list", None)]
    assert rep.inputs["plan"] == sha256_hex(repr(list))


def test_an_unparseable_plan_is_hashed_as_given() -> None:
    doc = {"goal": 3}
    rep = validate(doc, CAT, [], STATE, bundle('deny contains "asked" if { true }\nescalate := set()'), OPERATOR)
    assert rep.inputs["plan"] == sha256_hex(canonical_json(doc)) and rep.policy is None
    assert all(v.code == "schema" for v in rep.violations)


def test_the_same_violation_is_reported_once() -> None:
    step = {"id": "s1", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0",
            "params": {"weight": 10}, "tolerances": [ERR, ERR],
            "compensation": {"id": "u", "action": "rollback", "feature": "ticket-summarizer"}}
    twice = {**step, "tolerances": [{"metric": "latncy", "comparator": "<", "threshold": 1}] * 2}
    rep = validate({"id": "p", "goal": "g", "steps": [twice]}, CAT, [], STATE, None)
    assert [v.code for v in rep.violations].count("unknown_metric") == 1


def test_predicted_state_is_the_walk_over_the_steps() -> None:
    plan = Plan.from_data(good())
    predicted = predict_state(plan, CAT, STATE)
    assert predicted.get("ticket-summarizer").version == "1.2.0"
    assert predict_state(plan, CAT, STATE, []) == predicted
    assert predict_state(Plan.from_data({"id": "p", "goal": "g", "steps": [{"id": "n", "action": "noop"}]}),
                         CAT, STATE) == STATE


def test_catalog_context_indexes_the_catalog_it_was_given() -> None:
    store, digest = catalog_context(CAT)
    assert store.catalog is CAT and digest == CAT.digest()
    again, _ = catalog_context(CAT)
    assert again is store
    copies = [Catalog.from_file(WORLD / "catalog.yaml") for _ in range(5)]
    for c in copies[:3]:
        catalog_context(c)
    assert catalog_context(CAT)[0] is store  # four catalogs are kept
    for c in copies:
        s, d = catalog_context(c)
        assert s.catalog is c and d == CAT.digest()
    fresh, _ = catalog_context(CAT)  # evicted by the five newer catalogs: built again, same content
    assert fresh is not store and fresh.catalog is CAT and fresh.ids == store.ids
