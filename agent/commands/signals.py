"""``jitplan signals check SIGNALS --contracts CONTRACTS [--catalog C] [--now TS] [--json]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("signals", help="work with signal snapshots")
    ssub = p.add_subparsers(dest="signals_command", metavar="SUBCOMMAND", required=True)
    c = ssub.add_parser(
        "check",
        help="check each signal against its data contract (ok or quarantined with reasons)",
        description="Exit 0 when every signal is ok, 1 when some are quarantined, 2 on bad input. "
        "Freshness is judged at --now, by default the snapshot's own observed_at.",
    )
    c.add_argument("signals", metavar="SIGNALS")
    c.add_argument("--contracts", required=True, metavar="CONTRACTS.yaml")
    c.add_argument("--catalog", metavar="CATALOG.yaml", help="also quarantine signals for unknown features")
    c.add_argument("--now", metavar="TS", help="RFC 3339 reference time for freshness")
    c.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    c.set_defaults(func=run_check)


def parse_now(text: str | None) -> Any:
    """``--now`` as an aware datetime (UserError when malformed)."""
    from datetime import datetime

    from jitplan.contracts.errors import UserError

    if text is None:
        return None
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError("expected an RFC 3339 timestamp such as 2026-11-26T12:00:00Z", source="--now") from None
    if ts.tzinfo is None:
        raise UserError("expected a timezone (e.g. ...Z)", source="--now")
    return ts


def run_check(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._output import clean, dump_json
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.signals import ContractSet, SignalSnapshot
    from jitplan.tools.signal_check import check_signals

    now = parse_now(args.now)
    snapshot = SignalSnapshot.from_file(args.signals)
    contracts = ContractSet.from_file(args.contracts)
    catalog = Catalog.from_file(args.catalog) if args.catalog else None
    statuses = check_signals(snapshot, contracts, catalog, now)
    bad = [s for s in statuses if not s.ok]
    if args.json:
        dump_json(
            {
                "file": args.signals,
                "now": (now or snapshot.observed_at).isoformat(),
                "ok": len(statuses) - len(bad),
                "quarantined": len(bad),
                "signals": [
                    {
                        **s.signal.model_dump(mode="json"),
                        "status": "ok" if s.ok else "quarantined",
                        "reasons": s.reasons,
                    }
                    for s in statuses
                ],
            }
        )
    elif not sys.stdout.isatty():
        print(f"{args.signals}: {len(statuses) - len(bad)} ok, {len(bad)} quarantined")
        for s in statuses:
            sig = s.signal
            verdict = "ok" if s.ok else "QUARANTINED: " + "; ".join(s.reasons)
            print(f"  {clean(sig.name)} [{sig.kind}, {clean(sig.feature)}] = {sig.value:g} {clean(sig.unit)}: {clean(verdict, 400)}")
    else:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"{args.signals}: {len(statuses) - len(bad)} ok, {len(bad)} quarantined")
        for col in ("signal", "kind", "feature", "value", "status", "reasons"):
            table.add_column(col)
        for s in statuses:
            sig = s.signal
            table.add_row(
                escape(clean(sig.name)), sig.kind, escape(clean(sig.feature)),
                f"{sig.value:g} {escape(clean(sig.unit))}",
                "[green]ok[/]" if s.ok else "[red]quarantined[/]", escape(clean("; ".join(s.reasons), 400)),
            )
        Console(soft_wrap=False).print(table)
    return 1 if bad else 0
