"""tools.lc_tools: the LangChain tools the LLM planner calls."""

from __future__ import annotations

import json
from pathlib import Path

from langchain_core.utils.function_calling import convert_to_openai_tool

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.loading import load_document
from jitplan.contracts.policy import PolicyRequest
from jitplan.contracts.signals import ContractSet, SignalSnapshot
from jitplan.contracts.state import DeploymentState
from jitplan.tools.lc_tools import TOOL_NAMES, ToolContext, make_tools, run_tool
from jitplan.tools.policy import PolicyBundle
from jitplan.tools.signal_check import check_signals

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"


def _ctx(signals: str = "demand-rise", role: str = "operator") -> ToolContext:
    cat = Catalog.from_file(WORLD / "catalog.yaml")
    snap = SignalSnapshot.from_file(WORLD / "signals" / f"{signals}.yaml")
    statuses = check_signals(snap, ContractSet.from_file(WORLD / "contracts.yaml"), cat)
    state = DeploymentState.from_flagd(load_document(WORLD / "flags.json"))
    return ToolContext(cat, tuple(statuses), state, PolicyBundle.load(ROOT / "tools" / "policy_bundle"),
                       PolicyRequest(role=role), replications=1)


def _call(ctx: ToolContext, name: str, **args: object) -> object:
    return json.loads(run_tool(ctx, name, dict(args)))


def test_every_tool_has_a_schema() -> None:
    tools = make_tools(_ctx())
    assert tuple(t.name for t in tools) == TOOL_NAMES
    for t in tools:
        spec = convert_to_openai_tool(t)
        assert spec["function"]["description"] and spec["function"]["parameters"]["type"] == "object"


def test_catalog_tools() -> None:
    ctx = _ctx()
    hits = _call(ctx, "search_catalog", query="help centre")
    assert {h["id"] for h in hits} >= {"kb-retriever", "answer-synthesizer"}  # type: ignore[union-attr]
    feat = _call(ctx, "get_feature", feature_id="ticket-summarizer", version="1.1.0")
    assert feat["version"] == "1.1.0" and feat["all_versions"] == ["1.0.0", "1.1.0", "1.2.0"]  # type: ignore[index]
    assert feat["deployed"]["version"] == "1.1.0"  # type: ignore[index]
    assert "unknown feature" in _call(ctx, "get_feature", feature_id="voice-bot")["error"]  # type: ignore[index]
    deps = _call(ctx, "dependency_graph", feature_id="reply-drafter")
    assert deps["order"] == ["pii-redactor", "ticket-summarizer"]  # type: ignore[index]


def test_signal_cost_and_policy_tools() -> None:
    ctx = _ctx("stale")
    sig = _call(ctx, "read_signals", feature_id="answer-synthesizer")
    assert sig[0]["verdict"] == "quarantined" and "stale" in sig[0]["reasons"][0]  # type: ignore[index]
    cost = _call(ctx, "estimate_cost", feature_id="answer-synthesizer", demand_rpm=180)
    assert isinstance(cost, dict) and cost["daily_usd"] == 233.28 and cost["daily_limit_usd"] == 300.0
    pol = _call(_ctx(role="payments-lead"), "check_policy", feature_ids=["answer-synthesizer"])
    assert pol["allowed"] is False and any("payments-lead" in d for d in pol["deny"])  # type: ignore[index]


def test_validate_and_simulate_tools() -> None:
    ctx = _ctx()
    bad = {"id": "p", "goal": "g", "steps": [{"id": "s1", "action": "enable", "feature": "nope"}]}
    rep = _call(ctx, "validate_plan", plan=json.dumps(bad))
    assert rep["ok"] is False and "unknown_feature" in {v["code"] for v in rep["violations"]}  # type: ignore[index]
    noop = {"id": "p", "goal": "g", "steps": [{"id": "s1", "action": "noop"}]}
    sim = _call(ctx, "simulate_plan", plan=json.dumps(noop))
    assert sim["passed"] is True  # type: ignore[index]
    assert "error" in _call(ctx, "simulate_plan", plan="{\"id\": 1}")  # type: ignore[operator]
