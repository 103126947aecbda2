"""Property tests (hypothesis): thousands of random and mutated plans.

- the validator never crashes and always returns a report (``ok`` iff no violations);
- it is deterministic (same input, same report);
- it never accepts a plan that breaks a rule it checks (independent oracles + targeted
  mutations of a good plan, each expecting its violation code);
- out-of-scope plans (unknown action, unknown flag key, ``../`` anywhere, too many steps) are
  always rejected;
- differential: no plan passes where the validator (without policy) or the policy bundle denies;
  what the policy must deny is decided by an independent oracle (``policy_must_deny``: the
  shipped bundle's rules re-derived from the raw catalog YAML and flags JSON), not by
  evaluating the same bundle through the same code path.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.plan import ACTIONS, MAX_PLAN_STEPS, METRICS, MUTATING_ACTIONS, Plan
from jitplan.contracts.policy import PolicyRequest
from jitplan.contracts.signals import ContractSet, SignalSnapshot
from jitplan.contracts.state import DeploymentState
from jitplan.tools.policy import PolicyBundle
from jitplan.tools.signal_check import check_signals
from jitplan.tools.validation_scope import PATH_TRAVERSAL
from jitplan.tools.validator import validate

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
CATALOG = Catalog.from_file(WORLD / "catalog.yaml")
STATE = DeploymentState.from_flagd(json.loads((WORLD / "flags.json").read_text()))
CONTRACTS = ContractSet.from_file(WORLD / "contracts.yaml")
SIGNALS = {
    name: check_signals(SignalSnapshot.from_file(WORLD / "signals" / f"{name}.yaml"), CONTRACTS, CATALOG)
    for name in ("steady", "drift", "stale", "demand-rise", "cost-overrun")
}
BUNDLE = PolicyBundle.load(ROOT / "tools" / "policy_bundle")
GOOD = json.loads((ROOT / "tests" / "policies" / "plans" / "good-summarizer-canary.json").read_text())
FEATURE_IDS = CATALOG.ids
VERSIONS = sorted({f.version for f in CATALOG.features})

FAST = settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck),
                derandomize=True)

# ---- strategies --------------------------------------------------------------------------

feature_ids = st.one_of(st.sampled_from(FEATURE_IDS), st.sampled_from(["voice-bot", "x"]), st.none())
versions = st.one_of(st.none(), st.sampled_from(VERSIONS), st.just("9.9.9"))
weights = st.one_of(st.integers(-20, 150), st.floats(0, 100, allow_nan=False), st.just("50"))
tolerances = st.lists(
    st.fixed_dictionaries({
        "metric": st.one_of(st.sampled_from(METRICS), st.just("vibes")),
        "comparator": st.sampled_from(["<", "<=", ">", ">="]),
        "threshold": st.one_of(st.floats(-1, 10000, allow_nan=False), st.sampled_from(
            [0.001, 0.01, 0.8, 0.9, 0.99, 500.0, 3000.0])),
    }),
    max_size=3,
)
texts = st.one_of(st.sampled_from(["", "roll out", "see ../x", "a/../b", "ok"]), st.text(max_size=12))


@st.composite
def steps(draw: st.DrawFn, ids: list[str]) -> dict[str, Any]:
    sid = draw(st.sampled_from(ids))
    action = draw(st.one_of(st.sampled_from(ACTIONS), st.just("launch")))
    fid = draw(feature_ids)
    s: dict[str, Any] = {"id": sid, "action": action, "feature": fid}
    if draw(st.booleans()):
        s["version"] = draw(versions)
    if action == "canary" or draw(st.integers(0, 5)) == 0:
        s["params"] = {"weight": draw(weights)}
    if action == "set_budget":
        s["params"] = {"usd_per_day": draw(st.one_of(st.floats(0, 200, allow_nan=False), st.just(-1)))}
    s["tolerances"] = draw(tolerances)
    s["depends_on"] = draw(st.lists(st.sampled_from([*ids, "zz"]), max_size=2, unique=True))
    if draw(st.booleans()):
        s["compensation"] = {
            "id": sid + "-undo",
            "action": draw(st.sampled_from(["rollback", "disable", "enable", "canary", "pin_version"])),
            "feature": draw(st.one_of(st.just(fid), feature_ids)),
            "params": {"weight": draw(weights)},
        }
    if draw(st.integers(0, 9)) == 0:
        s["rationale"] = draw(texts)
    return s


@st.composite
def plans(draw: st.DrawFn, max_steps: int = 8) -> dict[str, Any]:
    n = draw(st.integers(0, max_steps))
    ids = [f"s{i}" for i in range(max(n, 1))] + ["s0"]  # allow duplicates now and then
    doc: dict[str, Any] = {"id": "p", "goal": draw(texts), "steps": [draw(steps(ids)) for _ in range(n)]}
    if draw(st.booleans()):
        doc["trigger"] = [{"signal": draw(st.sampled_from(["ticket-summarizer.drift", "other"]))}]
    return doc


@st.composite
def wellformed_plans(draw: st.DrawFn) -> dict[str, Any]:
    """Plans built to pass most validator checks, so that the policy's verdict matters."""
    out: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 4))):
        spec = draw(st.sampled_from(CATALOG.features))
        action = draw(st.sampled_from(["canary", "canary", "enable", "promote", "shadow", "disable",
                                       "set_budget", "noop"]))
        step: dict[str, Any] = {"id": f"w{i}", "action": action, "feature": spec.id}
        if action in ("canary", "enable", "promote", "shadow"):
            step["version"] = spec.version
        if action == "canary":
            step["params"] = {"weight": draw(st.sampled_from([5, 10, 25, 50, 100]))}
        if action == "set_budget":
            step["params"] = {"usd_per_day": draw(st.sampled_from([1, spec.cost.daily_budget_usd,
                                                                   spec.cost.daily_budget_usd * 3]))}
        if action != "noop":
            step["tolerances"] = [{"metric": "error_rate", "comparator": "<=",
                                   "threshold": spec.slo.error_rate_max}]
            undo = {"disable": "enable", "set_budget": "set_budget", "enable": "disable"}.get(
                action, "rollback")
            comp: dict[str, Any] = {"id": f"w{i}-undo", "action": undo, "feature": spec.id}
            if undo == "set_budget":
                comp["params"] = {"usd_per_day": spec.cost.daily_budget_usd}
            step["compensation"] = comp
        out.append(step)
    return {"id": "w", "goal": "generated", "steps": out}


