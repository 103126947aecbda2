"""What the console shows and does, on the same library functions as the CLI.

Cycles come from the audit log (every cycle audits its ``inputs`` first) and their checkpoints
(``runtime.load_result``); costs and node timings from ``jitplan report``'s ``build_report``;
approvals go through ``runtime.approve_cycle`` (``Command(resume=...)``, audited, serialised);
the audit status is ``AuditLog.verify`` as in ``jitplan audit verify``.
"""

from __future__ import annotations

__all__ = ["AlreadyDecided", "audit_status", "cycle_detail", "decide", "list_cycles",
           "waiting_approvals"]

from collections import defaultdict
from pathlib import Path
from typing import Any

from jitplan.contracts.errors import UserError


class AlreadyDecided(UserError):
    """The cycle is not (or no longer) waiting for approval."""


def _traces_path() -> Path:
    from jitplan.contracts.home import jitplan_home

    return jitplan_home() / "traces.jsonl"


def _spans_by_thread(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Spans grouped by the thread id of their trace (as ``read_spans(thread_id=...)`` does)."""
    trace_threads: dict[Any, set[str]] = defaultdict(set)
    for s in spans:
        tid = s["attributes"].get("jitplan.thread_id")
        if tid:
            trace_threads[s.get("trace_id")].add(str(tid))
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in spans:
        for tid in trace_threads.get(s.get("trace_id"), ()):
            out[tid].append(s)
    return out


def _summary(rep: dict[str, Any]) -> tuple[float, float]:
    """Cost (USD) and duration (ms, the nodes' own time) of one report."""
    duration = sum(float(r.get("duration_ms") or 0.0) for r in rep["nodes"].values())
    return float(rep["totals"]["cost_usd"]), round(duration, 1)


def list_cycles(limit: int = 200) -> list[dict[str, Any]]:
    """The newest ``limit`` cycles: thread id, started, decision, status, planner, cost, duration."""
    from jitplan.agent.commands.report import build_report
    from jitplan.agent.runtime import load_result
    from jitplan.tools.audit import AuditLog
    from jitplan.tools.telemetry import read_spans

    with AuditLog.open() as log:
        records = log.records()
    by_thread: dict[str, list[Any]] = defaultdict(list)
    for r in records:
        if r.thread_id:
            by_thread[r.thread_id].append(r)
    started = [(r.seq, r.thread_id, r.ts, str(r.payload.get("request") or ""))
               for r in records if r.kind == "inputs" and r.thread_id]
    started.sort(reverse=True)
    spans = _spans_by_thread(read_spans(_traces_path()))
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _seq, tid, ts, request in started:
        if tid in seen or len(rows) >= limit:
            continue
        seen.add(tid)
        try:
            res = load_result(tid)
        except UserError:  # audited but no checkpoint here (another checkpointer)
            continue
        cost, duration = _summary(build_report(tid, spans.get(tid, []), by_thread[tid]))
        rows.append({"thread_id": tid, "started": ts, "decision": res.decision, "status": res.status,
                     "planner": res.planner, "cost_usd": cost, "duration_ms": duration,
                     "goal": str((res.plan or {}).get("goal") or ""),
                     "request": request, "approver_roles": list((res.escalation or {}).get("approver_roles") or [])})
    return rows


def cycle_detail(thread_id: str) -> dict[str, Any]:
    """One cycle: its ``CycleResult``, ``jitplan report``'s report and its audit records."""
    from jitplan.agent.commands.report import build_report
    from jitplan.agent.runtime import load_result
    from jitplan.tools.audit import AuditLog
    from jitplan.tools.telemetry import read_spans

    result = load_result(thread_id)
    with AuditLog.open() as log:
        records = log.records(thread_id)
    spans = read_spans(_traces_path(), thread_id=thread_id)
    report = build_report(thread_id, spans, records)
    return {"result": result, "report": report, "audit": records}


def waiting_approvals(limit: int = 200) -> list[dict[str, Any]]:
    """The escalated cycles still waiting for a human, newest first."""
    from jitplan.agent.runtime import load_result

    out = []
    for row in list_cycles(limit):
        if row["decision"] == "escalated" and row["status"] == "interrupted":
            res = load_result(row["thread_id"])
            esc = res.escalation or {}
            out.append({**row, "reasons": [str(x) for x in esc.get("reasons") or []],
                        "plan_id": esc.get("plan_id"), "plan_sha256": esc.get("plan_sha256")})
    return out


def decide(thread_id: str, *, approve: bool, role: str, comment: str) -> Any:
    """Approve or reject a waiting cycle as ``jitplan approve`` does (the same function)."""
    from jitplan.agent.runtime import approve_cycle, load_result

    try:
        return approve_cycle(thread_id, approve=approve, role=role, comment=comment[:2000])
    except UserError as exc:
        if "not waiting for approval" in str(exc):
            current = load_result(thread_id)
            raise AlreadyDecided(f"cycle {thread_id} is already decided ({current.decision}"
                                 + (f" by {current.approval.get('by')}" if current.approval else "")
                                 + ")", source="THREAD_ID") from None
        raise


def audit_status(head_file: str | None) -> dict[str, Any]:
    """``jitplan audit verify`` (against ``head_file`` when given) plus the current head."""
    from jitplan.tools.audit import AuditHead, AuditLog, load_hmac_key

    head = AuditHead.from_file(head_file) if head_file else None
    key = load_hmac_key(None)
    with AuditLog.open() as log:
        report = log.verify(head, hmac_key=key)
        current = log.head(key)
    doc = report.to_dict()
    doc["current_head"] = current.model_dump(exclude_none=True)
    doc["head_file"] = head_file
    doc["signed"] = key is not None
    return doc
