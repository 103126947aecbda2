"""OpenTelemetry tracing and cost telemetry for jitplan.

``setup_telemetry()`` installs (once) a tracer provider that writes every finished span as one
JSON object per line to ``jitplan_home()/traces.jsonl`` through a ``SimpleSpanProcessor`` (so a
short CLI run loses nothing), and also to OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set
(imported lazily, batched, flushed at exit). ``span(name, **attrs)`` opens a span; short
attribute names map to the GenAI semantic conventions and jitplan's own keys:

==================  ==============================
keyword             span attribute
==================  ==============================
``operation``       ``gen_ai.operation.name``
``model``           ``gen_ai.request.model``
``input_tokens``    ``gen_ai.usage.input_tokens``
``output_tokens``   ``gen_ai.usage.output_tokens``
``cost_usd``        ``jitplan.cost_usd``
``plan_id``         ``jitplan.plan_id``
``thread_id``       ``jitplan.thread_id``
``node``            ``jitplan.node``
anything else       ``jitplan.<name>``
==================  ==============================

Dotted keys can be passed through ``attrs={...}``.
"""

from __future__ import annotations

__all__ = [
    "ATTRIBUTE_NAMES",
    "JsonlSpanExporter",
    "read_spans",
    "record_error",
    "record_llm_call",
    "setup_telemetry",
    "shutdown_telemetry",
    "span",
    "span_to_dict",
]

import atexit
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span

from jitplan.contracts.settings import get_settings

ATTRIBUTE_NAMES: dict[str, str] = {
    "operation": "gen_ai.operation.name",
    "model": "gen_ai.request.model",
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cost_usd": "jitplan.cost_usd",
    "plan_id": "jitplan.plan_id",
    "thread_id": "jitplan.thread_id",
    "node": "jitplan.node",
}


def _ns_iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="microseconds")


def span_to_dict(s: ReadableSpan) -> dict[str, Any]:
    """One finished span as a plain JSON-able dict."""
    ctx = s.get_span_context()
    start, end = s.start_time, s.end_time
    return {
        "name": s.name,
        "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
        "span_id": f"{ctx.span_id:016x}" if ctx else None,
        "parent_span_id": f"{s.parent.span_id:016x}" if s.parent else None,
        "start": _ns_iso(start),
        "end": _ns_iso(end),
        "duration_ms": (end - start) / 1e6 if start is not None and end is not None else None,
        "status": s.status.status_code.name,
        "status_description": s.status.description,
        "attributes": dict(s.attributes or {}),
        "events": [
            {"name": e.name, "ts": _ns_iso(e.timestamp), "attributes": dict(e.attributes or {})}
            for e in s.events
        ],
    }


