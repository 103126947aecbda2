"""``jitplan catalog validate CATALOG.yaml [--json] [--strict]`` and
``jitplan catalog diff OLD.yaml NEW.yaml [--state FLAGS.json] [--kind K] [--json]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("catalog", help="work with feature catalogs")
    csub = p.add_subparsers(dest="catalog_command", metavar="SUBCOMMAND", required=True)
    v = csub.add_parser(
        "validate",
        help="check a catalog: schema, unique (id, version), semver, dependencies, cycles, "
        "JSON Schemas, prompt files and hashes, fallbacks",
        description="Exit 0 when valid; otherwise every problem is listed and the exit code is 2.",
    )
    v.add_argument("catalog", metavar="CATALOG.yaml")
    v.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    v.add_argument("--strict", action="store_true",
                   help="prompt-hygiene warnings (unfenced variables, no output format) fail too")
    v.set_defaults(func=run_validate)
    d = csub.add_parser(
        "diff",
        help="compatibility of a new catalog (or data-contracts file) with the old one",
        description="Findings are breaking, needs-review or info. Exit 0 when compatible (no "
        "breaking finding), 1 when breaking, 2 for bad input.",
    )
    d.add_argument("old", metavar="OLD.yaml")
    d.add_argument("new", metavar="NEW.yaml")
    d.add_argument("--state", metavar="FLAGS.json",
                   help="current deployment (flagd JSON): removing a deployed version is breaking")
    d.add_argument("--kind", choices=("auto", "catalog", "contracts"), default="auto",
                   help="what the files are (default: told by their content)")
    d.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    d.set_defaults(func=run_diff)


def run_validate(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._output import clean, dump_json, problem_rows
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.errors import UserError
    from jitplan.tools.catalog_check import check_catalog
    from jitplan.tools.prompt_hygiene import check_prompt_hygiene

    source = args.catalog
    rows: list[dict[str, Any]]
    catalog = None
    hygiene: list[Any] = []
    try:
        catalog = Catalog.from_file(source)
        rows = [{"field": p.field, "message": p.message} for p in check_catalog(catalog, source)]
        hygiene = check_prompt_hygiene(catalog, source)
    except UserError as exc:
        rows = problem_rows(exc)
    failing = [h for h in hygiene if h.severity == "error" or args.strict]
    rows += [{"field": h.field, "message": h.message, "file": h.file, "line": h.line, "code": h.code}
             for h in failing]
    if args.json:
        doc: dict[str, Any] = {
            "file": source,
            "valid": not rows,
            "catalog": catalog.catalog if catalog else None,
            "version": catalog.version if catalog else None,
            "features": len(catalog.features) if catalog else None,
            "problems": rows,
            "hygiene": [h.to_dict() for h in hygiene],
        }
        if rows:  # the shape every command's --json failure has: error + exit_code
            first = rows[0]
            doc["error"] = {"file": first.get("file", source), "field": first["field"], "message": first["message"]}
            doc["exit_code"] = 2
        dump_json(doc)
    if rows:
        sys.stderr.write(f"jitplan: error: {source}: {len(rows)} problem(s)\n")
        if not args.json:
            for r in rows:
                if "line" in r:
                    where = f"{r['file']}:{r['line']}: {r['code']}"
                else:
                    where = f"{source}: {r['field']}" if r["field"] else source
                sys.stderr.write(f"  - {clean(where, 400)}: {clean(r['message'], 600)}\n")
        return 2
    if not args.json:
        for h in hygiene:
            sys.stderr.write(f"jitplan: warning: {clean(h.file, 300)}:{h.line}: {h.code}: "
                             f"{clean(h.message, 600)}\n")
    if not args.json and catalog is not None:
        n_ids = len(catalog.ids)
        warned = f" ({len(hygiene)} hygiene warning(s))" if hygiene else ""
        print(f"{source}: valid{warned} — catalog {catalog.catalog!r} v{catalog.version}, "
              f"{len(catalog.features)} feature versions of {n_ids} features")
    return 0


_MARK = {"breaking": "BREAKING", "needs-review": "REVIEW", "info": "info"}


def run_diff(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._output import clean, dump_json
    from jitplan.tools.catalog_diff import diff_files

    report = diff_files(args.old, args.new, state_path=args.state, kind=args.kind)
    if args.json:
        dump_json(report.to_dict())
        return report.exit_code
    c = report.counts
    verdict = "compatible" if report.compatible else "NOT compatible"
    print(f"{report.kind} diff {clean(args.old)} -> {clean(args.new)}: {verdict} "
          f"({c['breaking']} breaking, {c['needs-review']} needs-review, {c['info']} info)")
    for f in report.findings:
        where = f"{f.file}:{f.line}" if f.line is not None else f.file
        subject = f"{f.feature}@{f.version}" if f.feature else (f.signal_kind or "")
        print(f"  {_MARK[f.severity]:<8} {f.code:<26} {clean(subject, 60):<28} {clean(where, 200)}")
        print(f"           {clean(f.message, 600)}")
    return report.exit_code
