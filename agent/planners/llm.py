"""The LLM planner: a chat model with tools, structured answer parsed into a plan draft.

Loop: system prompt (versioned file) + fenced data -> model -> tool calls executed, results
returned (fenced) as ``ToolMessage``s -> final answer parsed as JSON. Parse failures become
``parse`` violations (fed back as a revision), never exceptions. Bounded: at most
``max_calls`` model calls and ``max_tool_calls`` tool calls per cycle (counting earlier drafts),
and at most ``1 + max_retries`` HTTP attempts per model call (transient errors only).

Nothing fails silently: a call that fails after its retries, or answers nothing, marks its
``jitplan.llm.call`` span ERROR with ``error.type`` and is counted in ``failed_calls``; a tool call
with malformed arguments or an unknown tool is answered to the model with a tool message saying
what was invalid (so every tool-call id is answered, as OpenAI's API requires).
"""

from __future__ import annotations

__all__ = ["LlmPlanner"]

import hashlib
import time
from typing import TYPE_CHECKING, Any

from jitplan.agent.planners.base import LlmUsage, PlanDraft, PlanningContext
from jitplan.agent.planners.llm_errors import describe, error_type, retry_delay, retryable
from jitplan.agent.planners.prompting import (
    PROMPT_VERSION,
    fence,
    load_prompt,
    parse_plan_text,
    user_prompt,
)

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from opentelemetry.trace import Span

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


