"""``jitplan policy eval --catalog C --feature ID [--version V] --as ROLE --region R
[--signals S --contracts K] [--state FLAGS] [--policy DIR] [--json]``.

Shows the policy decision for activating one feature version: the default bundle shipped with
jitplan unless ``--policy``/``JITPLAN_POLICY`` name another, plus the catalog's own roles and
regions. Exit 0 allowed (escalations are listed), 1 denied, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    from jitplan.agent.commands.validate import add_context_args

    p = sub.add_parser("policy", help="evaluate policy-as-code (Rego) decisions")
    psub = p.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)
    e = psub.add_parser(
        "eval",
        help="show the policy decision for activating a feature version",
        description="Exit 0 allowed, 1 denied, 2 bad input. Deny by default: a policy that "
        "errors, times out or is undefined denies.",
    )
    e.add_argument("--feature", required=True, metavar="ID")
    e.add_argument("--version", metavar="V", help="feature version (default: the newest)")
    e.add_argument("--timeout", type=float, default=2.0, metavar="S",
                   help="evaluation time bound in seconds (default 2)")
    add_context_args(e, allow_disable=False)
    e.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._output import clean, dump_json
    from jitplan.agent.commands.validate import load_context
    from jitplan.contracts.errors import UserError
    from jitplan.tools.policy import evaluate_policy, policy_input

    ctx = load_context(args)
    catalog = ctx["catalog"]
    spec = catalog.get(args.feature, args.version)
    if spec is None:
        known = catalog.versions(args.feature)
        if not known:
            raise UserError(f"feature {args.feature!r} is not in the catalog", source="--feature")
        raise UserError(
            f"{args.feature} has no version {args.version!r}; known: "
            + ", ".join(f.version for f in known),
            source="--version",
        )
    if not 0 < args.timeout <= 60:
        raise UserError("expected a time bound in seconds, more than 0 and at most 60",
                        source="--timeout")
    bundle = ctx["policy"]
    doc = policy_input(ctx["request"], catalog, [spec], ctx["signals"], None, ctx["state"])
    decision = evaluate_policy(bundle, doc, timeout_s=args.timeout)
    if args.json:
        dump_json({
            "feature": spec.key,
            "request": ctx["request"].model_dump(mode="json"),
            "policy_dir": bundle.path,
            **decision.model_dump(mode="json"),
        })
        return 0 if decision.allowed else 1
    out = sys.stdout
    verdict = "ALLOWED" if decision.allowed else "DENIED"
    if decision.allowed and decision.escalate:
        verdict = "ALLOWED with human approval"
    req = ctx["request"]
    out.write(f"{spec.key} for role {req.role!r} in region {req.region!r}: {verdict}\n")
    for reason in decision.deny:
        out.write(f"  deny: {clean(reason, 600)}\n")
    for reason in decision.escalate:
        out.write(f"  escalate: {clean(reason, 600)}\n")
    out.write(f"  policy {bundle.path} sha256 {decision.bundle_sha256[:12]}…\n")
    if ctx["state"] is None:
        out.write("  note: no --state given, so nothing counts as active (a pii feature needs an active redactor)\n")
    return 0 if decision.allowed else 1
