"""``jitplan report THREAD_ID``: per-node timings, tokens and cost from traces, choices from audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jitplan.tools.audit import AuditLog
from jitplan.tools.telemetry import record_llm_call, span


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
    assert rep["totals"] == {"input_tokens": 201, "output_tokens": 40, "cost_usd": 0.002, "llm_calls": 2,
                             "failed_llm_calls": 0}
    assert rep["policy"][0]["escalate"] == ["refund-advisor"]
    assert rep["approval"][0]["decision"] == "approved" and rep["approval"][0]["by"] == "operator"
    assert rep["expected"] == [{"verdict": "pass", "latency_p95_s": 1.2}]
    assert rep["observed"]["gates"][0]["observed"] == {"latency_p95_ms": 1300.0}
    assert rep["observed"]["execution"][0]["status"] == "applied"
    assert rep["audit_records"] == 5  # the other thread's record is not included
    text = cli("report", "t-42")
    assert text.code == 0 and "plan" in text.out and "approval: approved by operator" in text.out


def test_report_for_an_unknown_thread_is_bad_input(cli: Any) -> None:
    # an unknown id is bad input (exit 2), as for `approve`; it used to exit 1
    res = cli("report", "nobody")
    assert res.code == 2 and "nobody" in res.err and "THREAD_ID" in res.err
    doc = json.loads(cli("report", "nobody", "--json").out)
    assert doc["exit_code"] == 2 and doc["error"]["file"] == "THREAD_ID"
    assert "nobody" in doc["error"]["message"]


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


def test_one_real_cycle_has_one_span_per_node_and_a_report(cli: Any, world: Path, tmp_path: Path, _isolated_home: Path) -> None:
    import shutil

    from jitplan.tools.telemetry import read_spans

    flags = tmp_path / "flags.json"
    shutil.copyfile(world / "flags.json", flags)
    res = cli("plan", "--catalog", world / "catalog.yaml", "--signals", world / "signals" / "demand-rise.yaml",
              "--contracts", world / "contracts.yaml", "--state", flags, "--policy", world.parents[1] / "tools" / "policy_bundle",
              "--thread-id", "cycle-x", "--apply", "--json")
    # Without --evidence answer-synthesizer@1.0.0 is unproven, so the plan is one shadow step.
    # The planning snapshot has no observation taken after that step began, so its gate is
    # inconclusive and the run pauses for a human (exit 1) with the shadow left in place.
    assert res.code == 1, res.err
    doc = json.loads(res.out)
    assert doc["decision"] == "approved"
    assert [(s["id"], s["action"], s["feature"], s["version"]) for s in doc["plan"]["steps"]] == [
        ("s1", "shadow", "answer-synthesizer", "1.0.0")]
    ex = doc["execution"]
    assert (ex["status"], ex["exit_code"], ex["compensations"]) == ("paused", 1, [])
    assert ex["reason"].startswith("gate inconclusive after s1: latency_p95_ms: no signal for "
                                   "answer-synthesizer")
    assert ex["reason"].endswith("paused for a human (re-run to re-judge, --abort to compensate)")
    [step] = ex["steps"]
    assert (step["step_id"], step["status"], step["gate"]["verdict"]) == ("s1", "applied", "inconclusive")
    assert {t["metric"]: (t["verdict"], t["n"]) for t in step["gate"]["tolerances"]} == {
        m: ("inconclusive", 0)
        for m in ("latency_p95_ms", "error_rate", "quality", "cost_per_request_usd")}
    flag = json.loads(flags.read_text())["flags"]["answer-synthesizer"]
    assert flag["defaultVariant"] == "off" and flag["metadata"] == {"jitplan_shadow": "1.0.0"}
    spans = read_spans(_isolated_home / "traces.jsonl", thread_id="cycle-x")
    nodes = [s for s in spans if s["name"].startswith("jitplan.node.")]
    names = [s["attributes"]["jitplan.node"] for s in nodes]
    assert len(names) == len(set(names)), names  # one span per node
    assert {"perceive", "plan", "validate", "simulate", "decide", "execute", "record"} <= set(names)
    assert all(s["attributes"]["jitplan.thread_id"] == "cycle-x" for s in nodes)
    steps = [s for s in spans if s["name"] == "execute.step"]
    assert steps and all(s["attributes"]["jitplan.plan_id"].startswith("plan-") for s in steps)
    rep = json.loads(cli("report", "cycle-x", "--json").out)
    assert set(names) <= set(rep["nodes"]) and rep["approval"] and rep["expected"]
    assert cli("audit", "verify").code == 0