json_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=20,
)
signal_sets = st.sampled_from(sorted(SIGNALS))
states = st.sampled_from([STATE, None, DeploymentState()])


# ---- independent oracles -----------------------------------------------------------------


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def broken_rules(doc: dict[str, Any]) -> list[str]:
    """Rules a plan visibly breaks, computed without the validator's code."""
    broken = []
    steps_ = doc.get("steps", [])
    if any(".." in s.split("/") or ".." in s.split("\\") or " ../" in s for s in _strings(doc)):
        broken.append("path")
    if len(steps_) > MAX_PLAN_STEPS:
        broken.append("cap")
    ids = [s["id"] for s in steps_]
    if len(ids) != len(set(ids)):
        broken.append("duplicate")
    for s in steps_:
        if s["action"] not in ACTIONS:
            broken.append("action")
        if s["feature"] is not None and s["feature"] not in FEATURE_IDS:
            broken.append("feature")
        if s["action"] in MUTATING_ACTIONS and s["feature"] is not None:
            if not s.get("tolerances"):
                broken.append("tolerance")
            if not s.get("compensation"):
                broken.append("compensation")
        if s["action"] == "canary":
            w = s.get("params", {}).get("weight")
            if not isinstance(w, int | float) or not 0 <= w <= 100:
                broken.append("weight")
        if set(s.get("depends_on", [])) - set(ids):
            broken.append("depends_on")
        for t in s.get("tolerances", []):
            if t["metric"] not in METRICS:
                broken.append("metric")
    return broken


# ---- properties --------------------------------------------------------------------------


