"""Regression suites (``jitplan regress SUITE.yaml``): YAML listing planning and simulation cases.

A planning case runs one planning cycle (catalog + signals + contracts + state + policy +
evidence + request, role, region, planner) and checks its outcome; a simulation case runs one
scenario (optionally against a plan) and checks metric expectations written like
``latency_p95_s < 1.2``. Paths resolve relative to the suite file; ``defaults`` are merged into
every planning case (a case's own fields win). A planning case's planner is ``offline``,
``scripted:FILE`` or ``recorded`` (a real model's answers replayed from the cassette
``<suite>.recordings/<case>.json``, resolved here to ``recorded:/abs/path``; see
``jitplan.agent.cassette``).
"""

from __future__ import annotations

__all__ = [
    "COMPARATORS",
    "PLANNING_VERDICTS",
    "MetricExpectation",
    "PlanningCase",
    "PlanningExpect",
    "SimulationCase",
    "SimulationExpect",
    "Suite",
    "SuiteCase",
    "load_suite",
    "recording_path",
]

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jitplan.contracts.agent import Decision
from jitplan.contracts.errors import FieldProblem, InputError, UserError
from jitplan.contracts.loading import format_validation_error, load_document

COMPARATORS: tuple[str, ...] = ("<=", ">=", "==", "!=", "<", ">")
_METRIC_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")
_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]*$"

_Strict = ConfigDict(extra="forbid", frozen=True)
PLANNING_VERDICTS: tuple[str, ...] = ("passed", "failed", "unproven", "not_run")
"""A planning cycle's simulation verdicts (``jitplan.tools.plan_simulation``)."""
_VERDICT_ALIASES = {"pass": "passed", "fail": "failed", "notrun": "not_run"}


class MetricExpectation(BaseModel):
    """One parsed ``metric comparator threshold`` expectation."""

    model_config = _Strict

    metric: str
    comparator: Literal["<=", ">=", "==", "!=", "<", ">"]
    threshold: float

    @classmethod
    def parse(cls, text: str) -> MetricExpectation:
        m = _METRIC_RE.match(text)
        if not m:
            raise ValueError(f"expected 'metric <op> number' with op one of {' '.join(COMPARATORS)}")
        try:
            threshold = float(m.group(3))
        except ValueError:
            raise ValueError(f"threshold {m.group(3)!r} is not a number") from None
        return cls(metric=m.group(1), comparator=m.group(2), threshold=threshold)  # type: ignore[arg-type]

    def holds(self, observed: float) -> bool:
        c, t = self.comparator, self.threshold
        return {"<=": observed <= t, ">=": observed >= t, "==": observed == t,
                "!=": observed != t, "<": observed < t, ">": observed > t}[c]

    def render(self) -> str:
        return f"{self.metric} {self.comparator} {self.threshold:g}"


