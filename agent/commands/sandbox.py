"""``jitplan sandbox NEW_CATALOG --suite SUITE.yaml [--current CATALOG] [-k PATTERN] [--json]``.

Replays a regression suite (``jitplan regress``) twice, against the current catalog (each planning
case's own, or ``--current``) and against ``NEW_CATALOG``, each in a private temporary
``JITPLAN_HOME`` (checkpoints, audit log, caches) removed afterwards: the caller's home and any
``JITPLAN_AUDIT_URL``/``JITPLAN_CHECKPOINT_URL`` are never touched. For each planning case it
also compares the cycle's scenario matrix (the simulate node's scenarios) verdict by verdict.
Simulation cases do not read a catalog: they run once and show the same result on both sides.
Recorded cases (``planner: recorded``) are skipped: their cassettes answer the current catalog.
Exit 0 without regressions, 1 with any (a case or a scenario that passed now does not), 2 for bad
input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sandbox",
        help="replay a regression suite and its scenario matrix against a new catalog, "
        "side by side with the current one, in an isolated home",
        description="Exit 0 when nothing regresses, 1 when a case or scenario that passes on the "
        "current catalog does not on the new one, 2 for bad input.",
    )
    p.add_argument("new_catalog", metavar="NEW_CATALOG.yaml")
    p.add_argument("--suite", required=True, metavar="SUITE.yaml", help="a jitplan regress suite")
    p.add_argument("--current", metavar="CATALOG.yaml",
                   help="the current catalog (default: each planning case's own catalog)")
    p.add_argument("-k", dest="pattern", metavar="PATTERN",
                   help="only cases whose name contains PATTERN (or matches it as a glob)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run_sandbox)


def _change(cur: dict[str, Any], new: dict[str, Any]) -> str:
    if cur["status"] == "pass" and new["status"] != "pass":
        return "regression"
    if cur["status"] != "pass" and new["status"] == "pass":
        return "fixed"
    same = (cur["status"], cur.get("failures"), cur.get("observed")) == \
        (new["status"], new.get("failures"), new.get("observed"))
    return "same" if same else "changed"


def _planning(case: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """One planning case: its outcome row and its scenario matrix (name -> verdict, metrics)."""
    import time

    from jitplan.agent.commands._regress_run import check_planning, run_cycle_for

    t0 = time.perf_counter()
    try:
        result = run_cycle_for(case, None if case.planner == "offline" else case.planner)
        bad, observed = check_planning(case, result)
    except Exception as exc:  # one broken case must not stop the sandbox (as in regress)
        row = {"status": "error", "failures": [f"{type(exc).__name__}: {exc}"], "observed": {},
               "seconds": round(time.perf_counter() - t0, 3)}
        return row, {}
    matrix = {name: {"verdict": s.get("verdict"), "latency_p95_s": s.get("latency_p95_s"),
                     "cost_usd": s.get("cost_usd")}
              for name, s in sorted(((result.simulation or {}).get("scenarios") or {}).items())}
    row = {"status": "fail" if bad else "pass", "failures": bad, "observed": observed,
           "seconds": round(time.perf_counter() - t0, 3)}
    return row, matrix


def _isolated(home: str) -> Any:
    """The environment of one side: a private home; audit and checkpoints inside it."""
    import os
    from unittest.mock import patch

    return patch.dict(os.environ, {"JITPLAN_HOME": home, "JITPLAN_AUDIT_URL": "",
                                   "JITPLAN_CHECKPOINT_URL": ""})


def run_sandbox(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from jitplan.agent.commands._regress_run import check_metric_names, run_case, select
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.errors import UserError
    from jitplan.contracts.suite import PlanningCase, load_suite

    Catalog.from_file(args.new_catalog)  # bad input is exit 2 before anything runs
    new_path = str(Path(args.new_catalog).resolve())
    current = None
    if args.current:
        Catalog.from_file(args.current)
        current = str(Path(args.current).resolve())
    suite = load_suite(args.suite)
    check_metric_names(suite)
    cases = select(suite, args.pattern)
    if not cases:
        raise UserError(f"no case of {suite.name} matches {args.pattern!r}", source="-k")
    rows: list[dict[str, Any]] = []
    scenarios: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="jitplan-sandbox-", ignore_cleanup_errors=True) as tmp:
        for n, case in enumerate(cases, 1):
            if isinstance(case, PlanningCase) and case.planner.startswith("recorded"):
                cur = new = {"status": "skipped", "seconds": 0.0, "observed": {}, "failures": [
                    "recorded case: its cassette holds a real model's answers to the current "
                    "catalog, so it cannot be replayed against a new one"]}
            elif isinstance(case, PlanningCase):
                base = case if current is None else case.model_copy(update={"catalog": current})
                with _isolated(str(Path(tmp) / "current")):
                    cur, cur_m = _planning(base)
                with _isolated(str(Path(tmp) / "new")):
                    new, new_m = _planning(case.model_copy(update={"catalog": new_path}))
                for name in sorted(set(cur_m) | set(new_m)):
                    a = cur_m.get(name, {"verdict": "not_run"})
                    b = new_m.get(name, {"verdict": "not_run"})
                    reg = a.get("verdict") == "passed" and b.get("verdict") != "passed"
                    scenarios.append({"case": case.name, "scenario": name, "current": a, "new": b,
                                      "change": "regression" if reg else
                                      "same" if a.get("verdict") == b.get("verdict") else "changed"})
            else:
                with _isolated(str(Path(tmp) / "current")):
                    out = run_case(case).to_dict()
                cur = new = {k: out[k] for k in ("status", "failures", "observed", "seconds")}
            row = {"case": case.name, "kind": case.kind, "current": cur, "new": new,
                   "change": _change(cur, new)}
            rows.append(row)
            if not args.no_progress:
                sys.stderr.write(f"[{n}/{len(cases)}] {row['change']:<10} {case.name}\n")
                sys.stderr.flush()
    case_reg = sum(r["change"] == "regression" for r in rows)
    scen_reg = sum(s["change"] == "regression" for s in scenarios)
    code = 1 if case_reg + scen_reg else 0
    doc = {"suite": suite.name, "source": suite.source, "new_catalog": args.new_catalog,
           "current_catalog": args.current, "cases": rows, "scenarios": scenarios,
           "regressions": case_reg + scen_reg, "case_regressions": case_reg,
           "scenario_regressions": scen_reg, "fixed": sum(r["change"] == "fixed" for r in rows),
           "compatible": code == 0, "exit_code": code}
    if args.json:
        from jitplan.agent.commands._output import dump_json

        dump_json(doc)
    else:
        print(_table(doc))
    return code


def _table(doc: dict[str, Any]) -> str:
    from jitplan.agent.commands._output import clean

    cur = doc["current_catalog"] or "each case's catalog"
    lines = [f"sandbox {clean(doc['suite'])}: current = {clean(cur)}, new = {clean(doc['new_catalog'])}: "
             f"{doc['case_regressions']} case and {doc['scenario_regressions']} scenario regression(s), "
             f"{doc['fixed']} fixed"]
    head = ("case", "kind", "current", "new", "change", "detail")
    body = []
    for r in doc["cases"]:
        fail = (r["new"]["failures"] or r["current"]["failures"] or [""])[0]
        body.append((clean(r["case"], 60), r["kind"], r["current"]["status"].upper(),
                     r["new"]["status"].upper(), r["change"].upper() if r["change"] == "regression"
                     else r["change"], clean(fail, 160)))
    lines += _rows(head, body)
    if doc["scenarios"]:
        lines.append("scenario matrix")
        body = [(clean(s["case"], 60), clean(s["scenario"], 60), str(s["current"].get("verdict")),
                 str(s["new"].get("verdict")),
                 s["change"].upper() if s["change"] == "regression" else s["change"], "")
                for s in doc["scenarios"]]
        lines += _rows(("case", "scenario", "current", "new", "change", ""), body)
    return "\n".join(line.rstrip() for line in lines)


def _rows(head: tuple[str, ...], body: Sequence[tuple[str, ...]]) -> list[str]:
    rows = [head, *body]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    return ["  " + "  ".join(r[i].ljust(widths[i]) for i in range(len(widths))) + "  " + r[-1]
            for r in rows]
