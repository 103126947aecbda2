"""Validator, first pass: scope and schema checks on the raw plan document.

Runs before the plan is trusted to be a ``Plan``: path-like strings (``../x``) anywhere, unknown
actions, too many steps, then the pydantic schema. Each problem becomes a ``Violation`` (never an
exception), so garbage from a planner turns into feedback it can act on.
"""

from __future__ import annotations

__all__ = ["PATH_TRAVERSAL", "parse_plan", "scope_violations", "step_structure_violations"]

import re
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from jitplan.contracts.plan import ACTIONS, MAX_PLAN_STEPS, Plan
from jitplan.contracts.step_params import PARAMS_BY_ACTION
from jitplan.contracts.validation import Violation

PATH_TRAVERSAL = re.compile(r"(?<![^\s\\/'\"=:(\[,;])\.\.(?:[\\/]|$)|\x00")
"""A ``..`` path segment (``../x``, ``a/../b``, ``..\\x``, ``see ../x``) or a NUL byte."""

_MAX_DEPTH = 32


def _walk(value: Any, path: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    """Every string (keys included) in a JSON-like value, with its field path."""
    if depth > _MAX_DEPTH:
        yield path, "<nesting deeper than 32 levels>"
        return
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            key = str(k)
            yield f"{path}.{key}" if path else key, key
            yield from _walk(v, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]", depth + 1)


def _step_id(data: dict[str, Any], index: int) -> str | None:
    steps = data.get("steps")
    if isinstance(steps, list) and index < len(steps) and isinstance(steps[index], dict):
        sid = steps[index].get("id")
        if isinstance(sid, str) and sid:
            return sid[:128]
    return None


_STEP_INDEX = re.compile(r"^steps\[(\d+)\]")


def _owner(data: dict[str, Any], path: str) -> str | None:
    m = _STEP_INDEX.match(path)
    return _step_id(data, int(m.group(1))) if m else None


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def scope_violations(data: dict[str, Any], max_steps: int = MAX_PLAN_STEPS) -> list[Violation]:
    """Out-of-scope content in a raw plan document: paths, unknown actions, too many steps."""
    out: list[Violation] = []
    for path, text in _walk(data, ""):
        if PATH_TRAVERSAL.search(text) or text == "<nesting deeper than 32 levels>":
            what = "nesting deeper than 32 levels" if text.startswith("<nesting") else (
                f"a path-like value {_shown(text)} (no '..' segments or NUL bytes anywhere in a plan)"
            )
            out.append(Violation(code="out_of_scope", message=f"field {path} holds {what}",
                                 step=_owner(data, path)))
    steps = data.get("steps")
    if isinstance(steps, list):
        if len(steps) > max_steps:
            out.append(Violation(
                code="too_many_steps",
                message=f"plan has {len(steps)} steps, more than the cap of {max_steps}; "
                "split it into smaller plans",
            ))
        for i, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            for where, st in (("", step), (".compensation", step.get("compensation"))):
                if not isinstance(st, dict) or "action" not in st:
                    continue
                action = st["action"]
                if not isinstance(action, str) or action not in ACTIONS:
                    out.append(Violation(
                        code="out_of_scope",
                        message=f"steps[{i}]{where}.action {_shown(str(action))} is not a known "
                        f"action; expected one of {', '.join(ACTIONS)}",
                        step=_step_id(data, i),
                    ))
    return out


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")


def _param_problem(data: dict[str, Any], loc: tuple[Any, ...], err: Any) -> tuple[str, str] | None:
    """(code, message) for an error in a step's ``params``: ``canary_weight_range`` for a canary
    weight, else ``bad_params``; the message names ``steps[i].params.<key>`` and its rule."""
    if len(loc) < 4 or loc[0] != "steps" or "params" not in loc[2:]:
        return None
    at = loc.index("params", 2)
    if at + 1 >= len(loc):
        return None
    node: Any = data.get("steps")
    for part in loc[1:at]:
        node = node[part] if isinstance(node, dict | list) else None
    action = node.get("action") if isinstance(node, dict) else None
    key = str(loc[at + 1])
    model = PARAMS_BY_ACTION.get(action) if isinstance(action, str) else None
    info = model.model_fields.get(key) if model is not None else None
    rule = f" ({action} {key}: {info.description})" if info is not None and info.description else ""
    got = "" if err["type"] in ("missing", "unknown_param") else f" (got {err.get('input')!r})"
    msg = "required parameter is missing" if err["type"] == "missing" else err["msg"]
    code = "canary_weight_range" if action == "canary" and key == "weight" else "bad_params"
    return code, f"{_loc(loc)}: {msg}{got}{rule}"


def parse_plan(
    data: dict[str, Any], max_steps: int = MAX_PLAN_STEPS
) -> tuple[Plan | None, list[Violation]]:
    """Scope checks, then the schema; the plan is returned whenever the schema passes."""
    out = scope_violations(data, max_steps)
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            # Already reported, more specifically, by the scope checks.
            if loc and loc[-1] == "action" and err["type"] == "literal_error":
                continue
            if loc == ("steps",) and err["type"] == "too_long":
                continue
            msg = "required field is missing" if err["type"] == "missing" else err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown field (not part of the plan format)"
            step = _step_id(data, loc[1]) if len(loc) > 1 and loc[0] == "steps" and isinstance(
                loc[1], int) else None
            param = _param_problem(data, loc, err)
            if param is not None:
                out.append(Violation(code=param[0], message=param[1], step=step))
                continue
            out.append(Violation(code="schema", message=f"{_loc(loc) or 'plan'}: {msg}", step=step))
        return None, out or [Violation(code="schema", message="plan does not match the schema")]
    if len(plan.steps) > max_steps and not any(v.code == "too_many_steps" for v in out):
        out.append(Violation(code="too_many_steps",
                             message=f"plan has {len(plan.steps)} steps, more than the cap of {max_steps}"))
    return plan, out


def step_structure_violations(plan: Plan) -> list[Violation]:
    """Unique step ids, known ``depends_on`` targets listed earlier, and no cycles."""
    out: list[Violation] = []
    index: dict[str, int] = {}
    for i, s in enumerate(plan.steps):
        if s.id in index:
            out.append(Violation(
                code="duplicate_step_id",
                message=f"step id {s.id!r} is used by steps[{index[s.id]}] and steps[{i}]; "
                "step ids must be unique",
                step=s.id,
            ))
        else:
            index[s.id] = i
    edges: dict[str, list[str]] = {}
    for i, s in enumerate(plan.steps):
        for dep in s.depends_on:
            if dep == s.id:
                out.append(Violation(code="dependency_cycle",
                                     message=f"step {s.id} depends on itself", step=s.id))
            elif dep not in index:
                out.append(Violation(
                    code="unknown_dependency_step",
                    message=f"step {s.id} depends on {dep!r}, which is not a step of this plan",
                    step=s.id,
                ))
            else:
                edges.setdefault(s.id, []).append(dep)
                if index[dep] > i:
                    out.append(Violation(
                        code="step_order",
                        message=f"step {s.id} depends on {dep}, which comes later in the plan; "
                        "list steps in execution order",
                        step=s.id,
                    ))
    out.extend(_cycles(edges, [s.id for s in plan.steps]))
    return out


def _cycles(edges: dict[str, list[str]], order: list[str]) -> list[Violation]:
    """One violation per cycle found by a deterministic depth-first search."""
    color: dict[str, int] = {}
    stack: list[str] = []
    found: list[Violation] = []
    seen_cycles: set[tuple[str, ...]] = set()

    def visit(node: str) -> None:
        color[node] = 1
        stack.append(node)
        for nxt in edges.get(node, []):
            if color.get(nxt, 0) == 0:
                visit(nxt)
            elif color.get(nxt) == 1:
                cyc = stack[stack.index(nxt):]
                key = tuple(sorted(cyc))
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    found.append(Violation(
                        code="dependency_cycle",
                        message="steps depend on each other in a cycle: "
                        + " -> ".join([*cyc, nxt]),
                        step=cyc[0],
                    ))
        stack.pop()
        color[node] = 2

    for node in order:
        if color.get(node, 0) == 0:
            visit(node)
    return found
