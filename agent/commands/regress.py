"""``jitplan regress SUITE.yaml [--junit out.xml] [--json] [--workers N] [-k PATTERN]``.

Runs a regression suite (``jitplan.contracts.suite``): planning cases through
``jitplan.agent.runtime.run_cycle`` with the plan cache off, simulation cases through
``jitplan.simulator.run``. Every run gets a private ``JITPLAN_HOME`` (checkpoints, audit log),
removed afterwards. Exit 0 if every case passes, 1 if any fails, 2 for a bad suite.
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
    p.set_defaults(func=run_regress)


def run_regress(args: argparse.Namespace) -> int:
    import json
    import os
    import tempfile
    from concurrent.futures import ThreadPoolExecutor, as_completed
    from unittest.mock import patch

    from jitplan.agent.commands._regress_run import (
        check_metric_names,
        run_case,
        select,
        table,
        to_junit,
    )
    from jitplan.contracts.errors import UserError
    from jitplan.contracts.suite import load_suite

    if args.workers < 1:
        raise UserError("must be at least 1", source="--workers")
    suite = load_suite(args.suite)
    check_metric_names(suite)
    cases = select(suite, args.pattern)
    if not cases:
        raise UserError(f"no case of {suite.name} matches {args.pattern!r}", source="-k")
    outcomes = []
    # A private home (checkpoints, audit log) for this run; patch.dict restores the environment.
    with tempfile.TemporaryDirectory(prefix="jitplan-regress-", ignore_cleanup_errors=True) as home, \
            patch.dict(os.environ, {"JITPLAN_HOME": home}), \
            ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(run_case, c) for c in cases]
        for done, fut in enumerate(as_completed(futures), 1):
            out = fut.result()
            outcomes.append(out)
            if not args.no_progress:
                sys.stderr.write(f"[{done}/{len(cases)}] {out.status.upper():5} {out.name} "
                                 f"({out.seconds:.1f} s)\n")
                sys.stderr.flush()
    order = {c.name: i for i, c in enumerate(cases)}
    outcomes.sort(key=lambda o: order[o.name])
    if args.junit:
        to_junit(suite.name, outcomes).write(args.junit, encoding="utf-8", xml_declaration=True)
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
