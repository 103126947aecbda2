"""Simulate with version parameters drawn from their evidence, one draw per replication.

``run_drawn(scenario, plan, profiles, replications=...)`` runs replication ``i`` of
``scenario`` with every version named in ``profiles`` replaced by ``profiles[key].draw(rng_i)``
(``rng_i`` seeded from the scenario seed and ``i``). The aggregate's intervals then carry both
the traffic's randomness and the uncertainty of what was measured: thin evidence, wide
intervals. Same inputs and seed give the same result.
"""

from __future__ import annotations

__all__ = ["drawn_scenario", "run_drawn"]

from collections.abc import Mapping

import numpy as np

from jitplan.contracts.errors import UserError
from jitplan.contracts.plan import Plan
from jitplan.contracts.scenario import MAX_SIM_REQUESTS, Scenario, VersionProfile
from jitplan.simulator.replication import ENGINES, run_replication
from jitplan.simulator.result import SimResult
from jitplan.simulator.runner import estimated_requests
from jitplan.tools.evidence_profile import EvidenceProfile

_DRAW_STREAM = 0xE71D


def drawn_scenario(sc: Scenario, profiles: Mapping[str, EvidenceProfile],
                   rng: np.random.Generator) -> Scenario:
    """``sc`` with each version in ``profiles`` given one drawn profile."""
    svc = sc.service
    versions = dict(svc.versions)
    update: dict[str, object] = {}
    for key in svc.version_keys:
        prof = profiles.get(key)
        if prof is None:
            continue
        drawn = prof.draw(rng)
        if key == svc.baseline:
            update.update({f: getattr(drawn, f) for f in VersionProfile.model_fields})
        else:
            versions[key] = drawn
    update["versions"] = versions
    return sc.model_copy(update={"service": svc.model_copy(update=update)})


def run_drawn(
    sc: Scenario, plan: Plan | None, profiles: Mapping[str, EvidenceProfile], *,
    replications: int, engine: str = "fast", seed: int | None = None, series: bool = True,
) -> SimResult:
    """Run ``replications`` replications, each on its own parameter draw (``series=False``:
    without the per-tick time series, which the planning cycle never reads)."""
    if engine not in ENGINES:
        raise UserError(f"unknown engine '{engine}', expected one of {', '.join(ENGINES)}")
    if replications < 1:
        raise UserError("replications must be at least 1")
    if estimated_requests(sc) > MAX_SIM_REQUESTS:
        raise UserError(f"scenario '{sc.name}' would simulate more than {MAX_SIM_REQUESTS:,} requests")
    seed = sc.seed if seed is None else seed
    results = []
    for i in range(replications):
        rng = np.random.default_rng(np.random.SeedSequence([seed, i, _DRAW_STREAM]))
        sc_i = drawn_scenario(sc, profiles, rng)
        child = np.random.SeedSequence(seed).spawn(i + 1)[i]
        results.append(run_replication(sc_i, plan, engine, child, i, series=series))
    return SimResult(sc.name, engine, seed, tuple(results), plan.id if plan else None)
