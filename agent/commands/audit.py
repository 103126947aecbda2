"""``jitplan audit {verify,show,export,head}``: inspect and prove the hash-chained audit log."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="verify, show, export the audit log, or print its head")
    asub = p.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--audit", metavar="URL", help="audit log (default <home>/audit.db; postgresql://... ok)")

    v = asub.add_parser(
        "verify",
        help="recompute the hash chain (exit 0 intact, 1 broken)",
        description="Exit 0 when the chain is intact, 1 naming the first broken record. Without "
        "--head the tail is unanchored: truncation or a wholesale rewrite cannot be detected.",
    )
    common(v)
    v.add_argument("--head", metavar="FILE", help="a head saved earlier with 'jitplan audit head'")
    v.add_argument("--key-file", metavar="FILE", help="HMAC key for a signed head (or JITPLAN_AUDIT_KEY)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=run_verify)

    s = asub.add_parser("show", help="list records (of one thread)")
    common(s)
    s.add_argument("--thread", metavar="ID")
    s.add_argument("--kind", metavar="KIND")
    s.add_argument("--json", action="store_true", help="print a JSON array of records")
    s.set_defaults(func=run_show)

    e = asub.add_parser("export", help="export records as JSON lines")
    common(e)
    e.add_argument("--format", choices=["jsonl"], default="jsonl")
    e.add_argument("--thread", metavar="ID")
    e.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    e.set_defaults(func=run_export)

    h = asub.add_parser("head", help="print the chain head {seq, hash, hmac?} to keep elsewhere")
    common(h)
    h.add_argument("--key-file", metavar="FILE", help="HMAC key (or JITPLAN_AUDIT_KEY) to sign the head")
    h.add_argument("-o", "--output", metavar="FILE", help="also write the head to this file")
    h.set_defaults(func=run_head)


def _open(args: argparse.Namespace) -> Any:
    """The audit log named by ``--audit``; an explicit SQLite path must exist (no silent new log)."""
    from pathlib import Path

    from jitplan.contracts.errors import UserError
    from jitplan.tools.audit import AuditLog

    url = args.audit
    if url and not url.startswith(("postgresql://", "postgres://")):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            raise UserError("file not found (no audit log here)", source=str(path))
    return AuditLog.open(url)


def run_verify(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._output import dump_json
    from jitplan.tools.audit import AuditHead, load_hmac_key

    head = AuditHead.from_file(args.head) if args.head else None
    key = load_hmac_key(args.key_file)
    with _open(args) as log:
        report = log.verify(head, hmac_key=key)
    if args.json:
        dump_json(report.to_dict())
    else:
        stream = sys.stdout if report.ok else sys.stderr
        stream.write(("ok: " if report.ok else "BROKEN: ") + report.message + "\n")
    return 0 if report.ok else 1


def run_show(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._output import dump_json

    with _open(args) as log:
        records = [r for r in log.records(args.thread) if args.kind is None or r.kind == args.kind]
    if args.json:
        dump_json([r.model_dump(mode="json") for r in records])
        return 0
    for r in records:
        summary = ", ".join(f"{k}={_short(v)}" for k, v in sorted(r.payload.items())[:6])
        head = _short(f"{r.kind:<20} {r.thread_id or '-':<16}")
        sys.stdout.write(f"{r.seq:>6} {_short(r.ts)} {head} {summary}\n")
    if not records:
        sys.stdout.write("no records\n")
    return 0


def _short(v: Any) -> str:
    """At most 40 printable characters (payloads may hold hostile text: no terminal escapes)."""
    text = "".join(c if c.isprintable() else "?" for c in str(v))
    return text if len(text) <= 40 else text[:37] + "..."


def run_export(args: argparse.Namespace) -> int:
    import json

    with _open(args) as log:
        lines = "".join(
            json.dumps(r.model_dump(mode="json"), sort_keys=True, ensure_ascii=False) + "\n"
            for r in log.records(args.thread)
        )
    if args.output:
        from pathlib import Path

        from jitplan.tools.flags import atomic_write_bytes

        atomic_write_bytes(Path(args.output), lines.encode())
    else:
        sys.stdout.write(lines)
    return 0


def run_head(args: argparse.Namespace) -> int:
    import json

    from jitplan.tools.audit import load_hmac_key

    key = load_hmac_key(args.key_file)
    with _open(args) as log:
        head = log.head(key)
    text = json.dumps(head.model_dump(exclude_none=True), sort_keys=True) + "\n"
    if args.output:
        from pathlib import Path

        from jitplan.tools.flags import atomic_write_bytes

        atomic_write_bytes(Path(args.output), text.encode())
    sys.stdout.write(text)
    return 0
