"""The planning agent: the LangGraph cycle, planners (offline, LLM, scripted), the saga
orchestrator, the chat session and the ``jitplan`` CLI.

Names are exported lazily (PEP 562) so that ``jitplan --help`` imports none of LangGraph.
"""

from __future__ import annotations

from jitplan.contracts.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "build_graph": "graph",
    "run_cycle": "runtime", "resume_cycle": "runtime", "approve_cycle": "runtime",
    "OfflinePlanner": "planners.offline",
    "LlmPlanner": "planners.llm",
    "ScriptedChatModel": "planners.scripted",
    "Planner": "planners.base",
    "ChatSession": "chat",
    "apply_plan": "orchestrator",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
