"""The policy engine: bundle loading and hashing, deny by default, time bound, determinism."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.errors import UserError
from jitplan.contracts.plan import Plan
from jitplan.contracts.policy import PolicyRequest
from jitplan.contracts.signals import ContractSet, SignalSnapshot
from jitplan.contracts.state import DeploymentState
from jitplan.tools.policy import (
    PolicyBundle,
    evaluate_policy,
    forbidden_builtins,
    policy_input,
    start_policy_evaluation,
    touched_features,
)
from jitplan.tools.rego_input import set_input
from jitplan.tools.signal_check import check_signals

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
HEADER = "package jitplan\nimport rego.v1\n"


def bundle_of(body: str) -> PolicyBundle:
    return PolicyBundle.from_sources([("p.rego", HEADER + body + "\n")])


ALLOW_ALL = bundle_of('deny contains "never" if { false }\nescalate contains "never" if { false }')


# ---- loading and hashing -----------------------------------------------------------------


def test_load_reads_rego_files_recursively_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.rego").write_text(HEADER + "deny := set()\n")
    (tmp_path / "sub" / "a.rego").write_text("package jitplan\n")
    (tmp_path / "notes.md").write_text("not policy")
    bundle = PolicyBundle.load(tmp_path)
    assert [name for name, _ in bundle.files] == ["b.rego", "sub/a.rego"]


def test_sha256_is_stable_and_changes_with_names_and_contents(tmp_path: Path) -> None:
    (tmp_path / "a.rego").write_text(HEADER)
    first = PolicyBundle.load(tmp_path).sha256
    assert PolicyBundle.load(tmp_path).sha256 == first and len(first) == 64
    (tmp_path / "a.rego").write_text(HEADER + "# edited\n")
    edited = PolicyBundle.load(tmp_path).sha256
    assert edited != first
    (tmp_path / "a.rego").rename(tmp_path / "b.rego")
    assert PolicyBundle.load(tmp_path).sha256 != edited


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "not found"),
        (lambda p: (p / "f.rego").write_text("x") and p / "f.rego", "expected a directory"),
        (lambda p: p, "no .rego files"),
    ],
)
def test_load_errors_are_user_errors_naming_the_path(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    target = make(tmp_path)
    with pytest.raises(UserError, match=message) as info:
        PolicyBundle.load(target)
    assert str(target) in str(info.value)


def test_non_utf8_policy_file_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "a.rego").write_bytes(b"package jitplan\n\xff\xfe")
    with pytest.raises(UserError, match="UTF-8"):
        PolicyBundle.load(tmp_path)


# ---- forbidden built-ins -----------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    ["time.now_ns()", "rand.intn(\"x\", 10)", "uuid.rfc4122(\"a\")", "http.send({})",
     "net.lookup_ip_addr(\"example.com\")", "opa.runtime()", "time.parse_rfc3339_ns(input.t)"],
)
def test_scan_finds_non_deterministic_builtins(call: str) -> None:
    source = HEADER + f"deny contains x if {{ x := sprintf(\"%v\", [{call}]) }}\n"
    found = forbidden_builtins(source, "p.rego")
    assert len(found) == 1 and found[0].startswith("p.rego:3: ")


def test_scan_ignores_comments_strings_and_input_fields() -> None:
    source = HEADER + (
        "# time.now_ns() is forbidden\n"
        'msg := "call http.send or rand.intn"\n'
        "raw := `uuid.rfc4122`\n"
        "t := input.time.now\n"
        "d := data.net.x\n"
    )
    assert forbidden_builtins(source) == []


def test_a_bundle_using_a_forbidden_builtin_is_refused() -> None:
    bundle = bundle_of("deny contains x if { time.now_ns() > 0; x := \"late\" }\nescalate := set()")
    assert bundle.forbidden == ("p.rego:3: time.now_ns",)
    decision = evaluate_policy(bundle, {})
    assert not decision.allowed
    assert "non-deterministic" in decision.deny[0] and "time.now_ns" in decision.deny[0]
    assert decision.bundle_sha256 == bundle.sha256


# ---- deny by default ---------------------------------------------------------------------


def test_clean_allow_and_deny() -> None:
    assert evaluate_policy(ALLOW_ALL, {"request": {}}).allowed
    bundle = bundle_of('deny contains "no" if { input.x == 1 }\nescalate contains "look" if { input.x > 0 }')
    d = evaluate_policy(bundle, {"x": 1})
    assert (d.allowed, d.deny, d.escalate, d.error) == (False, ["no"], ["look"], None)
    d = evaluate_policy(bundle, {"x": 2})
    assert (d.allowed, d.deny, d.escalate) == (True, [], ["look"])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("deny contains x if {", "does not compile"),
        ('deny contains x if { x := to_number("abc") }\nescalate := set()', "evaluation error"),
        ('deny contains "a" if { false }', "undefined"),
        ("escalate := set()", "undefined"),
        ("deny := 5\nescalate := set()", "malformed"),
        ("deny := {1, 2}\nescalate := set()", "malformed"),
        ('deny := set()\nescalate := "yes"', "malformed"),
    ],
    ids=["syntax", "builtin-error", "escalate-undefined", "deny-undefined", "deny-number",
         "deny-non-strings", "escalate-string"],
)
def test_errors_and_undefined_results_deny(body: str, reason: str) -> None:
    bundle = bundle_of(body)
    decision = evaluate_policy(bundle, {"request": {}})
    assert not decision.allowed
    assert decision.error is not None and reason in decision.error
    assert decision.deny == [decision.error]


def test_strict_builtin_errors_are_on() -> None:
    # Without strict errors rego-cpp would make the failing rule undefined and so *allow*.
    bundle = bundle_of('deny contains "bad number" if { to_number(input.n) > 1 }\nescalate := set()')
    assert not evaluate_policy(bundle, {"n": "not a number"}).allowed
    assert evaluate_policy(bundle, {"n": "0"}).allowed


def test_timeout_denies() -> None:
    # ~1.5 s of CPU in constant memory; the abandoned worker finishes on its own.
    slow = bundle_of(
        "deny contains x if { some a in numbers.range(1, 600); some b in numbers.range(1, 600); "
        "a * b == -1; x := \"n\" }\nescalate := set()"
    )
    decision = evaluate_policy(slow, {}, timeout_s=0.05)
    assert not decision.allowed
    assert decision.error == "policy evaluation timed out after 0.05 s"


EXIT_PROBE = """
import sys
from jitplan.tools.policy import PolicyBundle, evaluate_policy
slow = PolicyBundle.from_sources([("p.rego", "package jitplan\\nimport rego.v1\\n"
    "deny contains x if { some a in numbers.range(1, 600); some b in numbers.range(1, 600); "
    "a * b == -1; x := \\"n\\" }\\nescalate := set()\\n")])
