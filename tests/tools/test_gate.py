"""Gate: Mann-Whitney U, canary verdicts (pass/marginal/fail/inconclusive), tolerance checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from jitplan.contracts.execution import signal_cohort, signal_metric, worst
from jitplan.contracts.plan import Step
from jitplan.contracts.signals import Signal, SignalSnapshot
from jitplan.tools.gate import (
    GateConfig,
    Observations,
    compare_metric,
    evaluate_gate,
    mann_whitney_u,
)

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _sig(name: str, value: float, *, kind: str = "latency", unit: str = "ms", feature: str = "ticket-summarizer",
         minutes: int = 0, lineage: list[str] | None = None) -> Signal:
    return Signal(name=f"{feature}.{name}", kind=kind, feature=feature, value=value, unit=unit,  # type: ignore[arg-type]
                  observed_at=T0 + timedelta(minutes=minutes), lineage=lineage or [])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_large_cohorts_use_the_asymptotic_u_test(seed: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(seed)
    x = np.round(rng.lognormal(0.1 * seed, 0.5, 23), 1).tolist()  # rounding makes ties
    y = np.round(rng.lognormal(0.0, 0.5, 31), 1).tolist()
    r = mann_whitney_u(x, y)
    ref = stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic", use_continuity=True)
    assert r.method == "mann-whitney asymptotic"
    assert r.statistic == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def _brute_force_p(x: list[float], y: list[float]) -> float:
    """One-sided p of the rank sum of x over every split of the pooled ranks (ties: mid-ranks)."""
    from itertools import combinations

    from scipy.stats import rankdata

    ranks = rankdata([*x, *y])
    observed = ranks[: len(x)].sum()
    sums = [ranks[list(c)].sum() for c in combinations(range(len(ranks)), len(x))]
    return sum(s >= observed - 1e-9 for s in sums) / len(sums)


@pytest.mark.parametrize(("x", "y"), [
    ([10.0, 20.0, 30.0, 40.0], [1.0, 2.0, 3.0, 4.0]),  # fully separated 4 vs 4: 1/70
    ([3.1, 2.2, 5.0, 4.4, 1.9], [1.0, 2.0, 2.5, 0.4, 3.0, 1.1]),
    ([1.0, 1.0, 2.0, 3.0, 3.0], [1.0, 2.0, 2.0, 0.0, 1.0]),  # ties across cohorts
    ([0.0, 0.0, 0.0, 0.02, 0.05], [0.0, 0.0, 0.0, 0.0, 0.01]),  # mostly zero
])
def test_small_cohorts_get_exact_p_values(x: list[float], y: list[float]) -> None:
    r = mann_whitney_u(x, y)
    assert "exact" in r.method
    assert r.p_value == pytest.approx(_brute_force_p(x, y), rel=1e-9)


def test_all_equal_samples_give_no_evidence() -> None:
    assert mann_whitney_u([1.0] * 6, [1.0] * 6).p_value == 1.0


def test_fully_separated_four_vs_four_is_a_regression_with_default_settings() -> None:
    """Kayenta judges it High; the old gate (asymptotic only, min_samples 5) said inconclusive."""
    c = compare_metric("latency_p95_ms", [10.0, 20.0, 30.0, 40.0], [1.0, 2.0, 3.0, 4.0], GateConfig())
    assert c.verdict == "fail" and c.p_value == pytest.approx(1 / 70) and c.test == "mann-whitney exact"


def test_too_small_to_be_significant_is_inconclusive_not_pass() -> None:
    c = compare_metric("latency_p95_ms", [10.0, 20.0, 30.0], [1.0, 2.0, 3.0], GateConfig(min_samples=2))
    assert c.verdict == "inconclusive" and c.min_p_value == pytest.approx(0.05) and "no result can be significant" in c.reason


def test_mostly_zero_error_rate_is_judged_on_means_not_medians() -> None:
    """64 of 210 canary samples non-zero vs 17 of 210 (a Kayenta case): both medians are 0."""
    rng = np.random.default_rng(5)
    canary = [0.0] * 210
    baseline = [0.0] * 210
    for i in rng.choice(210, 64, replace=False):
        canary[int(i)] = float(rng.uniform(1, 4)) / 100
    for i in rng.choice(210, 17, replace=False):
        baseline[int(i)] = float(rng.uniform(1, 4)) / 100
    c = compare_metric("error_rate", canary, baseline, GateConfig())
    assert c.canary_median == 0 and c.baseline_median == 0
    assert c.verdict == "fail" and c.p_value is not None and c.p_value < 1e-6
    assert c.relative_change is not None and c.relative_change > 2 and c.reason.startswith("error_rate: canary mean")


def test_rates_with_request_counts_use_a_two_proportion_test() -> None:
    canary = [0.004] * 6  # 4 errors per 1000 requests
    baseline = [0.002] * 6
    reqs = [1000] * 6
    c = compare_metric("error_rate", canary, baseline, GateConfig(), canary_requests=reqs, baseline_requests=reqs)
    assert c.test == "two-proportion (Fisher exact)" and c.verdict == "fail"
    assert c.canary_mean == pytest.approx(24 / 6000) and c.relative_change == pytest.approx(1.0)
    few = compare_metric("error_rate", [0.004] * 6, [0.002] * 6, GateConfig(),
                         canary_requests=[500] * 6, baseline_requests=[500] * 6)
    assert few.verdict == "marginal" and few.p_value is not None and few.p_value > 0.05  # 12 vs 6 errors in 3000
    # without request counts the same samples are per-interval rates (rank test on the rates)
    assert compare_metric("error_rate", canary, baseline, GateConfig()).test == "mann-whitney exact (permutation, ties)"


def test_from_zero_baseline_is_an_unbounded_change() -> None:
    c = compare_metric("error_rate", [0.01, 0.02, 0.01, 0.03, 0.02], [0.0] * 5, GateConfig())
    assert c.verdict == "fail" and c.relative_change is None and "from 0" in c.reason


def test_verdicts_for_latency() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(1000, 50, 40).tolist()
    cfg = GateConfig(confidence=0.95, tolerance=0.10, min_samples=5)
    same = [
        compare_metric("latency_p95_ms", rng.normal(1000, 50, 40).tolist(), rng.normal(1000, 50, 40).tolist(), cfg).verdict
        for _ in range(200)
    ]
    assert "fail" not in same  # an identical canary never fails ...
    assert same.count("pass") >= 170  # ... and is flagged marginal at about the 5% false-alarm rate
    much_worse = compare_metric("latency_p95_ms", rng.normal(1400, 50, 40).tolist(), base, cfg)
    assert much_worse.verdict == "fail" and much_worse.p_value is not None and much_worse.p_value < 0.05
    assert much_worse.relative_change == pytest.approx(0.4, abs=0.05)
    assert much_worse.canary_n == 40 and much_worse.baseline_n == 40 and much_worse.u_statistic is not None
    slightly = compare_metric("latency_p95_ms", rng.normal(1050, 20, 40).tolist(), base, cfg)
    assert slightly.verdict == "marginal"
    better = compare_metric("latency_p95_ms", rng.normal(700, 50, 40).tolist(), base, cfg)
    assert better.verdict == "pass"


def test_quality_lower_is_worse() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(0.9, 0.01, 20).tolist()
    cfg = GateConfig(tolerance=0.05)
    assert compare_metric("quality", rng.normal(0.7, 0.01, 20).tolist(), base, cfg).verdict == "fail"
    assert compare_metric("quality", rng.normal(0.95, 0.01, 20).tolist(), base, cfg).verdict == "pass"


def test_missing_sparse_or_errored_data_is_inconclusive_never_pass() -> None:
    cfg = GateConfig(min_samples=5)
    assert compare_metric("error_rate", [], [], cfg).verdict == "inconclusive"
    sparse = compare_metric("error_rate", [0.01] * 4, [0.01] * 50, cfg)
    assert sparse.verdict == "inconclusive" and sparse.reason.startswith("error_rate: too few fresh samples")
    errored = compare_metric("error_rate", [], [0.01] * 10, cfg, canary_errored=12)
    assert errored.verdict == "inconclusive" and "errored" in errored.reason and errored.canary_errored == 12


def test_signal_metric_and_cohort_from_names_and_lineage() -> None:
    assert signal_metric(_sig("latency_p95", 1)) == "latency_p95_ms"
    assert signal_metric(_sig("errors", 0.1, kind="error_rate", unit="ratio")) == "error_rate"
    assert signal_metric(_sig("cost", 0.1, kind="cost", unit="usd_per_request")) == "cost_per_request_usd"
    assert signal_metric(_sig("demand", 5, kind="demand", unit="rpm")) is None
    assert signal_cohort(_sig("latency_p95.canary", 1)) == "canary"
    assert signal_metric(_sig("latency_p95.canary", 1)) == "latency_p95_ms"
    assert signal_cohort(_sig("latency_p95", 1, lineage=["gateway", "cohort:baseline"])) == "baseline"
    assert signal_cohort(_sig("latency_p95", 1)) is None
    assert worst(["pass", "marginal"]) == "marginal" and worst(["marginal", "inconclusive", "pass"]) == "inconclusive"
    assert worst(["inconclusive", "fail"]) == "fail" and worst([]) == "pass"


def test_sample_world_snapshot_feeds_tolerance_checks(world) -> None:  # type: ignore[no-untyped-def]
    snap = SignalSnapshot.from_file(world / "signals" / "latency-spike.yaml")
    obs = Observations.from_signals(list(snap.signals), source="latency-spike")
    step = Step.model_validate({
        "id": "s1", "action": "set_budget", "feature": "ticket-summarizer", "params": {"usd_per_day": 5},
        "tolerances": [{"metric": "latency_p95_ms", "comparator": "<", "threshold": 2500},
                       {"metric": "error_rate", "comparator": "<", "threshold": 0.05}],
    })
    v = evaluate_gate(step, obs)
    assert v.verdict == "fail"
    lat = next(t for t in v.tolerances if t.metric == "latency_p95_ms")
    assert lat.observed == 7200 and lat.verdict == "fail"
    assert next(t for t in v.tolerances if t.metric == "error_rate").verdict == "pass"
    steady = SignalSnapshot.from_file(world / "signals" / "steady.yaml")
    ok = evaluate_gate(step, Observations.from_signals(list(steady.signals)))
    # steady has ticket-summarizer latency (fine) but no error-rate signal: deny by default
    assert [t.verdict for t in ok.tolerances] == ["pass", "inconclusive"] and ok.verdict == "inconclusive"


def _canary_obs(canary_mu: float, *, n: int = 12, seed: int = 0, errored_canary: bool = False) -> Observations:
    rng = np.random.default_rng(seed)
    sigs = []
    for i in range(n):
        lin = ["errored"] if errored_canary else []
        sigs.append(_sig("latency_p95.canary", float(rng.normal(canary_mu, 40)), minutes=i, lineage=lin))
        sigs.append(_sig("latency_p95.baseline", float(rng.normal(1000, 40)), minutes=i))
    return Observations.from_signals(sigs)


def _canary_step() -> Step:
    return Step.model_validate({
        "id": "c1", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0", "params": {"weight": 10},
        "tolerances": [{"metric": "latency_p95_ms", "comparator": "<", "threshold": 2500}],
    })


def test_canary_gate_judges_against_baseline_not_only_thresholds() -> None:
    step = _canary_step()
    assert evaluate_gate(step, _canary_obs(1000)).verdict == "pass"
    worse = evaluate_gate(step, _canary_obs(1500))  # far below the 2500 ms threshold, yet 50% worse
    assert worse.verdict == "fail"
    assert worse.tolerances[0].verdict == "pass" and worse.comparisons[0].verdict == "fail"
    none = evaluate_gate(step, Observations.from_signals([_sig("latency_p95", 900)]))
    assert none.verdict == "inconclusive"
    errored = evaluate_gate(step, _canary_obs(1000, errored_canary=True))
    assert errored.verdict == "inconclusive" and errored.comparisons[0].canary_errored == 12
    quarantined = Observations.from_signals([_sig("latency_p95", 900)], quarantined=frozenset({0}))
    t = evaluate_gate(Step.model_validate({**_canary_step().model_dump(), "action": "enable", "params": {}}), quarantined)
    assert t.verdict == "inconclusive" and "errored" in t.reason


def test_gate_config_is_checked() -> None:
    with pytest.raises(ValueError):
        GateConfig(confidence=1.5)
    with pytest.raises(ValueError):
        GateConfig(min_samples=1)


def test_signal_sources_folder_newest_and_quarantine(tmp_path, world) -> None:  # type: ignore[no-untyped-def]
    import os
    import shutil

    from jitplan.contracts.signals import ContractSet
    from jitplan.tools.signal_source import FolderSource, SnapshotFileSource

    d = tmp_path / "sig"
    d.mkdir()
    assert FolderSource(d).latest().snapshot is None  # nothing yet: the gate will be inconclusive
    shutil.copyfile(world / "signals" / "steady.yaml", d / "b.yaml")
    shutil.copyfile(world / "signals" / "stale.yaml", d / "a.yaml")
    os.utime(d / "b.yaml", (1_000_000, 1_000_000))
    (d / ".partial.yaml").write_text("observed_at: [")  # hidden temp files are ignored
    contracts = ContractSet.from_file(world / "contracts.yaml")
    reading = FolderSource(d, contracts=contracts).latest()
    assert reading.source.endswith("a.yaml")
    assert reading.quarantined == frozenset({0, 1, 2, 3})  # stale.yaml: all but the unknown-feature one
    assert reading.reasons and reading.sha256 == reading.snapshot.digest()
    obs = Observations.from_signals(list(reading.snapshot.signals), quarantined=reading.quarantined)
    assert obs.samples == {} and sum(len(v) for v in obs.errored.values()) >= 1
    plain = SnapshotFileSource(world / "signals" / "steady.yaml").latest()
    assert plain.quarantined == frozenset() and plain.snapshot is not None


def test_tolerances_only_use_signals_inside_their_window() -> None:
    step = Step.model_validate({
        "id": "s", "action": "set_budget", "feature": "ticket-summarizer", "params": {"usd_per_day": 5},
        "tolerances": [{"metric": "latency_p95_ms", "comparator": "<", "threshold": 2500, "window_s": 300}],
    })
    old = [_sig("latency_p95", 900, minutes=-10)]
    v = evaluate_gate(step, Observations.from_signals(old, as_of=T0))
    assert v.verdict == "inconclusive" and "older than the 300s window" in v.reason
    fresh = [*old, _sig("latency_p95", 3000, minutes=-2)]
    v = evaluate_gate(step, Observations.from_signals(fresh, as_of=T0))
    assert v.verdict == "fail" and v.tolerances[0].observed == 3000
    assert evaluate_gate(step, Observations.from_signals(old)).verdict == "pass"  # no as_of: no window


def _rate_step() -> Step:
    return Step.model_validate({
        "id": "c1", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0", "params": {"weight": 10},
        "tolerances": [{"metric": "error_rate", "comparator": "<=", "threshold": 0.01}],
    })


def test_tolerance_messages_name_their_metric_and_rates_use_the_mean() -> None:
    """A mostly-zero canary error rate: its median (0) holds the threshold, its mean does not."""
    canary = [0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.06]
    sigs = [_sig("errors.canary", v, kind="error_rate", unit="ratio", minutes=i) for i, v in enumerate(canary)]
    sigs += [_sig("errors.baseline", 0.0, kind="error_rate", unit="ratio", minutes=i) for i in range(7)]
    v = evaluate_gate(_rate_step(), Observations.from_signals(sigs))
    t = v.tolerances[0]
    assert t.verdict == "fail" and t.observed == pytest.approx(0.11 / 7)
    assert t.reason.startswith("error_rate: canary mean of 7 = ") and t.reason.endswith("BREACHED")
    assert all(r.startswith("error_rate: ") for r in v.reason.split("; "))


def test_only_samples_observed_after_the_stage_began_are_used() -> None:
    sigs = [_sig("latency_p95.canary", 1500.0, minutes=i) for i in range(-6, 0)]  # before the stage: worse
    sigs += [_sig("latency_p95.baseline", 1000.0 + i, minutes=i) for i in range(-6, 6)]
    sigs += [_sig("latency_p95.canary", 1000.0 + i, minutes=i) for i in range(1, 6)]
    stale_free = evaluate_gate(_canary_step(), Observations.from_signals(sigs, since=T0))
    c = stale_free.comparisons[0]
    assert stale_free.since == T0 and c.canary_n == 5 and c.baseline_n == 5 and c.verdict != "fail"
    everything = evaluate_gate(_canary_step(), Observations.from_signals(sigs))
    assert everything.comparisons[0].canary_n == 11
    none_yet = evaluate_gate(_canary_step(), Observations.from_signals(sigs, since=T0 + timedelta(minutes=5)))
    assert none_yet.verdict == "inconclusive"
    assert "older samples predate the stage" in none_yet.comparisons[0].reason
