"""JSON Schema compatibility of two versions of a feature's ``inputs`` or ``outputs`` schema.

Judged as sets of accepted documents, not as text: an ``input`` schema may only accept more
(every document the old one accepted must still pass: a new required field, a narrowed type or
enum, a tightened bound break callers); an ``output`` schema may only promise more (every
document the new one allows must satisfy the old one: a removed required field, a widened type
or enum, a relaxed bound break consumers). Keywords whose containment cannot be decided here
(``$ref``, ``anyOf``/``oneOf``/``allOf``/``not``, ``if``/``then``/``else``, ``pattern`` changes)
are reported ``needs-review`` when they differ. Malformed schemas never raise.
"""

from __future__ import annotations

__all__ = ["Direction", "SchemaChange", "Severity", "compare_schemas"]

import json
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["input", "output"]
Severity = Literal["breaking", "needs-review", "info"]

_UNJUDGED = ("$ref", "$dynamicRef", "anyOf", "oneOf", "allOf", "not", "if", "then", "else",
             "dependentSchemas", "dependentRequired", "patternProperties", "propertyNames",
             "prefixItems", "contains", "unevaluatedProperties", "unevaluatedItems")
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "multipleOf")
_TYPES = ("null", "boolean", "object", "array", "number", "integer", "string")


@dataclass(frozen=True)
class SchemaChange:
    """One judged difference; ``path`` is inside the schema (``properties``, name, ``enum``...)."""

    severity: Severity
    code: str
    path: tuple[str | int, ...]
    message: str


def _name(path: tuple[str | int, ...]) -> str:
    names = [str(path[i + 1]) for i, p in enumerate(path[:-1]) if p == "properties"]
    return ".".join(names) or "(root)"


def _types(schema: dict[str, Any]) -> frozenset[str] | None:
    t = schema.get("type")
    if t is None:
        return None
    items = [t] if isinstance(t, str) else t if isinstance(t, list) else []
    return frozenset(x for x in items if isinstance(x, str) and x in _TYPES) or None


def _covers(wide: frozenset[str] | None, narrow: frozenset[str] | None) -> bool:
    if wide is None:
        return True
    if narrow is None:
        return False
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


def _values(schema: dict[str, Any]) -> dict[str, Any] | None:
    if "const" in schema:
        vals: Any = [schema["const"]]
    elif "enum" in schema:
        vals = schema["enum"]
    else:
        return None
    if not isinstance(vals, list):
        return None
    return {json.dumps(v, sort_keys=True, default=str): v for v in vals}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _as_schema(s: Any) -> dict[str, Any] | None:
    if s is True or s is None:
        return {}
    if s is False:
        return {"not": {}}
    return s if isinstance(s, dict) else None