@FAST
@given(doc=plans(), sig=signal_sets, state=states)
def test_random_plans_never_crash_are_deterministic_and_respect_oracles(
    doc: dict[str, Any], sig: str, state: DeploymentState | None
) -> None:
    before = copy.deepcopy(doc)
    report = validate(doc, CATALOG, SIGNALS[sig], state, None)
    assert doc == before  # pure: the input is not modified
    assert report.ok is (not report.violations)
    again = validate(copy.deepcopy(doc), CATALOG, SIGNALS[sig], state, None)
    assert again.model_dump() == report.model_dump()
    broken = broken_rules(doc)
    if broken:
        assert not report.ok, (broken, doc)


@FAST
@given(junk=json_like)
def test_arbitrary_json_never_crashes(junk: Any) -> None:
    doc = junk if isinstance(junk, dict) else {"id": "p", "goal": "g", "steps": junk}
    report = validate(doc, CATALOG, [], STATE, None)
    assert report.ok is (not report.violations)
    if not report.ok:
        assert all(v.code and v.message for v in report.violations)


# Targeted mutations of a good plan, each with the code it must produce.
def _set(path: list[Any], value: Any) -> Any:
    def apply(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return apply


MUTATIONS: list[tuple[str, Any]] = [
    ("out_of_scope", _set(["steps", 0, "action"], "launch")),
    ("out_of_scope", _set(["steps", 1, "params", "file"], "../../etc/passwd")),
    ("out_of_scope", _set(["goal"], "write to ..\\boot.ini")),
    ("unknown_feature", lambda d: d["steps"].append({"id": "x2", "action": "noop", "feature": "voice-bot"})),
    ("unknown_version", _set(["steps", 2, "version"], "0.0.1")),
    ("duplicate_step_id", _set(["steps", 1, "id"], "s1")),
    ("unknown_dependency_step", _set(["steps", 2, "depends_on"], ["nope"])),
    ("dependency_cycle", _set(["steps", 0, "depends_on"], ["s2"])),
    ("canary_weight_range", _set(["steps", 0, "params", "weight"], 101)),
    ("canary_weight_range", _set(["steps", 1, "params", "weight"], -1)),
    ("canary_weight_decreasing", _set(["steps", 1, "params", "weight"], 9)),
    ("missing_tolerance", _set(["steps", 0, "tolerances"], [])),
    ("missing_compensation", _set(["steps", 1, "compensation"], None)),
    ("compensation_mismatch", _set(["steps", 0, "compensation", "feature"], "tone-rewriter")),
    ("compensation_mismatch", _set(["steps", 2, "compensation", "action"], "disable")),
    ("unknown_metric", _set(["steps", 1, "tolerances", 0, "metric"], "vibes")),
    ("tolerance_looser_than_slo", _set(["steps", 1, "tolerances", 0, "threshold"], 0.5)),
    ("tolerance_direction", _set(["steps", 1, "tolerances", 0, "comparator"], ">")),
    ("missing_feature", lambda d: d["steps"].append({"id": "extra", "action": "enable"})),
    ("schema", _set(["steps", 0, "timeout_s"], -5)),
]


safe_text = st.text(alphabet="abcdefghij klmnop-_.,", max_size=30).filter(
    lambda t: not PATH_TRAVERSAL.search(t))  # a bare ".." is a path segment: out of scope


@FAST
@given(pick=st.integers(0, len(MUTATIONS) - 1), sig=st.sampled_from(["steady", "demand-rise"]),
       noops=st.integers(0, 4), goal=safe_text, rationale=safe_text,
       extra_tolerance=st.booleans())
def test_mutated_good_plans_are_rejected_with_the_expected_code(
    pick: int, sig: str, noops: int, goal: str, rationale: str, extra_tolerance: bool
) -> None:
    doc = copy.deepcopy(GOOD)
    # harmless noise first: the unmutated plan must still pass
    doc["goal"] = goal
    doc["steps"][1]["rationale"] = rationale
    if extra_tolerance:
        doc["steps"][2]["tolerances"].append({"metric": "latency_p99_ms", "comparator": "<", "threshold": 9000})
    doc["steps"].extend({"id": f"n{i}", "action": "noop"} for i in range(noops))
    assert validate(doc, CATALOG, SIGNALS[sig], STATE, None).ok
    code, apply = MUTATIONS[pick]
    apply(doc)
    report = validate(doc, CATALOG, SIGNALS[sig], STATE, None)
    assert not report.ok
    assert code in report.codes(), (code, report.feedback())


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(n=st.integers(MAX_PLAN_STEPS + 1, MAX_PLAN_STEPS + 40), action=st.sampled_from(["noop", "launch"]),
       unknown=st.sampled_from(["voice-bot", "ticket-summarizer"]),
       where=st.sampled_from(["goal", "rationale", "params", "trigger", "notes"]))
def test_out_of_scope_plans_are_rejected(n: int, action: str, unknown: str, where: str) -> None:
    too_long = {"id": "p", "goal": "g", "steps": [{"id": f"s{i}", "action": "noop"} for i in range(n)]}
    assert "too_many_steps" in validate(too_long, CATALOG, [], STATE, None).codes()
    bad_action = {"id": "p", "goal": "g", "steps": [{"id": "s", "action": action, "feature": unknown}]}
    report = validate(bad_action, CATALOG, [], STATE, None)
    if action == "launch":
        assert "out_of_scope" in report.codes()
    elif unknown == "voice-bot":
        assert "unknown_feature" in report.codes()
    doc = copy.deepcopy(GOOD)
    path = "..\\secrets" if n % 2 else "../secrets"
    if where == "goal":
        doc["goal"] = f"copy {path}"
    elif where == "rationale":
        doc["steps"][n % 3]["rationale"] = path
    elif where == "params":
        doc["steps"][n % 3].setdefault("params", {})["note"] = path
    elif where == "trigger":
        doc["trigger"][0]["signal"] = path
    else:
        doc["notes"] = ["fine", path]
    assert "out_of_scope" in validate(doc, CATALOG, [], STATE, None).codes()


# ---- an independent policy oracle ---------------------------------------------------------

RAW_CATALOG = {(f["id"], str(f["version"])): f
               for f in yaml.safe_load((WORLD / "catalog.yaml").read_text())["features"]}
RAW_FLAGS = json.loads((WORLD / "flags.json").read_text())["flags"]
MEDIUM_PLUS = {"medium", "high", "critical"}


def _canary_running(fid: str) -> bool:
    """A canary split in the flagd file (``fractional`` targeting) is a canary already running."""
    return "targeting" in RAW_FLAGS.get(fid, {})


def policy_must_deny(doc: dict[str, Any], role: str, region: str) -> list[str]:
    """Fragments of deny reasons the shipped policy must give for ``doc`` (sound, not complete).

    Read from the raw catalog YAML and flags JSON, following the rules as the README and the
    bundle state them: the catalog's roles and regions; no full rollout (enable, promote, canary
    at 100) of a medium+ risk version without a partial canary of the feature earlier in the plan
    or running in the state. Only steps naming a catalog version are judged.
    """
    out: list[str] = []
    partial_before: set[str] = set()
    for s in doc["steps"]:
        fid, version, action = s.get("feature"), s.get("version"), s.get("action")
        params = s.get("params") or {}
        weight = params.get("weight") if isinstance(params, dict) else None
        spec = RAW_CATALOG.get((fid, version)) if isinstance(version, str) else None
        if spec is not None and action not in ("noop", "escalate"):
            gov = spec.get("governance", {})
            if gov.get("roles") and role not in gov["roles"]:
                out.append(f'role "{role}" is not allowed to change {fid}')
            if gov.get("regions") and region not in gov["regions"]:
                out.append(f'region "{region}" is not allowed for {fid}')
            full = action in ("enable", "promote") or (
                action == "canary" and isinstance(weight, int | float) and weight >= 100)
            if (full and spec["risk"]["tier"] in MEDIUM_PLUS and fid not in partial_before
                    and not _canary_running(fid)):
                out.append(f"step {s['id']} rolls {fid} ({spec['risk']['tier']} risk) out to 100% "
                           "without a canary step first")
        if action == "canary" and isinstance(weight, int | float) and 0 < weight < 100:
            partial_before.add(fid)
    return list(dict.fromkeys(out))


def _policy_denials(report: Any) -> list[str]:
    return [v.message for v in report.violations if v.code == "policy_deny"]


def test_the_oracle_fires_on_hand_made_plans_and_the_validator_agrees() -> None:
    """The oracle is not vacuous: each of its rules, once, on a plan built by hand."""
    comp = {"id": "u", "action": "rollback", "feature": "pii-redactor"}
    tol = [{"metric": "error_rate", "comparator": "<=", "threshold": 0.001}]
    enable = {"id": "p", "goal": "g", "steps": [
        {"id": "s1", "action": "enable", "feature": "pii-redactor", "version": "1.1.0",
         "tolerances": tol, "compensation": {**comp, "action": "disable"}}]}
    staged = {"id": "p", "goal": "g", "steps": [
        {"id": "s1", "action": "canary", "feature": "pii-redactor", "version": "1.1.0",
         "params": {"weight": 10}, "tolerances": tol, "compensation": comp},
        {"id": "s2", "action": "promote", "feature": "pii-redactor", "version": "1.1.0",
         "depends_on": ["s1"], "tolerances": tol,
         "compensation": {**comp, "params": {"to_version": "1.0.0"}}}]}
    cases = [
        (enable, "operator", "eu", ["step s1 rolls pii-redactor (medium risk) out to 100% without a "
                                    "canary step first"]),
        (staged, "operator", "eu", []),
        (staged, "payments-lead", "apac", ['role "payments-lead" is not allowed to change pii-redactor',
                                           'region "apac" is not allowed for pii-redactor']),
    ]
    for doc, role, region, expected in cases:
        assert policy_must_deny(doc, role, region) == expected
        full = validate(doc, CATALOG, SIGNALS["steady"], STATE, BUNDLE,
                        PolicyRequest(role=role, region=region))
        denials = _policy_denials(full)
        for fragment in expected:
            assert any(fragment in m for m in denials), (fragment, denials)
        if not expected:
            assert full.ok and denials == [], full.feedback()


# ---- differential ------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(doc=st.one_of(plans(max_steps=5), wellformed_plans(), wellformed_plans()), sig=signal_sets,
       role=st.sampled_from(["operator", "support-lead", "payments-lead"]),
       region=st.sampled_from(["eu", "us", "apac"]))
