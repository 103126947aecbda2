"""The researcher-facing entry point: ``simulator.run`` with seeded, parallel replications."""

from __future__ import annotations

__all__ = ["estimated_requests", "load_scenario", "run"]

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from jitplan.contracts.errors import UserError
from jitplan.contracts.plan import Plan
from jitplan.contracts.scenario import MAX_SIM_REQUESTS, Scenario
from jitplan.simulator.pool import run_in_workers, run_on_ray
from jitplan.simulator.replication import ENGINES, run_replication
from jitplan.simulator.result import ReplicationResult, SimResult


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Load a scenario file; a relative trace path is resolved against the file's folder."""
    sc = Scenario.from_file(path)
    tp = sc.traffic.path
    if tp and not Path(tp).is_absolute():
        cand = Path(path).parent / tp
        if cand.exists() or not Path(tp).exists():
            traffic = sc.traffic.model_copy(update={"path": str(cand)})
            sc = sc.model_copy(update={"traffic": traffic})
    return sc


def run(
    scenario: Scenario | str | os.PathLike[str],
    plan: Plan | None = None,
    *,
    engine: str = "fast",
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    backend: str = "local",
    progress: Callable[[float], None] | None = None,
) -> SimResult:
    """Simulate ``scenario`` (a ``Scenario`` or a file path), optionally with ``plan`` under test.

    ``replications`` defaults to the scenario's; replication ``i`` draws from child ``i`` of
    ``SeedSequence(seed)`` (``seed`` defaults to the scenario's), so results do not depend on
    ``workers``. A plan embedded in the scenario is used when ``plan`` is None.

    ``workers > 1`` runs replications in fresh interpreters that do not import the caller's
    ``__main__`` (see ``jitplan.simulator.pool``), so a plain script needs no main guard.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if engine not in ENGINES:
        raise UserError(f"unknown engine '{engine}', expected one of {', '.join(ENGINES)}")
    reps = sc.replications if replications is None else replications
    if reps < 1:
        raise UserError("replications must be at least 1")
    seed = sc.seed if seed is None else seed
    if seed < 0:
        raise UserError("seed must be non-negative")
    plan = plan if plan is not None else sc.plan
    est = estimated_requests(sc)
    if est > MAX_SIM_REQUESTS:
        raise UserError(
            f"scenario '{sc.name}' would simulate about {est:,.0f} requests per replication, "
            f"more than the cap of {MAX_SIM_REQUESTS:,}; shorten duration_s or lower the rate"
        )
    if workers < 1:
        raise UserError("workers must be at least 1")
    args = [
        (sc.model_dump_json(), plan.model_dump_json() if plan else None, engine, seed, i)
        for i in range(reps)
    ]
    results: list[ReplicationResult]
    if backend == "ray":
        results = run_on_ray(args)
    elif backend != "local":
        raise UserError(f"unknown backend '{backend}', expected local or ray")
    elif workers == 1 or reps == 1:
        results = []
        for i in range(reps):
            sub = None if progress is None else _scaled(progress, i, reps)
            child = np.random.SeedSequence(seed).spawn(i + 1)[i]
            results.append(run_replication(sc, plan, engine, child, i, sub))
    else:
        results = run_in_workers(args, min(workers, reps), progress)
    return SimResult(sc.name, engine, seed, tuple(results), plan.id if plan else None)


def _scaled(progress: Callable[[float], None], i: int, reps: int) -> Callable[[float], None]:
    """Progress of replication ``i`` of ``reps`` mapped onto the whole run."""

    def report(f: float) -> None:
        progress((i + min(f, 1.0)) / reps)

    return report


def estimated_requests(sc: Scenario) -> float:
    """Upper estimate of the arrivals one replication simulates (for the work cap)."""
    if sc.requests is not None:
        return float(sc.requests)
    duration = sc.duration_s or 0.0
    t = sc.traffic
    if t.arrival == "trace":
        return 0.0  # bounded by the trace file's size cap and the duration
    peak = max([t.rate_rps, *(seg.rate_rps for seg in t.profile)])
    peak *= max([1.0, *(sp.multiplier for sp in t.spikes)])
    if t.diurnal is not None:
        peak *= 1 + t.diurnal.amplitude
    return peak * duration
