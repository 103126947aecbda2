"""``jitplan signals check SIGNALS --contracts CONTRACTS [--catalog C] [--now TS] [--json]`` and
``jitplan signals kinds [--json]``."""

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
        "Freshness is judged at --now, by default the snapshot's own observed_at. Values are "
        "converted to their kind's canonical unit (see `jitplan signals kinds`); a unit that "
        "cannot be converted is quarantined.",
    )
    c.add_argument("signals", metavar="SIGNALS")
    c.add_argument("--contracts", required=True, metavar="CONTRACTS.yaml")
    c.add_argument("--catalog", metavar="CATALOG.yaml", help="also quarantine signals for unknown features")
    c.add_argument("--now", metavar="TS", help="RFC 3339 reference time for freshness")
    c.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    c.set_defaults(func=run_check)
    k = ssub.add_parser(
        "kinds",
        help="list the signal kinds: units, bad direction, gate metric, planner rule",
        description="Every registered signal kind (built in, or from an installed package's "
        "'jitplan.signal_kinds' entry point). Exit 0.",
    )
    k.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    k.set_defaults(func=run_kinds)


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


def _value(status: Any) -> str:
    """``400 ms (observed 0.4 s)``: the canonical value, and the observed one when converted."""
    from jitplan.agent.commands._output import clean

    sig = status.signal
    text = f"{sig.value:g} {clean(sig.unit)}"
    if status.original_unit is not None:
        text += f" (observed {status.original_value:g} {clean(status.original_unit)})"
    return text


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
                        "original_value": s.original_value,
                        "original_unit": s.original_unit,
                        "conversion": s.conversion,
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
            print(f"  {clean(sig.name)} [{sig.kind}, {clean(sig.feature)}] = {_value(s)}: {clean(verdict, 400)}")
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
                escape(_value(s)),
                "[green]ok[/]" if s.ok else "[red]quarantined[/]", escape(clean("; ".join(s.reasons), 400)),
            )
        Console(soft_wrap=False).print(table)
    return 1 if bad else 0


def run_kinds(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._output import dump_json
    from jitplan.contracts.signal_kinds import kinds

    rows: list[dict[str, Any]] = [
        {
            "kind": k.name,
            "canonical_unit": k.canonical_unit,
            "units": list(k.unit_names),
            "bad": k.bad,
            "metric": k.metric,
            "extra_metrics": list(k.extra_metrics),
            "derived_metrics": list(k.derived_metrics),
            "threshold": k.threshold,
            "when": k.when,
            "rule": k.rule,
            "priority": k.priority,
            "description": k.description,
        }
        for k in kinds()
    ]
    if args.json:
        dump_json({"kinds": rows})
        return 0
    for k in kinds():
        bad = {"high": "higher is worse", "low": "lower is worse"}.get(k.bad or "", "no bad direction")
        rule = f"rule {k.rule} (priority {k.priority})" if k.rule else "no planner rule"
        thr = f", finding when {k.when} against {k.threshold}" if k.threshold is not None else ""
        print(f"{k.name}: {', '.join(k.unit_names)} -> {k.canonical_unit}; {bad}; "
              f"gates {', '.join(k.metrics) or 'nothing'}; {rule}{thr}")
    return 0
