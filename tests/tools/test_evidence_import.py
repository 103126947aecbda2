"""Importing promptfoo results (``promptfoo eval -o results.json``, its OutputFile format) and
jitplan's OTel JSONL spans as evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jitplan.contracts.errors import UserError
from jitplan.tools.evidence_import import from_promptfoo, from_spans

DATA = Path(__file__).parent / "data" / "promptfoo_results.json"
MAP = {"prompts/ticket-summarizer.v1.1.0.md": "ticket-summarizer@1.1.0",
       "prompts/ticket-summarizer.v1.2.0.md": "ticket-summarizer@1.2.0"}


def _doc() -> dict[str, object]:
    return json.loads(DATA.read_text())


def test_promptfoo_groups_per_prompt_and_reads_every_figure() -> None:
    a, b = from_promptfoo(_doc(), mapping=MAP)
    assert (a.key, b.key) == ("ticket-summarizer@1.1.0", "ticket-summarizer@1.2.0")
    assert a.source == b.source == "offline_eval"
    assert a.observed_at.isoformat() == "2026-11-25T09:14:03.412000+00:00"
    # v1.1.0: 4 passing rows; v1.2.0: one ERROR row (failureReason 2), one partial score 0.5
    assert (a.requests, a.error_rate, a.quality) == (4, 0.0, 1.0)
    assert a.samples_ms == [700.0, 737.0, 774.0, 811.0]
    assert (b.requests, b.error_rate) == (4, 0.25)
    assert b.quality == pytest.approx((1 + 1 + 0.5) / 3)
    assert b.samples_ms == [848.0, 885.0, 922.0]  # the errored call's latency is not a sample
    assert b.cost_per_request_usd == pytest.approx(0.00043)  # errored calls cost nothing
    assert a.tokens is not None and (a.tokens.input, a.tokens.output) == (540, 80)


def test_promptfoo_pass_rate_and_labels_that_name_the_version() -> None:
    doc = _doc()
    for r in doc["results"]["results"]:  # type: ignore[index]
        r["prompt"]["label"] = r["prompt"]["label"].replace(
            "prompts/ticket-summarizer.v", "ticket-summarizer@").removesuffix(".md")
    _, b = from_promptfoo(doc, quality="pass_rate")
    assert b.key == "ticket-summarizer@1.2.0" and b.quality == pytest.approx(2 / 3)


def test_promptfoo_unmapped_groups_are_an_error_not_a_guess() -> None:
    with pytest.raises(UserError, match=r"cannot tell which feature version.*groups found"):
        from_promptfoo(_doc(), feature="ticket-summarizer", version="1.1.0", source="r.json")
    one = _doc()
    rows = one["results"]["results"]  # type: ignore[index]
    one["results"]["results"] = [r for r in rows if r["promptIdx"] == 0]  # type: ignore[index]
    (rec,) = from_promptfoo(one, feature="ticket-summarizer", version="1.1.0")
    assert rec.key == "ticket-summarizer@1.1.0"


def test_promptfoo_malformed_is_a_user_error_naming_the_field() -> None:
    with pytest.raises(UserError, match=r"r\.json: results: required field"):
        from_promptfoo({"evalId": "x"}, source="r.json")
    doc = _doc()
    doc["results"]["results"][0]["latencyMs"] = -5  # type: ignore[index]
    with pytest.raises(UserError, match=r"results\.results\[0\]\.latencyMs"):
        from_promptfoo(doc, mapping=MAP, source="r.json")


def _span(feature: str, version: str, ms: float, status: str = "OK", **attrs: object) -> dict[str, object]:
    return {"name": "serve", "trace_id": "a" * 32, "span_id": "b" * 16, "parent_span_id": None,
            "start": "2026-11-26T10:00:00.000000+00:00", "end": "2026-11-26T10:00:01.000000+00:00",
            "duration_ms": ms, "status": status, "status_description": None, "events": [],
            "attributes": {"jitplan.feature": feature, "jitplan.version": version, **attrs}}


def test_spans_become_one_record_per_version() -> None:
    spans = [_span("f", "1.0.0", 100, **{"jitplan.cost_usd": 0.001, "jitplan.quality": 0.9}),
             _span("f", "1.0.0", 300, status="ERROR"),
             _span("g", "2.0.0", 50, **{"gen_ai.usage.input_tokens": 10}),
             {"name": "planner", "attributes": {}, "duration_ms": 5}]
    f, g = from_spans(spans)
    assert (f.key, f.requests, f.error_rate, f.samples_ms) == ("f@1.0.0", 2, 0.5, [100.0])
    assert (f.quality, f.cost_per_request_usd, f.source) == (0.9, 0.001, "production")
    assert g.tokens is not None and g.tokens.input == 10
    with pytest.raises(UserError, match="no span carries"):
        from_spans([{"name": "x", "attributes": {}, "duration_ms": 1}])
