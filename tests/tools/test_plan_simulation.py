"""tools.plan_simulation: the scenario matrix derived from catalog + signals, and its verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jitplan.agent.planners.steps import slo_tolerances
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.evidence import load_evidence
from jitplan.contracts.plan import Plan
from jitplan.contracts.signals import ContractSet, SignalSnapshot
from jitplan.tools.evidence import index_evidence
from jitplan.tools.plan_simulation import (
    MAX_REQUESTS_PER_REPLICATION,
    build_scenarios,
    simulate_plan,
    sub_plan,
)
from jitplan.tools.signal_check import check_signals

WORLD = Path(__file__).resolve().parents[2] / "scenarios" / "world"
CAT = Catalog.from_file(WORLD / "catalog.yaml")
CON = ContractSet.from_file(WORLD / "contracts.yaml")
EVIDENCE = index_evidence(CAT, load_evidence([WORLD / "evidence"]))
"""The sample world's evidence: without it every version a plan exposes is unproven."""


def _statuses(name: str) -> list[Any]:
    return check_signals(SignalSnapshot.from_file(WORLD / "signals" / f"{name}.yaml"), CON, CAT)


def _canary_plan(feature: str, weights: list[float], tolerances: list[dict[str, Any]] | None = None) -> Plan:
    spec = CAT.get(feature)
    assert spec is not None
    steps = []
    for i, w in enumerate(weights, 1):
        steps.append({"id": f"s{i}", "action": "canary", "feature": feature, "version": spec.version,
                      "params": {"weight": w}, "depends_on": [f"s{i - 1}"] if i > 1 else [],
                      "tolerances": tolerances if tolerances is not None else slo_tolerances(spec),
                      "compensation": {"id": f"s{i}-undo", "action": "rollback", "feature": feature,
                                       "params": {}}})
    return Plan.model_validate({"id": "p", "goal": "g", "steps": steps})


def test_matrix_rows_and_request_budget() -> None:
    plan = _canary_plan("answer-synthesizer", [5, 25])
    rows = build_scenarios(plan, CAT, _statuses("demand-rise"), "answer-synthesizer")
    assert set(rows) == {"baseline", "load_spike", "provider_outage"}
    sc = rows["baseline"]
    assert sc.traffic.rate_rps == 180 / 60  # from the demand signal
    assert sc.service.baseline == "answer-synthesizer@off" and "answer-synthesizer@1.0.0" in sc.service.versions
    assert sc.duration_s is not None and sc.duration_s * sc.traffic.rate_rps <= MAX_REQUESTS_PER_REPLICATION * 1.01
    assert rows["load_spike"].traffic.spikes[0].multiplier == 3.0
    assert rows["provider_outage"].faults[0].kind == "outage"


def test_drift_signal_adds_a_drift_row_and_observed_values_shape_the_serving_version() -> None:
    steps = [{"id": "s1", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0",
              "params": {"weight": 10}, "tolerances": slo_tolerances(CAT.get("ticket-summarizer")),  # type: ignore[arg-type]
              "compensation": {"id": "u", "action": "rollback", "feature": "ticket-summarizer", "params": {}}}]
    plan = Plan.model_validate({"id": "p", "goal": "g", "steps": steps})
    rows = build_scenarios(plan, CAT, _statuses("drift"), "ticket-summarizer", serving="1.1.0")
    assert "drift" in rows and rows["drift"].drift[0].target == "ticket-summarizer@1.1.0"
    base = rows["baseline"].service
    assert base.baseline == "ticket-summarizer@1.1.0"
    assert base.quality < 0.91 - 0.13  # the observed drift (0.14) lowers the serving version's quality


def test_a_healthy_plan_passes_and_is_deterministic() -> None:
    plan = _canary_plan("answer-synthesizer", [5, 25])
    a = simulate_plan(plan, CAT, _statuses("demand-rise"), replications=3, evidence=EVIDENCE)
    b = simulate_plan(plan, CAT, _statuses("demand-rise"), replications=3, evidence=EVIDENCE)
    assert a == b
    assert a["passed"] and not a["failures"] and a["verdict"] == "passed"
    assert a["provenance"]["answer-synthesizer@1.0.0"]["source"] == "shadow"
    assert a["scenarios"]["answer-synthesizer:provider_outage"]["contained"] is True
    for m in a["scenarios"].values():
        assert {"latency_p95_s", "error_rate", "cost_usd", "quality_mean", "throughput_rps"} <= set(m)


