"""``jitplan simulate --catalog CATALOG.yaml --plan PLAN.json [--signals S --contracts C]
[--state FLAGS.json] [--evidence PATH]...``: the planning cycle's simulation of one plan.

The scenario matrix is derived from the catalog, the signals and the deployment state (as the
``simulate`` node does), and every version is simulated on its evidence; a version without
evidence is ``unproven``. Exit 0 when the verdict is ``passed``, 1 when ``failed`` or
``unproven``, 2 on bad input.
"""

from __future__ import annotations

__all__ = ["add_catalog_arguments", "run_catalog"]

import argparse
import sys
from typing import Any


def add_catalog_arguments(p: argparse.ArgumentParser) -> None:
    from jitplan.agent.commands._evidence_args import add_evidence_argument

    g = p.add_argument_group("a plan against the catalog's scenario matrix (instead of SCENARIO)")
    g.add_argument("--catalog", metavar="CATALOG.yaml",
                   help="simulate --plan through the matrix derived from this catalog")
    g.add_argument("--signals", metavar="SIGNALS.yaml", help="signal snapshot (needs --contracts)")
    g.add_argument("--contracts", metavar="CONTRACTS.yaml", help="data contracts for the signals")
    g.add_argument("--state", metavar="FLAGS.json", help="current deployment (the serving versions)")
    add_evidence_argument(g)


def run_catalog(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._evidence_args import evidence_index
    from jitplan.agent.commands._output import clean, dump_json, provenance_text
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.errors import UserError
    from jitplan.contracts.loading import load_document
    from jitplan.contracts.plan import Plan
    from jitplan.contracts.signals import ContractSet, SignalSnapshot
    from jitplan.contracts.state import DeploymentState
    from jitplan.tools.plan_simulation import simulate_plan
    from jitplan.tools.signal_check import check_signals

    if args.scenario:
        raise UserError("give either SCENARIO.yaml or --catalog with --plan, not both", source="--catalog")
    if not args.plan:
        raise UserError("--catalog simulates a plan: give --plan PLAN.json", source="--plan")
    if args.replications is not None and args.replications < 1:
        raise UserError("must be at least 1", source="--replications")
    catalog = Catalog.from_file(args.catalog)
    plan = Plan.from_file(args.plan)
    statuses: list[Any] = []
    if args.signals:
        if not args.contracts:
            raise UserError("signals need their data contracts; pass --contracts CONTRACTS.yaml",
                            source="--signals")
        statuses = check_signals(SignalSnapshot.from_file(args.signals),
                                 ContractSet.from_file(args.contracts), catalog)
    state = (DeploymentState.from_flagd(load_document(args.state), source=args.state)
             if args.state else DeploymentState())
    index = evidence_index(args, catalog, statuses)
    serving = {s.feature: state.get(s.feature).version for s in plan.steps if s.feature}
    res = simulate_plan(plan, catalog, statuses, replications=args.replications or 10,
                        serving=serving, engine=args.engine, evidence=index)
    if args.json:
        dump_json(res)
    else:
        out = sys.stdout
        out.write(f"plan {clean(plan.id)}: simulation {res['verdict']} "
                  f"({res['replications']} replications per scenario)\n")
        for key, prov in sorted(res.get("provenance", {}).items()):
            out.write(f"  evidence {clean(key):<36} {clean(provenance_text(prov))}\n")
        for name, row in sorted(res["scenarios"].items()):
            out.write(f"  {clean(name):<45} {row['verdict']:<9} gates held {row['pass_rate']:.0%}  "
                      f"p95 {row['latency_p95_s']:.3f} s  errors {row['error_rate']:.4f}\n")
        for f in res["failures"]:
            out.write(f"  - {clean(f, 600)}\n")
    return 0 if res["passed"] else 1
