"""``jitplan validate PLAN.json --catalog C [--signals S --contracts K] [--state FLAGS]
[--policy DIR | --no-policy] [--as ROLE] [--region R] [--json]``.

Exit 0 when the plan is valid, 1 when it has violations (all listed), 2 on bad input (a missing
or malformed file; a plan that breaks the plan schema is a violation, not bad input).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

SHIPPED_POLICY = Path(__file__).resolve().parents[2] / "scenarios" / "policies"
"""The default bundle shipped in the repository (used when --policy is omitted and it exists)."""


def add_context_args(p: argparse.ArgumentParser) -> None:
    """Options shared by ``validate`` and ``policy eval``."""
    p.add_argument("--catalog", required=True, metavar="CATALOG.yaml")
    p.add_argument("--signals", metavar="SIGNALS.yaml", help="signal snapshot (needs --contracts)")
    p.add_argument("--contracts", metavar="CONTRACTS.yaml",
                   help="data contracts deciding which signals are quarantined")
    p.add_argument("--state", metavar="FLAGS.json", help="current deployment (flagd flags file)")
    p.add_argument("--policy", metavar="DIR",
                   help=f"policy bundle directory (default: the shipped {SHIPPED_POLICY.name} "
                   "bundle when present)")
    p.add_argument("--as", dest="role", default="operator", metavar="ROLE",
                   help="requester role (default: operator)")
    p.add_argument("--region", default="eu", metavar="REGION", help="requester region (default: eu)")
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
    p.add_argument("--no-policy", action="store_true", help="skip the policy bundle")
    p.set_defaults(func=run)


def load_context(args: argparse.Namespace, *, policy_required: bool = False) -> dict[str, Any]:
    """Catalog, checked signals, state, policy bundle and request from the shared options."""
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.errors import UserError
    from jitplan.contracts.loading import load_document
    from jitplan.contracts.policy import PolicyRequest
    from jitplan.contracts.signals import ContractSet, SignalSnapshot
    from jitplan.contracts.state import DeploymentState
    from jitplan.tools.policy import PolicyBundle
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
    note = None
    bundle = None
    if getattr(args, "no_policy", False):
        note = "policy skipped (--no-policy)"
    elif args.policy:
        bundle = PolicyBundle.load(args.policy)
    elif SHIPPED_POLICY.is_dir():
        bundle = PolicyBundle.load(SHIPPED_POLICY)
    elif policy_required:
        raise UserError("no policy bundle: pass --policy DIR", source="--policy")
    else:
        note = "policy skipped: no --policy given and the shipped bundle is not installed"
    try:
        request = PolicyRequest(role=args.role, region=args.region, purpose=args.purpose)
    except ValueError as exc:
        from pydantic import ValidationError

        from jitplan.contracts.loading import format_validation_error

        if isinstance(exc, ValidationError):
            raise format_validation_error(exc, "--as/--region/--purpose") from None
        raise
    return {"catalog": catalog, "signals": signals, "state": state, "policy": bundle,
            "request": request, "note": note}


def run(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._output import clean, dump_json
    from jitplan.contracts.loading import load_document
    from jitplan.tools.validator import validate

    doc = load_document(args.plan)
    ctx = load_context(args)
    bundle = ctx["policy"]
    report = validate(doc, ctx["catalog"], ctx["signals"], ctx["state"], bundle, ctx["request"])
    quarantined = [s.signal.name for s in ctx["signals"] if not s.ok]
    if args.json:
        dump_json({
            "file": args.plan,
            "valid": report.ok,
            **report.model_dump(mode="json"),
            "policy_dir": str(bundle.path) if bundle is not None else None,
            "note": ctx["note"],
            "quarantined_signals": quarantined,
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
    if bundle is not None:
        out.write(f"  policy {bundle.path} sha256 {bundle.sha256[:12]}…\n")
    if ctx["note"]:
        out.write(f"  note: {ctx['note']}\n")
    if quarantined:
        out.write(f"  quarantined signals: {clean(', '.join(quarantined), 400)}\n")
    return 0 if report.ok else 1
