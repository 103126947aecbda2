"""``jitplan catalog validate CATALOG.yaml [--json]``."""

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
    v.set_defaults(func=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._output import dump_json, problem_rows
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.errors import UserError
    from jitplan.tools.catalog_check import check_catalog

    source = args.catalog
    rows: list[dict[str, str]]
    catalog = None
    try:
        catalog = Catalog.from_file(source)
        rows = [{"field": p.field, "message": p.message} for p in check_catalog(catalog, source)]
    except UserError as exc:
        rows = problem_rows(exc)
    if args.json:
        doc: dict[str, Any] = {
            "file": source,
            "valid": not rows,
            "catalog": catalog.catalog if catalog else None,
            "version": catalog.version if catalog else None,
            "features": len(catalog.features) if catalog else None,
            "problems": rows,
        }
        if rows:  # the shape every command's --json failure has: error + exit_code
            first = rows[0]
            doc["error"] = {"file": source, "field": first["field"], "message": first["message"]}
            doc["exit_code"] = 2
        dump_json(doc)
    if rows:
        sys.stderr.write(f"jitplan: error: {source}: {len(rows)} problem(s)\n")
        if not args.json:
            for r in rows:
                where = f"{source}: {r['field']}" if r["field"] else source
                sys.stderr.write(f"  - {where}: {r['message']}\n")
        return 2
    if not args.json and catalog is not None:
        n_ids = len(catalog.ids)
        print(f"{source}: valid — catalog {catalog.catalog!r} v{catalog.version}, "
              f"{len(catalog.features)} feature versions of {n_ids} features")
    return 0