def _invalid_answers(resp: AIMessage) -> tuple[AIMessage, list[tuple[str, str]]]:
    """The model's message with every malformed tool call kept as a call (empty args), so its id
    can be answered, and ``(id, why)`` for each of them."""
    from langchain_core.messages import AIMessage

    bad = list(getattr(resp, "invalid_tool_calls", None) or [])
    if not bad:
        return resp, []
    calls = list(resp.tool_calls)
    answers: list[tuple[str, str]] = []
    for k, tc in enumerate(bad):
        tcid = str(tc.get("id") or f"invalid_{k}")
        name = str(tc.get("name") or "unnamed")
        raw = " ".join(str(tc.get("args") or "").split())
        why = (f"invalid tool call {name!r}: its arguments are not a JSON object"
               + (f" ({tc['error']})" if tc.get("error") else "")
               + f": {raw[:200]!r}; call it again with JSON object arguments matching the tool's schema")
        calls.append({"name": name, "args": {}, "id": tcid, "type": "tool_call"})
        answers.append((tcid, why))
    kwargs = {k: v for k, v in resp.additional_kwargs.items() if k != "tool_calls"}
    fixed = AIMessage(content=resp.content, tool_calls=calls, additional_kwargs=kwargs, id=resp.id,
                      response_metadata=resp.response_metadata, usage_metadata=resp.usage_metadata)
    return fixed, answers


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
        max_retries: int = 1,
        sleep: Any = time.sleep,
    ) -> None:
        self.model = model
        self.name = name
        self.tools = tools
        self.max_calls = max_calls
        self.max_tool_calls = max_tool_calls
        self.used_calls = used_calls
        self.used_tool_calls = used_tool_calls
        self.max_retries = max_retries
        self.sleep = sleep

    def _invoke(self, bound: Any, messages: list[Any], sp: Span) -> tuple[Any, BaseException | None, int]:
        """One model call with bounded retries: ``(response, None, attempts)`` or
        ``(None, last error, attempts)``. Run errors of our own (``JitplanError``) propagate."""
        from jitplan.contracts.errors import JitplanError

        attempt = 0
        while True:
            attempt += 1
            try:
                return bound.invoke(messages), None, attempt
            except JitplanError:
                raise
            except Exception as exc:
                if attempt > self.max_retries or not retryable(exc):
                    return None, exc, attempt
                delay = retry_delay(exc, attempt)
                sp.add_event("retry", {"attempt": attempt, "error.type": error_type(exc),
                                       "delay_s": delay, "reason": describe(exc)})
                self.sleep(delay)

    def draft(self, ctx: PlanningContext) -> PlanDraft:
        from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage

        from jitplan.tools.lc_tools import invalid_call, make_tools, run_tool
        from jitplan.tools.telemetry import record_error, record_llm_call, span

        bound = self.model.bind_tools(make_tools(self.tools))
        messages: list[BaseMessage] = [SystemMessage(load_prompt()), HumanMessage(user_prompt(ctx))]
        n: dict[str, int] = {"calls": 0, "tools": 0, "tin": 0, "tout": 0, "failed": 0, "attempts": 0, "invalid": 0}
        errors_seen: list[str] = []
        cost = 0.0

        def done(plan: dict[str, Any] | None, errors: list[dict[str, Any]],
                 capped: str | None = None) -> PlanDraft:
            usage = LlmUsage(n["calls"], n["tools"], n["tin"], n["tout"], round(cost, 8), n["failed"],
                             n["attempts"], n["invalid"], tuple(errors_seen))
            return PlanDraft(plan=plan, planner=self.name, errors=tuple(errors), usage=usage, capped=capped,
                             reasons=(f"{self.name} draft {ctx.revision} ({PROMPT_VERSION}): {n['calls']} model "
                                      f"call(s) ({n['failed']} failed, {n['attempts']} HTTP attempt(s)), "
                                      f"{n['tools']} tool call(s)",))

        while True:
            if self.used_calls + n["calls"] >= self.max_calls:
                why = f"LLM call cap reached: {self.max_calls} model calls per cycle"
                return done(None, [{"code": "cap", "message": why, "step": None}], why)
            with span("jitplan.llm.call", attrs={"gen_ai.request.model": self.name}) as sp:
                resp, exc, attempts = self._invoke(bound, messages, sp)
                n["calls"] += 1
                n["attempts"] += attempts
                sp.set_attribute("jitplan.llm.attempts", attempts)
                if exc is not None:
                    n["failed"] += 1
                    why = f"LLM call failed after {attempts} attempt(s): {describe(exc)}"
                    errors_seen.append(why)
                    record_llm_call(sp, model=self.name, input_tokens=0, output_tokens=0, cost_usd=0.0)
                    record_error(sp, error_type(exc), why)
                    return done(None, [{"code": "llm_error", "message": why, "step": None}], why)
                um = getattr(resp, "usage_metadata", None) or {}
                i, o = int(um.get("input_tokens", 0)), int(um.get("output_tokens", 0))
                c = _cost(self.name.removeprefix("llm:"), resp, i, o)
                n["tin"], n["tout"], cost = n["tin"] + i, n["tout"] + o, cost + c
                record_llm_call(sp, model=self.name, input_tokens=i, output_tokens=o, cost_usd=c)
                resp, invalid = _invalid_answers(resp)
                tool_calls = list(getattr(resp, "tool_calls", None) or [])
                content = resp.content if isinstance(resp.content, str) else str(resp.content)
                if not tool_calls and not content.strip():
                    n["failed"] += 1
                    why = f"the model answered with empty content (draft {ctx.revision})"
                    errors_seen.append(why)
                    record_error(sp, "empty_answer", why)
            messages.append(resp)
            if tool_calls:
                bad = dict(invalid)
                for tc in tool_calls:
                    tcid = str(tc.get("id") or "")
                    if tcid in bad:
                        n["invalid"] += 1
                        with span("jitplan.tool.invalid", attrs={"gen_ai.operation.name": "execute_tool",
                                                                 "gen_ai.tool.name": str(tc.get("name"))[:128]}) as tsp:
                            record_error(tsp, "invalid_arguments", bad[tcid])
                        messages.append(ToolMessage(content=fence({"error": bad[tcid]}), tool_call_id=tcid,
                                                    status="error"))
                        continue
                    if self.used_tool_calls + n["tools"] >= self.max_tool_calls:
                        why = f"tool call cap reached: {self.max_tool_calls} tool calls per cycle"
                        return done(None, [{"code": "cap", "message": why, "step": None}], why)
                    n["tools"] += 1
                    name, args = str(tc.get("name")), tc.get("args") or {}
                    if invalid_call(name, args) is not None:
                        n["invalid"] += 1
                    result = run_tool(self.tools, name, args)
                    messages.append(ToolMessage(content=fence(result, "data"), tool_call_id=tcid))
                continue
            if not content.strip():
                return done(None, [{"code": "empty_answer", "step": None, "message":
                                    "the answer was empty; answer with one JSON plan object"}])
            plan, errors = parse_plan_text(content)
            if plan is not None:
                plan = dict(plan)
                plan["planner"] = self.name
                if not isinstance(plan.get("id"), str) or not plan.get("id"):
                    blob = f"{ctx.seed_id}|{self.name}|{ctx.revision}"
                    plan["id"] = "plan-" + hashlib.sha256(blob.encode()).hexdigest()[:16]
            return done(plan, errors)
