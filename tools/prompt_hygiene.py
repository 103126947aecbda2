"""Prompt hygiene: secrets, unfenced template variables, safety-disabling text and missing output
formats in a catalog and its prompt files, each finding with its file and 1-based line.

Severities: ``error`` (``secret`` anywhere, ``safety_override`` in a prompt file: the catalog must
not ship) and ``warning`` (``unfenced_variable``, ``missing_output_format``, and ``safety_override``
in the catalog's own text, which the planner reads as data: worth a review). The catalog YAML is
scanned line by line (comments included: a key in a comment is still leaked); prompt files are
scanned line by line and reported with their own path and line, plus the catalog line of the
feature's ``prompt`` entry. Matched secrets are never echoed (only their kind and first 4 chars).
"""

from __future__ import annotations

__all__ = ["HygieneFinding", "check_prompt_hygiene", "not_text", "scan_lines"]

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from jitplan.contracts.catalog import Catalog
from jitplan.tools.yaml_lines import LineIndex, line_index, line_of, render_path

Level = Literal["error", "warning"]

_SECRETS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{16,}")),
    ("OpenAI-style API key", re.compile(r"\bsk-(?:proj-|live-|test-)?[A-Za-z0-9_-]{20,}")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("bearer token", re.compile(r"\b[Bb]earer\s+[A-Za-z0-9._~+/-]{20,}=*")),
)

_Q = r"(?:all\s+|any\s+|the\s+|your\s+|of\s+|my\s+)*"
_SAFETY: tuple[re.Pattern[str], ...] = tuple(re.compile(p, re.IGNORECASE) for p in (
    rf"\b(?:ignore|disregard|forget|override)\s+{_Q}(?:previous|prior|above|earlier|preceding|"
    r"system|original|safety)\s+(?:instructions?|prompts?|rules|guidelines|directions|messages?)",
    rf"\b(?:disable|turn\s+off|deactivate|bypass|circumvent|switch\s+off)\s+{_Q}"
    r"(?:safety|guardrails?|content\s+(?:filters?|polic(?:y|ies)|moderation)|moderation|filters?|"
    r"safeguards?|restrictions)",
    r"\bwithout\s+(?:any\s+)?(?:safety|restrictions|filters|guardrails|censorship)\b",
    r"\b(?:you\s+have|there\s+are)\s+no\s+(?:restrictions|rules|limits|guidelines|filters)\b",
    r"\b(?:jailbreak(?:ed)?|do\s+anything\s+now|dan\s+mode)\b",
    r"\bpretend\s+(?:that\s+)?(?:you\s+are|you're)\s+(?:not|no\s+longer)\s+(?:bound|restricted)",
    r"\b(?:reveal|print|repeat|leak)\s+(?:your|the)\s+(?:system\s+prompt|hidden\s+instructions)",
))
_NEGATED = re.compile(r"(?:\bnever|\bnot|n't|\bno)\s+(?:to\s+)?$", re.IGNORECASE)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\ufeff\u00ad"))

_VARIABLE = re.compile(
    r"\{\{-?\s*([A-Za-z_][\w.]*)[^{}]{0,80}?-?\}\}"  # {{ name }}, {{ name | filter }}
    r"|\$\{([A-Za-z_]\w*)\}"  # ${name}
    r"|(?<![{\w])\{([A-Za-z_]\w*)\}(?!\})"  # {name} (str.format)
)
_FENCE = re.compile(r"^\s*(```|~~~)")
_OPEN_TAG = re.compile(r"<([A-Za-z][\w-]{0,40})(?:\s[^<>]{0,200})?>")
_CLOSE_TAG = re.compile(r"</([A-Za-z][\w-]{0,40})>")
_FORMAT = re.compile(
    r"\b(?:json|yaml|schema|output\s+format|format\s*:|respond\s+(?:only\s+)?(?:with|in)|"
    r"return\s+(?:only\s+)?(?:a|an|the)?\s*(?:json|object))\b", re.IGNORECASE)


