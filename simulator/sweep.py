"""Parameter sweeps: a grid of scenarios, each run for R seeded replications.

A sweep axis is ``dotted.path=SPEC`` into the ``Scenario`` model (``traffic.rate_rps``,
``service.concurrency``, ``service.latency.mean_s`` ...); ``SPEC`` is ``a:b:n`` (``n`` evenly
spaced points from ``a`` to ``b``) or a comma list of values. Several axes form a full grid.

The ``random`` design instead draws ``points`` points: each axis ``lo:hi`` uniformly in
``[lo, hi]`` (rounded on integer fields such as ``service.concurrency``), a comma list by a
uniform choice. The draws come from their own stream of the sweep seed
(``SeedSequence([seed, DESIGN_STREAM])``), so the same seed gives the same points.

Every point uses the same ``seed`` (common random numbers: replication ``i`` of every point
draws from child ``i`` of ``SeedSequence(seed)``), so differences between points are the
parameter's effect, not noise. All replications of all points are run as one batch of
``jitplan.simulator.pool.run_task`` calls, in-process, on worker processes or as Ray tasks: the
numbers do not depend on the backend or the number of workers.
"""

from __future__ import annotations

__all__ = [
    "DESIGNS",
    "SweepAxis",
    "SweepPoint",
    "SweepResult",
    "apply_params",
    "parse_axis",
    "random_points",
    "sweep",
]

import itertools
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from jitplan.contracts.errors import UserError
from jitplan.contracts.plan import Plan
from jitplan.contracts.scenario import MAX_SIM_REQUESTS, Scenario
from jitplan.simulator.pool import Task, run_in_workers, run_on_ray, run_task
from jitplan.simulator.replication import ENGINES
from jitplan.simulator.result import METRIC_NAMES, ReplicationResult, SimResult
from jitplan.simulator.runner import estimated_requests, load_scenario

MAX_POINTS = 10_000
"""Cap on grid points (bounded work)."""
DESIGNS: tuple[str, ...] = ("grid", "random")
DESIGN_STREAM = 0x5EED_D351
"""Second entropy word of the random design's seed (independent of the replications' streams)."""

_OPT = "--param"


@dataclass(frozen=True)
class SweepAxis:
    """One swept parameter: a dotted path into the scenario and its values; for the random
    design, ``span=True`` means ``values`` is the ``(lo, hi)`` range to draw from."""

    path: str
    values: tuple[float, ...]
    span: bool = False


