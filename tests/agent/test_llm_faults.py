"""Faults on the real LLM path (litellm -> HTTP -> the replay server): server errors, rate limits,
a hung server, malformed and unknown tool calls, empty answers.

Each test checks the HTTP attempts the server saw, the fallback to the offline plan, the exit
code, a clean one-line reason and an error span.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from jitplan.tools.telemetry import read_spans

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"


def _exchanges() -> Any:
    from jitplan_tests_replay_server import Exchange  # type: ignore[import-not-found]

    return Exchange


def _args(*extra: str) -> list[str]:
    return ["plan", "--catalog", str(WORLD / "catalog.yaml"), "--signals", str(WORLD / "signals" / "demand-rise.yaml"),
            "--contracts", str(WORLD / "contracts.yaml"), "--state", str(WORLD / "flags.json"),
            "--policy", str(ROOT / "tools" / "policy_bundle"), "--as", "operator", "--region", "eu",
            "--replications", "2", "--no-cache", "--model", "openai/gpt-4o-mini", "--json", *extra]


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> Any:
    return _exchanges()(status, headers or {}, {"error": {"message": message, "type": kind, "param": None, "code": None}})


def _answer(message: dict[str, Any], finish: str = "stop") -> Any:
    return _exchanges()(200, {}, {"id": "chatcmpl-fault", "choices": [{"index": 0, "logprobs": None,
                        "message": {"role": "assistant", "content": None, **message}, "finish_reason": finish}],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105}})


def _tool_call(tcid: str, name: str, arguments: str) -> dict[str, Any]:
    return {"tool_calls": [{"id": tcid, "type": "function", "function": {"name": name, "arguments": arguments}}]}


def _run(cli: Any, home: Path, *extra: str) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    r = cli(*_args(*extra))
    doc = json.loads(r.out) if r.out.strip() else {}
    spans = read_spans(home / "traces.jsonl", thread_id=doc.get("thread_id"))
    return r, doc, spans


def _fell_back(r: Any, doc: dict[str, Any]) -> None:
    """The offline plan took over, and the cycle still ended with it (approved: exit 0)."""
    assert r.code == 0, r.err
    assert doc["planner"] == "offline" and doc["decision"] == "approved", doc["reasons"]
    assert any("falling back to the offline plan" in x for x in doc["reasons"])


def _one_line(reason: str) -> None:
    assert "\n" not in reason and "litellm." not in reason and len(reason) < 500
    assert reason.count("Error") <= 1, reason  # no "X: litellm.X: X: ..." repetition


def test_a_server_error_is_retried_once_then_falls_back(cli: Any, replay: Any, _isolated_home: Path) -> None:
    srv = replay([_error(500, "The server had an error while processing your request.", "server_error")] * 3)
    r, doc, spans = _run(cli, _isolated_home)
    assert len(srv.completions) == 2  # max_retries 1: two HTTP attempts, not the SDK's three
    _fell_back(r, doc)
    why = ("LLM call failed after 2 attempt(s): InternalServerError (HTTP 500): "
           "The server had an error while processing your request.")
    assert why in doc["reasons"]
    _one_line(why)
    llm = doc["llm"]
    assert (llm["calls"], llm["failed_calls"], llm["attempts"]) == (1, 1, 2) and llm["errors"] == [why]
    [call] = [s for s in spans if s["name"] == "jitplan.llm.call"]
    assert call["status"] == "ERROR" and call["attributes"]["error.type"] == "InternalServerError"
    assert call["attributes"]["jitplan.llm.attempts"] == 2 and call["status_description"] == why
    assert [e["name"] for e in call["events"]] == ["retry"]


def test_max_retries_is_configurable(cli: Any, replay: Any, _isolated_home: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JITPLAN_LLM_MAX_RETRIES", "0")
    srv = replay([_error(503, "overloaded", "server_error")] * 3)
    r, doc, _ = _run(cli, _isolated_home)
    assert len(srv.completions) == 1 and doc["llm"]["attempts"] == 1
    _fell_back(r, doc)


def test_a_bad_request_is_not_retried(cli: Any, replay: Any, _isolated_home: Path) -> None:
    srv = replay([_error(400, "Invalid value for 'temperature'.", "invalid_request_error")] * 2)
    r, doc, _ = _run(cli, _isolated_home)
    assert len(srv.completions) == 1
    _fell_back(r, doc)
    assert "LLM call failed after 1 attempt(s): BadRequestError (HTTP 400): Invalid value for 'temperature'." \
        in doc["reasons"]


def test_a_rate_limit_waits_for_retry_after(cli: Any, replay: Any, _isolated_home: Path) -> None:
    srv = replay([_error(429, "Rate limit reached for requests", "requests", {"retry-after": "1"})] * 3)
    r, doc, spans = _run(cli, _isolated_home)
    assert len(srv.completions) == 2
    gap = srv.completions[1].at - srv.completions[0].at
    assert gap >= 1.0  # retry-after honoured
    _fell_back(r, doc)
    why = "LLM call failed after 2 attempt(s): RateLimitError (HTTP 429): Rate limit reached for requests"
    assert why in doc["reasons"]
    _one_line(why)
    [call] = [s for s in spans if s["name"] == "jitplan.llm.call"]
    assert call["attributes"]["error.type"] == "RateLimitError"
    assert call["events"][0]["attributes"]["delay_s"] == 1.0


def test_a_hung_server_costs_two_timeouts_not_three(cli: Any, replay: Any, _isolated_home: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JITPLAN_LLM_TIMEOUT_S", "0.5")
    srv = replay([_exchanges()(200, {}, {}, 30.0)] * 3)
    t0 = time.monotonic()
    r, doc, spans = _run(cli, _isolated_home)
    assert len(srv.completions) == 2
    assert srv.completions[1].at - srv.completions[0].at < 5  # each attempt gave up after its timeout
    _fell_back(r, doc)
    [why] = [x for x in doc["reasons"] if x.startswith("LLM call failed")]
    assert why.startswith("LLM call failed after 2 attempt(s): Timeout (HTTP 408): ")
    _one_line(why)
    [call] = [s for s in spans if s["name"] == "jitplan.llm.call"]
    assert call["status"] == "ERROR" and call["attributes"]["error.type"] == "Timeout"
    assert time.monotonic() - t0 < 30


def test_malformed_tool_arguments_are_answered_to_the_model(cli: Any, replay: Any, _isolated_home: Path) -> None:
    bad = _tool_call("call_bad1", "search_catalog", '{"query": "answer"')  # truncated JSON
    srv = replay([_answer(bad, "tool_calls"), _answer({**bad, "tool_calls": [
        {**bad["tool_calls"][0], "id": "call_bad2"}]}, "tool_calls")])
    r, doc, spans = _run(cli, _isolated_home, "--max-llm-calls", "2")
    assert len(srv.completions) == 2 and srv.problems == []  # every tool-call id was answered
    sent = srv.completions[1].body["messages"]
    assert sent[-2]["role"] == "assistant" and sent[-2]["tool_calls"][0]["id"] == "call_bad1"
    answer = sent[-1]
    assert answer["role"] == "tool" and answer["tool_call_id"] == "call_bad1"
    assert "invalid tool call 'search_catalog': its arguments are not a JSON object" in answer["content"]
    assert '{\\"query\\": \\"answer\\"' in answer["content"] or '"query": "answer"' in answer["content"]
    _fell_back(r, doc)
    assert "the LLM planner stopped early (LLM call cap reached: 2 model calls per cycle): " \
           "falling back to the offline plan" in doc["reasons"]
    assert doc["llm"]["invalid_tool_calls"] == 2
    bad_spans = [s for s in spans if s["name"] == "jitplan.tool.invalid"]
    assert len(bad_spans) == 2
    assert all(s["status"] == "ERROR" and s["attributes"]["error.type"] == "invalid_arguments" for s in bad_spans)


def test_an_unknown_tool_is_answered_to_the_model(cli: Any, replay: Any, _isolated_home: Path) -> None:
    call = _tool_call("call_x1", "delete_everything", "{}")
    srv = replay([_answer(call, "tool_calls"), _answer(call | {"tool_calls": [
        {**call["tool_calls"][0], "id": "call_x2"}]}, "tool_calls")])
    r, doc, spans = _run(cli, _isolated_home, "--max-llm-calls", "2")
    assert len(srv.completions) == 2 and srv.problems == []
    answer = srv.completions[1].body["messages"][-1]
    assert answer["role"] == "tool" and answer["tool_call_id"] == "call_x1"
    assert "unknown tool 'delete_everything'; tools: search_catalog" in answer["content"]
    _fell_back(r, doc)
    assert doc["llm"]["invalid_tool_calls"] == 2
    unknown = [s for s in spans if s["name"] == "jitplan.tool.unknown"]
    assert len(unknown) == 2 and all(s["attributes"]["error.type"] == "unknown_tool" for s in unknown)
    assert all(s["attributes"]["gen_ai.tool.name"] == "delete_everything" for s in unknown)


def test_empty_answers_fail_the_call_and_fall_back(cli: Any, replay: Any, _isolated_home: Path) -> None:
    srv = replay([_answer({"content": ""}), _answer({"content": None})])
    r, doc, spans = _run(cli, _isolated_home, "--max-revisions", "1")
    assert len(srv.completions) == 2 and srv.problems == []
    _fell_back(r, doc)
    llm = doc["llm"]
    assert (llm["calls"], llm["failed_calls"], llm["attempts"]) == (2, 2, 2)
    assert llm["errors"] == ["the model answered with empty content (draft 0)",
                             "the model answered with empty content (draft 1)"]
    assert "the LLM plan still failed validation after 1 revision(s) (cap 1): falling back to the offline plan" \
        in doc["reasons"]
    calls = [s for s in spans if s["name"] == "jitplan.llm.call"]
    assert len(calls) == 2
    assert all(s["status"] == "ERROR" and s["attributes"]["error.type"] == "empty_answer" for s in calls)
    # The model was told: the revision prompt names the empty answer.
    assert "[empty_answer]" in srv.completions[1].body["messages"][1]["content"]


def test_the_report_counts_failed_llm_calls(cli: Any, replay: Any, _isolated_home: Path) -> None:
    replay([_error(500, "boom", "server_error")] * 2)
    _, doc, _ = _run(cli, _isolated_home)
    r = cli("report", doc["thread_id"], "--json")
    assert r.code == 0, r.err
    totals = json.loads(r.out)["totals"]
    assert totals["llm_calls"] == 1 and totals["failed_llm_calls"] == 1
    r = cli("report", doc["thread_id"])
    assert "over 1 LLM calls (1 failed)" in r.out
