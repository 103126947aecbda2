"""Decision quality: jitplan vs a Flagger-style canary on seeded rollout situations.

Situations come from ``decision_situations`` (kept apart from the planner: the planner sees a
situation's catalog, signals, state and evidence, never its truth). For each one:

- jitplan: the offline planner plans the rollout the operator asks for ("roll out f@1.1.0 to
  100%") with the evidence; the validator and the evidence-driven simulation judge it. The
  outcome is ``approved`` (the plan serves users from the candidate and passed), ``shadowed``
  (the plan only shadows the candidate: zero user exposure), ``escalated`` or ``rejected``.
- Flagger-style baseline: fixed canary steps 5 -> 25 -> 50 -> 100 then promote, the same SLO
  thresholds judged on live metrics, no pre-simulation.

What users would have seen is replayed in the true world (the candidate's true profile, today's
demand with a x``SPIKE`` peak once the candidate takes all traffic): the requests a harmful
candidate served before its gates stopped it are its harmful exposure.

    .venv/bin/python benchmarks/bench_decisions.py [--n 200] [--seed 12] [--replications 8] [--json]

Goals (exit 1 with ``--strict`` when missed): >= 95 % of good situations approved or safely
shadowed; <= 2 % of harmful situations approved; 0 harmful exposure where the evidence shows
the harm (every harmful situation here carries evidence of its harm).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from decision_situations import HARMS, NOW, SPIKE, Situation, generate  # noqa: E402

from jitplan.contracts.plan import Plan  # noqa: E402
from jitplan.contracts.scenario import Scenario, Service, Spike, Traffic  # noqa: E402

HOLD_S = 300.0
"""Hold per rollout step in the true world (each step's gate window)."""


@dataclass(frozen=True)
class Outcome:
    decision: str  # approved | shadowed | rejected | escalated
    exposure: int  # requests the candidate served to users in the true world
    stopped: bool  # the rollout was rolled back by a gate


def _tolerances(s: Situation) -> list[dict[str, Any]]:
    spec = s.catalog.get(s.feature, s.candidate)
    assert spec is not None
    return [
        {"metric": "latency_p95_ms", "comparator": "<=", "threshold": spec.slo.latency_p95_ms, "window_s": HOLD_S},
        {"metric": "error_rate", "comparator": "<=", "threshold": spec.slo.error_rate_max, "window_s": HOLD_S},
        {"metric": "quality", "comparator": ">=", "threshold": spec.slo.quality_min, "window_s": HOLD_S},
        {"metric": "cost_per_request_usd", "comparator": "<=", "threshold": spec.cost.per_request_usd,
         "window_s": HOLD_S},
    ]


def flagger_plan(s: Situation) -> Plan:
    """Fixed canary 5 -> 25 -> 50 -> 100 then promote, thresholds on live metrics."""
    steps: list[dict[str, Any]] = []
    undo = {"action": "rollback", "feature": s.feature, "params": {"to_version": s.serving}}
    for i, w in enumerate((5.0, 25.0, 50.0, 100.0)):
        steps.append({"id": f"c{i}", "action": "canary", "feature": s.feature, "version": s.candidate,
                      "params": {"weight": w}, "tolerances": _tolerances(s),
                      "depends_on": [f"c{i - 1}"] if i else [],
                      "compensation": {"id": f"c{i}-undo", **undo}})
    steps.append({"id": "promote", "action": "promote", "feature": s.feature, "version": s.candidate,
                  "tolerances": _tolerances(s), "depends_on": ["c3"],
                  "compensation": {"id": "promote-undo", **undo}})
    return Plan.model_validate({"id": f"flagger-{s.id}", "goal": "fixed canary", "planner": "offline",
                                "steps": steps})


def _full_from(plan: Plan, s: Situation) -> int:
    """Index of the first step that gives the candidate all traffic."""
    for i, st in enumerate(plan.steps):
        if st.feature == s.feature and (st.action == "promote" or (st.action == "canary" and (st.weight or 0) >= 100)):
            return i
    return len(plan.steps)


def true_world(s: Situation, plan: Plan) -> Scenario:
    """Today's demand, a x SPIKE peak once the candidate takes all traffic, true profiles."""
    base, cand = f"{s.feature}@{s.serving}", f"{s.feature}@{s.candidate}"
    rate = s.demand_rpm / 60.0
    n = len(plan.steps)
    full = _full_from(plan, s)
    spikes = [Spike(start_s=full * HOLD_S, duration_s=(n - full) * HOLD_S + 60.0, multiplier=SPIKE)] if full < n else []
    b = s.truth[base]
    service = Service(concurrency=4096, baseline=base, versions={cand: s.truth[cand]},
                      **{k: getattr(b, k) for k in type(b).model_fields})
    return Scenario(name=f"truth:{s.id}", seed=int(s.id[1:]) + 1000, duration_s=n * HOLD_S + 60.0,
                    step_interval_s=HOLD_S, traffic=Traffic(rate_rps=rate, spikes=spikes), service=service)


def replay(s: Situation, plan: Plan) -> tuple[int, bool]:
    """(requests the candidate served users, rolled back?) in the true world."""
    from jitplan import simulator

    res = simulator.run(true_world(s, plan), plan, replications=1)
    rep = res.replications[0]
    served = int(rep.versions.get(f"{s.feature}@{s.candidate}", {}).get("requests", 0))
    stopped = any(e.kind in ("plan_aborted", "rollback") for e in rep.timeline)
    return served, stopped


def flagger(s: Situation) -> Outcome:
    served, stopped = replay(s, flagger_plan(s))
    return Outcome("rejected" if stopped else "approved", served, stopped)


def _exposes(plan: Plan, s: Situation) -> bool:
    return any(st.feature == s.feature and st.version == s.candidate
               and st.action in ("canary", "promote", "enable", "refresh_prompt") for st in plan.steps)


def jitplan(s: Situation, replications: int) -> tuple[Outcome, dict[str, Any]]:
    """Plan with the offline planner and evidence, validate, simulate, decide; replay if approved."""
    from jitplan.agent.planners.base import PlanningContext
    from jitplan.agent.planners.offline import build_offline_plan
    from jitplan.contracts.signals import SignalStatus
    from jitplan.contracts.state import DeploymentState, FeatureState
    from jitplan.tools.evidence import index_evidence
    from jitplan.tools.plan_simulation import simulate_plan
    from jitplan.tools.validator import validate

    index = index_evidence(s.catalog, s.evidence, now=NOW)
    state = DeploymentState(features={s.feature: FeatureState(version=s.serving, known_versions=[s.serving])})
    statuses = tuple(SignalStatus(signal=x, ok=True) for x in s.signals.signals)
    ctx = PlanningContext(s.catalog, statuses, state, request=f"roll out {s.feature}@{s.candidate} to 100%",
                          seed_id=s.id, evidence=index)
    plan = Plan.model_validate(build_offline_plan(ctx))
    if any(st.action == "escalate" for st in plan.steps):
        return Outcome("escalated", 0, False), {"plan": plan.goal}
    rep = validate(plan, s.catalog, list(statuses), state, None)
    if not rep.ok:
        return Outcome("rejected", 0, False), {"violations": [v.message for v in rep.violations][:3]}
    sim = simulate_plan(plan, s.catalog, list(statuses), replications=replications,
                        serving={s.feature: s.serving}, evidence=index)
    detail = {"plan": plan.goal, "verdict": sim.get("verdict"), "failures": sim.get("failures", [])[:2]}
    if not sim["passed"]:
        return Outcome("rejected", 0, False), detail
    if not _exposes(plan, s):
        return Outcome("shadowed", 0, False), detail
    served, stopped = replay(s, plan)
    return Outcome("approved", served, stopped), detail


def _share(xs: list[Outcome], decision: str) -> float:
    return sum(o.decision == decision for o in xs) / len(xs) if xs else float("nan")


def summarize(rows: list[tuple[Situation, Outcome, Outcome]]) -> dict[str, Any]:
    good = [(s, j, f) for s, j, f in rows if not s.harmful]
    bad = [(s, j, f) for s, j, f in rows if s.harmful]
    out: dict[str, Any] = {"situations": len(rows), "good": len(good), "harmful": len(bad),
                           "sparse": sum(s.sparse for s, _, _ in rows)}
    for name, idx in (("jitplan", 1), ("flagger", 2)):
        g = [r[idx] for r in good]
        h = [r[idx] for r in bad]
        out[name] = {
            "good_approved": _share(g, "approved"),
            "good_shadowed": _share(g, "shadowed"),
            "good_approved_or_shadowed": _share(g, "approved") + _share(g, "shadowed"),
            "harmful_approved": _share(h, "approved"),
            "harmful_approved_by_type": {
                t: _share([r[idx] for r in bad if r[0].harm == t], "approved") for t in HARMS},
            "escalated": _share([r[idx] for r in rows], "escalated"),
            "harmful_exposure_requests": sum(o.exposure for o in h),
            "harmful_exposure_by_type": {
                t: sum(r[idx].exposure for r in bad if r[0].harm == t) for t in HARMS},
            "decisions": dict(Counter(r[idx].decision for r in rows)),
        }
    j = out["jitplan"]
    out["goals"] = {
        "good_approved_or_shadowed>=0.95": j["good_approved_or_shadowed"] >= 0.95,
        "harmful_approved<=0.02": j["harmful_approved"] <= 0.02,
        "harmful_exposure==0": j["harmful_exposure_requests"] == 0,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--replications", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="one line per situation")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = []
    for s in generate(args.n, args.seed):
        j, detail = jitplan(s, args.replications)
        f = flagger(s)
        rows.append((s, j, f))
        if args.verbose:
            print(f"{s.id} harm={s.harm} sparse={s.sparse} jitplan={j.decision}/{j.exposure} "
                  f"flagger={f.decision}/{f.exposure} {detail}", file=sys.stderr)
    summary = summarize(rows)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    summary["command"] = " ".join(["benchmarks/bench_decisions.py", *(argv or sys.argv[1:])])
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        for name in ("jitplan", "flagger"):
            m = summary[name]
            print(f"{name:8s} good approved {m['good_approved']:.1%} (+ shadowed {m['good_shadowed']:.1%}"
                  f" = {m['good_approved_or_shadowed']:.1%}); harmful approved {m['harmful_approved']:.1%} "
                  f"{ {k: round(v, 3) for k, v in m['harmful_approved_by_type'].items()} }; "
                  f"escalated {m['escalated']:.1%}; harmful exposure {m['harmful_exposure_requests']} requests "
                  f"{m['harmful_exposure_by_type']}")
        print(f"{summary['situations']} situations ({summary['harmful']} harmful, {summary['sparse']} sparse) "
              f"in {summary['seconds']} s; goals: {summary['goals']}")
    return 1 if args.strict and not all(summary["goals"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
