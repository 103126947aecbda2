"""``jitplan report THREAD_ID``: per-node timings, tokens and cost from traces, choices from audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.audit import AuditLog
from tools.telemetry import record_llm_call, span


def _cycle(thread: str) -> None:
    for node in ("perceive", "govern", "plan", "validate", "simulate", "decide", "execute", "record"):
        with span(f"jitplan.node.{node}", node=node, thread_id=thread, plan_id="p-1") as s:
            if node == "plan":
                for i in range(2):
                    with span("llm.chat", operation="chat") as llm:
                        record_llm_call(llm, model="scripted:test", input_tokens=100 + i, output_tokens=20, cost_usd=0.001)
                s.set_attribute("jitplan.cost_usd", 0.002)  # a node total must not be counted twice
    with AuditLog.open() as log:
        log.append("policy", {"allowed": True, "deny": [], "escalate": ["refund-advisor"], "bundle_sha256": "ab"}, thread_id=thread)
        log.append("simulation", {"verdict": "pass", "latency_p95_s": 1.2}, thread_id=thread)
        log.append("approval", {"decision": "approved", "by": "operator", "comment": "go", "auto": False, "plan_sha256": "x"}, thread_id=thread)
        log.append("gate", {"unit": "s1", "verdict": "pass", "tolerances": [{"metric": "latency_p95_ms", "observed": 1300.0}]}, thread_id=thread)
        log.append("execution", {"status": "applied"}, thread_id=thread)
        log.append("inputs", {"other": True}, thread_id="another-thread")


def test_report_summarises_one_cycle(cli: Any) -> None:
    _cycle("t-42")
    res = cli("report", "t-42", "--json")
    assert res.code == 0, res.err
    rep = json.loads(res.out)
    assert set(rep["nodes"]) == {"perceive", "govern", "plan", "validate", "simulate", "decide", "execute", "record", "llm.chat"}
    assert all(row["duration_ms"] >= 0 for row in rep["nodes"].values())
    assert rep["totals"] == {"input_tokens": 201, "output_tokens": 40, "cost_usd": 0.002, "llm_calls": 2}
    assert rep["policy"][0]["escalate"] == ["refund-advisor"]
    assert rep["approval"][0]["decision"] == "approved" and rep["approval"][0]["by"] == "operator"
    assert rep["expected"] == [{"verdict": "pass", "latency_p95_s": 1.2}]
    assert rep["observed"]["gates"][0]["observed"] == {"latency_p95_ms": 1300.0}
    assert rep["observed"]["execution"][0]["status"] == "applied"
    assert rep["audit_records"] == 5  # the other thread's record is not included
    text = cli("report", "t-42")
    assert text.code == 0 and "plan" in text.out and "approval: approved by operator" in text.out


def test_report_for_an_unknown_thread_exits_1(cli: Any) -> None:
    res = cli("report", "nobody")
    assert res.code == 1 and "nobody" in res.err


def test_report_missing_traces_file_is_bad_input(cli: Any, tmp_path: Path) -> None:
    res = cli("report", "t", "--traces", tmp_path / "none.jsonl")
    assert res.code == 2 and "none.jsonl" in res.err


@pytest.mark.parametrize("fmt", ["jsonl"])
def test_export_round_trips_through_verify(cli: Any, fmt: str) -> None:
    _cycle("t-1")
    res = cli("audit", "export", "--format", fmt, "--thread", "t-1")
    rows = [json.loads(x) for x in res.out.splitlines()]
    assert len(rows) == 5 and {r["thread_id"] for r in rows} == {"t-1"}
    ok = cli("audit", "verify", "--json")
    assert ok.code == 0 and json.loads(ok.out)["anchored"] is False