@dataclass(frozen=True)
class SweepPoint:
    """One grid point: its parameter values and the aggregated replications."""

    params: dict[str, float]
    result: SimResult


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: axes, seed, replications per point and the points in grid order."""

    scenario: str
    axes: tuple[SweepAxis, ...]
    seed: int
    replications: int
    engine: str
    points: tuple[SweepPoint, ...]
    design: str = "grid"

    def rows(self) -> tuple[list[str], list[list[float]]]:
        """Table columns (``point``, each path, ``<metric>_mean``, ``<metric>_ci95``) and rows."""
        cols = ["point", *(a.path for a in self.axes)]
        for m in METRIC_NAMES:
            cols += [f"{m}_mean", f"{m}_ci95"]
        rows: list[list[float]] = []
        for i, p in enumerate(self.points):
            row = [float(i), *(p.params[a.path] for a in self.axes)]
            mean, ci = p.result.metrics, p.result.ci95
            for m in METRIC_NAMES:
                row += [mean[m], ci[m]]
            rows.append(row)
        return cols, rows


def _number(text: str, spec: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise UserError(f"'{text}' in '{spec}' is not a number", source=_OPT) from None
    if not math.isfinite(x):
        raise UserError(f"'{text}' in '{spec}' is not a finite number", source=_OPT)
    return x


def parse_axis(spec: str, design: str = "grid") -> SweepAxis:
    """Parse ``path=a:b:n`` (``n`` evenly spaced points) or ``path=v1,v2,...``; for the random
    design, ``path=lo:hi`` (a range to draw from) or ``path=v1,v2,...``."""
    path, sep, values = spec.partition("=")
    path = path.strip()
    shape = "lo:hi" if design == "random" else "a:b:n"
    if not sep or not path or not values.strip():
        raise UserError(f"'{spec}' must look like path={shape} or path=v1,v2,...", source=_OPT)
    if design == "random" and ":" in values:
        parts = values.split(":")
        if len(parts) != 2:
            raise UserError(f"'{spec}': with --design random a range is lo:hi (--points gives the count)",
                            source=_OPT)
        lo, hi = _number(parts[0], spec), _number(parts[1], spec)
        if hi < lo:
            raise UserError(f"'{spec}': lo must not exceed hi", source=_OPT)
        return SweepAxis(path, (lo, hi), span=True)
    if ":" in values:
        parts = values.split(":")
        if len(parts) != 3:
            raise UserError(f"'{spec}': a range is a:b:n (start, stop, points)", source=_OPT)
        a, b = _number(parts[0], spec), _number(parts[1], spec)
        try:
            n = int(parts[2])
        except ValueError:
            raise UserError(f"'{spec}': n must be a whole number", source=_OPT) from None
        if n < 1 or n > MAX_POINTS:
            raise UserError(f"'{spec}': n must be between 1 and {MAX_POINTS}", source=_OPT)
        if n == 1:
            vals: tuple[float, ...] = (a,)
        else:
            vals = tuple(a + (b - a) * k / (n - 1) for k in range(n))
    else:
        vals = tuple(_number(v.strip(), spec) for v in values.split(","))
    return SweepAxis(path, vals)


def _set(doc: dict[str, Any], path: str, value: float) -> None:
    keys = path.split(".")
    node: Any = doc
    for depth, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(keys[: depth + 1])
            raise UserError(f"'{where}' is not a field of the scenario", source=_OPT, field=path)
        if depth == len(keys) - 1:
            if isinstance(node[key], dict | list):
                raise UserError("is a section, not a number", source=_OPT, field=path)
            node[key] = int(value) if float(value).is_integer() else value
        else:
            node = node[key]


def apply_params(sc: Scenario, params: dict[str, float]) -> Scenario:
    """``sc`` with each dotted path set to its value, validated again (``UserError`` naming
    ``--param`` and the path when the path does not exist or the value is out of range)."""
    doc = sc.model_dump(mode="json")
    for path, value in params.items():
        _set(doc, path, value)
    try:
        return Scenario.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or ", ".join(params)
        shown = ", ".join(f"{k}={v:g}" for k, v in params.items())
        raise UserError(f"{shown}: {err['msg']}", source=_OPT, field=loc) from None


def _is_int_field(sc: Scenario, path: str) -> bool:
    node: Any = sc.model_dump(mode="json")
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return isinstance(node, int) and not isinstance(node, bool)


def _typed_axes(sc: Scenario, axes: Sequence[SweepAxis]) -> list[SweepAxis]:
    """Axes over integer scenario fields (``service.concurrency``) hold whole values as ``int``,
    so the points, the JSON and the Parquet column show ``4``, not ``4.0``, as the CSV does."""
    out = []
    for a in axes:
        if _is_int_field(sc, a.path):
            a = SweepAxis(a.path, tuple(int(v) if float(v).is_integer() else v for v in a.values), a.span)
        out.append(a)
    return out


def random_points(sc: Scenario, axes: Sequence[SweepAxis], n: int, seed: int) -> list[dict[str, float]]:
    """``n`` points drawn for the random design (deterministic for ``seed``): a range axis
    uniformly in ``[lo, hi]`` (rounded on integer fields), a value list by uniform choice.
    Points are drawn one after the other, so a design's first ``k`` points do not depend on ``n``."""
    import numpy as np

    rng = np.random.default_rng(np.random.SeedSequence([seed, DESIGN_STREAM]))
    ints = [a.span and _is_int_field(sc, a.path) for a in axes]
    out: list[dict[str, float]] = []
    for _ in range(n):  # point by point: the first k points of a longer design are the same
        point: dict[str, float] = {}
        for a, is_int in zip(axes, ints, strict=True):
            if a.span:
                x = float(rng.uniform(a.values[0], a.values[1]))
                point[a.path] = round(x) if is_int else x
            else:
                point[a.path] = a.values[int(rng.integers(0, len(a.values)))]
        out.append(point)
    return out