def test_impossible_tolerances_fail_with_a_reason() -> None:
    tight = [{"metric": "latency_p95_ms", "comparator": "<=", "threshold": 1.0}]
    plan = _canary_plan("answer-synthesizer", [5, 25], tolerances=tight)
    res = simulate_plan(plan, CAT, _statuses("demand-rise"), replications=2, evidence=EVIDENCE)
    assert not res["passed"] and res["verdict"] == "failed"
    assert any("baseline" in f and "latency_p95_ms <= 1" in f for f in res["failures"])


def test_observed_latency_over_slo_fails_a_plan_that_keeps_the_version() -> None:
    # set_budget on the serving version while it runs at 7.2 s p95 (SLO 2.5 s): the gate breaches.
    spec = CAT.get("ticket-summarizer", "1.1.0")
    assert spec is not None
    plan = Plan.model_validate({"id": "p", "goal": "g", "steps": [
        {"id": "s1", "action": "set_budget", "feature": "ticket-summarizer", "version": "1.1.0",
         "params": {"usd_per_day": 40}, "tolerances": slo_tolerances(spec)[:2],
         "compensation": {"id": "u", "action": "set_budget", "feature": "ticket-summarizer", "params": {"usd_per_day": None}}}]})
    res = simulate_plan(plan, CAT, _statuses("latency-spike"), replications=2, serving={"ticket-summarizer": "1.1.0"})
    assert not res["passed"]


def test_plans_without_mutating_steps_need_no_simulation() -> None:
    plan = Plan.model_validate({"id": "p", "goal": "g", "steps": [{"id": "s1", "action": "noop"}]})
    res = simulate_plan(plan, CAT, [], replications=2)
    assert res["passed"] and res["scenarios"] == {}
    assert res["verdict"] == "not_run"  # nothing was simulated: never reported as "passed"


def test_sub_plan_keeps_one_feature_and_its_internal_dependencies() -> None:
    plan = Plan.model_validate({"id": "p", "goal": "g", "steps": [
        {"id": "s1", "action": "enable", "feature": "kb-retriever"},
        {"id": "s2", "action": "canary", "feature": "answer-synthesizer", "depends_on": ["s1"], "params": {"weight": 5}},
        {"id": "s3", "action": "canary", "feature": "answer-synthesizer", "depends_on": ["s2"], "params": {"weight": 25}},
    ]})
    sub = sub_plan(plan, "answer-synthesizer")
    assert [s.id for s in sub.steps] == ["s2", "s3"]
    assert sub.steps[0].depends_on == [] and sub.steps[1].depends_on == ["s2"]


def test_nothing_is_borrowed_from_the_source_tree_by_name() -> None:
    # Old code: ticket-summarizer@1.1.0 inherited the profile scenarios/sim/baseline.yaml gives a
    # version of that name (a file of the sample world, found by walking up from the module) and
    # its canary passed simulation with no evidence at all.
    steps = [{"id": "s1", "action": "canary", "feature": "ticket-summarizer", "version": "1.1.0",
              "params": {"weight": 10}, "tolerances": slo_tolerances(CAT.get("ticket-summarizer", "1.1.0")),  # type: ignore[arg-type]
              "compensation": {"id": "u", "action": "rollback", "feature": "ticket-summarizer", "params": {}}}]
    plan = Plan.model_validate({"id": "p", "goal": "g", "steps": steps})
    rows = build_scenarios(plan, CAT, [], "ticket-summarizer", serving="1.0.0")
    cand = rows["baseline"].service.versions["ticket-summarizer@1.1.0"]
    assert cand.latency.dist == "lognormal" and cand.latency.sigma == 0.5  # nominal, from the catalog
    res = simulate_plan(plan, CAT, [], replications=2, serving={"ticket-summarizer": "1.0.0"})
    assert not res["passed"] and res["verdict"] == "unproven"
    assert res["provenance"]["ticket-summarizer@1.1.0"] == "nominal"
    assert {r["verdict"] for r in res["scenarios"].values()} == {"unproven"}
    import jitplan.tools.plan_simulation as sp

    assert not hasattr(sp, "calibration") and not hasattr(sp, "default_sim_dir")


def test_enable_from_off_is_judged_on_the_new_versions_requests() -> None:
    # Old code: the simulator left traffic on "off", so every gate of the enable step saw no
    # request ("observed None") and held in 0 % of replications: the plan was rejected.
    spec = CAT.get("kb-retriever")
    assert spec is not None
    plan = Plan.model_validate({"id": "p", "goal": "g", "steps": [
        {"id": "s1", "action": "enable", "feature": "kb-retriever", "version": spec.version,
         "tolerances": slo_tolerances(spec),
         "compensation": {"id": "u", "action": "disable", "feature": "kb-retriever"}}]})
    res = simulate_plan(plan, CAT, _statuses("demand-rise"), replications=2, serving={"kb-retriever": None},
                        evidence=EVIDENCE)
    assert res["passed"], res["failures"]
    assert res["scenarios"]["kb-retriever:baseline"]["pass_rate"] == 1.0
    rows = build_scenarios(plan, CAT, _statuses("demand-rise"), "kb-retriever")
    assert rows["baseline"].service.baseline == "kb-retriever@off"


