"""Policy evaluation + validation of a 50-step plan against the 200-feature catalog.

Target: <= 50 ms for both together (median of N in-process runs, interpreter warm: the Rego
bundle is compiled once per process and pooled). Also printed: each part alone, the cold first
call (bundle compilation included), and the policy input size.

    .venv/bin/python benchmarks/bench_validate.py [--runs 50] [--steps 50] [--features 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scenarios")]

from generate_catalog import generate_catalog  # noqa: E402

from jitplan.contracts.catalog import Catalog, FeatureSpec  # noqa: E402
from jitplan.contracts.plan import Plan  # noqa: E402
from jitplan.contracts.policy import PolicyRequest  # noqa: E402
from jitplan.contracts.signals import Signal, SignalStatus  # noqa: E402
from jitplan.contracts.state import DeploymentState, FeatureState  # noqa: E402
from jitplan.tools.policy import PolicyBundle, evaluate_policy, policy_input  # noqa: E402
from jitplan.tools.validator import validate  # noqa: E402

TARGET_MS = 50.0


def world(n_features: int, n_steps: int) -> tuple[Catalog, DeploymentState, list[SignalStatus], Plan]:
    """A seeded catalog, every feature serving its oldest version, demand signals, and a plan
    canarying (10% -> 50%) and promoting the newest version of features that have two."""
    catalog = Catalog.from_data(generate_catalog(n_features, seed=0))
    state = DeploymentState(features={
        fid: FeatureState(version=catalog.versions(fid)[0].version,
                          known_versions=[f.version for f in catalog.versions(fid)])
        for fid in catalog.ids
    })
    targets: list[FeatureSpec] = [catalog.versions(fid)[-1] for fid in catalog.ids
                                  if len(catalog.versions(fid)) > 1]
    steps: list[dict[str, Any]] = []
    for spec in targets:
        tol = [{"metric": "error_rate", "comparator": "<=", "threshold": spec.slo.error_rate_max},
               {"metric": "latency_p95_ms", "comparator": "<=", "threshold": spec.slo.latency_p95_ms}]
        base = {"feature": spec.id, "version": spec.version, "tolerances": tol}
        n = len(steps)
        steps += [
            {**base, "id": f"s{n}", "action": "canary", "params": {"weight": 10},
             "compensation": {"id": f"s{n}-undo", "action": "rollback", "feature": spec.id}},
            {**base, "id": f"s{n + 1}", "action": "canary", "params": {"weight": 50},
             "depends_on": [f"s{n}"],
             "compensation": {"id": f"s{n + 1}-undo", "action": "canary", "feature": spec.id,
                              "version": spec.version, "params": {"weight": 10}}},
            {**base, "id": f"s{n + 2}", "action": "promote", "depends_on": [f"s{n + 1}"],
             "compensation": {"id": f"s{n + 2}-undo", "action": "rollback", "feature": spec.id,
                              "params": {"to_version": catalog.versions(spec.id)[0].version}}},
        ]
        if len(steps) >= n_steps:
            break
    plan = Plan.from_data({"id": "bench", "goal": "bulk upgrade", "steps": steps[:n_steps]})
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    signals = [
        SignalStatus(signal=Signal(name=f"{spec.id}.demand", kind="demand", feature=spec.id,
                                   value=20.0, unit="rpm", observed_at=now, lineage=["gw"]), ok=True)
        for spec in targets
    ]
    return catalog, state, signals, plan


def ms(samples: list[float]) -> str:
    return (f"median {statistics.median(samples) * 1000:6.2f} ms   min {min(samples) * 1000:6.2f} ms"
            f"   p90 {sorted(samples)[int(0.9 * (len(samples) - 1))] * 1000:6.2f} ms")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--features", type=int, default=200)
    args = ap.parse_args(argv)

    catalog, state, signals, plan = world(args.features, args.steps)
    bundle = PolicyBundle.from_sources(
        [(p.relative_to(ROOT / "tools" / "policy_bundle").as_posix(), p.read_text())
         for p in sorted((ROOT / "tools" / "policy_bundle").rglob("*.rego"))])
    request = PolicyRequest(role="operator", region="eu")

    t0 = time.perf_counter()
    cold = validate(plan, catalog, signals, state, bundle, request)
    cold_s = time.perf_counter() - t0

    def timed(fn: Any) -> list[float]:
        out = []
        for _ in range(args.runs):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        return out

    both = timed(lambda: validate(plan, catalog, signals, state, bundle, request))
    bare = timed(lambda: validate(plan, catalog, signals, state, None))
    doc = policy_input(request, catalog, [], signals, plan, state)
    pol = timed(lambda: evaluate_policy(bundle, policy_input(request, catalog, [], signals, plan,
                                                             state)))
    report = validate(plan, catalog, signals, state, bundle, request)
    assert all(validate(plan, catalog, signals, state, bundle, request) == report for _ in range(3))

    print(f"catalog: {len(catalog.features)} feature versions of {len(catalog.ids)} features; "
          f"plan: {len(plan.steps)} steps; policy input: {len(doc['features'])} feature specs, "
          f"{len(json.dumps(doc)):,} bytes of JSON; runs: {args.runs}")
    print(f"report: ok={report.ok}, {len(report.violations)} violation(s), "
          f"{len(report.escalate)} escalation(s), policy allowed={report.policy and report.policy.allowed}")
    print(f"cold first call (compiles the bundle): {cold_s * 1000:.1f} ms "
          f"(ok={cold.ok})")
    print(f"validation only          : {ms(bare)}")
    print(f"policy only (input+eval) : {ms(pol)}")
    print(f"policy + validation      : {ms(both)}")
    med = statistics.median(both) * 1000
    verdict = "meets" if med <= TARGET_MS else "MISSES"
    print(f"target <= {TARGET_MS:.0f} ms together: {verdict} ({med:.2f} ms median, "
          f"{med / TARGET_MS:.2f}x of target)")
    return 0 if med <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
