"""``jitplan evidence import FILE`` and ``jitplan evidence check --catalog C --evidence PATH``.

``import`` turns promptfoo's ``promptfoo eval -o results.json`` output (``offline_eval``) or
jitplan's OpenTelemetry JSONL spans into an evidence file (YAML on stdout or ``-o``).
``check`` shows what a catalog's versions would be simulated with: per version its sources,
sample size, age, latency, error rate and quality intervals, cost and capacity; evidence about
versions the catalog does not hold, and stale evidence, are reported on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("evidence", help="import and check measured version behaviour (evidence)")
    esub = p.add_subparsers(dest="evidence_command", metavar="SUBCOMMAND", required=True)
    i = esub.add_parser(
        "import",
        help="turn promptfoo results or jitplan spans into an evidence file",
        description="Reads `promptfoo eval -o results.json` output (offline_eval evidence, one "
        "record per provider/prompt) or jitplan's OTel JSONL spans (one record per "
        "jitplan.feature/jitplan.version). Writes an evidence YAML file.",
    )
    i.add_argument("file", metavar="FILE", help="promptfoo results.json or traces.jsonl")
    i.add_argument("--format", choices=("auto", "promptfoo", "spans"), default="auto",
                   help="input format (auto: .jsonl is spans, otherwise promptfoo)")
    i.add_argument("--feature", help="feature id the measurements belong to")
    i.add_argument("--version", dest="feature_version", metavar="VERSION",
                   help="feature version the measurements belong to")
    i.add_argument("--map", action="append", default=[], metavar="LABEL=FEATURE@VERSION",
                   help="promptfoo: name the version a provider id/label or prompt label measures "
                   "(repeatable)")
    i.add_argument("--quality", choices=("score", "pass_rate"), default="score",
                   help="promptfoo: quality is the mean score (default) or the pass rate")
    i.add_argument("--observed-at", help="RFC 3339 time of the measurements (default: from the file)")
    i.add_argument("--span-name", help="spans: only spans with this name")
    i.add_argument("--source", choices=("production", "shadow", "canary", "load_test"),
                   default="production", help="spans: the evidence source (default production)")
    i.add_argument("-o", "--output", metavar="OUT.yaml", help="write here instead of stdout")
    i.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    i.set_defaults(func=run_import)
    c = esub.add_parser(
        "check",
        help="show the profiles a catalog's versions get from evidence",
        description="Exit 0 when the evidence loads; unknown versions and stale evidence are "
        "warnings on stderr. Exit 2 for a bad file.",
    )
    c.add_argument("--catalog", required=True, metavar="CATALOG.yaml")
    c.add_argument("--evidence", action="append", required=True, metavar="PATH",
                   help="evidence file or directory (repeatable)")
    c.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    c.set_defaults(func=run_check)


def _spans(path: str) -> list[dict[str, Any]]:
    import json

    from jitplan.contracts.errors import UserError
    from jitplan.contracts.loading import read_text

    out: list[dict[str, Any]] = []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"malformed JSON span: {exc.msg}", source=path, field=f"line {n}") from None
        if not isinstance(doc, dict):
            raise UserError("expected one JSON object per line", source=path, field=f"line {n}")
        out.append(doc)
    return out


def run_import(args: argparse.Namespace) -> int:
    import json

    import yaml
    from pydantic import AwareDatetime, TypeAdapter, ValidationError

    from jitplan.contracts.errors import UserError
    from jitplan.contracts.evidence import EvidenceFile
    from jitplan.contracts.loading import load_document
    from jitplan.tools.evidence_import import from_promptfoo, from_spans

    if bool(args.feature) != bool(args.feature_version):
        raise UserError("give --feature and --version together")
    mapping: dict[str, str] = {}
    for m in args.map:
        label, sep, target = m.rpartition("=")
        if not sep or not label:
            raise UserError(f"--map {m!r}: expected LABEL=feature@version")
        mapping[label] = target
    when = None
    if args.observed_at:
        try:
            when = TypeAdapter(AwareDatetime).validate_python(args.observed_at)
        except ValidationError:
            raise UserError(f"--observed-at {args.observed_at!r}: expected an RFC 3339 timestamp "
                            "with a timezone (e.g. 2026-11-26T12:00:00Z)") from None
    fmt = args.format
    if fmt == "auto":
        fmt = "spans" if args.file.endswith(".jsonl") else "promptfoo"
    if fmt == "spans":
        records = from_spans(_spans(args.file), source=args.file, feature=args.feature,
                             version=args.feature_version, name=args.span_name, kind=args.source)
    else:
        records = from_promptfoo(load_document(args.file), source=args.file, feature=args.feature,
                                 version=args.feature_version, mapping=mapping,
                                 quality=args.quality, observed_at=when)
    doc = EvidenceFile(evidence=records).model_dump(mode="json", exclude_none=True)
    text = (json.dumps(doc, indent=2, sort_keys=True) + "\n" if args.json
            else yaml.safe_dump(doc, sort_keys=False, width=100))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        sys.stderr.write(f"jitplan: wrote {len(records)} evidence record(s) to {args.output}\n")
    else:
        sys.stdout.write(text)
    return 0


def _row(key: str, prof: Any) -> dict[str, Any]:
    import math

    row: dict[str, Any] = {"version": key, **prof.provenance()}
    if prof.has_latency:
        lat = prof.point().latency
        if lat.dist == "empirical":
            vals = sorted(lat.values_s)
            row["latency_p50_ms"] = round(1000 * vals[len(vals) // 2], 3)
            row["latency_p95_ms"] = round(1000 * vals[min(len(vals) - 1, int(0.95 * len(vals)))], 3)
        else:
            row["latency_p50_ms"] = round(1000 * math.exp(prof.mu), 3)
            row["latency_p95_ms"] = round(1000 * math.exp(prof.mu + 1.6448536 * prof.sigma), 3)
    if prof.error_rate is not None:
        row["error_rate"] = round(prof.error_rate, 6)
        row["error_rate_ci95"] = [round(x, 6) for x in prof.error_interval()]
    if prof.quality is not None:
        row["quality"] = round(prof.quality, 6)
        row["quality_ci95"] = [round(x, 6) for x in prof.quality_interval()]
    if prof.cost_usd is not None:
        row["cost_per_request_usd"] = float(f"{prof.cost_usd:.6g}")
    if prof.max_concurrency is not None or prof.rpm_limit is not None:
        row["capacity"] = {"max_concurrency": prof.max_concurrency, "rpm_limit": prof.rpm_limit}
    return row


def run_check(args: argparse.Namespace) -> int:
    from jitplan.agent.commands._output import clean, dump_json
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.evidence import load_evidence
    from jitplan.tools.evidence import index_evidence

    catalog = Catalog.from_file(args.catalog)
    index = index_evidence(catalog, load_evidence(args.evidence))
    rows = [_row(k, p) for k, p in sorted(index.profiles.items())]
    unproven = sorted(f.key for f in catalog.features
                      if f.key not in index.profiles or not index.profiles[f.key].proven)
    for note in index.notes:
        sys.stderr.write(f"jitplan: warning: {clean(note, 400)}\n")
    if args.json:
        dump_json({"catalog": catalog.catalog, "versions": rows, "unproven": unproven,
                   "unknown": list(index.unknown), "stale": list(index.warnings),
                   "max_age_days": index.max_age_s / 86400})
        return 0
    for r in rows:
        figures = ", ".join(f"{k}={v}" for k, v in r.items() if k not in ("version",))
        print(f"{r['version']}: {figures}")
    if unproven:
        print(f"unproven (no or partial evidence; plans shadow them first): {', '.join(unproven)}")
    return 0
