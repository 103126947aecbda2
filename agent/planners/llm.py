"""The LLM planner: a chat model with tools, structured answer parsed into a plan draft.

Loop: system prompt (versioned file) + fenced data -> model -> tool calls executed, results
returned (fenced) as ``ToolMessage``s -> final answer parsed as JSON. Parse failures become
``parse`` violations (fed back as a revision), never exceptions. Bounded: at most
``max_calls`` model calls and ``max_tool_calls`` tool calls per cycle (counting earlier drafts).
"""

from __future__ import annotations

__all__ = ["LlmPlanner"]

import hashlib
from typing import TYPE_CHECKING, Any

from jitplan.agent.planners.base import LlmUsage, PlanDraft, PlanningContext
from jitplan.agent.planners.prompting import (
    PROMPT_VERSION,
    fence,
    load_prompt,
    parse_plan_text,
    user_prompt,
)

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

    from jitplan.tools.lc_tools import ToolContext


def _cost(model: str, resp: Any, tin: int, tout: int) -> float:
    meta = getattr(resp, "response_metadata", {}) or {}
    if isinstance(meta.get("cost_usd"), int | float):
        return float(meta["cost_usd"])
    try:
        import litellm

        pin, pout = litellm.cost_per_token(model=model, prompt_tokens=tin, completion_tokens=tout)
        return float(pin + pout)
    except Exception:  # unknown model/pricing: cost unknown, count it as zero
        return 0.0


class LlmPlanner:
    """``Planner`` over any LangChain chat model supporting ``bind_tools``."""

    def __init__(
        self,
        model: BaseChatModel,
        *,
        name: str,
        tools: ToolContext,
        max_calls: int = 12,
        max_tool_calls: int = 24,
        used_calls: int = 0,
        used_tool_calls: int = 0,
    ) -> None:
        self.model = model
        self.name = name
        self.tools = tools
        self.max_calls = max_calls
        self.max_tool_calls = max_tool_calls
        self.used_calls = used_calls
        self.used_tool_calls = used_tool_calls

    def draft(self, ctx: PlanningContext) -> PlanDraft:
        from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage

        from jitplan.tools.lc_tools import make_tools, run_tool
        from jitplan.tools.telemetry import record_llm_call, span

        bound = self.model.bind_tools(make_tools(self.tools))
        messages: list[BaseMessage] = [SystemMessage(load_prompt()), HumanMessage(user_prompt(ctx))]
        calls = tools_used = tin = tout = 0
        cost = 0.0

        def done(plan: dict[str, Any] | None, errors: list[dict[str, Any]],
                 capped: str | None = None) -> PlanDraft:
            usage = LlmUsage(calls, tools_used, tin, tout, round(cost, 8))
            return PlanDraft(plan=plan, planner=self.name, errors=tuple(errors), usage=usage,
                             capped=capped, reasons=(f"{self.name} draft {ctx.revision} ({PROMPT_VERSION}): "
                                                     f"{calls} model call(s), {tools_used} tool call(s)",))

        while True:
            if self.used_calls + calls >= self.max_calls:
                why = f"LLM call cap reached: {self.max_calls} model calls per cycle"
                return done(None, [{"code": "cap", "message": why, "step": None}], why)
            with span("jitplan.llm.call", attrs={"gen_ai.request.model": self.name}) as sp:
                try:
                    resp = bound.invoke(messages)
                except Exception as exc:
                    from jitplan.contracts.errors import JitplanError

                    if isinstance(exc, JitplanError):
                        raise
                    why = f"LLM call failed: {type(exc).__name__}: {str(exc)[:300]}"
                    return done(None, [{"code": "llm_error", "message": why, "step": None}], why)
                calls += 1
                um = getattr(resp, "usage_metadata", None) or {}
                i, o = int(um.get("input_tokens", 0)), int(um.get("output_tokens", 0))
                c = _cost(self.name.removeprefix("llm:"), resp, i, o)
                tin, tout, cost = tin + i, tout + o, cost + c
                record_llm_call(sp, model=self.name, input_tokens=i, output_tokens=o, cost_usd=c)
            messages.append(resp)
            tool_calls = list(getattr(resp, "tool_calls", None) or [])
            if tool_calls:
                for tc in tool_calls:
                    if self.used_tool_calls + tools_used >= self.max_tool_calls:
                        why = f"tool call cap reached: {self.max_tool_calls} tool calls per cycle"
                        return done(None, [{"code": "cap", "message": why, "step": None}], why)
                    tools_used += 1
                    result = run_tool(self.tools, str(tc.get("name")), tc.get("args") or {})
                    messages.append(ToolMessage(content=fence(result, "data"), tool_call_id=str(tc.get("id") or "")))
                continue
            content = resp.content if isinstance(resp.content, str) else str(resp.content)
            plan, errors = parse_plan_text(content)
            if plan is not None:
                plan = dict(plan)
                plan["planner"] = self.name
                if not isinstance(plan.get("id"), str) or not plan.get("id"):
                    blob = f"{ctx.seed_id}|{self.name}|{ctx.revision}"
                    plan["id"] = "plan-" + hashlib.sha256(blob.encode()).hexdigest()[:16]
            return done(plan, errors)
