"""Simulate a plan against a scenario matrix derived from the catalog and the signals.

For every feature the plan changes, one ``Scenario`` per matrix row is built in code:

- service versions: the profile their evidence supports (``evidence``, an ``EvidenceIndex`` of
  this catalog: empirical or fitted latency, error rate, quality, cost and provider limits, see
  ``tools.evidence_matrix``); each replication draws the parameters from their uncertainty, so
  thin evidence gives wide intervals. The serving version's observed signals are its evidence.
  A version without enough evidence keeps nominal values from the catalog (latency lognormal
  with p95 at 60 % of the SLO, error rate 2 % of the SLO maximum, quality half-way between the
  SLO minimum and 1, cost 80 % of the per-request envelope) and is reported as ``"nominal"``
  in ``provenance``: a row whose plan serves users from it is ``unproven``, never ``passed``.
  Nothing is borrowed from another catalog or from files in the source tree;
- which versions the scenario defines, and the smallest canary slice, come from walking the
  feature's steps with ``DeploymentState.apply`` (the executor's transition), never from the
  steps' params; the simulator routes traffic by the same transition, so an ``enable`` from
  ``off`` is judged on the new version's simulated requests (``<feature>@off`` is the version
  of a feature that is off);
- arrivals: Poisson at the feature's demand signal (or its trigger), capped so one replication
  stays under ``MAX_REQUESTS_PER_REPLICATION`` requests; each step holds long enough for
  ``MIN_GATE_REQUESTS`` requests on the smallest canary slice (within that budget);
- rows: ``baseline``; ``load_spike`` (3x arrivals for the whole plan, so a provider limit that
  holds today's demand but not the peak shows when the candidate takes the traffic); ``provider_outage``
  (every version fails for 60 s during the first gate); ``drift`` when a drift signal exists
  (the serving version's quality decays).

The plan passes when every gate holds in ``baseline``, ``load_spike`` and ``drift`` in at least
``PASS_RATE`` of the replications, and the outage is contained (a breached gate rolled the plan
back) or survived, and no row is ``unproven``. Each row carries ``verdict`` (``passed`` |
``failed`` | ``unproven``); the result carries ``verdict`` (failed over unproven over passed)
and ``provenance`` (per version ``{source, requests, age_s}`` or ``"nominal"``). Seeds are
fixed: same plan and inputs give the same verdict.
"""

from __future__ import annotations

__all__ = [
    "MAX_REQUESTS_PER_REPLICATION",
    "PASS_RATE",
    "build_scenarios",
    "simulate_plan",
    "sub_plan",
]

import math
from collections.abc import Sequence
from typing import Any

from jitplan.contracts.catalog import Catalog, FeatureSpec
from jitplan.contracts.plan import MUTATING_ACTIONS, Plan
from jitplan.contracts.scenario import (
    Drift,
    Fault,
    Latency,
    Scenario,
    Service,
    Spike,
    Traffic,
    VersionProfile,
)
from jitplan.contracts.signals import SignalStatus
from jitplan.contracts.state import DeploymentState, FeatureState, StepError
from jitplan.tools.evidence import EvidenceIndex

MAX_REQUESTS_PER_REPLICATION = 20_000
MIN_GATE_REQUESTS = 200
PASS_RATE = 0.8
_SIGMA = 0.5
_P95_OVER_MEAN = math.exp(1.645 * _SIGMA) / math.exp(_SIGMA**2 / 2)
OFF = "off"


def _profile(spec: FeatureSpec, observed: dict[str, float] | None = None) -> VersionProfile:
    """Nominal values from the catalog entry (the serving version's signals override them)."""
    obs = observed or {}
    p95_s = obs.get("latency", 0.6 * spec.slo.latency_p95_ms) / 1000.0
    q = spec.slo.quality_min + 0.5 * (1.0 - spec.slo.quality_min)
    if "drift" in obs:
        q = max(0.0, q - obs["drift"])
    return VersionProfile(
        latency=Latency(dist="lognormal", mean_s=max(p95_s / _P95_OVER_MEAN, 1e-4), sigma=_SIGMA),
        error_rate=min(1.0, obs.get("error_rate", 0.02 * spec.slo.error_rate_max)),
        quality=min(1.0, q),
        usd_per_request=obs.get("cost", 0.8 * spec.cost.per_request_usd),
    )


