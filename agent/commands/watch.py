"""``jitplan watch --catalog C --contracts K (--sources S | --signals-dir DIR) [--state FLAGS]
[--evidence E] [--apply] [--interval S]``: plan on events, for as long as it runs (``agent.watch_loop``).

Exit 0 when stopped (SIGTERM/SIGINT, ``--once`` idle, ``--max-cycles`` reached), 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "watch",
        help="long-running planner: a cycle whenever a signal crosses a trigger or breaks a contract",
        description="Polls the sources (or the snapshot folder's listing) every --interval seconds. "
        "A feature whose triggers change (a signal crosses its catalog threshold, breaks its data "
        "contract, or returns to normal) gets a planning cycle of its own after --debounce seconds, "
        "one cycle per feature at a time; cycles waiting for `jitplan approve` hold their feature. "
        "With --apply an approved plan runs through the orchestrator, gated on the same live source. "
        "A malformed snapshot is moved to DIR/rejected/ with a .reason file. Progress is kept in "
        "$JITPLAN_HOME/watch/ledger.db: a restarted watch processes no snapshot twice and skips none. "
        "SIGTERM stops it after the current step.",
    )
    p.add_argument("--catalog", required=True, metavar="CATALOG.yaml")
    p.add_argument("--contracts", required=True, metavar="CONTRACTS.yaml")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--sources", metavar="SOURCES.yaml", help="poll these PromQL queries")
    src.add_argument("--signals-dir", metavar="DIR", help="watch this folder for new snapshot files")
    p.add_argument("--state", metavar="FLAGS.json", help="current deployment (flagd JSON); needed by --apply")
    from jitplan.agent.commands._evidence_args import HELP, add_evidence_argument

    add_evidence_argument(p, help=HELP)
    p.add_argument("--apply", action="store_true", help="run approved plans through the orchestrator")
    p.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                   help="how often to poll (default 1)")
    p.add_argument("--debounce", type=float, default=2.0, metavar="SECONDS",
                   help="a trigger change must hold this long before its cycle runs (default 2)")
    p.add_argument("--settle", type=float, default=1.0, metavar="SECONDS",
                   help="a malformed file younger than this may still be being written: judged later (default 1)")
    p.add_argument("--replications", type=int, default=10, metavar="N",
                   help="seeded replications per simulated scenario (default 10)")
    p.add_argument("--no-cache", action="store_true", help="do not reuse cached plans")
    p.add_argument("--once", action="store_true",
                   help="process what is there (no debounce wait), run the due cycles, then exit")
    p.add_argument("--max-cycles", type=int, default=None, metavar="N", help="exit after N cycles")
    p.add_argument("--json", action="store_true", help="one JSON object per event on stdout")
    from jitplan.agent.commands._policy_args import add_policy_args, add_requester_args

    add_policy_args(p)
    add_requester_args(p)
    p.set_defaults(func=run)


def _printer(as_json: bool) -> Any:
    from jitplan.agent.commands._output import clean

    def emit(event: dict[str, Any]) -> None:
        if as_json:
            sys.stdout.write(json_line(event))
        else:
            kind = event.get("event")
            rest = ", ".join(f"{k}={v}" for k, v in event.items() if k != "event")
            sys.stdout.write(clean(f"{kind}: {rest}", 2000) + "\n")
        sys.stdout.flush()

    return emit


def json_line(event: dict[str, Any]) -> str:
    import json

    return json.dumps(event, sort_keys=True, default=str) + "\n"


def run(args: argparse.Namespace) -> int:
    import os
    import signal

    from jitplan.agent.commands._policy_args import policy_choice, requester
    from jitplan.agent.watch_loop import WatchConfig, Watcher
    from jitplan.contracts.errors import UserError

    for flag, value, low in (("--interval", args.interval, 0.0), ("--debounce", args.debounce, -1e-9),
                             ("--settle", args.settle, -1e-9)):
        if not value > low:
            raise UserError(f"expected seconds {'> 0' if low == 0 else '>= 0'}", source=flag)
    if args.max_cycles is not None and args.max_cycles < 1:
        raise UserError("expected a number >= 1", source="--max-cycles")
    if args.apply and not args.state:
        raise UserError("--apply needs --state FLAGS (the flag store to change)", source="--state")
    who, choice = requester(args), policy_choice(args)

    def absolute(path: str | None) -> str | None:  # cycles are resumed from other folders too
        return os.path.abspath(path) if path else None

    cfg = WatchConfig(catalog=str(absolute(args.catalog)), contracts=str(absolute(args.contracts)),
                      role=str(who.role), region=str(who.region),
                      signals_dir=absolute(args.signals_dir), sources=absolute(args.sources),
                      state=absolute(args.state), evidence=tuple(str(absolute(e)) for e in args.evidence),
                      policy=absolute(choice.path), no_policy=choice.disabled,
                      apply=args.apply,
                      interval_s=args.interval, debounce_s=args.debounce, settle_s=args.settle,
                      replications=args.replications, use_cache=not args.no_cache,
                      max_cycles=args.max_cycles, once=args.once)
    watcher = Watcher(cfg, emit=_printer(args.json))

    def on_signal(signum: int, _frame: Any) -> None:
        sys.stderr.write(f"jitplan watch: {signal.Signals(signum).name}: stopping after the current step\n")
        watcher.stop()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return watcher.run()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        watcher.close()
