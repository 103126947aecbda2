"""``jitplan plan`` / ``jitplan approve`` through the CLI entry point (in-process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"


def _args(signals: str | Path, *extra: str) -> list[str]:
    sig = signals if isinstance(signals, Path) else WORLD / "signals" / f"{signals}.yaml"
    return ["plan", "--catalog", str(WORLD / "catalog.yaml"), "--signals", str(sig),
            "--contracts", str(WORLD / "contracts.yaml"), "--state", str(WORLD / "flags.json"),
            "--policy", str(ROOT / "tools" / "policy_bundle"), "--replications", "3",
            "--evidence", str(WORLD / "evidence"), *extra]


def test_plan_json_has_the_documented_shape(cli: Any) -> None:
    r = cli(*_args("demand-rise", "--json"))
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    for key in ("plan", "decision", "reasons", "validation", "simulation", "quarantined", "thread_id", "fast_path"):
        assert key in doc
    assert doc["decision"] == "approved" and doc["fast_path"] is False
    assert doc["validation"]["ok"] is True and doc["validation"]["violations"] == []
    assert doc["simulation"]["passed"] is True
    assert all("latency_p95_s" in m and "error_rate" in m for m in doc["simulation"]["scenarios"].values())
    assert doc["plan"]["steps"][0]["action"] == "canary"


def test_plan_noop_and_rejected_exit_codes(cli: Any) -> None:
    r = cli(*_args("steady", "--json"))
    assert r.code == 0 and json.loads(r.out)["decision"] == "noop" and json.loads(r.out)["fast_path"] is True
    r = cli(*_args("steady", "--json", "--as", "payments-lead", "--request", "enable answer-synthesizer"))
    doc = json.loads(r.out)
    assert r.code == 1 and doc["decision"] == "rejected"
    assert "policy_deny" in {v["code"] for v in doc["validation"]["violations"]}


def test_plan_human_readable_output(cli: Any) -> None:
    r = cli(*_args("demand-rise"))
    assert r.code == 0
    assert "decision approved" in r.out and "answer-synthesizer" in r.out and "validation ok" in r.out
    assert "simulation passed" in r.out


def test_escalate_then_approve_via_cli(cli: Any) -> None:
    r = cli(*_args("steady", "--json", "--request", "enable refund-advisor"))
    doc = json.loads(r.out)
    assert r.code == 0 and doc["decision"] == "escalated"
    tid = doc["thread_id"]
    r = cli("approve", tid, "--as", "sql-nobody", "--json")
    assert r.code == 2 and "may not approve" in r.err
    r = cli("approve", tid, "--as", "payments-lead", "--comment", "ok", "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["decision"] == "approved" and out["approval"]["by"] == "payments-lead"
    assert out["plan_sha256"] == doc["plan_sha256"]
    r = cli("approve", tid, "--json")
    assert r.code == 2 and "not waiting for approval" in r.err


def test_approve_reject_exit_code(cli: Any) -> None:
    doc = json.loads(cli(*_args("steady", "--json", "--request", "enable refund-advisor")).out)
    r = cli("approve", doc["thread_id"], "--reject", "--json")
    assert r.code == 1 and json.loads(r.out)["decision"] == "rejected"


def test_a_10_mb_signal_file_is_refused(cli: Any, tmp_path: Path) -> None:
    big = tmp_path / "huge.yaml"
    line = "# " + "x" * 1000 + "\n"
    big.write_text("observed_at: 2026-11-26T12:00:00Z\nsignals: []\n" + line * 10_500)
    assert big.stat().st_size > 10_000_000
    r = cli(*_args(big))
    assert r.code == 2
    assert "huge.yaml" in r.err and "limit" in r.err and "Traceback" not in r.err


def test_bad_inputs_are_one_clear_error(cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("observed_at: [unclosed\n")
    r = cli(*_args(bad))
    assert r.code == 2 and "bad.yaml" in r.err and "malformed YAML" in r.err
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("observed_at: 2026-11-26T12:00:00Z\nsignals:\n  - {name: x, kind: vibes, feature: a, value: 1, unit: rpm, observed_at: 2026-11-26T12:00:00Z}\n")
    r = cli(*_args(wrong))
    assert r.code == 2 and "wrong.yaml" in r.err and "signals[0].kind" in r.err
    r = cli(*_args("steady", "--request", "make it all better please"))
    assert r.code == 2 and "--request" in r.err and "enable answer-synthesizer" in r.err
    r = cli("plan", "--signals", str(WORLD / "signals" / "steady.yaml"))
    assert r.code == 2 and "--catalog is required" in r.err
    r = cli(*_args("steady", "--model", f"scripted:{tmp_path / 'missing.yaml'}"))
    assert r.code == 2 and "missing.yaml" in r.err and "not found" in r.err
    r = cli("plan", "--resume", "cycle-000000000000")
    assert r.code == 2 and "no planning cycle" in r.err
    for out in (r.err,):
        assert "Traceback" not in out


def test_plan_approve_apply_handshake(cli: Any, tmp_path: Path) -> None:
    import shutil

    flags = tmp_path / "flags.json"
    shutil.copy(WORLD / "flags.json", flags)
    plan_file = tmp_path / "plan.json"
    args = [a if a != str(WORLD / "flags.json") else str(flags) for a in _args("steady")]
    r = cli(*args, "--request", "refresh ticket-summarizer prompt", "--out", str(plan_file), "--json")
    doc = json.loads(r.out)
    assert r.code == 0 and doc["decision"] == "approved", doc["reasons"]
    assert json.loads(plan_file.read_text()) == doc["plan"]
    # The orchestrator accepts the plan: an approval record for its digest with fresh inputs.
    # (the dry run's "a real apply would be refused" note goes to stderr: check both streams)
    r = cli("apply", str(plan_file), "--state", str(flags), "--dry-run")
    assert r.code == 0 and "would be refused" not in r.out + r.err, r.out + r.err
    # A plan nobody approved is refused, and the flags are untouched.
    before = flags.read_text()
    plan_file.write_text(json.dumps({**doc["plan"], "goal": "something else"}))
    r = cli("apply", str(plan_file), "--state", str(flags), "--catalog", str(WORLD / "catalog.yaml"),
            "--dry-run")
    assert r.code == 0, r.out + r.err
    assert "jitplan: note: a real apply would be refused: " in r.err and "not approved" in r.err
    assert "would be refused" not in r.out
    r = cli("apply", str(plan_file), "--state", str(flags), "--signals", str(WORLD / "signals" / "steady.yaml"))
    assert r.code == 1 and "not approved" in (r.err + r.out)
    assert flags.read_text() == before
