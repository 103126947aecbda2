"""``jitplan approve THREAD_ID [--reject] [--as ROLE] [--comment TEXT] [--json]``."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "approve",
        help="approve (or --reject) a plan waiting for a human and finish its cycle",
        description="Resumes an escalated cycle from its checkpoint; the decision is audited. "
        "Exit 0 when approved, 1 when rejected, 2 on bad input (unknown thread, not waiting, "
        "a role that may not approve).",
    )
    p.add_argument("thread_id", metavar="THREAD_ID")
    p.add_argument("--reject", action="store_true", help="reject instead of approving")
    p.add_argument("--as", dest="role", default=None, metavar="ROLE",
                   help="approver role (required, or set JITPLAN_ROLE; no default)")
    p.add_argument("--comment", default="", metavar="TEXT")
    p.add_argument("--out", default=None, metavar="PLAN.json",
                   help="also write the plan document (input of `jitplan apply`)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jitplan.agent.commands.plan import emit, write_plan
    from jitplan.agent.runtime import approve_cycle
    from jitplan.contracts.errors import UserError
    from jitplan.contracts.settings import get_settings

    role = args.role or get_settings().role
    if role is None:  # who approves is audited: never silently "operator"
        raise UserError("the approver role is required: pass --as ROLE or set JITPLAN_ROLE",
                        source="--as")
    result = approve_cycle(args.thread_id, approve=not args.reject, role=role,
                           comment=args.comment[:2000])
    write_plan(result, args.out)
    return emit(result, args.json)
