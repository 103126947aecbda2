"""Semantic checks of a catalog beyond its schema; every problem is reported, not just the first."""

from __future__ import annotations

__all__ = ["check_catalog"]

import hashlib
from collections import Counter
from pathlib import Path

from jitplan.contracts.catalog import PII_REDACTION, Catalog, Dependency
from jitplan.contracts.errors import FieldProblem
from jitplan.tools.depgraph import DependencyGraph


def _schema_problem(schema: object) -> str | None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)  # type: ignore[arg-type]
    except SchemaError as exc:
        path = ".".join(str(p) for p in exc.path) or "(root)"
        return f"not a valid JSON Schema at {path}: {exc.message}"
    return None


def _redacts(catalog: Catalog, dep: Dependency) -> bool:
    """Whether every catalog version ``dep`` admits (at least one) provides pii_redaction."""
    admitted = [v for v in catalog.versions(dep.id) if dep.admits(v.version)]
    return bool(admitted) and all(PII_REDACTION in v.provides for v in admitted)


def check_catalog(catalog: Catalog, source: str) -> list[FieldProblem]:
    """Duplicates, dependency ranges and cycles, JSON Schemas, prompt files, fallbacks, and
    redaction: a feature handling pii must depend on one that provides pii_redaction."""
    problems: list[FieldProblem] = []
    keys = Counter((f.id, f.version) for f in catalog.features)
    ids = set(catalog.ids)
    base = Path(catalog.source_dir) if catalog.source_dir else Path(source).resolve().parent
    for i, f in enumerate(catalog.features):
        at = f"features[{i}]"
        if keys[(f.id, f.version)] > 1:
            problems.append(
                FieldProblem(source, f"{at}.version", f"duplicate feature {f.id}@{f.version}: (id, version) must be unique")
            )
        for j, dep in enumerate(f.depends_on):
            where = f"{at}.depends_on[{j}]"
            if dep.id not in ids:
                problems.append(FieldProblem(source, f"{where}.id", f"unknown feature {dep.id!r}"))
            elif not any(dep.admits(v.version) for v in catalog.versions(dep.id)):
                have = ", ".join(v.version for v in catalog.versions(dep.id))
                problems.append(
                    FieldProblem(source, f"{where}.version", f"no version of {dep.id} satisfies {dep.version!r} (catalog has {have})")
                )
        if f.handles_pii and not any(_redacts(catalog, d) for d in f.depends_on):
            problems.append(FieldProblem(
                source, f"{at}.depends_on",
                f"{f.key} handles pii (risk.data_classes) but no dependency provides "
                f"{PII_REDACTION}: depend on a feature that declares provides: [{PII_REDACTION}]"))
        if f.fallback is not None:
            if f.fallback not in ids:
                problems.append(FieldProblem(source, f"{at}.fallback", f"unknown feature {f.fallback!r}"))
            elif f.fallback == f.id:
                problems.append(FieldProblem(source, f"{at}.fallback", "a feature cannot be its own fallback"))
        for name in ("inputs", "outputs"):
            schema = getattr(f, name)
            if schema is not None:
                msg = _schema_problem(schema)
                if msg:
                    problems.append(FieldProblem(source, f"{at}.{name}", msg))
        if f.prompt is not None:
            path = (base / f.prompt.path).resolve()
            if not path.is_relative_to(base.resolve()):
                problems.append(FieldProblem(source, f"{at}.prompt.path", "must stay inside the catalog directory"))
            elif not path.is_file():
                problems.append(FieldProblem(source, f"{at}.prompt.path", f"prompt file not found: {f.prompt.path}"))
            elif f.prompt.sha256 is not None:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                if digest != f.prompt.sha256.lower():
                    problems.append(
                        FieldProblem(source, f"{at}.prompt.sha256", f"does not match the file (file's sha256 is {digest})")
                    )
    for cycle in DependencyGraph(catalog).cycles():
        chain = " -> ".join([*cycle, cycle[0]])
        first = next(i for i, f in enumerate(catalog.features) if f.id == cycle[0])
        problems.append(FieldProblem(source, f"features[{first}].depends_on", f"dependency cycle: {chain}"))
    return problems
