"""``jitplan chat --catalog C [--signals S] ...``: talk to the planner in the terminal.

Interactive on a TTY (rich prompt); otherwise reads one line per request/command from stdin,
so scripts and tests can drive it (``/approve``, ``/refine <text>``, ``/quit``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("chat", help="chat with the planner: propose, inspect, approve or refine plans")
    p.add_argument("--catalog", required=True, metavar="CATALOG.yaml")
    p.add_argument("--signals", metavar="SIGNALS.yaml", help="signal snapshot (default: none)")
    p.add_argument("--contracts", metavar="CONTRACTS.yaml")
    p.add_argument("--state", metavar="FLAGS.json")
    from jitplan.agent.commands._evidence_args import add_evidence_argument
    add_evidence_argument(p)
    from jitplan.agent.commands._policy_args import add_policy_args, add_requester_args

    add_policy_args(p)
    add_requester_args(p)
    p.add_argument("--model", default=None, metavar="M", help="LLM (litellm name) or scripted:FILE")
    p.add_argument("--replications", type=int, default=10, metavar="N")
    p.set_defaults(func=run)


def _empty_signals() -> str:
    import json
    from datetime import UTC, datetime

    from jitplan.contracts.home import jitplan_home

    path = jitplan_home() / "chat-empty-signals.json"
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    path.write_text(json.dumps({"observed_at": now, "signals": []}))
    return str(path)


def run(args: argparse.Namespace) -> int:
    from jitplan.agent.chat import HELP, ChatSession
    from jitplan.agent.commands._policy_args import policy_choice, requester
    from jitplan.agent.commands.plan import render

    who, choice = requester(args), policy_choice(args)
    base: dict[str, Any] = {
        "catalog": args.catalog, "signals": args.signals or _empty_signals(),
        "contracts": args.contracts, "state": args.state, "policy": choice.path,
        "no_policy": choice.disabled, "role": who.role, "region": who.region, "model": args.model,
        "replications": args.replications, "evidence": list(getattr(args, "evidence", [])),
    }
    from jitplan.agent.nodes.common import load_inputs
    from jitplan.contracts.agent import PlanRequest

    load_inputs(PlanRequest(**base).model_dump(mode="json"))  # bad input fails before the prompt
    tty = sys.stdin.isatty()
    session = ChatSession(base=base, show=render, say=lambda s: print(s, flush=True))
    if tty:
        from rich.console import Console

        console = Console()
        console.print("[bold]jitplan chat[/] — " + HELP)
        while True:
            try:
                line = console.input("[bold cyan]you>[/] ")
            except EOFError:
                break
            if not session.handle(line):
                break
        return 0
    for line in sys.stdin:
        if not session.handle(line):
            break
    return 0
