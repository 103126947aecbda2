"""``/docs``: the API reference rendered on the server from ``app.openapi()``.

No JavaScript bundle and no external assets (works offline, under the console's strict CSP):
each route with its method, summary, parameters, request and response schemas and the
authentication it needs, then each schema's fields.
"""

from __future__ import annotations

__all__ = ["Operation", "SchemaDoc", "reference", "type_name"]

from dataclasses import dataclass
from typing import Any

_METHODS = ("get", "post", "put", "patch", "delete")
_UNSAFE = ("post", "put", "patch", "delete")


@dataclass(frozen=True)
class Param:
    name: str
    where: str
    type: str
    required: bool
    description: str


@dataclass(frozen=True)
class Operation:
    """One route and method of the API."""

    method: str
    path: str
    summary: str
    description: str
    params: tuple[Param, ...]
    request: str | None
    responses: tuple[tuple[str, str, str], ...]
    """(status, schema or media type, description) per documented response."""
    auth: str


@dataclass(frozen=True)
class SchemaDoc:
    """One component schema: its fields as (name, type, required, description)."""

    name: str
    description: str
    fields: tuple[tuple[str, str, bool, str], ...]


def type_name(schema: dict[str, Any] | None) -> str:
    """A short readable type of a JSON schema: ``CycleRow``, ``list[CycleRow]``, ``str | None``."""
    if not schema:
        return "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(type_name(s) for s in schema[key])
    kind = schema.get("type")
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    if kind == "array":
        return f"list[{type_name(schema.get('items'))}]"
    if kind == "object":
        extra = schema.get("additionalProperties")
        return f"dict[str, {type_name(extra) if isinstance(extra, dict) else 'any'}]"
    names = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}
    return names.get(str(kind), str(kind or "any"))


def _constraints(schema: dict[str, Any]) -> str:
    parts = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "minLength", "maxLength", "pattern")
             if k in schema]
    if "default" in schema:
        parts.append(f"default {schema['default']!r}")
    return ", ".join(parts)


def _auth(path: str, method: str) -> str:
    if not path.startswith("/api/"):
        return "none"
    if method in _UNSAFE:
        return "bearer token, or session cookie + X-CSRF-Token header"
    return "bearer token or session cookie"


def _operation(path: str, method: str, op: dict[str, Any]) -> Operation:
    params = tuple(
        Param(str(p["name"]), str(p.get("in", "")), type_name(p.get("schema")), bool(p.get("required")),
              "; ".join(x for x in (str(p.get("description") or ""), _constraints(p.get("schema") or {})) if x))
        for p in op.get("parameters", []))
    body = (op.get("requestBody") or {}).get("content") or {}
    request = ", ".join(f"{type_name(c.get('schema'))} ({media})" for media, c in body.items()) or None
    responses = []
    for status, resp in sorted((op.get("responses") or {}).items()):
        content = resp.get("content") or {}
        kinds = ", ".join(type_name(c["schema"]) if c.get("schema") else media for media, c in content.items())
        responses.append((str(status), kinds or "-", str(resp.get("description") or "")))
    return Operation(method.upper(), path, str(op.get("summary") or ""), str(op.get("description") or ""),
                     params, request, tuple(responses), _auth(path, method))


def reference(spec: dict[str, Any]) -> tuple[list[Operation], list[SchemaDoc]]:
    """The operations (in the spec's path order) and component schemas of an OpenAPI document."""
    ops = [_operation(path, m, item[m]) for path, item in (spec.get("paths") or {}).items()
           for m in _METHODS if m in item]
    schemas = []
    for name, s in sorted(((spec.get("components") or {}).get("schemas") or {}).items()):
        required = set(s.get("required") or ())
        fields = tuple((f, type_name(fs), f in required,
                        "; ".join(x for x in (str(fs.get("description") or ""), _constraints(fs)) if x))
                       for f, fs in (s.get("properties") or {}).items())
        schemas.append(SchemaDoc(name, str(s.get("description") or ""), fields))
    return ops, schemas
