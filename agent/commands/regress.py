"""``jitplan regress SUITE.yaml [--junit out.xml] [--json] [--workers N] [-k PATTERN]
[--record --model M [--note TEXT]]``.

Runs a regression suite (``jitplan.contracts.suite``) with ``jitplan.agent.regress.run_suite``: planning cases through
``jitplan.agent.runtime.run_cycle`` with the plan cache off, simulation cases through
``jitplan.simulator.run``. Every run gets a private ``JITPLAN_HOME`` (checkpoints, audit log),
removed afterwards. Exit 0 if every case passes, 1 if any fails, 2 for a bad suite.

Recorded cases (``planner: recorded``) replay their cassettes through a local server over HTTP
(``_regress_recorded``); a stale cassette fails its case (exit 1), a missing or malformed one is a
bad suite (exit 2). ``--record --model M`` runs only the recorded cases, against the real model,
and rewrites their cassettes.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "regress",
        help="run a regression suite of planning and simulation cases (JUnit XML for CI)",
        description="Run the cases of SUITE.yaml and check their expectations. Exit 0 when every "
        "case passes, 1 when any fails, 2 for a bad suite.",
    )
    p.add_argument("suite", metavar="SUITE.yaml")
    p.add_argument("--junit", metavar="OUT.xml", help="write JUnit XML: one testcase per case")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="cases run in parallel (threads)")
    p.add_argument("-k", dest="pattern", metavar="PATTERN",
                   help="only cases whose name contains PATTERN (or matches it as a glob)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.add_argument("--record", action="store_true",
                   help="run the real model (--model) for each 'planner: recorded' case and write its "
                   "recording to SUITE.recordings/CASE.json (other cases are not run)")
    p.add_argument("--model", metavar="M", help="with --record: the litellm model to record "
                   "(JITPLAN_LLM_API_BASE / JITPLAN_LLM_API_KEY as for jitplan plan)")
    p.add_argument("--note", default="", metavar="TEXT", help="with --record: a note stored in each recording")
    p.set_defaults(func=run_regress)


def run_regress(args: argparse.Namespace) -> int:
    import json

    from jitplan.agent.commands._out_paths import check_output_file, write_failed
    from jitplan.agent.commands._regress_recorded import is_recorded
    from jitplan.agent.commands._regress_run import CaseOutcome, select, table, to_junit
    from jitplan.agent.regress import run_suite
    from jitplan.contracts.errors import UserError
    from jitplan.contracts.suite import load_suite

    if args.workers < 1:
        raise UserError("must be at least 1", source="--workers")
    if args.record != bool(args.model):
        raise UserError("--record and --model M go together", source="--model" if args.model else "--record")
    if args.junit:
        check_output_file(args.junit, "--junit")  # before the cases run, not after
    suite = load_suite(args.suite)
    cases = select(suite, args.pattern)
    if not cases:
        raise UserError(f"no case of {suite.name} matches {args.pattern!r}", source="-k")
    if args.record:
        cases = [c for c in cases if is_recorded(c)]
        if not cases:
            raise UserError(f"no selected case of {suite.name} has 'planner: recorded'", source="--record")

    def progress(done: int, total: int, out: CaseOutcome) -> None:
        if not args.no_progress:
            sys.stderr.write(f"[{done}/{total}] {out.status.upper():5} {out.name} ({out.seconds:.1f} s)\n")
            sys.stderr.flush()

    outcomes = run_suite(suite, cases, workers=args.workers, record_model=args.model if args.record else None,
                         note=args.note, progress=progress)
    if args.record:
        written = [o.observed["recording"] for o in outcomes if "recording" in o.observed]
        sys.stderr.write(f"recorded {len(written)} of {len(outcomes)} case(s) with {args.model}\n")
    if args.junit:
        try:
            to_junit(suite.name, outcomes).write(args.junit, encoding="utf-8", xml_declaration=True)
        except OSError as exc:
            raise write_failed(args.junit, "--junit", exc) from None
    failed = sum(o.status != "pass" for o in outcomes)
    if args.json:
        doc = {"suite": suite.name, "source": suite.source, "passed": len(outcomes) - failed,
               "failed": failed, "cases": [o.to_dict() for o in outcomes]}
        sys.stdout.write(json.dumps(doc, sort_keys=True) + "\n")
    else:
        print(table(outcomes))
        print(f"\n{suite.name}: {len(outcomes) - failed} passed, {failed} failed")
        if args.junit:
            print(f"wrote {args.junit}")
    return 1 if failed else 0
