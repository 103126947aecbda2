"""Telemetry: spans with GenAI + jitplan attributes land in traces.jsonl, one JSON object each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from jitplan.tools.telemetry import read_spans, record_llm_call, setup_telemetry, span


@pytest.fixture(autouse=True)
def _unpin() -> Iterator[None]:
    yield
    setup_telemetry()  # back to following JITPLAN_HOME, so later tests are not pinned to ours


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_node_and_llm_spans_land_in_jsonl_with_attributes(tmp_path: Path) -> None:
    setup_telemetry(tmp_path)
    with span("plan", node="plan", plan_id="p-1", thread_id="t-1"):
        with span("llm.chat", operation="chat", model="scripted") as s:
            record_llm_call(s, model="scripted:x", input_tokens=120, output_tokens=30, cost_usd=0.00042)
        with span("tool.search_catalog", attrs={"gen_ai.operation.name": "execute_tool"}, tool="search_catalog"):
            pass
    spans = _lines(tmp_path / "traces.jsonl")  # SimpleSpanProcessor: written without any flush
    assert [s["name"] for s in spans] == ["llm.chat", "tool.search_catalog", "plan"]
    llm, tool, node = spans
    a = llm["attributes"]
    assert isinstance(a, dict)
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.request.model"] == "scripted:x"
    assert a["gen_ai.usage.input_tokens"] == 120 and a["gen_ai.usage.output_tokens"] == 30
    assert a["jitplan.cost_usd"] == pytest.approx(0.00042)
    assert tool["attributes"] == {"gen_ai.operation.name": "execute_tool", "jitplan.tool": "search_catalog"}  # type: ignore[comparison-overlap]
    na = node["attributes"]
    assert isinstance(na, dict)
    assert na == {"jitplan.node": "plan", "jitplan.plan_id": "p-1", "jitplan.thread_id": "t-1"}
    assert llm["parent_span_id"] == node["span_id"] and llm["trace_id"] == node["trace_id"]
    assert isinstance(node["duration_ms"], float) and node["duration_ms"] >= 0
    # thread filter keeps the children (which carry no thread id) of the thread's traces
    assert len(read_spans(tmp_path / "traces.jsonl", thread_id="t-1")) == 3
    assert read_spans(tmp_path / "traces.jsonl", thread_id="other") == []


def test_exceptions_mark_the_span_as_error(tmp_path: Path) -> None:
    setup_telemetry(tmp_path)
    with pytest.raises(RuntimeError), span("validate", node="validate"):
        raise RuntimeError("boom")
    (rec,) = _lines(tmp_path / "traces.jsonl")
    assert rec["status"] == "ERROR"
    assert any(e["name"] == "exception" for e in rec["events"])  # type: ignore[union-attr]


def test_setup_is_idempotent_and_retargets_the_home(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    setup_telemetry(a)
    setup_telemetry(a)
    with span("one"):
        pass
    setup_telemetry(b)
    with span("two"):
        pass
    assert [s["name"] for s in _lines(a / "traces.jsonl")] == ["one"]
    assert [s["name"] for s in _lines(b / "traces.jsonl")] == ["two"]


def test_default_home_follows_jitplan_home(_isolated_home: Path) -> None:
    with span("perceive", node="perceive", thread_id="t"):
        pass
    assert [s["name"] for s in read_spans(_isolated_home / "traces.jsonl")][-1] == "perceive"


def test_unreadable_lines_are_skipped(tmp_path: Path) -> None:
    p = tmp_path / "traces.jsonl"
    p.write_text('not json\n[1]\n{"name": "ok", "attributes": {}}\n')
    assert [s["name"] for s in read_spans(p)] == ["ok"]


def test_otlp_exporter_is_added_only_when_the_endpoint_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from jitplan.tools import telemetry

    def batched() -> bool:
        provider = telemetry._State.provider
        assert provider is not None
        return any(isinstance(p, BatchSpanProcessor) for p in provider._active_span_processor._span_processors)

    telemetry.shutdown_telemetry()
    setup_telemetry(tmp_path)
    assert not batched()
    telemetry.shutdown_telemetry()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # nothing listens; no span is sent
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    setup_telemetry(tmp_path)
    try:
        assert batched()
    finally:
        telemetry.shutdown_telemetry()
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
        setup_telemetry()