@dataclass(frozen=True)
class HygieneFinding:
    """One hygiene problem: where it is (``file``, ``line``) and which catalog entry it belongs to."""

    code: str
    """``secret``, ``safety_override``, ``unfenced_variable`` or ``missing_output_format``."""
    severity: Level
    file: str
    line: int
    message: str
    feature: str | None = None
    version: str | None = None
    field: str = ""
    """The catalog field path (``features[3].prompt.path``); empty outside any feature."""
    catalog_line: int | None = None
    """For a prompt file finding, the line of the feature's ``prompt`` entry in the catalog."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


def _normal(text: str) -> str:
    """NFKC, terminal escapes and invisible characters removed, other control characters and
    whitespace collapsed to one space: what a model would read."""
    text = _ANSI.sub("", unicodedata.normalize("NFKC", text)).translate(_INVISIBLE)
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _shown(text: str, limit: int = 60) -> str:
    """A short, printable excerpt of untrusted text for a message."""
    s = "".join(c if c.isprintable() else "?" for c in text.strip())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _secret_hits(line: str) -> list[tuple[str, str]]:
    hits: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    for kind, rx in _SECRETS:
        for m in rx.finditer(line):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue  # one finding per secret (sk-ant-... is not also an sk-... key)
            taken.append((m.start(), m.end()))
            hits.append((kind, m.group()[:4]))
    return hits


def _safety_hit(line: str) -> str | None:
    text = _normal(line)
    for rx in _SAFETY:
        for m in rx.finditer(text):
            if not _NEGATED.search(text[max(0, m.start() - 12): m.start()]):
                return m.group()
    return None


def scan_lines(text: str, file: str, *, first_line: int = 1) -> list[tuple[int, str, Level, str]]:
    """Secrets and safety-disabling text in ``text``: ``(line, code, severity, message)`` rows."""
    rows: list[tuple[int, str, Level, str]] = []
    for n, line in enumerate(text.splitlines(), first_line):
        for kind, head in _secret_hits(line):
            rows.append((n, "secret", "error",
                         f"secret pattern: {kind} ({head}...): remove it and rotate it; "
                         "reference secrets through the environment"))
        hit = _safety_hit(line)
        if hit is not None:
            rows.append((n, "safety_override", "error",
                         f"safety-disabling instruction {_shown(hit)!r}"))
    return rows


def _fenced_spans(text: str) -> list[tuple[int, int]]:
    """Character spans that hold data, not instructions: code fences, XML-style tag pairs and
    triple-quoted blocks."""
    spans: list[tuple[int, int]] = []
    pos, open_at = 0, None
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            if open_at is None:
                open_at = pos
            else:
                spans.append((open_at, pos + len(line)))
                open_at = None
        pos += len(line)
    if open_at is not None:
        spans.append((open_at, len(text)))  # an unclosed fence runs to the end
    closes: dict[str, list[int]] = {}
    for m in _CLOSE_TAG.finditer(text):
        closes.setdefault(m.group(1), []).append(m.start())
    for m in _OPEN_TAG.finditer(text):
        after = closes.get(m.group(1), [])
        k = bisect_left(after, m.end())
        if k < len(after):
            spans.append((m.end(), after[k]))
    quotes = [m.start() for m in re.finditer(r'"""|\'\'\'', text)]
    spans += [(quotes[i], quotes[i + 1]) for i in range(0, len(quotes) - 1, 2)]
    return _merged(spans)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans joined, sorted by start (so a position is looked up by bisection)."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _unfenced_variables(text: str) -> list[tuple[int, str]]:
    """``(line, name)`` of each template variable outside every fenced span."""
    spans = _fenced_spans(text)
    begins = [a for a, _ in spans]
    starts = [m.start() for m in re.finditer("\n", text)]
    out: list[tuple[int, str]] = []
    for m in _VARIABLE.finditer(text):
        k = bisect_right(begins, m.start()) - 1
        if k >= 0 and m.end() <= spans[k][1]:
            continue
        name = next(g for g in m.groups() if g)
        out.append((bisect_right(starts, m.start() - 1) + 1, name))
    return out


def not_text(data: bytes) -> tuple[int, str] | None:
    """(line, reason) when ``data`` is no UTF-8 text (a NUL byte or an invalid sequence), else None:
    a binary prompt cannot be scanned, so it must not pass as a clean one."""
    bad = data.find(b"\x00")
    reason = "a NUL byte"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if bad < 0 or exc.start < bad:
            bad, reason = exc.start, f"invalid UTF-8 byte 0x{data[exc.start]:02x}"
    if bad < 0:
        return None
    return data.count(b"\n", 0, bad) + 1, reason


def _read_prompt(path: Path, limit: int) -> bytes | None:
    try:
        if not path.is_file() or path.stat().st_size > limit:
            return None  # a missing or oversized file is check_catalog's problem to report
        return path.read_bytes()
    except OSError:
        return None


def _feature_at(starts: list[int], line: int) -> int | None:
    """The feature whose entry holds ``line``; None before the first or when several entries start
    on the same line (a one-line JSON catalog: the line cannot tell them apart)."""
    i = bisect_right(starts, line) - 1
    if i < 0 or (i > 0 and starts[i - 1] == starts[i]):
        return None
    return i


