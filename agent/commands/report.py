"""``jitplan report THREAD_ID [--json]``: one planning cycle from its traces and audit records.

Timings per node, tokens and cost (summed over the innermost spans carrying them, so a node span
and its LLM-call spans are not double counted), policy choices, approval, and expected
(simulated) vs observed (gated, executed) outcome.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="summarise one planning cycle (timings, tokens, cost, outcome)",
                       description="Exit 0 ok, 2 bad input (an unknown thread id).")
    p.add_argument("thread_id", metavar="THREAD_ID")
    p.add_argument("--audit", metavar="URL", help="audit log (default <home>/audit.db)")
    p.add_argument("--traces", metavar="FILE", help="traces JSONL (default <home>/traces.jsonl)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0


def build_report(thread_id: str, spans: list[dict[str, Any]], records: list[Any]) -> dict[str, Any]:
    """The report as a dict (pure; ``records`` are ``AuditRecord``s of the thread)."""
    by_id = {s.get("span_id"): s for s in spans}
    cost_ancestors: set[Any] = set()
    token_ancestors: set[Any] = set()
    for s in spans:
        attrs = s["attributes"]
        for key, target in (("jitplan.cost_usd", cost_ancestors), ("gen_ai.usage.input_tokens", token_ancestors)):
            if key in attrs:
                parent = s.get("parent_span_id")
                while parent in by_id and parent not in target:
                    target.add(parent)
                    parent = by_id[parent].get("parent_span_id")
    nodes: dict[str, dict[str, Any]] = {}
    totals = {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "llm_calls": 0, "failed_llm_calls": 0}
    for s in sorted(spans, key=lambda d: str(d.get("start"))):
        attrs = s["attributes"]
        node = str(attrs.get("jitplan.node") or s.get("name"))
        row = nodes.setdefault(node, {"spans": 0, "duration_ms": 0.0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0})
        row["spans"] += 1
        if s.get("parent_span_id") not in by_id or by_id[s["parent_span_id"]]["attributes"].get("jitplan.node") != attrs.get("jitplan.node"):
            row["duration_ms"] += _num(s.get("duration_ms"))
        if "gen_ai.usage.input_tokens" in attrs and s.get("span_id") not in token_ancestors:
            tin, tout = int(_num(attrs.get("gen_ai.usage.input_tokens"))), int(_num(attrs.get("gen_ai.usage.output_tokens")))
            row["input_tokens"] += tin
            row["output_tokens"] += tout
            totals["input_tokens"] += tin
            totals["output_tokens"] += tout
            totals["llm_calls"] += 1
            if s.get("name") == "jitplan.llm.call" and s.get("status") == "ERROR":
                totals["failed_llm_calls"] += 1
        if "jitplan.cost_usd" in attrs and s.get("span_id") not in cost_ancestors:
            row["cost_usd"] += _num(attrs["jitplan.cost_usd"])
            totals["cost_usd"] += _num(attrs["jitplan.cost_usd"])
    totals["cost_usd"] = round(float(totals["cost_usd"]), 8)
    kinds: dict[str, int] = {}
    policy, approvals, simulation, gates, execution = [], [], [], [], []
    for r in records:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
        p = r.payload
        if r.kind == "policy":
            policy.append({k: p.get(k) for k in ("allowed", "deny", "escalate", "bundle_sha256") if k in p} or p)
        elif r.kind == "approval":
            approvals.append({k: p.get(k) for k in ("decision", "by", "comment", "auto", "plan_sha256")} | {"ts": r.ts})
        elif r.kind == "simulation":
            simulation.append(p)
        elif r.kind == "gate":
            gates.append({"unit": p.get("unit"), "verdict": p.get("verdict"),
                          "observed": {t.get("metric"): t.get("observed") for t in p.get("tolerances") or []}})
        elif r.kind in ("execution", "outcome"):
            execution.append({"kind": r.kind, **p})
    return {
        "thread_id": thread_id,
        "spans": len(spans),
        "nodes": nodes,
        "totals": totals,
        "audit_records": len(records),
        "audit_kinds": kinds,
        "policy": policy,
        "approval": approvals,
        "expected": simulation,
        "observed": {"gates": gates, "execution": execution},
    }


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from jitplan.agent.commands._output import clean, dump_json, provenance_text
    from jitplan.contracts.errors import UserError
    from jitplan.contracts.home import jitplan_home
    from jitplan.tools.audit import AuditLog
    from jitplan.tools.telemetry import read_spans

    traces = Path(args.traces) if args.traces else jitplan_home() / "traces.jsonl"
    if args.traces and not traces.exists():
        raise UserError("file not found", source=args.traces)
    spans = read_spans(traces, thread_id=args.thread_id)
    with AuditLog.open(args.audit) as log:
        records = log.records(args.thread_id)
    if not spans and not records:
        where = f"{args.audit or 'the audit log'} or {traces}"
        raise UserError(f"unknown thread {args.thread_id!r}: no spans or audit records in {where}",
                        source="THREAD_ID")
    rep = build_report(args.thread_id, spans, records)
    if args.json:
        dump_json(rep)
        return 0
    w = sys.stdout.write
    t = rep["totals"]
    w(f"thread {args.thread_id}: {rep['spans']} spans, {rep['audit_records']} audit records\n")
    w(f"  tokens in {t['input_tokens']}, out {t['output_tokens']} over {t['llm_calls']} LLM calls ({t['failed_llm_calls']} failed); cost ${t['cost_usd']:.6f}\n")
    w("  node                  spans   time_ms   tokens_in  tokens_out   cost_usd\n")
    for name, row in rep["nodes"].items():
        w(f"  {name:<20} {row['spans']:>6} {row['duration_ms']:>9.1f} {row['input_tokens']:>11} {row['output_tokens']:>11} {row['cost_usd']:>10.6f}\n")
    for p in rep["policy"]:
        verdict = "allowed" if p.get("allowed") else "denied"
        w(f"  policy: {verdict} (bundle {str(p.get('bundle_sha256', ''))[:12]})\n")
        for reason in p.get("deny") or []:
            w(f"    deny: {clean(str(reason), 300)}\n")
        for reason in p.get("escalate") or []:
            w(f"    escalate: {clean(str(reason), 300)}\n")
    for a in rep["approval"]:
        w(f"  approval: {a.get('decision')} by {a.get('by')} ({'auto' if a.get('auto') else 'human'}) {clean(str(a.get('comment') or ''))}\n")
    for sim in rep["expected"]:
        state = sim.get("verdict") or ("passed" if sim.get("passed") else "failed")
        w(f"  expected (simulated, {sim.get('replications', '?')} replications per scenario): {state}\n")
        for key, prov in sorted((sim.get("provenance") or {}).items()):  # what each version rests on
            w(f"    evidence {clean(str(key)):<31} {clean(provenance_text(prov), 200)}\n")
        for name, m in sorted((sim.get("scenarios") or {}).items()):
            if isinstance(m, dict):
                w(f"    {clean(name):<40} {m.get('verdict', m.get('status', '?')):<8} p95 {m.get('latency_p95_s', float('nan')):.3f} s"
                  f"  errors {m.get('error_rate', float('nan')):.4f}  cost ${m.get('cost_usd', float('nan')):.2f}"
                  f"{'  rolled back' if m.get('rolled_back') else ''}\n")
    for g in rep["observed"]["gates"]:
        observed = ", ".join(f"{k}={v:g}" if isinstance(v, int | float) else f"{k}={v}" for k, v in g["observed"].items())
        w(f"  observed gate {g['unit']}: {g['verdict']} {observed}\n")
    for e in rep["observed"]["execution"]:
        if e.get("kind") == "outcome":
            w(f"  outcome: {e.get('decision')} (planner {e.get('planner')}, revisions {e.get('revisions', 0)}, "
              f"fast path {bool(e.get('fast_path'))})\n")
        else:
            w(f"  execution: {e.get('status', '?')} {clean(str(e.get('reason') or ''), 300)}\n")
    return 0
