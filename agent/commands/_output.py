"""Small helpers shared by the command modules (stdlib only at import time)."""

from __future__ import annotations

__all__ = ["clean", "dump_json", "problem_rows", "provenance_text"]

import json
import sys
from typing import Any


def provenance_text(prov: Any) -> str:
    """One version's simulation provenance: ``source, N requests, A h old[, stale]``, or the
    marker it carries (``nominal``: no evidence)."""
    if isinstance(prov, str):
        return prov
    if not isinstance(prov, dict):
        return "?"
    return (f"{prov.get('source')}, {prov.get('requests')} requests, "
            f"{float(prov.get('age_s') or 0) / 3600:.1f} h old" + (", stale" if prov.get("stale") else ""))


def dump_json(obj: Any) -> None:
    """Write one JSON document to stdout (sorted keys, stable floats)."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def clean(text: str, limit: int = 200) -> str:
    """Untrusted text made safe for a terminal: control characters escaped, length capped."""
    out = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def problem_rows(exc: Exception) -> list[dict[str, str]]:
    """Problems of a UserError/InputError as ``{field, message}`` rows."""
    problems = getattr(exc, "problems", None)
    if problems:
        return [{"field": p.field, "message": p.message} for p in problems]
    return [{"field": getattr(exc, "field", ""), "message": getattr(exc, "detail", str(exc))}]