def test_no_plan_passes_where_validator_or_policy_denies(
    doc: dict[str, Any], sig: str, role: str, region: str
) -> None:
    request = PolicyRequest(role=role, region=region)
    full = validate(doc, CATALOG, SIGNALS[sig], STATE, BUNDLE, request)
    bare = validate(doc, CATALOG, SIGNALS[sig], STATE, None)
    try:
        plan = Plan.model_validate(doc)
    except ValueError:
        plan = None
    if plan is not None and len(plan.steps) <= MAX_PLAN_STEPS:
        assert full.policy is not None
        # every deny reason of the decision is reported as a policy_deny violation
        assert bool(full.policy.deny) == (not full.policy.allowed)
        if not full.policy.allowed:
            assert not full.ok and "policy_deny" in full.codes()
        # what the policy must deny, by the independent oracle
        denials = _policy_denials(full)
        for fragment in policy_must_deny(doc, role, region):
            assert any(fragment in m for m in denials), (fragment, denials, doc)
    if not bare.ok:
        assert not full.ok
    if full.ok:
        assert bare.ok and full.policy is not None and full.policy.allowed


@pytest.mark.parametrize("sig", sorted(SIGNALS))
def test_differential_on_the_good_plan(sig: str) -> None:
    request = PolicyRequest(role="operator", region="eu")
    full = validate(GOOD, CATALOG, SIGNALS[sig], STATE, BUNDLE, request)
    bare = validate(GOOD, CATALOG, SIGNALS[sig], STATE, None)
    assert full.ok == (bare.ok and full.policy is not None and full.policy.allowed)