class PlanningExpect(BaseModel):
    """What a planning cycle must produce. An action is ``ACTION`` or ``ACTION:FEATURE``."""

    model_config = _Strict

    decision: Decision | None = None
    actions_include: tuple[str, ...] = ()
    actions_exclude: tuple[str, ...] = ()
    features_touched: tuple[str, ...] | None = None
    """The exact set of features the plan's steps touch (noop steps ignored)."""
    max_projected_cost_usd: float | None = Field(default=None, ge=0)
    """Upper bound on the highest ``cost_usd`` the plan simulation projects for any scenario."""
    simulation_verdict: Literal["passed", "failed", "unproven", "not_run"] | None = None
    """The cycle's simulation verdict: passed, failed, unproven or not_run (``pass``/``fail``, as
    simulation cases write them, are accepted and normalised)."""
    violation_codes: tuple[str, ...] | None = None
    """The exact set of validation violation codes (``[]``: the plan must be valid)."""

    @field_validator("simulation_verdict", mode="before")
    @classmethod
    def _verdict(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = _VERDICT_ALIASES.get(v.strip().lower().replace("-", "_"), v)
            if v not in PLANNING_VERDICTS:
                raise ValueError(f"unknown verdict {v!r}, expected one of {', '.join(PLANNING_VERDICTS)} "
                                 "(or pass, fail)")
        return v


class PlanningCase(BaseModel):
    """One planning cycle and its expectations."""

    model_config = _Strict

    kind: Literal["planning"] = "planning"
    name: str = Field(pattern=_NAME_RE, max_length=200)
    catalog: str
    signals: str
    contracts: str | None = None
    state: str | None = None
    policy: str | None = None
    evidence: tuple[str, ...] = ()
    request: str = Field(default="", max_length=4000)
    role: str = Field(default="operator", min_length=1)
    region: str = Field(default="eu", min_length=1)
    planner: str = "offline"
    """``offline``, ``scripted:FILE`` (a scripted chat model; no network) or ``recorded``
    (``recorded:FILE``): a real model's answers recorded with ``jitplan regress --record``,
    replayed offline (default file ``<suite>.recordings/<case>.json``)."""
    replications: int = Field(default=3, ge=1, le=100)
    max_revisions: int = Field(default=3, ge=0, le=10)
    max_llm_calls: int = Field(default=12, ge=1, le=200)
    max_tool_calls: int = Field(default=24, ge=0, le=500)
    now: str | None = None
    expect: PlanningExpect

    @field_validator("evidence", mode="before")
    @classmethod
    def _one_path(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v  # ``evidence: DIR``, as ``--evidence PATH`` takes

    @field_validator("planner")
    @classmethod
    def _planner_kind(cls, v: str) -> str:
        if v in ("offline", "recorded") or any(
            v.startswith(p) and len(v) > len(p) for p in ("scripted:", "recorded:")
        ):
            return v
        raise ValueError("expected 'offline', 'scripted:FILE', 'recorded' or 'recorded:FILE'")


class SimulationExpect(BaseModel):
    """Metric expectations (``latency_p95_s < 1.2``) and, with a plan, its verdict."""

    model_config = _Strict

    metrics: tuple[MetricExpectation, ...] = ()
    verdict: Literal["pass", "fail"] | None = None
    """Needs a plan under test (the case's ``plan`` or one in the scenario)."""

    @field_validator("verdict", mode="before")
    @classmethod
    def _verdict(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = {"passed": "pass", "failed": "fail"}.get(v.strip().lower(), v.strip().lower())
            if v not in ("pass", "fail"):
                raise ValueError(f"unknown verdict {v!r}, expected pass or fail (or passed, failed)")
        return v

    @field_validator("metrics", mode="before")
    @classmethod
    def _parse(cls, v: Any) -> Any:
        if not isinstance(v, list | tuple):
            return v
        return tuple(MetricExpectation.parse(x) if isinstance(x, str) else x for x in v)


class SimulationCase(BaseModel):
    """One scenario (optionally with a plan under test) and its expectations."""

    model_config = _Strict

    kind: Literal["simulation"]
    name: str = Field(pattern=_NAME_RE, max_length=200)
    scenario: str
    plan: str | None = None
    replications: int | None = Field(default=None, ge=1, le=1000)
    seed: int | None = Field(default=None, ge=0)
    expect: SimulationExpect


SuiteCase = Annotated[PlanningCase | SimulationCase, Field(discriminator="kind")]


class Suite(BaseModel):
    """A named list of cases; ``source`` is the suite file (set by ``load_suite``)."""

    model_config = _Strict

    name: str = Field(default="suite", pattern=_NAME_RE)
    defaults: dict[str, Any] = Field(default_factory=dict)
    cases: tuple[SuiteCase, ...]
    source: str = ""

    @field_validator("cases", mode="before")
    @classmethod
    def _not_empty(cls, v: Any) -> Any:
        # Checked before the items: pydantic's min_length counts only the items that validated,
        # so one bad case also reported an invented "at least 1 item ... not 0".
        if isinstance(v, list | tuple) and not v:
            raise ValueError("expected at least one case")
        return v

    @field_validator("cases")
    @classmethod
    def _unique(cls, v: tuple[PlanningCase | SimulationCase, ...]) -> tuple[PlanningCase | SimulationCase, ...]:
        seen: set[str] = set()
        for c in v:
            if c.name in seen:
                raise ValueError(f"duplicate case name {c.name!r}")
            seen.add(c.name)
        return v


_PLANNING_DEFAULTS = frozenset(PlanningCase.model_fields) - {"kind", "name", "expect"}
_PATH_FIELDS = ("catalog", "signals", "contracts", "state", "policy", "scenario", "plan")


def recording_path(suite_source: str, case_name: str) -> Path:
    """A recorded case's default cassette: ``<suite>.recordings/<case>.json`` beside the suite
    (characters other than letters, digits, ``_.-`` in the case name become ``_``)."""
    suite = Path(suite_source).resolve()
    return suite.parent / f"{suite.stem}.recordings" / (re.sub(r"[^A-Za-z0-9_.-]", "_", case_name) + ".json")


def _resolve(base: Path, value: str) -> str:
    p = Path(os.path.expanduser(value))
    return str(p if p.is_absolute() else (base / p).resolve())


def _merge_defaults(data: dict[str, Any], source: str) -> dict[str, Any]:
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise UserError("expected a mapping of planning-case fields", source=source, field="defaults")
    unknown = sorted(set(defaults) - _PLANNING_DEFAULTS)
    if unknown:
        raise UserError(f"unknown field {unknown[0]!r} (not a planning-case field)", source=source,
                        field=f"defaults.{unknown[0]}")
    cases = data.get("cases")
    if not isinstance(cases, list):
        return data
    for i, c in enumerate(cases):
        kind = c.get("kind", "planning") if isinstance(c, dict) else "planning"
        if kind not in ("planning", "simulation"):
            raise UserError(f"unknown kind {kind!r}, expected planning or simulation", source=source,
                            field=f"cases[{i}].kind")
    merged = [
        {"kind": "planning", **defaults, **c}
        if isinstance(c, dict) and c.get("kind", "planning") == "planning" else c
        for c in cases
    ]
    return {**data, "cases": merged}


def _check_paths(case: PlanningCase | SimulationCase, index: int, base: Path, source: str) -> Any:
    """Resolve the case's paths against ``base``; a missing file is a user error naming the field."""
    updates: dict[str, Any] = {}

    def need(field: str, value: str) -> str:
        path = _resolve(base, value)
        if not Path(path).exists():
            raise UserError(f"no such file or directory: {value}", source=source,
                            field=f"cases[{index}].{field}")
        return path

    for field in _PATH_FIELDS:
        value = getattr(case, field, None)
        if isinstance(value, str):
            updates[field] = need(field, value)
    if isinstance(case, PlanningCase):
        updates["evidence"] = tuple(need(f"evidence[{i}]", e) for i, e in enumerate(case.evidence))
        if case.planner.startswith("scripted:"):
            updates["planner"] = "scripted:" + need("planner", case.planner.removeprefix("scripted:"))
        elif case.planner == "recorded":  # the file may not exist yet: --record writes it
            updates["planner"] = f"recorded:{recording_path(source, case.name)}"
        elif case.planner.startswith("recorded:"):
            updates["planner"] = "recorded:" + _resolve(base, case.planner.removeprefix("recorded:"))
    return case.model_copy(update=updates)


_UNION_TAG = re.compile(r"^(cases\[\d+\])\.(?:planning|simulation)(?=\.|$)")


def _suite_error(exc: ValidationError, source: str) -> InputError:
    """The validation problems with pydantic's union tag dropped from the field path
    (``cases[0].planning.bogus`` -> ``cases[0].bogus``)."""
    err = format_validation_error(exc, source)
    return InputError([FieldProblem(p.source, _UNION_TAG.sub(r"\1", p.field), p.message) for p in err.problems])


def load_suite(path: str | os.PathLike[str]) -> Suite:
    """Load, validate and resolve a suite file; bad input raises ``UserError`` naming file and field."""
    source = str(path)
    data = load_document(path)
    data = _merge_defaults(data, source)
    try:
        suite = Suite.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise _suite_error(exc, source) from None
    base = Path(path).resolve().parent
    cases = tuple(_check_paths(c, i, base, source) for i, c in enumerate(suite.cases))
    return suite.model_copy(update={"cases": cases})