def check_prompt_hygiene(catalog: Catalog, source: str, text: str | None = None) -> list[HygieneFinding]:
    """Every hygiene finding of ``catalog`` (loaded from ``source``) and its prompt files.

    ``text`` is the catalog file's content (read from ``source`` when omitted).
    """
    from jitplan.contracts.settings import get_settings

    if text is None:
        text = Path(source).read_text(encoding="utf-8", errors="replace")
    index: LineIndex = line_index(text)
    starts = [index.get(("features", i), 0) for i in range(len(catalog.features))]
    findings: list[HygieneFinding] = []
    for n, code, level, message in scan_lines(text, source):
        if code == "safety_override":  # catalog text reaches a model only as data: review it
            level, message = "warning", f"{message} in catalog text (the planner reads it as data; review it)"
        i = _feature_at(starts, n) if any(starts) else None
        f = catalog.features[i] if i is not None and starts[i] else None
        findings.append(HygieneFinding(code, level, source, n, f"catalog: {message}",
                                       f.id if f else None, f.version if f else None,
                                       f"features[{i}]" if f else ""))
    base = Path(catalog.source_dir) if catalog.source_dir else Path(source).resolve().parent
    shown_base = Path(source).parent
    limit = get_settings().max_input_bytes
    formats: dict[Path, bool | None] = {}  # a prompt file shared by many versions is read once
    for i, f in enumerate(catalog.features):
        if f.prompt is None:
            continue
        where = ("features", i, "prompt")
        cat_line = line_of(index, where)
        path = (base / f.prompt.path).resolve()
        if not path.is_relative_to(base.resolve()):
            continue
        shown = str(shown_base / f.prompt.path)
        if path in formats:
            has_format = formats[path]
            if has_format is not None and f.outputs is not None and not has_format:
                _missing_format(findings, f, i, index, source, shown, cat_line)
            continue  # its lines were reported with the first version that uses it
        data = _read_prompt(path, limit)
        field = render_path((*where, "path"))
        binary = not_text(data) if data is not None else None
        if binary is not None:
            findings.append(HygieneFinding(
                "prompt_not_text", "error", shown, binary[0],
                f"{f.key}: prompt file {shown} is not UTF-8 text ({binary[1]}): it cannot be scanned",
                f.id, f.version, field, cat_line))
        prompt = None if data is None or binary is not None else data.decode("utf-8")
        formats[path] = None if prompt is None else bool(_FORMAT.search(_normal(prompt)))
        if prompt is None:
            continue

        def add(code: str, level: Level, line: int, message: str, *, _f: Any = f, _s: str = shown,
                _fld: str = field, _cl: int | None = cat_line) -> None:
            findings.append(HygieneFinding(code, level, _s, line, f"{_f.key}: {message}",
                                           _f.id, _f.version, _fld, _cl))

        for n, code, level, message in scan_lines(prompt, shown):
            add(code, level, n, message)
        for n, name in _unfenced_variables(prompt):
            add("unfenced_variable", "warning", n,
                f"template variable {_shown(name, 40)!r} puts caller text into the instructions "
                "unfenced: wrap it in a code fence or <tag>...</tag> and say it is data")
        if f.outputs is not None and not formats[path]:
            _missing_format(findings, f, i, index, source, shown, cat_line)
    return _capped(findings)


def _missing_format(findings: list[HygieneFinding], f: Any, i: int, index: LineIndex, source: str,
                    shown: str, cat_line: int | None) -> None:
    out_line = line_of(index, ("features", i, "outputs")) or cat_line or 1
    findings.append(HygieneFinding(
        "missing_output_format", "warning", source, out_line,
        f"{f.key}: has an output schema but its prompt {shown} states no output format "
        "(say 'Output JSON: ...' matching features.outputs)",
        f.id, f.version, render_path(("features", i, "outputs")), cat_line))


MAX_PER_FILE = 20
"""Findings of one code kept per file; the last kept one counts the rest (hostile files repeat)."""


def _capped(findings: list[HygieneFinding]) -> list[HygieneFinding]:
    from collections import Counter

    total = Counter((h.file, h.code) for h in findings if h.code != "missing_output_format")
    seen: Counter[tuple[str, str]] = Counter()
    out: list[HygieneFinding] = []
    for h in findings:
        key = (h.file, h.code)
        if h.code == "missing_output_format":
            out.append(h)
            continue
        seen[key] += 1
        if seen[key] < MAX_PER_FILE or total[key] == MAX_PER_FILE:
            out.append(h)
        elif seen[key] == MAX_PER_FILE:
            more = total[key] - MAX_PER_FILE + 1
            out.append(replace(h, message=f"{h.message} (and {more} more {h.code} finding(s) in this file)"))
    return out
