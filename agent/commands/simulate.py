"""``jitplan simulate SCENARIO.yaml [--plan PLAN.json] [--engine fast|exact] [--seed N]
[--replications R] [--workers W] [--backend local|ray] [--json] [--out DIR]``.

Exit codes: 0 ok (and the plan's verdict is pass), 1 the plan under test failed its gates,
2 bad input, 3 run failure.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="replay a load/drift/failure scenario (optionally against a plan)",
        description="Simulate SCENARIO (YAML) with the fast (batch, compiled) or exact (SimPy "
        "process per request) engine. Exit 0 ok, 1 when the plan under test fails a gate, "
        "2 bad input.",
    )
    p.add_argument("scenario", metavar="SCENARIO.yaml", nargs="?")
    from jitplan.agent.commands._simulate_catalog import add_catalog_arguments
    add_catalog_arguments(p)  # --catalog/--signals/--contracts/--state/--evidence: a plan's matrix
    p.add_argument(
        "--plan", metavar="PLAN.json", help="plan under test (overrides an embedded plan)"
    )
    p.add_argument("--engine", choices=("fast", "exact"), default="fast")
    p.add_argument("--seed", type=int, help="override the scenario seed")
    p.add_argument("--replications", type=int, metavar="R", help="override the scenario's")
    p.add_argument("--workers", type=int, default=1, metavar="W", help="parallel processes")
    p.add_argument("--backend", choices=("local", "ray"), default="local")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--out", metavar="DIR", help="write result.json, timeseries.csv and a PNG")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.set_defaults(func=run_simulate)


def _no_scenario() -> int:
    from jitplan.contracts.errors import UserError

    raise UserError("give SCENARIO.yaml, or --catalog CATALOG.yaml --plan PLAN.json", source="simulate")


def run_simulate(args: argparse.Namespace) -> int:
    from jitplan.contracts.errors import UserError
    from jitplan.contracts.plan import Plan
    from jitplan.simulator import load_scenario, run
    from jitplan.simulator.output import ProgressBar, summary_table, write_outputs

    if args.catalog or not args.scenario:
        from jitplan.agent.commands._simulate_catalog import run_catalog
        return run_catalog(args) if args.catalog else _no_scenario()
    if args.replications is not None and args.replications < 1:
        raise UserError("must be at least 1", source="--replications")
    if args.seed is not None and args.seed < 0:
        raise UserError("must be non-negative", source="--seed")
    if args.workers < 1:
        raise UserError("must be at least 1", source="--workers")
    scenario = load_scenario(args.scenario)
    plan = Plan.from_file(args.plan) if args.plan else None
    show = not args.no_progress and sys.stderr.isatty()
    bar = ProgressBar(f"simulating {scenario.name}") if show else None
    try:
        res = run(
            scenario,
            plan,
            engine=args.engine,
            replications=args.replications,
            seed=args.seed,
            workers=args.workers,
            backend=args.backend,
            progress=bar,
        )
    finally:
        if bar is not None:
            bar.close()
    if args.out:
        write_outputs(res, args.out)
    if args.json:
        sys.stdout.write(res.to_json() + "\n")
    else:
        print(summary_table(res))
        if args.out:
            print(f"\nwrote {args.out}/result.json, timeseries.csv, timeseries.png")
    return 1 if res.passed is False else 0
