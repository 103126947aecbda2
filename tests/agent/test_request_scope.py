"""Issue 16: a request plans what it names (and its dependencies), nothing else.

Other signal-triggered features get their own cycle, thread id and decision; approval is per
plan; a request naming an unknown feature is bad input; signals need their contracts.
Run on a five-feature shop catalog of our own (tests/fixtures/shop) and on the sample world.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "tests" / "fixtures" / "shop"
WORLD = ROOT / "scenarios" / "world"
WHO = ("--as", "operator", "--region", "eu")


def _shop(*extra: str, contracts: bool = True) -> list[str]:
    return ["plan", "--catalog", str(SHOP / "catalog.yaml"), "--signals", str(SHOP / "signals.yaml"),
            *(("--contracts", str(SHOP / "contracts.yaml")) if contracts else ()),
            "--state", str(SHOP / "flags.json"), "--replications", "2", *WHO, *extra]


def _features(plan: dict[str, Any]) -> set[str]:
    return {s["feature"] for s in plan["steps"] if s.get("feature")}


def test_a_request_plans_only_the_feature_it_names(cli: Any) -> None:
    r = cli(*_shop("--request", "roll out product-description to 25%", "--json"))
    doc = json.loads(r.out)
    assert r.code == 0, doc["reasons"]
    # Only the requested feature, never past the requested weight (was: refund-bot at 100% too).
    assert _features(doc["plan"]) == {"product-description"}
    assert max((s["params"].get("weight", 0) for s in doc["plan"]["steps"]), default=0) <= 25
    assert doc["decision"] == "approved"
    scope = doc["scope"]
    assert scope["kind"] == "request" and scope["features"] == ["product-description"]
    # The other triggered feature became its own cycle, with its own thread id and decision.
    [other] = scope["deferred"]
    assert other["feature"] == "refund-bot" and other["findings"][0]["kind"] == "demand"
    assert other["thread_id"] != doc["thread_id"] and other["decision"] == "escalated"
    # Approving the request's plan is not possible (it is decided); refund-bot waits on its own.
    r = cli("approve", doc["thread_id"], "--as", "operator", "--json")
    assert r.code == 2 and "not waiting for approval" in r.err
    r = cli("approve", other["thread_id"], "--as", "operator", "--json")
    sub = json.loads(r.out)
    assert r.code == 0 and sub["decision"] == "approved"
    assert _features(sub["plan"]) == {"refund-bot"} and sub["plan_sha256"] != doc["plan_sha256"]
    assert sub["scope"]["kind"] == "focus" and sub["scope"]["features"] == ["refund-bot"]


def test_the_scope_is_shown_in_the_text_output(cli: Any) -> None:
    r = cli(*_shop("--request", "enable product-description"))
    assert r.code == 0, r.out + r.err
    assert "scope (request): product-description only" in r.out
    assert "refund-bot" in r.out and "escalated" in r.out and "waiting for its own approval" in r.out


def test_a_request_includes_its_dependencies_in_scope(cli: Any) -> None:
    r = cli(*_shop("--request", "enable review-summarizer", "--json"))
    doc = json.loads(r.out)
    assert doc["scope"]["dependencies"] == ["pii-redactor"]
    assert _features(doc["plan"]) <= {"review-summarizer", "pii-redactor"}
    assert {d["feature"] for d in doc["scope"]["deferred"]} == {"product-description", "refund-bot"}


def test_sample_world_request_no_longer_rolls_out_the_triggered_feature(cli: Any) -> None:
    """`enable translation-adapter` on demand-rise planned answer-synthesizer at 100%."""
    r = cli("plan", "--catalog", WORLD / "catalog.yaml", "--signals", WORLD / "signals" / "demand-rise.yaml",
            "--contracts", WORLD / "contracts.yaml", "--state", WORLD / "flags.json", "--replications", "2",
            *WHO, "--request", "enable translation-adapter", "--json")
    doc = json.loads(r.out)
    assert r.code == 0
    assert "answer-synthesizer" not in _features(doc["plan"])
    assert doc["decision"] == "noop"  # translation-adapter already serves
    assert [d["feature"] for d in doc["scope"]["deferred"]] == ["answer-synthesizer"]


def test_without_a_request_every_triggered_feature_is_planned(cli: Any) -> None:
    doc = json.loads(cli(*_shop("--json")).out)
    assert doc["scope"] is None
    assert _features(doc["plan"]) == {"product-description", "refund-bot"}


@pytest.mark.parametrize(("request_text", "expected"), [
    ("enable product-descripton", "did you mean 'product-description'"),
    ("roll out refund-bott to 25%", "did you mean 'refund-bot'"),
    ("enable quantum-oracle", "known features: "),
    ("enable refund-bot@9.9.9", "no version 9.9.9"),
])
def test_an_unknown_feature_in_a_request_is_bad_input(cli: Any, request_text: str, expected: str) -> None:
    r = cli(*_shop("--request", request_text))
    assert r.code == 2, r.out
    assert expected in r.err and "--request" in r.err and "Traceback" not in r.err


def test_signals_without_contracts_are_bad_input(cli: Any) -> None:
    r = cli(*_shop(contracts=False))
    assert r.code == 2, r.out
    assert "--contracts" in r.err and "signals.yaml" in r.err and "simulation passed" not in r.out


def test_chat_with_signals_but_no_contracts_is_bad_input(cli: Any) -> None:
    r = cli("chat", "--catalog", SHOP / "catalog.yaml", "--signals", SHOP / "signals.yaml", *WHO)
    assert r.code == 2 and "--contracts" in r.err and "Traceback" not in r.err


def _chat(cli: Any, monkeypatch: pytest.MonkeyPatch, lines: list[str]) -> Any:
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    return cli("chat", "--catalog", SHOP / "catalog.yaml", "--signals", SHOP / "signals.yaml",
               "--contracts", SHOP / "contracts.yaml", "--state", SHOP / "flags.json",
               "--replications", "2", *WHO)


def _json_blocks(out: str) -> list[dict[str, Any]]:
    dec, docs, i = json.JSONDecoder(), [], 0
    while (i := out.find("\n{", i)) >= 0:
        doc, end = dec.raw_decode(out, i + 1)
        docs.append(doc)
        i = end
    return docs


def test_chat_approval_is_per_plan(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    r = _chat(cli, monkeypatch, ["roll out product-description to 25%", "/approve ok for 25% only", "/json",
                                 "/approve refund-bot checked by payments", "/json", "/quit"])
    assert r.code == 0, r.err
    first, second = _json_blocks(r.out)
    # The scope is shown before any approval, and "/approve ok for 25% only" approved nothing else.
    assert r.out.index("scope (request): product-description only") < r.out.index("/approve refund-bot")
    assert "nothing approved" in r.out
    assert first["decision"] == "approved" and _features(first["plan"]) == {"product-description"}
    assert first["approval"]["auto"] is True
    [other] = first["scope"]["deferred"]
    assert other["feature"] == "refund-bot" and other["decision"] == "escalated"
    # Naming the separate plan approves that plan, and only it.
    [other] = second["scope"]["deferred"]
    assert other["decision"] == "approved"
    assert second["approval"] == first["approval"]


def test_chat_unknown_feature_says_did_you_mean(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    r = _chat(cli, monkeypatch, ["enable product-descripton", "/quit"])
    assert r.code == 0 and "did you mean 'product-description'" in r.out and "decision" not in r.out


_WIDE_PLAN = {
    "id": "plan-wide", "goal": "enable product-description (and refund-bot while we are at it)",
    "steps": [
        {"id": "s1", "action": "canary", "feature": "product-description", "version": "1.0.0",
         "params": {"weight": 5}, "tolerances": [{"metric": "error_rate", "comparator": "<=", "threshold": 0.01}],
         "compensation": {"action": "rollback", "params": {}}},
        {"id": "s2", "action": "canary", "feature": "refund-bot", "version": "1.0.0",
         "params": {"weight": 5}, "tolerances": [{"metric": "error_rate", "comparator": "<=", "threshold": 0.005}],
         "compensation": {"action": "rollback", "params": {}}},
    ],
}


def test_a_model_plan_outside_the_request_scope_fails_validation(cli: Any, tmp_path: Path) -> None:
    """A model may not widen a request either: the out-of-scope step is a violation."""
    from jitplan.tools.audit import opened

    script = tmp_path / "wide.yaml"
    script.write_text(json.dumps({"responses": [{"content": json.dumps(_WIDE_PLAN)}]}))
    r = cli(*_shop("--request", "enable product-description", "--model", f"scripted:{script}",
                   "--max-revisions", "0", "--json"))
    doc = json.loads(r.out)
    with opened() as log:
        first = next(rec.payload for rec in log.records(doc["thread_id"]) if rec.kind == "validation")
    bad = [v for v in first["violations"] if v["code"] == "out_of_scope"]
    assert [v["step"] for v in bad] == ["s2"] and "refund-bot" in bad[0]["message"]
    assert any("falling back to the offline plan" in x for x in doc["reasons"])
    assert _features(doc["plan"]) == {"product-description"}


def test_apply_executes_only_the_requested_plan(cli: Any, tmp_path: Path) -> None:
    """A separate cycle may be approved, but the request's --apply never executes it."""
    import shutil

    flags = tmp_path / "flags.json"
    shutil.copy(SHOP / "flags.json", flags)
    args = [a if a != str(SHOP / "flags.json") else str(flags) for a in _shop()]
    doc = json.loads(cli(*args, "--request", "enable review-summarizer", "--apply", "--json").out)
    other = {d["feature"]: d for d in doc["scope"]["deferred"]}
    assert other["product-description"]["decision"] == "approved"
    sub = json.loads(cli("plan", "--resume", other["product-description"]["thread_id"], "--json").out)
    assert sub["decision"] == "approved" and sub["execution"] is None
    state = json.loads(flags.read_text())["flags"]
    assert state["product-description"]["defaultVariant"] == "off"
    assert state["refund-bot"]["defaultVariant"] == "off"
