"""JSON Schema compatibility (tools.schema_compat): judged by accepted documents, not by text."""

from __future__ import annotations

from typing import Any

import pytest

from jitplan.tools.schema_compat import compare_schemas

OBJ: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "lang": {"enum": ["en", "de"]}, "n": {"type": "integer"}},
    "required": ["text"],
}


def _with(**props: Any) -> dict[str, Any]:
    return {**OBJ, **props}


def codes(old: Any, new: Any, direction: str) -> dict[str, str]:
    return {c.code: c.severity for c in compare_schemas(old, new, direction)}  # type: ignore[arg-type]


def test_identical_and_reformatted_schemas_have_no_findings() -> None:
    reordered = {"required": ["text"], "properties": dict(reversed(list(OBJ["properties"].items()))), "type": "object"}
    assert compare_schemas(OBJ, reordered, "input") == []
    assert compare_schemas(OBJ, dict(OBJ), "output") == []


def test_new_required_input_field_is_breaking_but_fine_for_outputs() -> None:
    new = _with(required=["text", "lang"])
    assert codes(OBJ, new, "input") == {"required_added": "breaking"}
    assert codes(OBJ, new, "output") == {"required_added": "info"}


def test_removed_required_output_field_is_breaking() -> None:
    new = _with(properties={"lang": OBJ["properties"]["lang"], "n": {"type": "integer"}}, required=[])
    found = compare_schemas(OBJ, new, "output")
    assert [(c.code, c.severity) for c in found] == [("required_removed", "breaking")]
    assert "removed" in found[0].message and "'text'" in found[0].message
    assert codes(OBJ, new, "input") == {"required_removed": "info"}


def test_retyped_field_is_breaking_both_ways() -> None:
    new = _with(properties={**OBJ["properties"], "text": {"type": "array"}})
    for d in ("input", "output"):
        found = compare_schemas(OBJ, new, d)  # type: ignore[arg-type]
        assert [(c.code, c.severity, c.path) for c in found] == [
            ("type_changed", "breaking", ("properties", "text", "type"))]


@pytest.mark.parametrize(("old", "new", "inp", "out"), [
    ("integer", "number", "info", "breaking"),  # widened: callers fine, consumers may get 1.5
    ("number", "integer", "breaking", "info"),  # narrowed
    ("string", ["string", "null"], "info", "breaking"),
])
def test_type_widening_and_narrowing_depend_on_direction(old: Any, new: Any, inp: str, out: str) -> None:
    a = _with(properties={"n": {"type": old}})
    b = _with(properties={"n": {"type": new}})
    assert codes(a, b, "input") == {"type_changed": inp}
    assert codes(a, b, "output") == {"type_changed": out}


def test_enums_narrowed_and_widened() -> None:
    narrowed = _with(properties={**OBJ["properties"], "lang": {"enum": ["en"]}})
    widened = _with(properties={**OBJ["properties"], "lang": {"enum": ["en", "de", "fr"]}})
    assert codes(OBJ, narrowed, "input") == {"enum_narrowed": "breaking"}
    assert codes(OBJ, narrowed, "output") == {"enum_narrowed": "needs-review"}
    assert codes(OBJ, widened, "input") == {"enum_widened": "info"}
    assert codes(OBJ, widened, "output") == {"enum_widened": "breaking"}
    (c,) = compare_schemas(OBJ, widened, "output")
    assert c.path == ("properties", "lang", "enum") and '"fr"' in c.message


def test_bounds_and_closed_objects() -> None:
    a = {"type": "string", "maxLength": 100}
    assert codes(a, {"type": "string", "maxLength": 50}, "input") == {"constraint_tightened": "breaking"}
    assert codes(a, {"type": "string", "maxLength": 500}, "output") == {"constraint_relaxed": "breaking"}
    assert codes(a, {"type": "string"}, "input") == {"constraint_relaxed": "info"}
    closed = _with(additionalProperties=False)
    assert codes(OBJ, closed, "input") == {"constraint_tightened": "breaking"}
    dropped = _with(properties={"text": {"type": "string"}, "n": {"type": "integer"}}, additionalProperties=False)
    assert codes(closed, dropped, "input") == {"property_removed": "breaking"}
    assert codes(OBJ, _with(properties={"text": {"type": "string"}, "n": {"type": "integer"}}), "input") == \
        {"property_removed": "info"}


def test_optional_output_field_removed_needs_review_and_added_is_info() -> None:
    new = _with(properties={"text": {"type": "string"}, "n": {"type": "integer"}})
    assert codes(OBJ, new, "output") == {"property_removed": "needs-review"}
    assert codes(new, OBJ, "output") == {"property_added": "info"}


def test_nested_items_are_compared() -> None:
    a = {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}}
    b = {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string"}}}}
    (c,) = compare_schemas(a, b, "output")
    assert (c.code, c.severity, c.path) == ("required_removed", "breaking", ("items", "required"))


def test_undecidable_keywords_need_review() -> None:
    a = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    b = {"anyOf": [{"type": "string"}]}
    assert codes(a, b, "input") == {"schema_unjudged": "needs-review"}
    assert codes({"$ref": "#/a"}, {"$ref": "#/b"}, "output") == {"schema_unjudged": "needs-review"}


def test_schema_added_or_removed() -> None:
    assert codes(None, OBJ, "input") == {"schema_added": "needs-review"}
    assert codes(OBJ, None, "output") == {"schema_removed": "breaking"}
    assert codes(OBJ, None, "input") == {"schema_removed": "info"}


@pytest.mark.parametrize("hostile", [
    {"type": 5, "required": "text", "properties": ["a"], "enum": "abc", "minimum": "ten", "items": 3},
    {"properties": {"a": 7}, "required": [None, 3, {"x": 1}], "multipleOf": 0},
    {"type": ["string", 1, None], "additionalProperties": "no", "const": {"a": [1, {"b": None}]}},
    True, False, [], "schema", 0,
])
def test_malformed_schemas_never_raise(hostile: Any) -> None:
    for d in ("input", "output"):
        compare_schemas(OBJ, hostile, d)  # type: ignore[arg-type]
        compare_schemas(hostile, OBJ, d)  # type: ignore[arg-type]
        assert compare_schemas(hostile, hostile, d) == []  # type: ignore[arg-type]
