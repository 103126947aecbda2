"""Structured requests the offline planner understands ("enable X", "roll out X to 25%", ...)."""

from __future__ import annotations

__all__ = ["EXAMPLES", "Intent", "mentioned_features", "parse_request", "resolve_request"]

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from jitplan.contracts.catalog import Catalog

IntentAction = Literal["rollout", "disable", "refresh", "rollback"]

EXAMPLES = (
    "enable answer-synthesizer",
    "roll out reply-drafter to 25%",
    "refresh ticket-summarizer prompt",
    "disable sql-copilot",
    "rollback ticket-summarizer",
)

_F = r"(?P<f>[a-z0-9][a-z0-9_-]*)"
_V = r"(?:(?:@|\s+version\s+|\s+v)(?P<v>\d+\.\d+\.\d+))?"
_PATTERNS: tuple[tuple[IntentAction, re.Pattern[str]], ...] = (
    ("rollout", re.compile(rf"^(?:roll\s*out|ramp(?:\s+up)?|canary)\s+{_F}{_V}\s+(?:to\s+)?(?P<w>\d+(?:\.\d+)?)\s*%$")),
    ("rollout", re.compile(rf"^(?:enable|activate|turn\s+on|launch|deploy)\s+{_F}{_V}$")),
    ("disable", re.compile(rf"^(?:disable|deactivate|turn\s+off)\s+{_F}$")),
    ("refresh", re.compile(rf"^refresh\s+(?:the\s+)?{_F}(?:'s)?\s+prompts?$")),
    ("refresh", re.compile(rf"^refresh\s+(?:the\s+)?prompts?\s+(?:of|for)\s+{_F}$")),
    ("rollback", re.compile(rf"^roll\s*back\s+{_F}$")),
)


@dataclass(frozen=True)
class Intent:
    """One structured request: an action on one feature (weight in percent for rollouts)."""

    action: IntentAction
    feature: str
    weight: float = 100.0
    version: str | None = None


def parse_request(text: str) -> Intent | None:
    """The intent of ``text``, or None when it is not one of the structured forms."""
    t = " ".join(text.strip().lower().rstrip(".!").split())
    for action, pat in _PATTERNS:
        m = pat.match(t)
        if m:
            w = float(m.group("w")) if "w" in pat.groupindex and m.group("w") else 100.0
            v = m.group("v") if "v" in pat.groupindex else None
            return Intent(action, m.group("f"), max(0.0, min(100.0, w)), v)
    return None


def resolve_request(text: str, catalog: Catalog, *, source: str = "--request") -> Intent | None:
    """The intent of ``text`` checked against ``catalog`` (None for free text).

    A structured request naming a feature (or version) the catalog does not have is bad input:
    ``UserError`` with the closest catalog ids ("did you mean").
    """
    import difflib

    from jitplan.contracts.errors import UserError

    intent = parse_request(text)
    if intent is None:
        return None
    ids = catalog.ids
    if intent.feature not in ids:
        close = difflib.get_close_matches(intent.feature, ids, n=3, cutoff=0.6)
        hint = (f"did you mean {' or '.join(repr(c) for c in close)}?" if close
                else f"known features: {', '.join(ids[:20])}" + (" ..." if len(ids) > 20 else ""))
        raise UserError(f"unknown feature {intent.feature!r}: not in catalog {catalog.catalog!r}; {hint}",
                        source=source)
    if intent.version is not None and catalog.get(intent.feature, intent.version) is None:
        known = ", ".join(v.version for v in catalog.versions(intent.feature))
        raise UserError(f"{intent.feature} has no version {intent.version} in the catalog (versions: {known})",
                        source=source)
    return intent


def mentioned_features(text: str, catalog: Catalog) -> tuple[str, ...]:
    """Catalog ids named in free text (whole words, in catalog order)."""
    low = text.lower()
    return tuple(fid for fid in catalog.ids
                 if re.search(rf"(?<![a-z0-9_-]){re.escape(fid)}(?![a-z0-9_-])", low))