class JsonlSpanExporter(SpanExporter):
    """Appends one JSON object per span to a file, flushed on every export."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_to_dict(s), sort_keys=True, default=str) + "\n" for s in spans)
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(lines)
                    fh.flush()
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _State:
    provider: TracerProvider | None = None
    jsonl: JsonlSpanExporter | None = None
    home_key: str | None = None
    global_set: bool = False


_lock = threading.Lock()


def _home(home: Path | None) -> Path:
    if home is not None:
        home.mkdir(parents=True, exist_ok=True)
        return home
    from jitplan.contracts.home import jitplan_home

    return jitplan_home()


def setup_telemetry(home: Path | None = None) -> None:
    """Install the JSONL (and, with ``OTEL_EXPORTER_OTLP_ENDPOINT``, OTLP) exporters; idempotent.

    Calling it again with another home re-targets the JSONL file. An explicit ``home`` pins the
    file until the next explicit call; otherwise it follows ``jitplan_home()``.
    """
    key = f"path:{home}" if home is not None else _env_key()
    with _lock:
        if _State.provider is not None and _State.jsonl is not None:
            if key != _State.home_key:
                _State.jsonl.path = _home(home) / "traces.jsonl"
                _State.home_key = key
            return
        provider = TracerProvider(resource=Resource.create({"service.name": "jitplan"}))
        jsonl = JsonlSpanExporter(_home(home) / "traces.jsonl")
        provider.add_span_processor(SimpleSpanProcessor(jsonl))
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        ):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        _State.provider, _State.jsonl, _State.home_key = provider, jsonl, key
        if not _State.global_set:  # other OpenTelemetry users in-process share it
            from opentelemetry import trace

            trace.set_tracer_provider(provider)
            _State.global_set = True
        atexit.register(provider.shutdown)


def _env_key() -> str:
    return f"env:{get_settings().home}:{os.getcwd()}"


def _ensure() -> None:
    key = _State.home_key
    if _State.provider is None or (key is not None and key.startswith("env:") and key != _env_key()):
        setup_telemetry()


def shutdown_telemetry() -> None:
    """Flush and drop the provider (the next ``span`` sets it up again)."""
    with _lock:
        if _State.provider is not None:
            _State.provider.force_flush()
            _State.provider.shutdown()
        _State.provider = _State.jsonl = _State.home_key = None


def _value(v: Any) -> Any:
    if isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, list | tuple) and all(isinstance(x, bool | int | float | str) for x in v):
        return list(v)
    return str(v)


def _attributes(attrs: Mapping[str, Any] | None, kw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in kw.items():
        if v is not None:
            out[ATTRIBUTE_NAMES.get(k, f"jitplan.{k}")] = _value(v)
    for k, v in (attrs or {}).items():
        if v is not None:
            out[k] = _value(v)
    return out


@contextmanager
def span(
    name: str,
    *,
    attrs: Mapping[str, Any] | None = None,
    abandon_on: tuple[type[BaseException], ...] = (),
    **attributes: Any,
) -> Iterator[Span]:
    """Open a span (current for its block); exceptions are recorded and set the status.

    An exception of a type in ``abandon_on`` leaves the span unended, so it is never exported:
    for work that is done again, and traced, elsewhere (``agent.direct`` hands a node to the graph).
    """
    from opentelemetry import trace

    _ensure()
    assert _State.provider is not None
    tracer = _State.provider.get_tracer("jitplan")
    s = tracer.start_span(name, attributes=_attributes(attrs, attributes))
    abandoned = False
    try:
        with trace.use_span(s, end_on_exit=False, record_exception=True, set_status_on_exception=True):
            try:
                yield s
            except abandon_on:
                abandoned = True
                raise
    finally:
        if not abandoned:
            s.end()


def record_llm_call(
    s: Span,
    *,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cost_usd: float,
    operation: str = "chat",
) -> None:
    """Set the GenAI semantic-convention usage attributes and the cost on a span."""
    s.set_attribute("gen_ai.operation.name", operation)
    s.set_attribute("gen_ai.request.model", model)
    s.set_attribute("gen_ai.usage.input_tokens", int(input_tokens))
    s.set_attribute("gen_ai.usage.output_tokens", int(output_tokens))
    s.set_attribute("jitplan.cost_usd", float(cost_usd))


def record_error(s: Span, error_type: str, message: str) -> None:
    """Mark a span failed: status ERROR with ``message``, and ``error.type`` (OTel semconv)."""
    from opentelemetry.trace import Status, StatusCode

    s.set_attribute("error.type", error_type)
    s.set_status(Status(StatusCode.ERROR, message[:500]))


def read_spans(path: Path, *, thread_id: str | None = None) -> list[dict[str, Any]]:
    """Spans from a traces.jsonl file; with ``thread_id``, every span of the traces that carry
    that thread id (so child spans without the attribute are kept). Bad lines are skipped."""
    if not path.exists():
        return []
    spans: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(d, dict) and isinstance(d.get("attributes"), dict):
                spans.append(d)
    if thread_id is None:
        return spans
    traces = {d.get("trace_id") for d in spans if d["attributes"].get("jitplan.thread_id") == thread_id}
    return [d for d in spans if d.get("trace_id") in traces]
