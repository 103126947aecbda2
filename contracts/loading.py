"""Read YAML/JSON documents from disk and turn every problem into a ``UserError``.

Files are untrusted: size is capped, encoding checked, nesting depth bounded before the
document is built (the JSON and YAML parsers recurse per level: 50,000 levels crashed them with
``RecursionError``), the top level must be a mapping, and pydantic validation errors are
rendered as ``file: field.path: what was expected``.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_NESTING",
    "FromFile",
    "check_json_nesting",
    "check_yaml_nesting",
    "format_validation_error",
    "load_document",
    "parse_document",
    "parse_json",
]

import json
import os
import re
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ValidationError

from jitplan.contracts.errors import FieldProblem, InputError, UserError
from jitplan.contracts.settings import DEFAULT_MAX_INPUT_BYTES, get_settings

DEFAULT_MAX_BYTES = DEFAULT_MAX_INPUT_BYTES
"""Largest input file accepted by default (5 MiB); override with ``JITPLAN_MAX_INPUT_BYTES``."""


def _max_bytes(override: int | None) -> int:
    if override is not None:
        return override
    return get_settings().max_input_bytes


def read_text(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> str:
    """Read a UTF-8 text file with a size cap; every failure is a ``UserError`` naming the file."""
    p = Path(path)
    src = str(path)
    limit = _max_bytes(max_bytes)
    if not p.exists():
        raise UserError("file not found", source=src)
    if p.is_dir():
        raise UserError("is a directory, expected a file", source=src)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise UserError(f"cannot read: {exc.strerror}", source=src) from None
    if size > limit:
        raise UserError(
            f"file is {size:,} bytes, larger than the {limit:,}-byte limit "
            "(set JITPLAN_MAX_INPUT_BYTES to raise it)",
            source=src,
        )
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read: {exc.strerror}", source=src) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"not valid UTF-8 (byte {exc.start}): expected a UTF-8 YAML or JSON text file",
            source=src,
        ) from None
    if not text.strip():
        raise UserError("file is empty, expected a YAML or JSON document", source=src)
    return text


MAX_NESTING = 100
"""Deepest nesting of mappings and lists accepted in an input document (real ones use < 20)."""

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def _too_deep(source: str, line: int | None) -> UserError:
    where = f" (line {line})" if line is not None else ""
    return UserError(
        f"mappings and lists nested more than {MAX_NESTING} levels deep{where}; "
        "such input is refused before it is read",
        source=source,
    )


def check_json_nesting(text: str, source: str) -> None:
    """Raise ``UserError`` when JSON ``text`` nests deeper than ``MAX_NESTING`` (a linear scan)."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return  # cannot be deeper than the number of openers
    depth = 0
    bare = _JSON_STRING.sub('""', text)  # brackets inside strings do not nest
    for m in _JSON_BRACKET.finditer(bare):
        if m.group() in "[{":
            depth += 1
            if depth > MAX_NESTING:
                raise _too_deep(source, bare.count("\n", 0, m.start()) + 1)
        else:
            depth -= 1


def check_yaml_nesting(text: str, source: str) -> None:
    """Raise ``UserError`` when YAML ``text`` nests deeper than ``MAX_NESTING``.

    Walks the parser's event stream (a state machine: no recursion), with libyaml when
    available. libyaml refuses some deep documents with an error of its own, so an error there
    is re-checked with the pure-Python parser; a syntax error is left for the real parse to
    report with its line.
    """
    import yaml

    loaders: list[Any] = [yaml.SafeLoader]
    if getattr(yaml, "__with_libyaml__", False):
        loaders.insert(0, yaml.CSafeLoader)
    for loader in loaders:
        depth = 0
        try:
            for event in yaml.parse(text, Loader=loader):
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
                    if depth > MAX_NESTING:
                        mark = event.start_mark
                        raise _too_deep(source, mark.line + 1 if mark is not None else None)
                elif isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
            return
        except yaml.YAMLError:
            continue


def parse_json(text: str, source: str) -> Any:
    """``json.loads`` with the nesting bound; malformed text is a ``UserError`` with its line."""
    check_json_nesting(text, source)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", source=source
        ) from None
    except RecursionError:  # pragma: no cover - the scan above bounds the depth
        raise _too_deep(source, None) from None


def parse_document(text: str, source: str) -> dict[str, Any]:
    """Parse YAML (a superset of JSON) into a mapping; errors name the line."""
    import yaml

    stripped = text.lstrip()
    is_yaml_file = source.endswith((".yaml", ".yml"))
    if source.endswith(".json") or (stripped.startswith(("{", "[")) and not is_yaml_file):
        data: Any = parse_json(text, source)
    else:
        check_yaml_nesting(text, source)
        try:
            # libyaml's loader when present: ~10x faster on large catalogs, same safe types.
            data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except RecursionError:  # pragma: no cover - the scan above bounds the depth
            raise _too_deep(source, None) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "syntax error"
            raise UserError(f"malformed YAML{where}: {problem}", source=source) from None
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "nothing"
        raise UserError(f"expected a mapping at the top level, got {kind}", source=source)
    return data


def load_document(
    path: str | os.PathLike[str], *, max_bytes: int | None = None
) -> dict[str, Any]:
    """Read and parse one YAML/JSON file into a mapping."""
    return parse_document(read_text(path, max_bytes=max_bytes), str(path))


def format_validation_error(exc: ValidationError, source: str) -> InputError:
    """Turn a pydantic ``ValidationError`` into an ``InputError`` listing every problem."""
    problems: list[FieldProblem] = []
    for err in exc.errors(include_url=False):
        loc = ".".join(
            f"[{part}]" if isinstance(part, int) else str(part) for part in err["loc"]
        ).replace(".[", "[")
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field (not part of the format)"
        elif err["type"] == "timezone_aware":
            msg = "expected an RFC 3339 timestamp with a timezone (e.g. 2026-11-26T12:00:00Z)"
        inp = err.get("input")
        if err["type"] not in ("missing",) and isinstance(inp, str | int | float | bool):
            shown = repr(inp)
            if len(shown) > 60:
                shown = shown[:57] + "..."
            msg = f"{msg} (got {shown})"
        problems.append(FieldProblem(source, loc, msg))
    return InputError(problems)


class FromFile(BaseModel):
    """Mixin for contracts loaded from files: ``Model.from_file(path)``."""

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, max_bytes: int | None = None) -> Self:
        data = load_document(path, max_bytes=max_bytes)
        return cls.from_data(data, source=str(path))

    @classmethod
    def from_data(cls, data: dict[str, Any], *, source: str = "<input>") -> Self:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise format_validation_error(exc, source) from None
