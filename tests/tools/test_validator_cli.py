"""`jitplan validate` and `jitplan policy eval` end to end (in-process CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
GOOD = ROOT / "tests" / "policies" / "plans" / "good-summarizer-canary.json"
CTX = ["--catalog", WORLD / "catalog.yaml", "--state", WORLD / "flags.json"]


def sig(name: str) -> list[object]:
    return ["--signals", WORLD / "signals" / f"{name}.yaml", "--contracts", WORLD / "contracts.yaml"]


def test_valid_plan_exits_0(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("validate", GOOD, *CTX, *sig("steady"))
    assert r.code == 0, r.out + r.err
    assert "valid" in r.out and "policy" in r.out


def test_invalid_plan_exits_1_and_lists_violations(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("validate", GOOD, *CTX, *sig("stale"))
    assert r.code == 1
    assert "[quarantined_signal] step s1" in r.out and "[policy_deny]" in r.out
    assert "quarantined signals:" in r.out


def test_json_output(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(GOOD.read_text())
    doc["steps"][1]["params"]["weight"] = 5
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(doc))
    r = cli("validate", plan, *CTX, *sig("stale"), "--json")
    assert r.code == 1
    out = json.loads(r.out)
    assert out["valid"] is False and out["ok"] is False
    codes = {v["code"] for v in out["violations"]}
    assert {"canary_weight_decreasing", "quarantined_signal", "policy_deny"} <= codes
    assert set(out["inputs"]) == {"plan", "catalog", "signals", "state", "policy"}
    assert out["policy"]["bundle_sha256"] == out["inputs"]["policy"]
    assert "ticket-summarizer.drift" in out["quarantined_signals"]


def test_role_and_region_are_passed_to_the_policy(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("validate", GOOD, *CTX, "--as", "payments-lead", "--region", "apac", "--json")
    assert r.code == 1
    messages = " ".join(v["message"] for v in json.loads(r.out)["violations"])
    assert 'role "payments-lead"' in messages and 'region "apac"' in messages


def test_no_policy_is_noted_escalates_and_is_audited(cli) -> None:  # type: ignore[no-untyped-def]
    from jitplan.tools.audit import AuditLog

    r = cli("validate", GOOD, *CTX, "--no-policy", "--json")
    assert r.code == 0
    out = json.loads(r.out)
    assert out["policy_disabled"] is True and out["policy_dir"] is None
    assert "--no-policy" in out["note"] and any("--no-policy" in e for e in out["escalate"])
    with AuditLog.open() as log:
        assert [x.kind for x in log.records()] == ["policy_disabled"]


def test_schema_violations_are_exit_1_not_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"id": "p", "goal": "g", "steps": [{"id": "s", "action": "launch"}]}))
    r = cli("validate", plan, *CTX)
    assert r.code == 1 and "[out_of_scope]" in r.out


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        (lambda p: None, [], "file not found"),
        (lambda p: p.write_text("{not json"), [], "malformed JSON"),
        (lambda p: p.write_text("[1, 2]"), [], "expected a mapping"),
        (lambda p: p.write_text("{}"), ["--signals", WORLD / "signals" / "steady.yaml"], "--contracts"),
        (lambda p: p.write_text("{}"), ["--policy", "/nonexistent/bundle"], "policy bundle directory not found"),
        (lambda p: p.write_text("{}"), ["--as", "bad role!"], "role"),
    ],
    ids=["missing", "malformed", "not-a-mapping", "signals-without-contracts", "missing-policy", "bad-role"],
)
def test_bad_input_exits_2_with_one_clear_message(cli, tmp_path: Path, setup, extra, message) -> None:  # type: ignore[no-untyped-def]
    plan = tmp_path / "plan.json"
    setup(plan)
    r = cli("validate", plan, *CTX, *extra)
    assert r.code == 2, r.out + r.err
    assert message in r.err and "Traceback" not in r.err


def test_bad_state_file_exits_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "flags.json"
    state.write_text(json.dumps({"flags": {"x": {"variants": {}}}}))
    r = cli("validate", GOOD, "--catalog", WORLD / "catalog.yaml", "--state", state)
    assert r.code == 2 and "flags.x.variants" in r.err


# ---- policy eval ---------------------------------------------------------------------------


def test_policy_eval_allowed_with_escalation(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("policy", "eval", "--feature", "refund-advisor", *CTX, "--json")
    out = json.loads(r.out)
    # pii-redactor serves 1.0.0 and refund-advisor needs >=1.1 — the policy only checks that a
    # redactor is active; version ranges are the validator's job.
    assert r.code == 0 and out["allowed"] is True
    assert any("high risk" in e for e in out["escalate"])
    assert out["feature"] == "refund-advisor@1.0.0"


def test_policy_eval_denied(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("policy", "eval", "--feature", "medical-triage", "--as", "clinical-lead",
            "--region", "us", *CTX)
    assert r.code == 1
    assert "DENIED" in r.out and 'region "us"' in r.out and "escalate:" in r.out


def test_policy_eval_uses_signals(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("policy", "eval", "--feature", "answer-synthesizer", *CTX, *sig("stale"), "--json")
    assert r.code == 1
    assert any("quarantined" in d for d in json.loads(r.out)["deny"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--feature", "voice-bot"], "not in the catalog"),
        (["--feature", "pii-redactor", "--version", "7.0.0"], "known: 1.0.0, 1.1.0"),
        (["--feature", "pii-redactor", "--timeout", "0"], "--timeout"),
    ],
)
def test_policy_eval_bad_input(cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    r = cli("policy", "eval", *args, *CTX)
    assert r.code == 2 and message in r.err


def test_policy_eval_with_a_broken_bundle_denies(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "p.rego").write_text("package jitplan\nimport rego.v1\ndeny contains x if { x := time.now_ns() }\n")
    r = cli("policy", "eval", "--feature", "tone-rewriter", *CTX, "--policy", tmp_path, "--json")
    assert r.code == 1
    out = json.loads(r.out)
    assert out["allowed"] is False and "non-deterministic" in out["error"]
