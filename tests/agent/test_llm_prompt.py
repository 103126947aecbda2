"""The planner prompt (planner.v2) and the clean one-line reasons of failed LLM calls."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from jitplan.agent.planners.llm_errors import describe, retry_delay, retryable
from jitplan.agent.planners.prompting import PROMPT_VERSION, example_plan, fence, load_prompt
from jitplan.contracts.plan import ACTIONS, METRICS, Plan
from jitplan.contracts.step_params import PARAMS_BY_ACTION


def test_the_prompt_documents_every_action_s_params_from_the_step_contracts() -> None:
    text = load_prompt()
    assert PROMPT_VERSION == "planner.v2" and "{{" not in text
    for action in ACTIONS:
        line = next(x for x in text.splitlines() if x.startswith(f"- {action}: "))
        for name in PARAMS_BY_ACTION[action].model_fields:
            assert name == "action" or name in line, (action, name)
    assert "usd_per_day (required)" in text and "None" not in text
    assert all(m in text for m in METRICS)


def test_the_worked_example_is_a_complete_valid_plan() -> None:
    plan = Plan.model_validate(example_plan())
    assert len(plan.steps) >= 3 and all(s.compensation is not None and s.tolerances for s in plan.steps)
    shown = re.search(r"```json\n(.*?)\n```", load_prompt(), re.DOTALL)
    assert shown is not None and Plan.model_validate(json.loads(shown.group(1))) == plan


def test_data_is_compact_json() -> None:
    out = fence({"b": [1, 2], "a": {"x": None}})
    assert out == '```data\n{"a":{"x":null},"b":[1,2]}\n```'


class _Http(Exception):
    def __init__(self, message: str, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status
        self.response = httpx.Response(status, headers=headers or {})


class InternalServerError(_Http):
    pass


def test_reasons_drop_litellm_s_repeated_prefixes() -> None:
    exc = InternalServerError("litellm.InternalServerError: InternalServerError: OpenAIException - boom\n  again", 500)
    assert describe(exc) == "InternalServerError (HTTP 500): boom again"
    assert describe(ValueError("x" * 400)).endswith("...") and len(describe(ValueError("x" * 400))) < 330


@pytest.mark.parametrize(("status", "again"), [(500, True), (503, True), (429, True), (408, True),
                                               (400, False), (401, False), (404, False)])
def test_only_transient_failures_are_retried(status: int, again: bool) -> None:
    assert retryable(_Http("x", status)) is again


def test_retry_delay_follows_retry_after_within_a_cap() -> None:
    assert retry_delay(_Http("x", 429, {"retry-after": "2"}), 1) == 2.0
    assert retry_delay(_Http("x", 429, {"retry-after-ms": "250"}), 1) == 0.25
    assert retry_delay(_Http("x", 429, {"retry-after": "3600"}), 1) == 30.0
    assert retry_delay(_Http("x", 500), 1) == 0.5 and retry_delay(_Http("x", 500), 3) == 2.0
