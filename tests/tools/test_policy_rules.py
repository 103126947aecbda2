"""Deny-by-default, reason by reason (found by ``make mutation``): every way the policy engine can
fail denies with the exact reason an operator reads, and the built-in scan sees code, not text.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.errors import UserError
from jitplan.tools import policy as P
from jitplan.tools.policy import (
    NO_POLICY_ESCALATION,
    PolicyBundle,
    evaluate_policy,
    forbidden_builtins,
    start_policy_evaluation,
)

HEADER = "package jitplan\nimport rego.v1\n"
CLEAN = 'deny contains "never" if { false }\nescalate := set()'


def bundle_of(body: str, name: str = "p.rego") -> PolicyBundle:
    return PolicyBundle.from_sources([(name, HEADER + body + "\n")])


def assert_denied(decision: Any, reason: str) -> None:
    assert not decision.allowed
    assert decision.error == reason and decision.deny == [reason] and decision.escalate == []


# ---- the engine unavailable or failing -------------------------------------------------------


def test_engine_unavailable_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(bundle: PolicyBundle) -> Any:
        raise ImportError("No module named 'regopy'")

    monkeypatch.setattr(P, "_acquire", broken)
    b = bundle_of(CLEAN)
    d = evaluate_policy(b, {"request": {}})
    assert_denied(d, "policy engine unavailable: ImportError: No module named 'regopy'")
    assert d.bundle_sha256 == b.sha256


def test_query_crash_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(engine: Any) -> Any:
        raise RuntimeError("segfault avoided")

    monkeypatch.setattr(P, "_run_query", crash)
    assert_denied(evaluate_policy(bundle_of(CLEAN), {}), "policy evaluation error: RuntimeError: segfault avoided")


def test_input_that_cannot_be_built_denies() -> None:
    d = evaluate_policy(bundle_of(CLEAN), {"x": object()})
    assert not d.allowed and d.error is not None
    assert d.error == "policy evaluation error: the input document: ValueError: cannot pass a object to the policy engine"


def test_compile_errors_name_the_file_and_the_first_error() -> None:
    d = evaluate_policy(bundle_of("deny contains x if {", name="rules/bad.rego"), {})
    assert d.error is not None and d.error.startswith("policy bundle does not compile: rules/bad.rego: ")
    assert "\n" not in d.error and d.error != "policy bundle does not compile: rules/bad.rego: "


def test_undefined_and_malformed_results_give_the_exact_reason() -> None:
    assert_denied(evaluate_policy(bundle_of("escalate := set()"), {}),
                  "policy result undefined: package jitplan must define rules deny and escalate")
    assert_denied(evaluate_policy(bundle_of("deny := 5\nescalate := set()"), {}),
                  "policy result malformed: deny and escalate must be sets of strings (got int and list)")
    assert_denied(evaluate_policy(bundle_of('deny := set()\nescalate := "yes"'), {}),
                  "policy result malformed: deny and escalate must be sets of strings (got list and str)")


def test_runtime_errors_carry_the_engines_message() -> None:
    d = evaluate_policy(bundle_of('deny contains x if { x := to_number("abc") }\nescalate := set()'), {})
    assert_denied(d, "policy evaluation error: invalid syntax (eval_builtin_error)")


def test_reasons_are_deduplicated_and_sorted() -> None:
    b = bundle_of('deny contains "b" if { true }\ndeny contains "a" if { true }\n'
                  'escalate contains "z" if { true }\nescalate contains "y" if { true }')
    d = evaluate_policy(b, {})
    assert (d.allowed, d.deny, d.escalate, d.error) == (False, ["a", "b"], ["y", "z"], None)


def test_governance_refusals_join_every_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P, "governance_refusals", lambda doc: ["role viewer may not touch x", "role viewer may not touch x"])
    ok = evaluate_policy(bundle_of(CLEAN), {})
    assert ok.deny == ["role viewer may not touch x"] and not ok.allowed and ok.error is None
    bad = evaluate_policy(bundle_of("escalate := set()"), {})
    assert bad.deny == ["policy result undefined: package jitplan must define rules deny and escalate",
                        "role viewer may not touch x"]
    off = evaluate_policy(PolicyBundle.no_policy(), {})
    assert off.deny == ["role viewer may not touch x"] and not off.allowed


def test_no_policy_always_escalates() -> None:
    b = PolicyBundle.no_policy()
    assert b.disabled and b.files == () and b.path == "(none: --no-policy)" and len(b.sha256) == 64
    d = evaluate_policy(b, {"request": {}})
    assert (d.allowed, d.deny, d.escalate, d.error) == (True, [], [NO_POLICY_ESCALATION], None)
    assert d.bundle_sha256 == b.sha256
    assert NO_POLICY_ESCALATION.startswith("policy disabled (--no-policy)")


def test_forbidden_builtins_deny_naming_every_use() -> None:
    b = PolicyBundle.from_sources([
        ("b.rego", HEADER + "deny contains x if { x := sprintf(\"%v\", [rand.intn(\"k\", 3)]) }\n"),
        ("a.rego", HEADER + "escalate contains x if { time.now_ns() > 0; x := \"t\" }\n"),
    ])
    assert b.forbidden == ("a.rego:3: time.now_ns", "b.rego:3: rand.intn")
    assert_denied(evaluate_policy(b, {}), "policy bundle refused: non-deterministic built-ins are not allowed: "
                                          "a.rego:3: time.now_ns, b.rego:3: rand.intn")


def test_the_decision_is_computed_once() -> None:
    pending = start_policy_evaluation(bundle_of('deny contains "x" if { input.a }\nescalate := set()'), {"a": True})
    first = pending.result()
    assert first.deny == ["x"] and pending.result() is first


# ---- the built-in scan -----------------------------------------------------------------------


@pytest.mark.parametrize(("source", "found"), [
    ('x := "a \\" time.now_ns() \\" b"\ny := time.now_ns()', ["2: time.now_ns"]),
    ("x := `raw\ntime.now_ns()\nstill raw`\ny := uuid.rfc4122(\"a\")", ["4: uuid.rfc4122"]),
    ("x := 1 # rand.intn\ny := http.send({})", ["2: http.send"]),
    ("a.time.now_ns()\nmytime.now_ns()\ntime_x.now()", []),
    ("opa.runtime()\ncrypto.x509.parse_and_verify_certificates_with_options(a, b)",
     ["1: opa.runtime", "2: crypto.x509.parse_and_verify_certificates_with_options"]),
    ("x := time.now_ns() + time.clock([1, \"UTC\"])", ["1: time.now_ns", "1: time.clock"]),
    ('x := "\\\\"\ny := rand.intn("a", 1)', ["2: rand.intn"]),
])
def test_scan_sees_code_not_strings_or_comments(source: str, found: list[str]) -> None:
    assert forbidden_builtins(source, "f.rego") == [f"f.rego:{x}" for x in found]
    assert forbidden_builtins("time.now_ns()") == ["<module>:1: time.now_ns"]


# ---- loading bundles -------------------------------------------------------------------------


def test_load_limits_and_errors(tmp_path: Path) -> None:
    for i in range(P.MAX_BUNDLE_FILES):
        (tmp_path / f"p{i:03}.rego").write_text(HEADER)
    assert len(PolicyBundle.load(tmp_path).files) == P.MAX_BUNDLE_FILES
    (tmp_path / "one-more.rego").write_text(HEADER)
    with pytest.raises(UserError, match=r"^.*201 \.rego files, more than the 200-file limit$"):
        PolicyBundle.load(tmp_path)
    (tmp_path / "dir.rego").mkdir()  # a directory named like a policy is not a file
    with pytest.raises(UserError, match=r"201 \.rego files"):
        PolicyBundle.load(tmp_path)
    with pytest.raises(UserError, match="policy bundle directory not found") as info:
        PolicyBundle.load(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(info.value)


def test_from_sources_orders_files_and_hashes_names_and_contents() -> None:
    a, b = ("a.rego", HEADER), ("b.rego", HEADER + CLEAN)
    one = PolicyBundle.from_sources([b, a])
    assert one.files == (a, b) and one.sha256 == PolicyBundle.from_sources([a, b]).sha256
    assert one.path == "<memory>" and PolicyBundle.from_sources([a], path="x").path == "x"
    joined = PolicyBundle.from_sources([("ab.rego", HEADER)]).sha256
    assert joined != PolicyBundle.from_sources([("a", "b.rego" + HEADER)]).sha256


def test_the_default_bundle_is_the_shipped_rego_files() -> None:
    d = PolicyBundle.default()
    root = Path(__file__).resolve().parents[2] / "tools" / "policy_bundle"
    on_disk = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.rego"))
    assert [n for n, _ in d.files] == on_disk and on_disk
    assert d.sha256 == PolicyBundle.load(root).sha256 and d.path.endswith("policy_bundle")
    assert not d.forbidden and not d.disabled


def test_default_bundle_missing_or_empty(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.resources

    monkeypatch.setattr(importlib.resources, "files", lambda pkg: tmp_path)
    with pytest.raises(UserError, match="the default policy bundle is not installed"):
        PolicyBundle.default()
    (tmp_path / "policy_bundle" / "sub").mkdir(parents=True)
    (tmp_path / "policy_bundle" / "README.md").write_text("x")
    with pytest.raises(UserError, match=r"no \.rego files in the installed default policy bundle"):
        PolicyBundle.default()
    (tmp_path / "policy_bundle" / "sub" / "z.rego").write_text(HEADER)
    (tmp_path / "policy_bundle" / "a.rego").write_text(HEADER)
    assert [n for n, _ in PolicyBundle.default().files] == ["a.rego", "sub/z.rego"]


# ---- exact texts and hashes (found by make mutation) -----------------------------------------


def test_compile_error_text_is_the_engines_first_error() -> None:
    d = evaluate_policy(bundle_of("deny contains x if {", name="rules/bad.rego"), {})
    assert d.error == "policy bundle does not compile: rules/bad.rego: this is unclosed"


def test_bundle_hashes_are_pinned_to_their_formula() -> None:
    files = [("b.rego", HEADER + CLEAN), ("a.rego", HEADER)]
    h = hashlib.sha256()
    for name, text in sorted(files):
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    assert PolicyBundle.from_sources(files).sha256 == h.hexdigest()
    assert PolicyBundle.no_policy().sha256 == hashlib.sha256(b"jitplan:no-policy").hexdigest()


def test_load_errors_name_the_directory_exactly(tmp_path: Path) -> None:
    def message(target: Path) -> str:
        with pytest.raises(UserError) as info:
            PolicyBundle.load(target)
        return str(info.value)

    assert message(tmp_path / "nope") == f"{tmp_path / 'nope'}: policy bundle directory not found"
    (tmp_path / "f.rego").write_text(HEADER)
    assert message(tmp_path / "f.rego") == f"{tmp_path / 'f.rego'}: expected a directory of .rego files"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert message(empty) == f"{empty}: no .rego files in the policy bundle directory"
    many = tmp_path / "many"
    many.mkdir()
    for i in range(P.MAX_BUNDLE_FILES + 1):
        (many / f"p{i:03}.rego").write_text(HEADER)
    assert message(many) == f"{many}: 201 .rego files, more than the 200-file limit"
    ok = tmp_path / "ok"
    ok.mkdir()
    (ok / "a.rego").write_text(HEADER)
    assert PolicyBundle.load(ok).path == str(ok)


def test_default_bundle_errors_name_where_to_look(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.resources

    monkeypatch.setattr(importlib.resources, "files", lambda pkg: tmp_path)
    with pytest.raises(UserError) as info:
        PolicyBundle.default()
    assert str(info.value) == ("--policy: the default policy bundle is not installed (package data "
                               "jitplan/tools/policy_bundle); reinstall jitplan or pass --policy DIR")
    (tmp_path / "policy_bundle").mkdir()
    with pytest.raises(UserError) as info:
        PolicyBundle.default()
    assert str(info.value) == f"{tmp_path / 'policy_bundle'}: no .rego files in the installed default policy bundle"


@pytest.mark.parametrize(("source", "found"), [
    ("x := 1 # time.now_ns()", []),                      # a comment at the very end
    ('x := "time.now_ns()', []),                         # an unterminated string at the very end
    ("x := `time.now_ns()", []),                         # an unterminated raw string at the very end
    ('x := "a"time.now_ns()', ["1: time.now_ns"]),       # right after a string
    ("x := time.now_ns\"a\"", ["1: time.now_ns"]),        # right before a string
    ("x := `a`time.now_ns()", ["1: time.now_ns"]),       # right after a raw string
    ("x := `a\n`time.now_ns()", ["2: time.now_ns"]),     # a raw string ending on the next line
])
def test_scan_edges(source: str, found: list[str]) -> None:
    assert forbidden_builtins(source, "f.rego") == [f"f.rego:{x}" for x in found]


def test_an_unterminated_string_ends_at_its_line() -> None:
    found = forbidden_builtins('x := "abc\ny := time.now_ns()', "f.rego")
    assert len(found) == 1 and found[0].endswith(": time.now_ns")
