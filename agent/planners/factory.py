"""Pick the planner for ``--model``: none -> offline rules; ``scripted:FILE``; else litellm.

The litellm chat model makes exactly one HTTP attempt per call (LangChain's and the OpenAI
SDK's own retries are off); ``LlmPlanner`` retries, bounded by ``JITPLAN_LLM_MAX_RETRIES``, so
every attempt is counted and traced. The API key is optional: with ``JITPLAN_LLM_API_BASE`` set
and no key anywhere (``JITPLAN_LLM_API_KEY`` or the provider's own variable), a placeholder key
is sent, which local OpenAI-compatible servers ignore.
"""

from __future__ import annotations

__all__ = ["NO_KEY", "chat_model", "make_planner"]

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jitplan.agent.nodes.common import CycleInputs
    from jitplan.agent.planners.base import Planner

NO_KEY = "no-key"
"""The key sent to a configured ``JITPLAN_LLM_API_BASE`` when no key is set."""


def chat_model(model: str) -> Any:
    """The ``ChatLiteLLM`` for ``model`` (one HTTP attempt per call; settings from the env)."""
    from jitplan.contracts.settings import get_settings

    settings = get_settings()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm
    from langchain_litellm import ChatLiteLLM

    litellm.suppress_debug_info = True  # it would print help banners on stdout (breaks --json)

    kwargs: dict[str, Any] = {
        "model": model, "temperature": 0.0,
        "max_retries": 1,  # LangChain's tenacity: stop after 1 attempt (LlmPlanner retries)
        "model_kwargs": {"max_retries": 0},  # the OpenAI SDK's own retries (default 2): off
        "request_timeout": settings.llm_timeout_s,
    }
    base = settings.llm_api_base
    if base:
        kwargs["api_base"] = base
    if settings.llm_api_key is not None:
        kwargs["api_key"] = settings.llm_api_key.get_secret_value()
    elif base:
        try:
            found = bool(litellm.validate_environment(model=model, api_base=base).get("keys_in_environment"))
        except Exception:  # an unknown provider: litellm cannot say, so send the placeholder
            found = False
        if not found:
            kwargs["api_key"] = NO_KEY
    return ChatLiteLLM(**kwargs)


def make_planner(model: str | None, *, cin: CycleInputs, llm_totals: dict[str, Any]) -> Planner:
    """The planner for one draft; LLM planners resume their per-cycle call budget."""
    from jitplan.agent.planners.offline import OfflinePlanner

    if not model or model == "offline":
        return OfflinePlanner()
    from jitplan.agent.planners.llm import LlmPlanner
    from jitplan.contracts.settings import get_settings
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
        "max_retries": get_settings().llm_max_retries,
    }
    if model.startswith("scripted:"):
        from jitplan.agent.planners.scripted import ScriptedChatModel

        path = model.removeprefix("scripted:")
        return LlmPlanner(ScriptedChatModel.from_file(path, start=used), name=model, **common)
    return LlmPlanner(chat_model(model), name=f"llm:{model}", **common)