def test_a_plan_switching_a_serving_feature_off_gets_an_off_version() -> None:
    spec = CAT.get("ticket-summarizer", "1.1.0")
    assert spec is not None
    plan = Plan.model_validate({"id": "p", "goal": "g", "steps": [
        {"id": "s1", "action": "disable", "feature": "ticket-summarizer",
         "tolerances": slo_tolerances(spec)[1:2],
         "compensation": {"id": "u", "action": "enable", "feature": "ticket-summarizer", "version": "1.1.0"}}]})
    rows = build_scenarios(plan, CAT, [], "ticket-summarizer", serving="1.1.0")
    assert "ticket-summarizer@off" in rows["baseline"].service.versions
    res = simulate_plan(plan, CAT, [], replications=2, serving={"ticket-summarizer": "1.1.0"})
    assert res["passed"], res["failures"]


def test_nominal_profiles_follow_the_documented_catalog_conventions() -> None:
    """Expected values by hand from the raw catalog YAML and the documented conventions (module
    docstring and docs): latency lognormal (sigma 0.5) with p95 at 60 % of the SLO, error rate
    2 % of the SLO maximum, quality half-way between the SLO minimum and 1, cost 80 % of the
    per-request envelope; the serving version's drift signal lowers its quality by the drift."""
    import math

    import yaml

    raw = {(f["id"], str(f["version"])): f
           for f in yaml.safe_load((WORLD / "catalog.yaml").read_text())["features"]}
    ans = raw[("answer-synthesizer", "1.0.0")]
    assert (ans["slo"]["latency_p95_ms"], ans["slo"]["error_rate_max"], ans["slo"]["quality_min"],
            ans["cost"]["per_request_usd"]) == (3000, 0.01, 0.80, 0.0009)
    # p95 = 0.6 x 3 s = 1.8 s; lognormal: p95 = exp(m + 1.6449 s), mean = exp(m + s^2 / 2)
    mean_s = 1.8 * math.exp(-1.6448536 * 0.5 + 0.5**2 / 2)
    assert mean_s == pytest.approx(0.89616, abs=1e-5)
    plan = _canary_plan("answer-synthesizer", [5, 25])
    rows = build_scenarios(plan, CAT, _statuses("demand-rise"), "answer-synthesizer")
    prof = rows["baseline"].service.versions["answer-synthesizer@1.0.0"]
    assert prof.latency.dist == "lognormal" and prof.latency.sigma == 0.5
    assert prof.latency.mean_s == pytest.approx(mean_s, rel=1e-4)  # z95 rounded to 1.645 there
    assert prof.error_rate == pytest.approx(0.0002, rel=1e-12)  # 2 % of 0.01
    assert prof.quality == pytest.approx(0.9, rel=1e-12)  # (0.80 + 1) / 2
    assert prof.usd_per_request == pytest.approx(0.00072, rel=1e-12)  # 80 % of 0.0009
    assert rows["baseline"].traffic.rate_rps == pytest.approx(180 / 60)  # demand-rise: 180 rpm

    # The serving ticket-summarizer@1.1.0 under the drift snapshot (drift 0.14, no latency signal)
    ts = raw[("ticket-summarizer", "1.1.0")]
    q = ts["slo"]["quality_min"] + 0.5 * (1 - ts["slo"]["quality_min"]) - 0.14
    steps = [{"id": "s1", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0",
              "params": {"weight": 10}, "tolerances": [{"metric": "error_rate", "comparator": "<=",
                                                        "threshold": 0.01}],
              "compensation": {"id": "u", "action": "rollback", "feature": "ticket-summarizer",
                               "params": {}}}]
    rows = build_scenarios(Plan.model_validate({"id": "p", "goal": "g", "steps": steps}), CAT,
                           _statuses("drift"), "ticket-summarizer", serving="1.1.0")
    serving = rows["baseline"].service  # the baseline profile is the service's own
    assert serving.baseline == "ticket-summarizer@1.1.0"
    assert serving.quality == pytest.approx(q, rel=1e-12)
    assert serving.latency.mean_s == pytest.approx(
        0.6 * ts["slo"]["latency_p95_ms"] / 1000 * math.exp(-1.6448536 * 0.5 + 0.125), rel=1e-4)
