"""The real ChatLiteLLM path against a local OpenAI-compatible server (``make test-llm``).

Skipped unless ``JITPLAN_TEST_LLM_MODEL`` names a litellm model (e.g. ``openai/qwen2.5``) and the
server is configured (``JITPLAN_LLM_API_BASE`` or ``OPENAI_API_BASE``; ``OPENAI_API_KEY`` may be
any string for local servers). Whatever the model answers, the cycle must finish with a decision
and never approve a plan that failed validation.
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


def test_real_model_plans_a_demand_rise() -> None:
    if BASE and not os.environ.get("JITPLAN_LLM_API_BASE"):
        os.environ["JITPLAN_LLM_API_BASE"] = BASE
    req = PlanRequest(
        catalog=str(WORLD / "catalog.yaml"), signals=str(WORLD / "signals" / "demand-rise.yaml"),
        contracts=str(WORLD / "contracts.yaml"), state=str(WORLD / "flags.json"),
        policy=str(ROOT / "tools" / "policy_bundle"), model=MODEL, replications=2, max_revisions=1,
        role="operator", region="eu",
    )
    res = run_cycle(req)
    assert res.status == "done" and res.decision in ("approved", "rejected", "escalated", "noop")
    assert res.llm.get("calls", 0) >= 1
    if res.decision == "approved":
        assert res.validation["ok"] and res.simulation["passed"]
