"""One line per reason: the same finding from several sources is printed once, with its sources.

An escalation collects reasons from the catalog check on the plan (``plan: ...``), the policy
on the request (``policy: ...``) and the policy on the plan (``validator: ...``); they often say
the same thing. ``merge_reasons`` turns them into ``"plan, policy, validator: <text>"``.
"""

from __future__ import annotations

__all__ = ["SOURCES", "merge_reasons"]

import re
from collections.abc import Iterable

SOURCES: tuple[str, ...] = ("plan", "policy", "validator")
"""Known reason sources, in display order."""

_PREFIX = re.compile(rf"^({'|'.join(SOURCES)}): (.+)$", re.DOTALL)


def _same_claim(short: str, long: str) -> bool:
    """``long`` is ``short`` plus an elaboration (``short: ...`` or ``short (...)``)."""
    return long.startswith(short) and long[len(short):].startswith((": ", " ("))


def merge_reasons(reasons: Iterable[str]) -> list[str]:
    """Distinct reasons (sorted), each once, prefixed by every source that gave it.

    A reason that is another one plus an elaboration counts as the same reason; the longer text
    is kept. Reasons without a known source prefix are kept as they are (deduplicated).
    """
    by_text: dict[str, set[str]] = {}
    plain: set[str] = set()
    for r in reasons:
        m = _PREFIX.match(r)
        if m is None:
            plain.add(r)
        else:
            by_text.setdefault(m.group(2), set()).add(m.group(1))
    merged: dict[str, set[str]] = {}
    for text in sorted(by_text, key=len, reverse=True):
        home = next((t for t in merged if _same_claim(text, t)), text)
        merged.setdefault(home, set()).update(by_text[text])
    out = [f"{', '.join(s for s in SOURCES if s in srcs)}: {text}" for text, srcs in merged.items()]
    return sorted([*out, *plain])
