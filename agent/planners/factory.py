"""Pick the planner for ``--model``: none -> offline rules; ``scripted:FILE``; else litellm."""

from __future__ import annotations

__all__ = ["make_planner"]

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jitplan.agent.nodes.common import CycleInputs
    from jitplan.agent.planners.base import Planner


def _chat_model(model: str) -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm
    from langchain_litellm import ChatLiteLLM

    litellm.suppress_debug_info = True  # it would print help banners on stdout (breaks --json)

    kwargs: dict[str, Any] = {"model": model, "temperature": 0.0, "max_retries": 1,
                              "request_timeout": float(os.environ.get("JITPLAN_LLM_TIMEOUT_S", "120"))}
    base = os.environ.get("JITPLAN_LLM_API_BASE")
    if base:
        kwargs["api_base"] = base
    key = os.environ.get("JITPLAN_LLM_API_KEY")
    if key:
        kwargs["api_key"] = key
    return ChatLiteLLM(**kwargs)


def make_planner(model: str | None, *, cin: CycleInputs, llm_totals: dict[str, Any]) -> Planner:
    """The planner for one draft; LLM planners resume their per-cycle call budget."""
    from jitplan.agent.planners.offline import OfflinePlanner

    if not model or model == "offline":
        return OfflinePlanner()
    from jitplan.agent.planners.llm import LlmPlanner
    from jitplan.tools.lc_tools import ToolContext
    from jitplan.tools.signal_check import check_signals

    statuses = check_signals(cin.snapshot, cin.contracts, cin.catalog, cin.now)
    ctx = ToolContext(cin.catalog, tuple(statuses), cin.state, cin.policy, cin.policy_request,
                      replications=min(3, cin.request.replications), evidence=cin.evidence)
    used = int(llm_totals.get("calls", 0))
    common: dict[str, Any] = {
        "tools": ctx,
        "max_calls": cin.request.max_llm_calls,
        "max_tool_calls": cin.request.max_tool_calls,
        "used_calls": used,
        "used_tool_calls": int(llm_totals.get("tool_calls", 0)),
    }
    if model.startswith("scripted:"):
        from jitplan.agent.planners.scripted import ScriptedChatModel

        path = model.removeprefix("scripted:")
        return LlmPlanner(ScriptedChatModel.from_file(path, start=used), name=model, **common)
    return LlmPlanner(_chat_model(model), name=f"llm:{model}", **common)