class _Cmp:
    def __init__(self, direction: Direction) -> None:
        self.d = direction
        self.out: list[SchemaChange] = []

    def add(self, severity: Severity, code: str, path: tuple[str | int, ...], message: str) -> None:
        self.out.append(SchemaChange(severity, code, path, message))

    def narrowed(self, code: str, path: tuple[str | int, ...], what: str) -> None:
        """The new schema accepts less: breaks callers of an input, fine for an output."""
        if self.d == "input":
            self.add("breaking", code, path, f"{what}: callers' old inputs may be rejected")
        else:
            self.add("info", code, path, what)

    def widened(self, code: str, path: tuple[str | int, ...], what: str) -> None:
        """The new schema accepts more: fine for an input, breaks consumers of an output."""
        if self.d == "output":
            self.add("breaking", code, path, f"{what}: consumers may receive values they do not expect")
        else:
            self.add("info", code, path, what)

    def cmp(self, old_raw: Any, new_raw: Any, path: tuple[str | int, ...]) -> None:
        if old_raw == new_raw:
            return
        old, new = _as_schema(old_raw), _as_schema(new_raw)
        if old is None or new is None:
            self.add("needs-review", "schema_unjudged", path, "not a schema object on one side")
            return
        for key in _UNJUDGED:
            if old.get(key) != new.get(key):
                self.add("needs-review", "schema_unjudged", (*path, key),
                         f"'{key}' changed at {_name(path)}: compatibility not decided automatically")
        self.types(old, new, path)
        self.enum(old, new, path)
        self.bounds(old, new, path)
        for key in ("pattern", "format"):
            a, b = old.get(key), new.get(key)
            if a == b:
                continue
            if a is None:
                self.narrowed("constraint_tightened", (*path, key), f"{key} {b!r} added at {_name(path)}")
            elif b is None:
                self.widened("constraint_relaxed", (*path, key), f"{key} {a!r} removed at {_name(path)}")
            else:
                self.add("needs-review", "constraint_changed", (*path, key),
                         f"{key} changed at {_name(path)}: {a!r} -> {b!r}")
        if old.get("uniqueItems") is not True and new.get("uniqueItems") is True:
            self.narrowed("constraint_tightened", (*path, "uniqueItems"), f"uniqueItems added at {_name(path)}")
        elif old.get("uniqueItems") is True and new.get("uniqueItems") is not True:
            self.widened("constraint_relaxed", (*path, "uniqueItems"), f"uniqueItems removed at {_name(path)}")
        self.objects(old, new, path)
        if isinstance(old.get("items"), dict | bool) or isinstance(new.get("items"), dict | bool):
            self.cmp(old.get("items"), new.get("items"), (*path, "items"))

    def types(self, old: dict[str, Any], new: dict[str, Any], path: tuple[str | int, ...]) -> None:
        a, b = _types(old), _types(new)
        if a == b:
            return
        shown = f"type at {_name(path)}: {sorted(a) if a else 'any'} -> {sorted(b) if b else 'any'}"
        if _covers(b, a):
            self.widened("type_changed", (*path, "type"), f"{shown} (widened)")
        elif _covers(a, b):
            self.narrowed("type_changed", (*path, "type"), f"{shown} (narrowed)")
        else:
            self.add("breaking", "type_changed", (*path, "type"), f"{shown}: retyped")

    def enum(self, old: dict[str, Any], new: dict[str, Any], path: tuple[str | int, ...]) -> None:
        a, b = _values(old), _values(new)
        if a == b:
            return
        key = "const" if "const" in new or ("const" in old and "enum" not in new) else "enum"
        at = (*path, key)
        if a is None or b is None:
            if b is not None:
                self.narrowed("enum_narrowed", at, f"{key} added at {_name(path)}: only {sorted(b)}")
            else:
                self.widened("enum_widened", at, f"{key} removed at {_name(path)}: any value")
            return
        removed = sorted(set(a) - set(b))
        added = sorted(set(b) - set(a))
        if removed:
            what = f"enum at {_name(path)} lost {', '.join(removed)}"
            if self.d == "input":
                self.narrowed("enum_narrowed", at, what)
            else:
                self.add("needs-review", "enum_narrowed", at,
                         f"{what}: consumers that handle those values no longer get them")
        if added:
            self.widened("enum_widened", at, f"enum at {_name(path)} gained {', '.join(added)}")

    def bounds(self, old: dict[str, Any], new: dict[str, Any], path: tuple[str | int, ...]) -> None:
        for key in (*_LOWER, *_UPPER):
            if old.get(key) == new.get(key):
                continue
            a, b = _num(old.get(key)), _num(new.get(key))
            if (key in old and a is None) or (key in new and b is None):
                self.add("needs-review", "schema_unjudged", (*path, key), f"{key} at {_name(path)} is not a number")
                continue
            what = f"{key} at {_name(path)}: {'none' if a is None else f'{a:g}'} -> {'none' if b is None else f'{b:g}'}"
            if key == "multipleOf":
                if a is not None and b is not None and not (a > 0 and b > 0 and (
                        (b / a).is_integer() or (a / b).is_integer())):
                    self.add("needs-review", "constraint_changed", (*path, key), what)
                    continue
                tighter = a is None or (b is not None and (b / a).is_integer())
            elif key in _LOWER:
                tighter = b is not None and (a is None or b > a)
            else:
                tighter = b is not None and (a is None or b < a)
            if tighter:
                self.narrowed("constraint_tightened", (*path, key), what)
            else:
                self.widened("constraint_relaxed", (*path, key), what)

    def objects(self, old: dict[str, Any], new: dict[str, Any], path: tuple[str | int, ...]) -> None:
        po: dict[str, Any] = old["properties"] if isinstance(old.get("properties"), dict) else {}
        pn: dict[str, Any] = new["properties"] if isinstance(new.get("properties"), dict) else {}
        ro = {r for r in old.get("required", []) if isinstance(r, str)} if isinstance(old.get("required"), list) else set()
        rn = {r for r in new.get("required", []) if isinstance(r, str)} if isinstance(new.get("required"), list) else set()
        closed_old = old.get("additionalProperties") is False
        closed_new = new.get("additionalProperties") is False
        for name in sorted(set(rn) - set(ro)):
            at = (*path, "required")
            if self.d == "input":
                self.add("breaking", "required_added", at,
                         f"new required input field {name!r}: callers that omit it are rejected")
            else:
                self.add("info", "required_added", at, f"output field {name!r} is now always present")
        for name in sorted(set(ro) - set(rn)):
            at = (*path, "required")
            gone = name not in pn
            if self.d == "output":
                self.add("breaking", "required_removed", at,
                         f"required output field {name!r} " + ("removed" if gone else "no longer guaranteed"))
            elif gone and closed_new:
                self.add("breaking", "property_removed", (*path, "properties"),
                         f"input field {name!r} removed and additionalProperties is false: callers sending it are rejected")
            else:
                self.add("info", "required_removed", at, f"input field {name!r} is no longer required")
        for name in sorted(set(po) - set(pn)):
            if name in ro and name not in rn:
                continue  # reported with required above
            at = (*path, "properties", name)
            if self.d == "output":
                self.add("needs-review", "property_removed", at,
                         f"optional output field {name!r} removed: consumers reading it get nothing")
            elif closed_new:
                self.add("breaking", "property_removed", at,
                         f"input field {name!r} removed and additionalProperties is false: callers sending it are rejected")
            else:
                self.add("info", "property_removed", at, f"input field {name!r} removed (ignored when sent)")
        for name in sorted(set(pn) - set(po)):
            at = (*path, "properties", name)
            if self.d == "output" and closed_old:
                self.add("breaking", "property_added", at,
                         f"output field {name!r} added where additionalProperties was false")
            elif not (self.d == "input" and name in rn):
                self.add("info", "property_added", at, f"{self.d} field {name!r} added")
        for name in sorted(set(po) & set(pn)):
            self.cmp(po[name], pn[name], (*path, "properties", name))
        ao, an = old.get("additionalProperties"), new.get("additionalProperties")
        if ao != an:
            if not closed_old and closed_new:
                self.narrowed("constraint_tightened", (*path, "additionalProperties"),
                              f"additionalProperties became false at {_name(path)}")
            elif closed_old and not closed_new:
                self.widened("constraint_relaxed", (*path, "additionalProperties"),
                             f"additionalProperties no longer false at {_name(path)}")
            elif isinstance(ao, dict) or isinstance(an, dict):
                self.cmp(ao, an, (*path, "additionalProperties"))


def compare_schemas(old: Any, new: Any, direction: Direction) -> list[SchemaChange]:
    """Every judged change from ``old`` to ``new`` (either may be None: no schema)."""
    cmp = _Cmp(direction)
    if old == new:
        return []
    if old is None:
        sev: Severity = "needs-review" if direction == "input" else "info"
        return [SchemaChange(sev, "schema_added", (), f"{direction} schema added where there was none")]
    if new is None:
        if direction == "output":
            return [SchemaChange("breaking", "schema_removed", (),
                                 "output schema removed: consumers lose every guarantee")]
        return [SchemaChange("info", "schema_removed", (), "input schema removed: any input accepted")]
    cmp.cmp(old, new, ())
    return cmp.out
