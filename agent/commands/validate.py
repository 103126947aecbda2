"""``jitplan validate PLAN.json --catalog C [--signals S --contracts K] [--state FLAGS]
[--policy DIR | --no-policy] --as ROLE --region R [--json]``.

Exit 0 when the plan is valid, 1 when it has violations (all listed), 2 on bad input (a missing
or malformed file; a plan that breaks the plan schema is a violation, not bad input).

Policy is on by default (the bundle shipped with jitplan; ``--policy``/``JITPLAN_POLICY``
replace it); ``--no-policy`` is recorded in the audit log and reports that a human must approve.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_context_args(p: argparse.ArgumentParser, *, allow_disable: bool = True) -> None:
    """Options shared by ``validate`` and ``policy eval``."""
    from jitplan.agent.commands._policy_args import add_policy_args, add_requester_args

    p.add_argument("--catalog", required=True, metavar="CATALOG.yaml")
    p.add_argument("--signals", metavar="SIGNALS.yaml", help="signal snapshot (needs --contracts)")
    p.add_argument("--contracts", metavar="CONTRACTS.yaml",
                   help="data contracts deciding which signals are quarantined")
    p.add_argument("--state", metavar="FLAGS.json", help="current deployment (flagd flags file)")
    from jitplan.agent.commands._evidence_args import add_evidence_argument
    add_evidence_argument(p)
    add_policy_args(p, allow_disable=allow_disable)
    add_requester_args(p)
    p.add_argument("--purpose", default="", metavar="TEXT", help="why the change is requested")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "validate",
        help="check a plan deterministically: schema, catalog, dependencies, canary weights, "
        "tolerances, compensations, budgets, quarantined signals, policy",
        description="Exit 0 valid, 1 invalid (violations listed), 2 bad input.",
    )
    p.add_argument("plan", metavar="PLAN.json")
    add_context_args(p)
    p.set_defaults(func=run)


def load_context(args: argparse.Namespace) -> dict[str, Any]:
    """Catalog, checked signals, state, policy bundle and request from the shared options."""
    from jitplan.agent.commands._policy_args import load_bundle, policy_choice, requester
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.errors import UserError
    from jitplan.contracts.loading import load_document
    from jitplan.contracts.signals import ContractSet, SignalSnapshot
    from jitplan.contracts.state import DeploymentState
    from jitplan.tools.signal_check import check_signals

    catalog = Catalog.from_file(args.catalog)
    signals = []
    if args.signals:
        if not args.contracts:
            raise UserError("signals need their data contracts to decide quarantine; pass "
                            "--contracts CONTRACTS.yaml", source="--signals")
        snapshot = SignalSnapshot.from_file(args.signals)
        signals = check_signals(snapshot, ContractSet.from_file(args.contracts), catalog)
    state = None
    if args.state:
        state = DeploymentState.from_flagd(load_document(args.state), source=args.state)
    request = requester(args, args.purpose)
    choice = policy_choice(args)
    bundle = load_bundle(choice)
    note = None
    if choice.disabled:
        note = ("policy disabled (--no-policy): only the catalog's roles and regions were "
                "checked; recorded in the audit log")
    return {"catalog": catalog, "signals": signals, "state": state, "policy": bundle,
            "request": request, "note": note}


def run(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._output import clean, dump_json
    from jitplan.contracts.loading import load_document
    from jitplan.tools.validator import validate

    doc = load_document(args.plan)
    ctx = load_context(args)
    bundle = ctx["policy"]
    if bundle.disabled:
        from jitplan.agent.commands._policy_args import audit_no_policy

        audit_no_policy("validate", ctx["request"])
    report = validate(doc, ctx["catalog"], ctx["signals"], ctx["state"], bundle, ctx["request"])
    from jitplan.agent.commands._evidence_args import evidence_index, exposure_summary
    evidence = exposure_summary(doc, evidence_index(args, ctx["catalog"], ctx["signals"]))
    quarantined = [s.signal.name for s in ctx["signals"] if not s.ok]
    if args.json:
        dump_json({
            "file": args.plan,
            "valid": report.ok,
            **report.model_dump(mode="json"),
            "policy_dir": None if bundle.disabled else bundle.path,
            "policy_disabled": bundle.disabled,
            "note": ctx["note"],
            "quarantined_signals": quarantined,
            "evidence": evidence,
        })
        return 0 if report.ok else 1
    out = sys.stdout
    verdict = "valid" if report.ok else f"INVALID — {len(report.violations)} violation(s)"
    out.write(f"{args.plan}: {verdict}\n")
    for v in report.violations:
        out.write(f"  - [{v.code}] {clean(v.message, 600)}\n")
    if report.escalate:
        out.write("  human approval required:\n")
        for reason in report.escalate:
            out.write(f"    * {clean(reason, 400)}\n")
    if not bundle.disabled:
        out.write(f"  policy {bundle.path} sha256 {bundle.sha256[:12]}…\n")
    if ctx["note"]:
        out.write(f"  note: {ctx['note']}\n")
    if evidence["unproven"]:  # not a violation: the simulation's verdict will be "unproven"
        out.write(f"  unproven (no evidence; shadow first): {clean(', '.join(evidence['unproven']), 400)}\n")
    if quarantined:
        out.write(f"  quarantined signals: {clean(', '.join(quarantined), 400)}\n")
    return 0 if report.ok else 1
