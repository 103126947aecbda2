"""``jitplan sweep SCENARIO.yaml --param PATH=a:b:n [--param ...] [--design grid|random]
[--points N] [--replications R] [--seed N] [--engine fast|exact] [--backend local|ray]
[--workers W] [--out DIR] [--json]``.

Runs the scenario at every point of the grid (or at N points drawn at random from the
``--param PATH=lo:hi`` ranges with ``--design random``) and writes ``sweep.csv`` (mean and CI95 of every
metric per point; ``sweep.parquet`` too when pyarrow is installed) and one PNG per metric.
Exit codes: 0 ok, 2 bad input (a bad ``--param`` path or value is named), 3 run failure.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a scenario over a grid of parameter values (CSV + plots with CI95)",
        description="Sweep SCENARIO (YAML) over a grid: each --param PATH=a:b:n gives n evenly "
        "spaced values (or PATH=v1,v2,...) of a dotted scenario field such as traffic.rate_rps; "
        "several --param form a full grid. With --design random --points N, each --param PATH=lo:hi "
        "is a range and N points are drawn from the ranges. Every point runs R replications with "
        "the same seed.",
    )
    p.add_argument("scenario", metavar="SCENARIO.yaml")
    p.add_argument(
        "--param", action="append", required=True, metavar="PATH=a:b:n",
        help="a swept scenario field and its values (repeatable)",
    )
    p.add_argument("--design", choices=("grid", "random"), default="grid",
                   help="grid (default): every combination of the values; random: --points points "
                   "drawn uniformly from each PATH=lo:hi range (or value list), deterministic for --seed")
    p.add_argument("--points", type=int, metavar="N", help="with --design random: how many points")
    p.add_argument("--replications", type=int, metavar="R", help="per point (default: scenario's)")
    p.add_argument("--seed", type=int, help="override the scenario seed")
    p.add_argument("--engine", choices=("fast", "exact"), default="fast")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="ray: replications as Ray tasks (RAY_ADDRESS for an existing cluster)")
    p.add_argument("--workers", type=int, default=1, metavar="W", help="local worker processes")
    p.add_argument("--out", metavar="DIR", help="output folder (default: sweep-<scenario name>)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.set_defaults(func=run_sweep)


def run_sweep(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._out_paths import check_output_dir, write_failed
    from jitplan.contracts.errors import UserError
    from jitplan.simulator import load_scenario
    from jitplan.simulator.output import ProgressBar
    from jitplan.simulator.result import canonical
    from jitplan.simulator.sweep import parse_axis, sweep
    from jitplan.simulator.sweep_output import write_sweep

    if args.replications is not None and args.replications < 1:
        raise UserError("must be at least 1", source="--replications")
    if args.seed is not None and args.seed < 0:
        raise UserError("must be non-negative", source="--seed")
    if args.workers < 1:
        raise UserError("must be at least 1", source="--workers")
    axes = [parse_axis(spec, args.design) for spec in args.param]
    scenario = load_scenario(args.scenario)
    out = args.out or f"sweep-{scenario.name}"
    check_output_dir(out, "--out")  # before the sweep runs, not after
    show = not args.no_progress and sys.stderr.isatty()
    bar = ProgressBar(f"sweeping {scenario.name}") if show else None
    try:
        res = sweep(
            scenario, axes, replications=args.replications, seed=args.seed, engine=args.engine,
            backend=args.backend, workers=args.workers, progress=bar, design=args.design,
            points=args.points,
        )
    finally:
        if bar is not None:
            bar.close()
    try:
        paths = write_sweep(res, out)
    except OSError as exc:
        raise write_failed(exc.filename or out, "--out", exc) from None
    if args.json:
        cols, rows = res.rows()
        doc = {
            "scenario": res.scenario,
            "engine": res.engine,
            "seed": res.seed,
            "design": res.design,
            "replications": res.replications,
            "backend": args.backend,
            "params": {a.path: list(a.values) for a in res.axes},
            "points": [dict(zip(cols, r, strict=True)) for r in rows],
            "files": [str(p) for p in paths],
        }
        sys.stdout.write(canonical(doc) + "\n")
    else:
        if res.design == "random":
            grid = "random design over " + ", ".join(
                f"{a.path} in [{a.values[0]:g}, {a.values[1]:g}]" if a.span else f"{a.path} in {{"
                + ",".join(f"{v:g}" for v in a.values) + "}" for a in res.axes)
        else:
            grid = " × ".join(f"{len(a.values)} {a.path}" for a in res.axes)
        print(
            f"swept {res.scenario}: {grid} = {len(res.points)} points × {res.replications} "
            f"replications (seed {res.seed}, {args.backend})"
        )
        print(f"wrote {len(paths)} files to {out}/: " + ", ".join(p.name for p in paths[:3])
              + (", …" if len(paths) > 3 else ""))
    return 0