def sub_plan(plan: Plan, feature: str) -> Plan:
    """The steps of ``plan`` acting on ``feature`` (dependencies on other steps dropped)."""
    steps = [s for s in plan.steps if s.feature == feature]
    ids = {s.id for s in steps}
    steps = [s.model_copy(update={"depends_on": [d for d in s.depends_on if d in ids]}) for s in steps]
    return plan.model_copy(update={"steps": steps, "id": f"{plan.id}:{feature}"})


def _walk(sub: Plan, feature: str, serving: str | None) -> list[FeatureState]:
    """The feature's state before and after each step of ``sub`` (``DeploymentState.apply``),
    up to the first step that cannot apply."""
    state = DeploymentState(features={feature: FeatureState(
        version=serving, known_versions=[serving] if serving else [])})
    out = [state.get(feature)]
    for step in sub.steps:
        try:
            state = state.apply(step)
        except StepError:
            break
        out.append(state.get(feature))
    return out


def _observed(signals: Sequence[SignalStatus], feature: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in signals:
        if s.ok and s.signal.feature == feature:  # checked: values in canonical units
            out[s.signal.kind] = s.signal.value
    return out


def build_scenarios(
    plan: Plan, catalog: Catalog, signals: Sequence[SignalStatus], feature: str,
    *, serving: str | None = None,
) -> dict[str, Scenario]:
    """The scenario matrix for the steps of ``plan`` on ``feature``, with nominal profiles
    (observed signals for the serving version); ``simulate_plan`` gives them their evidence."""
    sub = sub_plan(plan, feature)
    obs = _observed(signals, feature)
    newest = catalog.get(feature)
    if newest is None:
        return {}
    base_spec = catalog.get(feature, serving) if serving else None
    walk = _walk(sub, feature, base_spec.version if base_spec is not None else None)
    versions: dict[str, VersionProfile] = {}
    for fs in walk:
        for v in (fs.version, fs.canary_version, fs.shadow_version):
            spec = catalog.get(feature, v) if v else None
            if spec is not None:
                versions[spec.key] = _profile(spec)
    off = VersionProfile(latency=Latency(dist="constant", mean_s=0.001), quality=1.0)
    if base_spec is not None:
        baseline = base_spec.key
        base = _profile(base_spec, obs)
        if any(fs.version is None for fs in walk):
            versions[f"{feature}@{OFF}"] = off  # a step switches the feature off
    else:
        baseline = f"{feature}@{OFF}"
        base = off
    versions.pop(baseline, None)
    rate_rps = max(obs.get("demand", newest.triggers.demand_min_rpm), 1.0) / 60.0
    nsteps = max(len(sub.steps), 1)
    # One hold per step: long enough for MIN_GATE_REQUESTS on the smallest canary slice,
    # short enough to keep a replication under MAX_REQUESTS_PER_REPLICATION.
    weights = [fs.canary_weight for fs in walk if fs.canary_weight > 0]
    share = min(weights, default=100.0) / 100.0
    wanted = MIN_GATE_REQUESTS / (rate_rps * share)
    budget = MAX_REQUESTS_PER_REPLICATION / (rate_rps * nsteps)
    step_interval = max(10.0, min(max(wanted, 60.0), budget))
    duration = step_interval * nsteps + 30.0
    mean_s = max([base.latency.mean_s, *(v.latency.mean_s for v in versions.values())])
    concurrency = max(8, math.ceil(rate_rps * mean_s / 0.25) + 1)
    service = Service(
        concurrency=concurrency, baseline=baseline, versions=versions,
        latency=base.latency, error_rate=base.error_rate, quality=base.quality,
        usd_per_request=base.usd_per_request,
    )
    first_gate = step_interval
    common: dict[str, Any] = {"duration_s": duration, "service": service,
                              "tick_s": max(5.0, duration / 1000.0),
                              "step_interval_s": step_interval, "plan": None}
    rows: dict[str, Scenario] = {
        "baseline": Scenario(name=f"{feature}:baseline", traffic=Traffic(rate_rps=rate_rps), seed=1, **common),
        "load_spike": Scenario(
            name=f"{feature}:load_spike", seed=2,
            traffic=Traffic(rate_rps=rate_rps, spikes=[Spike(start_s=0.0, duration_s=duration, multiplier=3.0)]),
            **common),
        "provider_outage": Scenario(
            name=f"{feature}:provider_outage", seed=3, traffic=Traffic(rate_rps=rate_rps),
            faults=[Fault(kind="outage", start_s=min(10.0, first_gate / 4), duration_s=60.0)], **common),
    }
    if "drift" in obs:
        rows["drift"] = Scenario(
            name=f"{feature}:drift", seed=4, traffic=Traffic(rate_rps=rate_rps),
            drift=[Drift(target=baseline, quality_decay_per_hour=obs["drift"])], **common)
    return rows


def simulate_plan(
    plan: Plan,
    catalog: Catalog,
    signals: Sequence[SignalStatus],
    *,
    replications: int = 10,
    serving: dict[str, str | None] | None = None,
    engine: str = "fast",
    evidence: EvidenceIndex | None = None,
) -> dict[str, Any]:
    """Run the matrix for every feature the plan changes: ``{passed, verdict, scenarios,
    failures, provenance}``.

    ``scenarios`` maps ``"<feature>:<row>"`` to its aggregated metrics and verdict;
    ``evidence`` is this catalog's evidence (none: every version the plan exposes is unproven).
    """
    from jitplan.tools.evidence_matrix import apply_evidence, exposed_versions, row_verdict
    from jitplan.tools.evidence_sim import run_drawn

    features: list[str] = []
    for s in plan.steps:
        if s.feature and s.action in MUTATING_ACTIONS and s.feature not in features:
            features.append(s.feature)
    if not features:
        return {"passed": True, "verdict": "not_run", "scenarios": {}, "failures": [], "replications": 0,
                "provenance": {}, "note": "no mutating step: nothing to simulate"}
    serving = serving or {}
    scenarios: dict[str, Any] = {}
    failures: list[str] = []
    provenance: dict[str, Any] = {}
    verdicts: set[str] = set()
    for feature in features:
        sub = sub_plan(plan, feature)
        rows = build_scenarios(plan, catalog, signals, feature, serving=serving.get(feature))
        for row, sc in rows.items():
            view = apply_evidence(sc, catalog, feature, evidence, signals, serving=serving.get(feature))
            provenance.update(view.provenance)
            res = run_drawn(view.scenario, sub, view.profiles, replications=replications, engine=engine,
                            series=False)  # nothing below reads the per-tick series
            verdict = res.verdict or {"status": "pass", "pass_rate": 1.0, "breaches": [], "reasons": []}
            m = res.metrics
            aborted = any(e.kind == "plan_aborted" for r in res.replications for e in r.timeline)
            doc = {
                "latency_p95_s": round(m["latency_p95_s"], 6),
                "error_rate": round(m["error_rate"], 6),
                "cost_usd": round(m["cost_usd"], 6),
                "quality_mean": round(m["quality_mean"], 6),
                "throughput_rps": round(m["throughput_rps"], 6),
                "requests": int(m["requests"]),
                "pass_rate": verdict["pass_rate"],
                "status": verdict["status"],
                "rolled_back": aborted,
            }
            if row == "provider_outage":
                ok = verdict["status"] == "pass" or aborted
                doc["contained"] = ok
            else:
                ok = verdict["pass_rate"] >= PASS_RATE
            doc["ok"] = ok
            doc["verdict"] = row_verdict(ok, sub, feature, view)
            verdicts.add(doc["verdict"])
            if doc["verdict"] == "unproven":
                thin = [k for k in exposed_versions(sub, feature) if k in view.unproven]
                failures.append(f"{feature} in scenario {row}: unproven: the plan serves users from "
                                f"{', '.join(thin)} without enough evidence "
                                "(shadow it first, or give --evidence)")
            elif not ok:
                gates = sorted({f"{b['step']} {b['metric']} {b['comparator']} {b['threshold']:g}"
                                f" (observed {b['observed'] if b['observed'] is None else format(b['observed'], '.4g')})"
                                for b in verdict["breaches"]})[:5]
                failures.append(f"{feature} in scenario {row}: gates held in {verdict['pass_rate']:.0%} of "
                                f"{replications} replications (need {PASS_RATE:.0%}); breached: {'; '.join(gates)}")
            scenarios[f"{feature}:{row}"] = doc
    overall = next((v for v in ("failed", "unproven") if v in verdicts), "passed")
    out = {"passed": overall == "passed", "verdict": overall, "scenarios": scenarios,
           "failures": failures, "replications": replications, "provenance": provenance}
    if evidence is not None and evidence.notes:  # unknown versions, stale evidence
        out["evidence_notes"] = list(evidence.notes)
    return out
