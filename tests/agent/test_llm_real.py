"""The real ChatLiteLLM path against a real OpenAI-compatible server (``make test-llm``).

Skipped unless ``JITPLAN_TEST_LLM_MODEL`` names a litellm model (e.g. ``openai/qwen2.5``) and the
server is configured (``JITPLAN_LLM_API_BASE`` or ``OPENAI_API_BASE``; the API key is optional).
The model must actually plan: the test fails when the cycle falls back to the offline planner
(a failed call, empty answers, or plans that never validate), and never approves a plan that
failed validation. ``make test-llm`` refuses to run without the two variables.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jitplan.agent.runtime import run_cycle
from jitplan.contracts.agent import PlanRequest

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
MODEL = os.environ.get("JITPLAN_TEST_LLM_MODEL")
BASE = os.environ.get("JITPLAN_LLM_API_BASE") or os.environ.get("OPENAI_API_BASE")

pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(not (MODEL and BASE), reason="set JITPLAN_TEST_LLM_MODEL and JITPLAN_LLM_API_BASE"),
]


def test_real_model_plans_a_demand_rise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MODEL and BASE
    monkeypatch.setenv("JITPLAN_LLM_API_BASE", BASE)
    req = PlanRequest(
        catalog=str(WORLD / "catalog.yaml"), signals=str(WORLD / "signals" / "demand-rise.yaml"),
        contracts=str(WORLD / "contracts.yaml"), state=str(WORLD / "flags.json"),
        policy=str(ROOT / "tools" / "policy_bundle"), model=MODEL, replications=2, max_revisions=2,
        role="operator", region="eu", use_cache=False,
    )
    res = run_cycle(req)
    assert res.status == "done" and res.decision in ("approved", "rejected", "escalated", "noop")
    fallback = [r for r in res.reasons if "falling back to the offline plan" in r]
    assert not fallback, "\n".join(res.reasons)
    assert res.planner == f"llm:{MODEL}", res.reasons
    assert res.llm["calls"] >= 1 and res.llm["failed_calls"] == 0, res.llm
    if res.decision == "approved":
        assert res.validation["ok"] and res.simulation["passed"]
