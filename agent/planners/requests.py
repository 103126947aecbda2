"""Structured requests the offline planner understands ("enable X", "roll out X to 25%", ...)."""

from __future__ import annotations

__all__ = ["EXAMPLES", "Intent", "parse_request"]

import re
from dataclasses import dataclass
from typing import Literal

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
