"""Gate rules users rely on (found by ``make mutation``): what is judged, on which samples, and
the exact explanation a gate verdict prints.

Complements test_gate.py: config bounds, non-mutating and shadow steps, the canary windows,
request-count lineage, stale and errored samples, verdict boundaries and the reason texts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jitplan.contracts.plan import Step, Tolerance
from jitplan.contracts.signals import Signal
from jitplan.tools.gate import (
    GateConfig,
    Observations,
    check_tolerance,
    compare_metric,
    evaluate_gate,
)

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
F = "ticket-summarizer"


def sig(name: str, value: float, *, kind: str = "latency", unit: str = "ms", feature: str = F,
        seconds: float = 0, lineage: list[str] | None = None) -> Signal:
    return Signal(name=f"{feature}.{name}", kind=kind, feature=feature, value=value, unit=unit,  # type: ignore[arg-type]
                  observed_at=T0 + timedelta(seconds=seconds), lineage=lineage or [])


def rate(name: str, value: float, n: int | None = None, *, seconds: float = 0,
         lineage: list[str] | None = None) -> Signal:
    lin = [*(lineage or []), *([f"requests:{n}"] if n is not None else [])]
    return sig(name, value, kind="error_rate", unit="ratio", seconds=seconds, lineage=lin)


def step(action: str = "canary", tolerances: list[dict[str, object]] | None = None, **kw: object) -> Step:
    params: dict[str, object] = {"weight": 10} if action == "canary" else {}
    if action == "set_budget":
        params = {"usd_per_day": 5}
    body: dict[str, object] = {"id": "s1", "action": action, "feature": F, "params": params,
                               "tolerances": tolerances or []}
    if action in ("canary", "shadow"):
        body["version"] = "1.2.0"
    body.update(kw)
    return Step.model_validate(body)


LAT = {"metric": "latency_p95_ms", "comparator": "<", "threshold": 2500}


# ---- configuration -------------------------------------------------------------------------


def test_gate_config_bounds_are_inclusive_where_documented() -> None:
    assert GateConfig(confidence=0.5, tolerance=0.0, min_samples=2).min_samples == 2
    for bad, field in ((dict(confidence=1.0), "confidence"), (dict(confidence=0.49), "confidence"),
                       (dict(tolerance=-0.01), "tolerance"), (dict(min_samples=1), "min_samples")):
        with pytest.raises(ValueError, match=rf"^{field} must be"):
            GateConfig(**bad)  # type: ignore[arg-type]


# ---- what is judged ------------------------------------------------------------------------


def test_non_mutating_steps_and_steps_without_a_feature_pass_without_judging() -> None:
    obs = Observations.from_signals([sig("latency_p95", 9999)], source="snap.yaml", sha256="abc")
    noop = Step.model_validate({"id": "n", "action": "noop", "params": {}, "tolerances": [LAT]})
    v = evaluate_gate(noop, obs)
    assert (v.verdict, v.reason) == ("pass", "nothing to judge (non-mutating step)")
    assert v.signals_source == "snap.yaml" and v.signals_sha256 == "abc" and v.tolerances == []
    esc = Step.model_validate({"id": "e", "action": "escalate", "feature": F, "params": {}})
    assert evaluate_gate(esc, obs).reason == "nothing to judge (non-mutating step)"


def test_mutating_step_without_tolerances_has_nothing_to_check() -> None:
    v = evaluate_gate(step("set_budget"), Observations.from_signals([]))
    assert (v.verdict, v.reason) == ("pass", "no tolerances")
    ok = evaluate_gate(step("set_budget", [LAT]), Observations.from_signals([sig("latency_p95", 900)]))
    assert (ok.verdict, ok.reason) == ("pass", "all tolerances hold")
    assert ok.tolerances[0].n == 1 and ok.tolerances[0].observed == 900
    assert ok.tolerances[0].reason == "latency_p95_ms: latest signal = 900, needs < 2500: holds"


def test_shadow_step_is_judged_on_the_shadow_cohort() -> None:
    sigs = [sig("latency_p95.shadow", v, seconds=i) for i, v in enumerate([3000, 3100, 2900])]
    sigs.append(sig("latency_p95", 100))  # the serving version is fine; the shadow is not
    v = evaluate_gate(step("shadow", [LAT]), Observations.from_signals(sigs))
    t = v.tolerances[0]
    assert v.verdict == "fail" and t.observed == 3000 and t.n == 3
    assert t.reason == "latency_p95_ms: shadow median of 3 = 3000, needs < 2500: BREACHED"
    assert v.comparisons == []  # no canary analysis for a shadow


def test_canary_without_tolerances_compares_every_canary_metric_of_the_feature() -> None:
    sigs = [sig("latency_p95.canary", 1000.0 + i, seconds=i) for i in range(6)]
    sigs += [sig("latency_p95.baseline", 1000.0 + i, seconds=i) for i in range(6)]
    sigs += [sig("latency_p95.canary", 5000.0, feature="other", seconds=i) for i in range(6)]
    sigs += [sig("latency_p95.baseline", 1000.0, feature="other", seconds=i) for i in range(6)]
    v = evaluate_gate(step(), Observations.from_signals(sigs))
    assert [c.metric for c in v.comparisons] == ["latency_p95_ms"]
    assert v.verdict == "pass" and v.comparisons[0].canary_n == 6
    # the default window is 300 s before the snapshot time
    late = Observations.from_signals(sigs, as_of=T0 + timedelta(seconds=303))
    c = evaluate_gate(step(), late).comparisons[0]
    assert (c.canary_n, c.baseline_n) == (3, 3)


def test_canary_with_no_samples_at_all_is_inconclusive_on_error_rate() -> None:
    v = evaluate_gate(step(), Observations.from_signals([]))
    assert v.verdict == "inconclusive" and len(v.comparisons) == 1
    assert v.comparisons[0].metric == "error_rate"
    assert v.reason == ("error_rate: too few fresh samples: canary n=0, baseline n=0, need at least 4 each")


def test_canary_comparison_uses_the_widest_tolerance_window_per_metric() -> None:
    tols = [{**LAT, "window_s": 60}, {**LAT, "threshold": 5000, "window_s": 600}]
    sigs = [sig("latency_p95.canary", 1000.0 + i, seconds=-500 + 60 * i) for i in range(9)]
    sigs += [sig("latency_p95.baseline", 1000.0 + i, seconds=-500 + 60 * i) for i in range(9)]
    v = evaluate_gate(step("canary", tols), Observations.from_signals(sigs, as_of=T0))
    assert len(v.comparisons) == 1
    assert (v.comparisons[0].canary_n, v.comparisons[0].baseline_n) == (9, 9)
    # the 60 s tolerance sees only the last minute's samples
    assert v.tolerances[0].n == 1 and v.tolerances[1].n == 9


def test_canary_comparison_counts_stale_and_errored_samples_of_each_cohort() -> None:
    sigs = [sig("latency_p95.canary", 1000.0, seconds=-10)]
    sigs += [sig("latency_p95.baseline", 1000.0, seconds=-10 - i) for i in range(2)]
    sigs += [sig("latency_p95.canary", 1000.0, seconds=5, lineage=["errored"])]
    sigs += [sig("latency_p95.baseline", 1000.0, seconds=5 + i, lineage=["errored"]) for i in range(3)]
    sigs += [sig("latency_p95.baseline", 1000.0, seconds=5)]
    v = evaluate_gate(step("canary", [LAT]), Observations.from_signals(sigs, since=T0))
    c = v.comparisons[0]
    assert (c.canary_errored, c.baseline_errored) == (1, 3)
    assert c.verdict == "inconclusive"
    assert c.reason == ("latency_p95_ms: all measurements errored")
    base_only = [s for s in sigs if "canary" not in s.name or s.observed_at < T0]
    c2 = evaluate_gate(step("canary", [LAT]), Observations.from_signals(base_only, since=T0)).comparisons[0]
    assert c2.reason == ("latency_p95_ms: too few fresh samples: canary n=0, baseline n=1, need at "
                         "least 4 each (3 older samples predate the stage)")


def test_canary_comparison_passes_request_counts_of_both_cohorts() -> None:
    sigs = [rate("error_rate.canary", 0.004, 1000, seconds=i) for i in range(6)]
    sigs += [rate("error_rate.baseline", 0.002, 1000, seconds=i) for i in range(6)]
    tol = [{"metric": "error_rate", "comparator": "<=", "threshold": 0.5}]
    c = evaluate_gate(step("canary", tol), Observations.from_signals(sigs)).comparisons[0]
    assert c.test == "two-proportion (Fisher exact)"
    assert c.reason.startswith("error_rate: canary 24/6000 vs baseline 12/6000: worse by +100.0%")


# ---- request counts in lineage -------------------------------------------------------------


def test_request_counts_need_a_positive_count_on_every_sample() -> None:
    def counts(*lineages: list[str]) -> list[int] | None:
        sigs = [sig("errors.canary", 0.01, kind="error_rate", unit="ratio", seconds=i, lineage=lin)
                for i, lin in enumerate(lineages)]
        return Observations.from_signals(sigs).requests(F, "error_rate", "canary")

    assert counts(["requests:10"], ["x", "requests:7"]) == [10, 7]
    assert counts(["requests:10"], []) is None  # one sample without a count: no counts at all
    assert counts(["requests:0"]) is None
    assert counts(["requests:-3"]) is None and counts(["requests:ten"]) is None
    assert counts(["REQUESTS:5"]) is None and counts(["nrequests:5"]) is None
    assert counts(["requests:1"]) == [1]
    assert Observations.from_signals([]).requests(F, "error_rate", "canary") is None


def test_request_counts_are_per_cohort_feature_and_window() -> None:
    sigs = [rate("error_rate.canary", 0.01, 10), rate("error_rate.baseline", 0.01, 20, seconds=-100),
            rate("error_rate.canary", 0.01, 30, seconds=-100)]
    obs = Observations.from_signals(sigs, as_of=T0)
    assert obs.requests(F, "error_rate", "canary") == [10, 30]
    assert obs.requests(F, "error_rate", "canary", 50) == [10]
    assert obs.requests(F, "error_rate", "baseline") == [20]
    assert obs.requests("other", "error_rate", "canary") is None
    assert obs.requests(F, "latency_p95_ms", "canary") is None


# ---- observations --------------------------------------------------------------------------


def test_observations_group_valid_and_errored_samples() -> None:
    sigs = [sig("latency_p95", 1.0), sig("latency_p95", 2.0, lineage=["errored"]), sig("latency_p95", 3.0),
            sig("not_a_metric", 4.0, kind="demand", unit="rpm")]
    obs = Observations.from_signals(sigs, quarantined=frozenset({2}), source="s", sha256="h", as_of=T0, since=None)
    assert obs.values(F, "latency_p95_ms", None) == [1.0]
    assert [s.value for s in obs.errored[(F, "latency_p95_ms", None)]] == [2.0, 3.0]
    assert obs.n_errored(F, "latency_p95_ms", None) == 2
    assert (obs.source, obs.sha256, obs.as_of) == ("s", "h", T0)


def test_a_signal_in_another_unit_is_converted_and_a_quarantined_one_is_not() -> None:
    seconds = sig("latency_p95", 1.5, unit="s")
    obs = Observations.from_signals([seconds, sig("latency_p95", 2.5, unit="s", seconds=1)],
                                    quarantined=frozenset({1}))
    assert obs.values(F, "latency_p95_ms", None) == [1500.0]
    assert obs.n_errored(F, "latency_p95_ms", None) == 1
    unknown = Observations.from_signals([sig("latency_p95", 1.5, unit="furlongs")])
    assert unknown.values(F, "latency_p95_ms", None) == [] and unknown.n_errored(F, "latency_p95_ms", None) == 1


def test_since_is_exclusive_and_the_window_inclusive() -> None:
    sigs = [sig("latency_p95", 1.0, seconds=0), sig("latency_p95", 2.0, seconds=1),
            sig("latency_p95", 3.0, seconds=-300)]
    obs = Observations.from_signals(sigs, since=T0)
    assert obs.values(F, "latency_p95_ms", None) == [2.0]
    assert obs.n_stale(F, "latency_p95_ms", None, None) == 2
    win = Observations.from_signals(sigs, as_of=T0)
    assert win.values(F, "latency_p95_ms", None, 300) == [1.0, 2.0, 3.0]
    assert win.values(F, "latency_p95_ms", None, 299) == [1.0, 2.0]
    assert win.n_stale(F, "latency_p95_ms", None, 299) == 1


def test_latest_is_the_newest_observation_not_the_last_listed() -> None:
    obs = Observations.from_signals([sig("latency_p95", 2.0, seconds=10), sig("latency_p95", 1.0, seconds=0)])
    latest = obs.latest(F, "latency_p95_ms")
    assert latest is not None and latest.value == 2.0
    assert obs.latest(F, "error_rate") is None


# ---- tolerance checks ----------------------------------------------------------------------


def test_tolerance_without_usable_signals_says_why() -> None:
    tol = Tolerance.model_validate({**LAT, "window_s": 300})
    errored = Observations.from_signals([sig("latency_p95.canary", 1.0, lineage=["errored"])])
    t = check_tolerance(tol, errored, F, "canary")
    assert (t.verdict, t.n, t.observed) == ("inconclusive", 0, None)
    assert t.reason == f"latency_p95_ms: only errored/quarantined measurements for {F}"
    plain_err = Observations.from_signals([sig("latency_p95", 1.0, lineage=["errored"])])
    assert "only errored" in check_tolerance(tol, plain_err, F, "canary").reason
    old = Observations.from_signals([sig("latency_p95", 1.0, seconds=-400), sig("latency_p95.canary", 1.0, seconds=-400)],
                                    as_of=T0)
    assert check_tolerance(tol, old, F, "canary").reason == (
        f"latency_p95_ms: only signals older than the 300s window (2) for {F}")
    assert check_tolerance(tol, old, F, None).reason.endswith("window (1) for " + F)
    since = Observations.from_signals([sig("latency_p95", 1.0, seconds=-10)], since=T0, as_of=T0)
    assert check_tolerance(tol, since, F, None).reason == (
        f"latency_p95_ms: only signals observed before the stage began or older than the 300s window (1) for {F}")
    assert check_tolerance(tol, Observations.from_signals([]), F, None).reason == f"latency_p95_ms: no signal for {F}"
    other = Observations.from_signals([sig("latency_p95", 1.0, feature="other", lineage=["errored"])])
    assert check_tolerance(tol, other, F, None).reason == f"latency_p95_ms: no signal for {F}"


def test_cohort_tolerance_uses_the_median_and_falls_back_to_the_latest_plain_signal() -> None:
    tol = Tolerance.model_validate(LAT)
    obs = Observations.from_signals([sig("latency_p95.canary", v, seconds=i) for i, v in enumerate([1, 2, 10])])
    t = check_tolerance(tol, obs, F, "canary")
    assert (t.observed, t.n) == (2, 3) and t.reason == "latency_p95_ms: canary median of 3 = 2, needs < 2500: holds"
    plain = Observations.from_signals([sig("latency_p95", 3000)])
    t = check_tolerance(tol, plain, F, "canary")
    assert (t.observed, t.n, t.verdict) == (3000, 1, "fail")
    assert t.reason == "latency_p95_ms: latest signal = 3000, needs < 2500: BREACHED"


# ---- comparison boundaries -----------------------------------------------------------------


def test_degradation_exactly_at_the_tolerance_is_not_a_failure() -> None:
    canary, baseline = [110.0] * 3 + [110.0001], [100.0] * 3 + [100.0001]
    at = compare_metric("latency_p95_ms", [110.0, 110.0, 110.0, 110.0], [100.0] * 4, GateConfig())
    assert at.relative_change == pytest.approx(0.10) and at.verdict == "marginal"
    assert "significantly worse" in at.reason
    over = compare_metric("latency_p95_ms", canary, [100.0] * 4, GateConfig(tolerance=0.0999))
    assert over.verdict == "fail"
    # not significant (min p too high with 3 vs 3) but worse by more than the tolerance
    few = compare_metric("latency_p95_ms", [150.0, 150, 151], [100.0, 100, 101], GateConfig(min_samples=3))
    assert few.verdict == "inconclusive" and "no result can be significant" in few.reason
    noisy = compare_metric("latency_p95_ms", [100.0, 300, 101, 302, 99, 305], [100.0, 101, 102, 99, 98, 103],
                           GateConfig())
    assert noisy.verdict == "marginal" and "but not significant" in noisy.reason
    assert baseline  # (unused variant kept for readability)


def test_identical_cohorts_pass_with_the_reason() -> None:
    c = compare_metric("latency_p95_ms", [1.0, 2, 3, 4], [4.0, 3, 2, 1], GateConfig())
    assert c.verdict == "pass"
    assert c.reason == "latency_p95_ms: canary and baseline samples are identical (or all one value)"


def test_unknown_metric_is_higher_is_worse_and_quality_lower_is_worse() -> None:
    worse = compare_metric("my_metric", [10.0, 11, 12, 13, 14], [1.0, 2, 3, 4, 5], GateConfig())
    assert worse.verdict == "fail"
    q = compare_metric("quality", [0.5, 0.51, 0.52, 0.53, 0.54], [0.9, 0.91, 0.92, 0.93, 0.94], GateConfig())
    assert q.verdict == "fail" and q.relative_change == pytest.approx((0.92 - 0.52) / 0.92)
    better = compare_metric("quality", [0.9, 0.91, 0.92, 0.93, 0.94], [0.5, 0.51, 0.52, 0.53, 0.54], GateConfig())
    assert better.verdict == "pass" and better.relative_change is not None and better.relative_change < 0


def test_two_proportion_test_for_a_rate_where_lower_is_worse() -> None:
    # success rates: the canary succeeds less often (lower is worse)
    c = compare_metric("success_rate", [0.80] * 6, [0.99] * 6, GateConfig(), higher_is_worse=False, rate=True,
                       canary_requests=[1000] * 6, baseline_requests=[1000] * 6)
    assert c.test == "two-proportion (Fisher exact)" and c.verdict == "fail"
    assert c.p_value is not None and c.p_value < 1e-6
    # 9 % worse: significant, but within the 10 % tolerance
    near = compare_metric("success_rate", [0.90] * 6, [0.99] * 6, GateConfig(), higher_is_worse=False, rate=True,
                          canary_requests=[1000] * 6, baseline_requests=[1000] * 6)
    assert near.verdict == "marginal" and near.p_value is not None and near.p_value < 1e-6
    fine = compare_metric("success_rate", [0.99] * 6, [0.90] * 6, GateConfig(), higher_is_worse=False, rate=True,
                          canary_requests=[1000] * 6, baseline_requests=[1000] * 6)
    assert fine.verdict == "pass" and fine.p_value is not None and fine.p_value > 0.5


def test_request_counts_are_used_only_when_every_sample_has_one() -> None:
    ranks = compare_metric("error_rate", [0.01] * 5, [0.0] * 5, GateConfig(),
                           canary_requests=[100] * 4, baseline_requests=[100] * 5)
    assert (ranks.test or "").startswith("mann-whitney")
    ranks = compare_metric("error_rate", [0.01] * 5, [0.0] * 5, GateConfig(),
                           canary_requests=[100] * 5, baseline_requests=[100] * 4)
    assert (ranks.test or "").startswith("mann-whitney")
    not_a_rate = compare_metric("latency_p95_ms", [2.0] * 5, [1.0] * 5, GateConfig(),
                                canary_requests=[100] * 5, baseline_requests=[100] * 5)
    assert (not_a_rate.test or "").startswith("mann-whitney")
    counted = compare_metric("my_ratio", [0.02] * 5, [0.01] * 5, GateConfig(), rate=True,
                             canary_requests=[1000] * 5, baseline_requests=[1000] * 5)
    assert (counted.test or "").startswith("two-proportion") and counted.canary_mean == pytest.approx(0.02)


def test_zero_base_and_zero_change() -> None:
    same_zero = compare_metric("error_rate", [0.0, 0.0, 0.0, 0.01], [0.0, 0.0, 0.01, 0.0], GateConfig())
    assert same_zero.verdict == "pass"
    flat = compare_metric("error_rate", [0.0] * 4 + [0.02], [0.0] * 5, GateConfig(min_samples=5))
    assert flat.relative_change is None and "from 0" in flat.reason
    better_from_zero = compare_metric("latency_p95_ms", [0.0] * 5, [0.0] * 4 + [1.0], GateConfig())
    assert better_from_zero.verdict == "pass"
    assert better_from_zero.relative_change is not None and better_from_zero.relative_change < 0


def test_confidence_sets_the_significance_level() -> None:
    # fully separated 4 vs 4: p = 1/70 ~ 0.014 — significant at 95 %, not at 99 %
    canary, baseline = [20.0, 21, 22, 23], [10.0, 11, 12, 13]
    assert compare_metric("latency_p95_ms", canary, baseline, GateConfig()).verdict == "fail"
    strict = compare_metric("latency_p95_ms", canary, baseline, GateConfig(confidence=0.99))
    assert strict.verdict == "inconclusive"


# ---- windows, cohorts and the numbers behind a verdict --------------------------------------


def test_default_source_is_empty() -> None:
    assert Observations.from_signals([]).source == "" and Observations.from_signals([]).sha256 is None


def test_errored_and_stale_counts_respect_the_window() -> None:
    tol = Tolerance.model_validate({**LAT, "window_s": 60})
    old_err = Observations.from_signals([sig("latency_p95", 1.0, seconds=-100, lineage=["errored"]),
                                         sig("latency_p95.canary", 1.0, seconds=-100, lineage=["errored"])],
                                        as_of=T0)
    assert check_tolerance(tol, old_err, F, "canary").reason == f"latency_p95_ms: no signal for {F}"
    stale = Observations.from_signals([sig("latency_p95", 1.0, seconds=-100)]
                                      + [sig("latency_p95.canary", 1.0, seconds=-100 - i) for i in range(2)], as_of=T0)
    assert check_tolerance(tol, stale, F, "canary").reason.endswith("older than the 60s window (3) for " + F)


def test_non_canary_steps_judge_the_plain_signal_not_a_shadow_cohort() -> None:
    sigs = [sig("latency_p95.shadow", 9000.0), sig("latency_p95", 100.0)]
    v = evaluate_gate(step("set_budget", [LAT]), Observations.from_signals(sigs))
    assert v.verdict == "pass" and v.tolerances[0].observed == 100.0


def test_canary_comparison_counts_only_samples_inside_the_window() -> None:
    tol = [{"metric": "error_rate", "comparator": "<=", "threshold": 0.5, "window_s": 60}]
    old = [rate("error_rate.canary", 0.9, 10, seconds=-200 - i, lineage=["errored"]) for i in range(3)]
    old += [rate("error_rate.baseline", 0.9, 10, seconds=-200 - i, lineage=["errored"]) for i in range(2)]
    old += [rate("error_rate.canary", 0.5, 10, seconds=-200 - i) for i in range(5)]
    old += [rate("error_rate.baseline", 0.5, 10, seconds=-200 - i) for i in range(5)]
    fresh = [rate("error_rate.canary", 0.01 * (i + 1), 1000, seconds=-i) for i in range(4)]
    fresh += [rate("error_rate.baseline", 0.01 * (4 - i) + 0.001, None, seconds=-i) for i in range(4)]
    c = evaluate_gate(step("canary", tol), Observations.from_signals(old + fresh, as_of=T0)).comparisons[0]
    assert (c.canary_n, c.baseline_n, c.canary_errored, c.baseline_errored) == (4, 4, 0, 0)
    assert (c.test or "").startswith("mann-whitney")  # the old counted samples are outside the window
    counted = fresh[:4] + [rate("error_rate.baseline", 0.01, 1000, seconds=-i) for i in range(4)]
    c2 = evaluate_gate(step("canary", tol), Observations.from_signals(old + counted, as_of=T0)).comparisons[0]
    assert c2.test == "two-proportion (Fisher exact)" and c2.canary_mean == pytest.approx(0.025)
    few = [rate("error_rate.canary", 0.01, 1000, seconds=-i) for i in range(2)]
    c3 = evaluate_gate(step("canary", tol), Observations.from_signals(old + few, as_of=T0)).comparisons[0]
    assert c3.reason.endswith("need at least 4 each (10 older samples predate the stage)")


def test_default_canary_metrics_are_the_features_canary_cohorts_only() -> None:
    sigs = [sig("latency_p95.canary", 1000.0 + i, seconds=i) for i in range(6)]
    sigs += [sig("latency_p95.baseline", 1000.0 + i, seconds=i) for i in range(6)]
    sigs += [rate("error_rate.canary", 0.5, seconds=i) for i in range(6)]
    sigs[-6:] = [s.model_copy(update={"feature": "other", "name": "other.error_rate.canary"}) for s in sigs[-6:]]
    sigs += [sig("latency_p99.baseline", 900.0 + i, seconds=i) for i in range(6)]
    v = evaluate_gate(step(), Observations.from_signals(sigs))
    assert [c.metric for c in v.comparisons] == ["latency_p95_ms"]


def test_comparison_reports_its_numbers() -> None:
    c = compare_metric("latency_p95_ms", [10.0, 30, 20, 40], [1.0, 3, 2, 5], GateConfig())
    assert (c.canary_mean, c.baseline_mean, c.canary_median, c.baseline_median) == (25.0, 2.75, 25.0, 2.5)
    assert (c.canary_n, c.baseline_n, c.tolerance, c.confidence) == (4, 4, 0.1, 0.95)
    ok = compare_metric("latency_p95_ms", [100.0, 101, 99, 100.5], [100.0, 101, 99.5, 100], GateConfig())
    assert ok.verdict == "pass"
    assert ok.reason == (f"latency_p95_ms: canary mean 100.1 vs baseline mean 100.1: no significant degradation "
                         f"(+0.0%, p={ok.p_value:.3g}, {ok.test})")


def test_all_zero_cohorts_have_no_change() -> None:
    c = compare_metric("error_rate", [0.0] * 4, [0.0] * 4, GateConfig())
    assert c.verdict == "pass" and c.relative_change == 0.0


def test_from_zero_reason() -> None:
    c = compare_metric("error_rate", [0.01, 0.02, 0.01, 0.03, 0.02], [0.0] * 5, GateConfig())
    assert c.reason.startswith("error_rate: canary mean 0.018 vs baseline mean 0: worse by from 0 > 10% tolerance, "
                               "significant (p=")


def test_worse_by_exactly_the_tolerance_without_significance_passes() -> None:
    c = compare_metric("latency_p95_ms", [120.0, 100, 110, 115, 105], [100.0, 110, 90, 105, 95], GateConfig())
    assert c.relative_change == pytest.approx(0.1) and c.p_value is not None and c.p_value > 0.05
    assert c.verdict == "pass"


def test_a_sub_second_window_is_kept() -> None:
    tol = [{**LAT, "window_s": 0.5}]
    sigs = [sig("latency_p95.canary", 1000.0 + i, seconds=-0.1 * i) for i in range(4)]
    sigs += [sig("latency_p95.baseline", 1000.0 + i, seconds=-0.1 * i) for i in range(4)]
    sigs += [sig("latency_p95.canary", 5000.0, seconds=-0.8), sig("latency_p95.baseline", 1.0, seconds=-0.8)]
    c = evaluate_gate(step("canary", tol), Observations.from_signals(sigs, as_of=T0)).comparisons[0]
    assert (c.canary_n, c.baseline_n) == (4, 4)