for rnd in range(3):
    assert evaluate_policy(slow, {}, timeout_s=0.05).error  # abandons a worker mid-query
    for i in range(30):
        b = PolicyBundle.from_sources([("p.rego", "package jitplan\\nimport rego.v1\\n"
            f"deny contains \\"x{i}\\" if {{ input.x > {i} }}\\nescalate := set()\\n")])
        assert [evaluate_policy(b, {"x": j}).allowed for j in range(3)] == [j <= i for j in range(3)]
print("done")
"""


@pytest.mark.parametrize("run", [1, 2])
def test_a_process_with_abandoned_evaluations_still_exits(run: int) -> None:
    # Building an interpreter's input on another thread than its query made rego-cpp's
    # allocator spin in its exit handlers whenever a timed-out worker was still running (4 runs
    # of 6 hung); the input is now built on the worker.
    done = subprocess.run([sys.executable, "-c", EXIT_PROBE], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"


def test_non_json_input_denies_instead_of_raising() -> None:
    decision = evaluate_policy(ALLOW_ALL, {"x": object()})
    assert not decision.allowed and decision.error


def engine_view(doc: Any, *, reference: bool = False) -> str:
    """What the engine holds as its input: after our conversion, or after rego-cpp's own JSON
    parser (the reference)."""
    from regopy import Interpreter

    rego = Interpreter()
    if reference:
        rego.set_input_term(json.dumps(doc, ensure_ascii=False))
    else:
        set_input(rego, doc)
    return str(rego.query("x := input"))


AWKWARD = 'say "hi" \\ back\\slash\n\ttab \x01 naïve — 東京 ✓'


def test_the_input_reaches_the_engine_as_its_json_parser_would_build_it() -> None:
    # We build the input through rego-cpp's C API directly (regopy's wrappers were too slow,
    # and pass strings raw, which rego-cpp mishandles); the engine must end up holding exactly
    # what its own JSON parser gives it.
    doc = {
        "s": "plain", "awkward": AWKWARD, "e": "", AWKWARD: "key",
        "t": True, "f": False, "n": None, "i": -42, "z": 0, "big": 2**62, "x": 0.1, "neg": -2.5,
        "l": [1, "two", [3.0, None], {"k": []}], "o": {"nested": {"deep": [True]}}, "empty": {},
    }
    ours = engine_view(doc)
    assert ours == engine_view(doc, reference=True)
    assert json.loads(ours)["bindings"]["x"] == doc


def test_input_strings_equal_policy_literals_and_come_back_unchanged() -> None:
    literal = json.dumps(AWKWARD, ensure_ascii=False)  # the same text as a Rego string literal
    bundle = bundle_of(f"deny := {{input.s}}\nescalate contains \"same\" if input.s == {literal}")
    decision = evaluate_policy(bundle, {"s": AWKWARD})
    assert decision.error is None, decision.error
    assert decision.deny == [AWKWARD] and decision.escalate == ["same"]


def test_input_edge_values_become_json_values() -> None:
    # tuples are arrays; integers past int64 become floats (JSON has one number type)
    assert engine_view({"t": (1, 2), "huge": 2**70}) == engine_view({"t": [1, 2],
                                                                     "huge": float(2**70)})


def test_an_input_object_key_that_is_not_a_string_denies() -> None:
    decision = evaluate_policy(ALLOW_ALL, {"x": {1: "one"}})
    assert not decision.allowed and decision.error is not None
    assert "object key 1 is not a string" in decision.error


def test_started_evaluations_can_be_collected_in_any_order() -> None:
    bundle = bundle_of('deny contains sprintf("x=%v", [input.x]) if { input.x > 2 }\nescalate := set()')
    pending = [start_policy_evaluation(bundle, {"x": i}) for i in range(6)]
    decisions = [p.result() for p in reversed(pending)][::-1]
    assert [d.deny for d in decisions] == [[], [], [], ["x=3"], ["x=4"], ["x=5"]]
    assert decisions[4] is pending[4].result()  # result() is stable


def test_pooled_interpreters_give_identical_decisions() -> None:
    bundle = bundle_of('deny contains sprintf("x=%v", [input.x]) if { input.x > 2 }\nescalate := set()')
    results = [evaluate_policy(bundle, {"x": i % 5}) for i in range(20)]
    for i, d in enumerate(results):
        assert d.allowed is (i % 5 <= 2)
        assert d.deny == ([] if i % 5 <= 2 else [f"x={i % 5}"])


# ---- the input document ------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_file(WORLD / "catalog.yaml")


@pytest.fixture(scope="module")
def state() -> DeploymentState:
    return DeploymentState.from_flagd(json.loads((WORLD / "flags.json").read_text()))


def test_policy_input_shape(catalog: Catalog, state: DeploymentState) -> None:
    statuses = check_signals(SignalSnapshot.from_file(WORLD / "signals" / "stale.yaml"),
                             ContractSet.from_file(WORLD / "contracts.yaml"), catalog)
    spec = catalog.get("reply-drafter")
    assert spec is not None
    doc = policy_input(PolicyRequest(role="support-lead", region="us"), catalog, [spec], statuses,
                       None, state)
    assert set(doc) == {"request", "features", "signals", "plan", "state"}
    assert doc["request"] == {"role": "support-lead", "region": "us", "purpose": ""}
    assert [f["id"] for f in doc["features"]] == ["reply-drafter"]
    assert doc["plan"] is None
    # only the signals of listed features (stale.yaml's reply-drafter demand, quarantined)
    assert [s["name"] for s in doc["signals"]] == ["reply-drafter.demand"]
    assert all(s["quarantined"] and s["reasons"] for s in doc["signals"])
    # only the state of listed features and their dependencies
    assert sorted(doc["state"]) == ["pii-redactor", "reply-drafter", "ticket-summarizer"]
    assert doc["state"]["pii-redactor"]["enabled"] is True
    assert "description" not in doc["features"][0] and "slo" in doc["features"][0]
    json.dumps(doc)  # JSON-safe


def test_policy_input_carries_the_policy_view_of_a_plan(catalog: Catalog,
                                                        state: DeploymentState) -> None:
    plan = Plan.from_data({"id": "p", "goal": "g", "steps": [
        {"id": "a", "action": "canary", "feature": "answer-synthesizer", "version": "1.0.0",
         "params": {"weight": 5}, "tolerances": [{"metric": "error_rate", "comparator": "<",
                                                  "threshold": 0.01}],
         "compensation": {"id": "u", "action": "rollback", "feature": "answer-synthesizer"}}]})
    doc = policy_input(PolicyRequest(), catalog, [], [], plan, state)
    assert doc["plan"]["steps"] == [{"id": "a", "action": "canary", "feature": "answer-synthesizer",
                                     "version": "1.0.0", "params": {"weight": 5}, "depends_on": []}]
    assert sorted(doc["state"]) == ["answer-synthesizer", "kb-retriever"]
    assert doc["state"]["answer-synthesizer"]["enabled"] is False


TOUCHED = {
    "versions from steps, state and catalog; an undo of its own feature touches nothing new": (
        [{"id": "a", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0",
          "params": {"weight": 5},
          "compensation": {"id": "a-undo", "action": "rollback", "feature": "ticket-summarizer"}},
         {"id": "b", "action": "disable", "feature": "tone-rewriter"},
         {"id": "c", "action": "enable", "feature": "answer-synthesizer"},
         {"id": "d", "action": "noop"},
         {"id": "e", "action": "enable", "feature": "no-such-feature"}],
        ["answer-synthesizer@1.0.0", "ticket-summarizer@1.2.0", "tone-rewriter@1.0.0"]),
    "an undo that activates (the serving version) or acts on another feature is touched": (
        [{"id": "a", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0",
          "params": {"weight": 5},
          "compensation": {"id": "a-undo", "action": "promote", "feature": "ticket-summarizer"}},
         {"id": "b", "action": "enable", "feature": "answer-synthesizer", "version": "1.0.0",
          "compensation": {"id": "b-undo", "action": "rollback", "feature": "tone-rewriter"}}],
        ["answer-synthesizer@1.0.0", "ticket-summarizer@1.1.0", "ticket-summarizer@1.2.0",
         "tone-rewriter@1.0.0"]),
    "a rollback naming a version other than the serving one puts that version before the policy": (
        [{"id": "a", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0",
          "params": {"weight": 5},
          "compensation": {"id": "a-undo", "action": "rollback", "feature": "ticket-summarizer",
                           "params": {"to_version": "1.0.0"}}},
         {"id": "b", "action": "canary", "feature": "tone-rewriter", "version": "1.0.0",
          "params": {"weight": 5},
          "compensation": {"id": "b-undo", "action": "rollback", "feature": "tone-rewriter",
                           "params": {"to_version": "1.0.0"}}}],
        ["ticket-summarizer@1.0.0", "ticket-summarizer@1.2.0", "tone-rewriter@1.0.0"]),
}


@pytest.mark.parametrize("name", list(TOUCHED))
def test_touched_features(name: str, catalog: Catalog, state: DeploymentState) -> None:
    steps, expected = TOUCHED[name]
    plan = Plan.from_data({"id": "p", "goal": "g", "steps": steps})
    assert [f.key for f in touched_features(plan, catalog, state)] == expected


def test_decisions_on_the_world_are_deterministic(catalog: Catalog, state: DeploymentState) -> None:
    bundle = PolicyBundle.load(ROOT / "tools" / "policy_bundle")
    spec = catalog.get("medical-triage")
    assert spec is not None
    doc = policy_input(PolicyRequest(role="clinical-lead", region="us"), catalog, [spec], [],
                       None, state)
    first = evaluate_policy(bundle, doc)
    assert not first.allowed and first.escalate
    again = evaluate_policy(bundle, json.loads(json.dumps(doc)))
    assert again == first