def sweep(
    scenario: Scenario | str | os.PathLike[str],
    axes: Sequence[SweepAxis],
    *,
    plan: Plan | None = None,
    replications: int | None = None,
    seed: int | None = None,
    engine: str = "fast",
    backend: str = "local",
    workers: int = 1,
    progress: Callable[[float], None] | None = None,
    design: str = "grid",
    points: int | None = None,
) -> SweepResult:
    """Run ``scenario`` at every point of the grid spanned by ``axes`` or, with
    ``design="random"``, at ``points`` points drawn from them (``random_points``)."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if not axes:
        raise UserError("give at least one parameter to sweep", source=_OPT)
    paths = [a.path for a in axes]
    if len(set(paths)) != len(paths):
        raise UserError("each path may be swept only once", source=_OPT)
    if engine not in ENGINES:
        raise UserError(f"unknown engine '{engine}', expected one of {', '.join(ENGINES)}")
    if backend not in ("local", "ray"):
        raise UserError(f"unknown backend '{backend}', expected local or ray")
    reps = sc.replications if replications is None else replications
    seed = sc.seed if seed is None else seed
    if reps < 1 or seed < 0 or workers < 1:
        raise UserError("replications and workers must be at least 1, seed non-negative")
    if design not in DESIGNS:
        raise UserError(f"unknown design '{design}', expected one of {', '.join(DESIGNS)}", source="--design")
    if design == "grid" and points is not None:
        raise UserError("only with --design random (a grid's size comes from its axes)", source="--points")
    if design == "grid" and any(a.span for a in axes):
        raise UserError("a lo:hi range needs --design random; a grid axis is a:b:n", source=_OPT)
    if design == "random" and (points is None or not 1 <= points <= MAX_POINTS):
        raise UserError(f"--design random needs --points N, 1 to {MAX_POINTS:,}", source="--points")
    n_points = math.prod(len(a.values) for a in axes) if design == "grid" else int(points or 0)
    if n_points > MAX_POINTS:
        raise UserError(f"the grid has {n_points:,} points, more than {MAX_POINTS:,}", source=_OPT)
    axes = _typed_axes(sc, axes)
    plan = plan if plan is not None else sc.plan
    plan_json = plan.model_dump_json() if plan else None
    design_points = (
        [dict(zip(paths, combo, strict=True)) for combo in itertools.product(*(a.values for a in axes))]
        if design == "grid" else random_points(sc, axes, n_points, seed)
    )
    grid: list[dict[str, float]] = []
    tasks: list[Task] = []
    for params in design_points:
        point = apply_params(sc, params)
        if estimated_requests(point) > MAX_SIM_REQUESTS:
            raise UserError(f"{params}: more than {MAX_SIM_REQUESTS:,} requests", source=_OPT)
        grid.append(params)
        sc_json = point.model_dump_json()
        tasks += [(sc_json, plan_json, engine, seed, i) for i in range(reps)]
    results: list[ReplicationResult]
    if backend == "ray":
        results = run_on_ray(tasks, progress)
    elif workers == 1:
        results = []
        for k, t in enumerate(tasks):
            results.append(run_task(t))
            if progress is not None:
                progress((k + 1) / len(tasks))
    else:  # one pool for the whole grid (worker start-up costs seconds); task order kept
        results = run_in_workers(tasks, min(workers, len(tasks)), progress)
    swept = tuple(
        SweepPoint(
            params,
            SimResult(
                sc.name, engine, seed, tuple(results[k * reps : (k + 1) * reps]),
                plan.id if plan else None,
            ),
        )
        for k, params in enumerate(grid)
    )
    return SweepResult(sc.name, tuple(axes), seed, reps, engine, swept, design)

