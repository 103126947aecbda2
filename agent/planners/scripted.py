"""A scripted chat model: replays recorded responses (with tool calls) in order.

``--model scripted:FILE`` selects it; every test of the LLM path uses it. The file (YAML or
JSON) holds ``responses``, each either a final answer or tool calls::

    responses:
      - tool_calls: [{name: search_catalog, args: {query: answer}}]
        expect: [answer-synthesizer]          # optional: substrings the prompt must contain
      - content: '{"id": "p1", "goal": "...", "steps": [...]}'
        usage: {input_tokens: 900, output_tokens: 200}

Running out of responses raises ``ScriptExhausted`` (a clear run error naming the file).
"""

from __future__ import annotations

__all__ = ["ScriptExhausted", "ScriptedChatModel", "load_script"]

import json
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from jitplan.contracts.errors import RunError
from jitplan.contracts.loading import FromFile


class ScriptExhausted(RunError):
    """The scripted model was asked for more responses than its file holds."""


class ScriptError(RunError):
    """A response's ``expect`` check failed: the prompt lacked what the script expected."""


class _ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None


class _Usage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)


class ScriptedResponse(BaseModel):
    """One recorded model response."""

    model_config = ConfigDict(extra="forbid")

    content: str | dict[str, Any] | list[Any] = ""
    tool_calls: list[_ToolCall] = Field(default_factory=list)
    usage: _Usage = Field(default_factory=_Usage)
    expect: list[str] = Field(default_factory=list)


class Script(FromFile):
    """A scripted-model file."""

    model_config = ConfigDict(extra="forbid")

    responses: list[ScriptedResponse] = Field(min_length=1, max_length=10_000)


def load_script(path: str) -> Script:
    """Load a script file (problems are ``UserError``s naming the file and field)."""
    return Script.from_file(path)


class ScriptedChatModel(BaseChatModel):
    """Replays ``responses`` in order, starting at ``start`` (the cycle's LLM calls so far)."""

    responses: list[ScriptedResponse]
    source: str = "<script>"
    start: int = 0
    _i: int = PrivateAttr(default=0)
    _seen: list[list[BaseMessage]] = PrivateAttr(default_factory=list)

    @classmethod
    def from_file(cls, path: str, *, start: int = 0) -> ScriptedChatModel:
        return cls(responses=load_script(path).responses, source=path, start=start)

    @property
    def _llm_type(self) -> str:
        return "jitplan-scripted"

    @property
    def seen(self) -> list[list[BaseMessage]]:
        """The message lists this model was called with (for tests)."""
        return self._seen

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[Any, AIMessage]:
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        pos = self.start + self._i
        if pos >= len(self.responses):
            raise ScriptExhausted(
                f"scripted model {self.source}: asked for response {pos + 1} but the script has "
                f"only {len(self.responses)}"
            )
        self._i += 1
        self._seen.append(list(messages))
        resp = self.responses[pos]
        if resp.expect:
            prompt = "\n".join(str(m.content) for m in messages)
            missing = [e for e in resp.expect if e not in prompt]
            if missing:
                raise ScriptError(
                    f"scripted model {self.source}: response {pos + 1} expects the prompt to "
                    f"contain {missing!r}"
                )
        content = resp.content if isinstance(resp.content, str) else json.dumps(resp.content)
        calls = [
            {"name": tc.name, "args": tc.args, "id": tc.id or f"call_{pos + 1}_{k}", "type": "tool_call"}
            for k, tc in enumerate(resp.tool_calls)
        ]
        usage = {
            "input_tokens": resp.usage.input_tokens,
            "output_tokens": resp.usage.output_tokens,
            "total_tokens": resp.usage.input_tokens + resp.usage.output_tokens,
        }
        msg = AIMessage(content=content, tool_calls=calls, usage_metadata=usage,  # type: ignore[arg-type]
                        response_metadata={"cost_usd": resp.usage.cost_usd, "model_name": "scripted"})
        return ChatResult(generations=[ChatGeneration(message=msg)])
