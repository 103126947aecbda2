"""The validator's step walk (``tools.validation_steps.StepChecker``), rule by rule, on the sample
world: each test states a rule users rely on, with a plan that breaks it and one that keeps it.

Found by ``make mutation``: boundaries (a refresh to the serving version, a canary weight equal
to the running one, a threshold equal to the SLO), the observed-cost rule (the highest sample),
compensations that must restore the serving version, and the executor-error path.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.plan import Plan
from jitplan.contracts.signals import Signal, SignalStatus
from jitplan.contracts.state import DeploymentState, FeatureState
from jitplan.contracts.validation import Violation
from jitplan.tools.catalog_store import CatalogStore
from jitplan.tools.validation_steps import COMPENSATIONS, StepChecker

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
ERR = {"metric": "error_rate", "comparator": "<=", "threshold": 0.01}
SUM = "ticket-summarizer"


@pytest.fixture(scope="module")
def store() -> CatalogStore:
    return CatalogStore(Catalog.from_file(WORLD / "catalog.yaml"))


@pytest.fixture(scope="module")
def state() -> DeploymentState:
    return DeploymentState.from_flagd(json.loads((WORLD / "flags.json").read_text()))


def st(fid: str, action: str, version: str | None = None, *, sid: str = "s1",
       comp: dict[str, Any] | bool | None = True, **extra: Any) -> dict[str, Any]:
    """A mutating step with a tolerance and (by default) the usual undo."""
    s: dict[str, Any] = {"id": sid, "action": action, "feature": fid, "tolerances": [ERR]}
    if version is not None:
        s["version"] = version
    if action == "canary":
        s["params"] = {"weight": 10}
    if comp is True:
        undo = {"enable": "disable", "disable": "enable", "set_budget": "set_budget"}.get(action, "rollback")
        c: dict[str, Any] = {"id": f"{sid}-undo", "action": undo, "feature": fid}
        if undo == "set_budget":
            c["params"] = {"usd_per_day": 1}
        s["compensation"] = c
    elif isinstance(comp, dict):
        s["compensation"] = comp
    s.update(extra)
    return s


def walk(store: CatalogStore, state: DeploymentState | None, *steps: dict[str, Any],
         signals: list[SignalStatus] | None = None, **plan: Any) -> list[Violation]:
    doc = {"id": "p", "goal": "test", "steps": list(steps), **plan}
    return StepChecker(store, signals or [], state).run(Plan.from_data(doc))


def codes(vs: list[Violation]) -> list[str]:
    return [v.code for v in vs]


def only(vs: list[Violation], code: str) -> Violation:
    hits = [v for v in vs if v.code == code]
    assert len(hits) == 1, vs
    return hits[0]


def serving(state: DeploymentState, fid: str, **update: Any) -> DeploymentState:
    return state.with_feature(fid, state.get(fid).model_copy(update=update))


def signal(fid: str, kind: str, value: float, unit: str, *, ok: bool = True, name: str = "") -> SignalStatus:
    s = Signal(name=name or f"{fid}.{kind}", kind=kind, feature=fid, value=value, unit=unit,  # type: ignore[arg-type]
               observed_at=NOW)
    return SignalStatus(signal=s, ok=ok, reasons=[] if ok else ["breaks its contract"])


# ---- refresh_prompt --------------------------------------------------------------------------


PIN = {"id": "u", "action": "pin_version", "feature": SUM, "version": "1.1.0"}


def test_refresh_to_a_newer_prompt_version_passes(store: CatalogStore, state: DeploymentState) -> None:
    assert walk(store, state, st(SUM, "refresh_prompt", "1.2.0", comp=PIN)) == []


@pytest.mark.parametrize("target", ["1.1.0", "1.0.0"])
def test_refresh_to_the_serving_or_an_older_version_is_refused(
    store: CatalogStore, state: DeploymentState, target: str
) -> None:
    v = only(walk(store, state, st(SUM, "refresh_prompt", target)), "refresh_prompt_target")
    assert v.step == "s1"
    assert v.message == (f"step s1 refreshes {SUM} to {target}, which is not newer than the serving "
                         "1.1.0; newer prompt versions: 1.2.0")


def test_refresh_hint_when_no_newer_prompt_exists(store: CatalogStore, state: DeploymentState) -> None:
    top = serving(state, SUM, version="1.2.0")
    v = only(walk(store, top, st(SUM, "refresh_prompt", "1.2.0")), "refresh_prompt_target")
    assert v.message.endswith("; there is no newer prompt version in the catalog")


def test_refresh_of_a_feature_that_is_not_serving(store: CatalogStore, state: DeploymentState) -> None:
    off = serving(state, SUM, version=None)
    v = only(walk(store, off, st(SUM, "refresh_prompt", "1.2.0")), "refresh_prompt_target")
    assert v.message == f"step s1 refreshes the prompt of {SUM}, which is not serving; enable it instead"
    # without a deployment state there is nothing to compare against
    assert "refresh_prompt_target" not in codes(walk(store, None, st(SUM, "refresh_prompt", "1.2.0")))


def test_refresh_of_a_feature_without_a_prompt(store: CatalogStore, state: DeploymentState) -> None:
    v = only(walk(store, state, st("pii-redactor", "refresh_prompt", "1.1.0")), "refresh_prompt_target")
    assert v.message == ("step s1 refreshes the prompt of pii-redactor@1.1.0, which has no prompt (kind "
                         "adapter); refresh_prompt needs a prompt version")


def test_refresh_to_a_prompt_file_that_does_not_exist(tmp_path: Path, state: DeploymentState) -> None:
    cat = (WORLD / "catalog.yaml").read_text()
    (tmp_path / "catalog.yaml").write_text(cat)
    store = CatalogStore(Catalog.from_file(tmp_path / "catalog.yaml"))
    v = only(walk(store, state, st(SUM, "refresh_prompt", "1.2.0")), "refresh_prompt_target")
    assert v.message == (f"step s1: prompt file prompts/ticket-summarizer.v1.2.0.md of {SUM}@1.2.0 "
                         "does not exist")


# ---- canary weights --------------------------------------------------------------------------


def test_canary_weight_may_not_drop_below_the_running_canary(store: CatalogStore, state: DeploymentState) -> None:
    running = serving(state, SUM, canary_version="1.2.0", canary_weight=25.0)
    low = st(SUM, "canary", "1.2.0", params={"weight": 5},
             comp={"id": "u", "action": "rollback", "feature": SUM})
    v = only(walk(store, running, low), "canary_weight_decreasing")
    assert v.message == (f"step s1 canary weight 5 for {SUM} is lower than the previous 25; weights must "
                         "not decrease before promote (use rollback to back out)")
    for w in (25, 50):  # the same weight or higher is fine
        ok = {**low, "params": {"weight": w}}
        assert "canary_weight_decreasing" not in codes(walk(store, running, ok))


def test_canary_weight_rule_is_per_version(store: CatalogStore, state: DeploymentState) -> None:
    running = serving(state, SUM, canary_version="1.0.0", canary_weight=25.0)
    other = st(SUM, "canary", "1.2.0", params={"weight": 5})
    assert "canary_weight_decreasing" not in codes(walk(store, running, other))


def test_canary_weights_must_not_decrease_within_the_plan(store: CatalogStore, state: DeploymentState) -> None:
    vs = walk(store, state, st(SUM, "canary", "1.2.0", params={"weight": 50}),
              st(SUM, "canary", "1.2.0", sid="s2", params={"weight": 20}, depends_on=["s1"]))
    assert only(vs, "canary_weight_decreasing").step == "s2"


# ---- budgets and rollbacks -------------------------------------------------------------------


def test_set_budget_above_the_catalog_ceiling(store: CatalogStore, state: DeploymentState) -> None:
    over = st("tone-rewriter", "set_budget", params={"usd_per_day": 10.5})
    v = only(walk(store, state, over), "over_budget")
    assert v.message == ("step s1 sets tone-rewriter's budget to 10.5 USD/day, above its catalog ceiling "
                         "of 10 USD/day")
    at = st("tone-rewriter", "set_budget", params={"usd_per_day": 10})
    assert walk(store, state, at) == []


def test_rollback_must_return_to_a_version_that_served(store: CatalogStore, state: DeploymentState) -> None:
    bad = st(SUM, "rollback", comp=None, params={"to_version": "1.0.0"})
    bad["compensation"] = {"id": "u", "action": "pin_version", "feature": SUM, "version": "1.1.0"}
    v = only(walk(store, state, bad), "bad_params")
    assert v.message == (f"step s1 rolls {SUM} back to 1.0.0, which was not serving before (serving: "
                         "1.1.0); a rollback returns to a version that served — use canary and promote "
                         "to move to another")
    # a version that served at the start of the plan is a valid target after a promote
    vs = walk(store, state,
              st(SUM, "canary", "1.2.0", params={"weight": 100}),
              st(SUM, "promote", "1.2.0", sid="s2", depends_on=["s1"]),
              {**st(SUM, "rollback", sid="s3", comp=False, params={"to_version": "1.1.0"}, depends_on=["s2"]),
               "compensation": {"id": "u3", "action": "pin_version", "feature": SUM, "version": "1.2.0"}})
    assert "bad_params" not in codes(vs)


# ---- tolerances ------------------------------------------------------------------------------


def tol(metric: str, comparator: str, threshold: float) -> dict[str, Any]:
    return {"metric": metric, "comparator": comparator, "threshold": threshold}


@pytest.mark.parametrize(("t", "code", "text"), [
    (tol("latency_p95_ms", "<=", 2501), "tolerance_looser_than_slo",
     "tolerance latency_p95_ms <= 2501 is looser than ticket-summarizer@1.2.0's SLO latency_p95_ms of 2800"),
    (tol("error_rate", "<=", 0.02), "tolerance_looser_than_slo",
     "is looser than ticket-summarizer@1.2.0's SLO error_rate_max of 0.01; use a threshold <= 0.01"),
    (tol("cost_per_request_usd", "<=", 0.001), "tolerance_looser_than_slo", "per-request cost envelope of 0.0005"),
    (tol("cost_usd_per_day", "<=", 100), "tolerance_looser_than_slo", "daily budget of 90"),
    (tol("quality", ">=", 0.8), "tolerance_looser_than_slo",
     "tolerance quality >= 0.8 is looser than ticket-summarizer@1.2.0's SLO quality_min of 0.85; use a "
     "threshold >= 0.85"),
    (tol("error_rate", ">=", 0.01), "tolerance_direction",
     "tolerance 'error_rate >= 0.01' must be an upper bound (< or <=)"),
    (tol("quality", "<", 0.9), "tolerance_direction", "must be a lower bound (> or >=)"),
    (tol("error_rate", "<=", 1.5), "tolerance_threshold", "tolerance error_rate threshold 1.5 must be between 0 and 1"),
    (tol("latency_p95_ms", "<=", -1), "tolerance_threshold", "threshold -1 must be >= 0"),
    (tol("latency_p95_ms", "<=", float("inf")), "tolerance_threshold", "threshold inf must be >= 0"),
    (tol("latncy", "<=", 1), "unknown_metric", "tolerance metric 'latncy' is unknown; use one of"),
])
def test_tolerance_rules(store: CatalogStore, state: DeploymentState, t: dict[str, Any], code: str,
                         text: str) -> None:
    vs = walk(store, state, st(SUM, "canary", "1.2.0", tolerances=[t]))
    if t["metric"] == "latency_p95_ms" and t["threshold"] == 2501:
        assert vs == []  # 2501 is inside 1.2.0's 2800 SLO
        vs = walk(store, state, st(SUM, "canary", "1.2.0", tolerances=[tol("latency_p95_ms", "<=", 2801)]))
        text = text.replace("2501", "2801")
    v = only(vs, code)
    assert text in v.message and v.step == "s1"


def test_thresholds_equal_to_the_slo_are_fine(store: CatalogStore, state: DeploymentState) -> None:
    tols = [tol("latency_p95_ms", "<=", 2800), tol("error_rate", "<=", 0.01), tol("quality", ">=", 0.85),
            tol("cost_per_request_usd", "<=", 0.0005), tol("cost_usd_per_day", "<=", 90),
            tol("latency_p95_ms", "<", 0)]
    assert walk(store, state, st(SUM, "canary", "1.2.0", tolerances=tols)) == []


def test_mutating_step_needs_a_tolerance(store: CatalogStore, state: DeploymentState) -> None:
    v = only(walk(store, state, st(SUM, "canary", "1.2.0", tolerances=[])), "missing_tolerance")
    assert v.message.startswith(f"step s1 (canary {SUM}) changes deployment state but has no tolerances")


def test_tolerances_on_non_mutating_steps_are_still_checked(store: CatalogStore, state: DeploymentState) -> None:
    noop = {"id": "n", "action": "noop", "tolerances": [tol("latncy", "<=", 1)]}
    assert codes(walk(store, state, noop)) == ["unknown_metric"]
    esc = {"id": "e", "action": "escalate", "feature": SUM, "tolerances": [tol("error_rate", "<=", 0.5)]}
    assert walk(store, state, esc) == []  # no SLO comparison without a version being deployed


# ---- compensations ---------------------------------------------------------------------------


def test_compensation_rules(store: CatalogStore, state: DeploymentState) -> None:
    def msg(step: dict[str, Any], st8: DeploymentState = state) -> str:
        return only(walk(store, st8, step), "compensation_mismatch").message

    none = st(SUM, "canary", "1.2.0", comp=None)
    v = only(walk(store, state, none), "missing_compensation")
    assert v.message == (f"step s1 (canary {SUM}) has no compensation; add one that undoes it "
                         f"(canary or disable or rollback on {SUM})")
    assert msg(st(SUM, "canary", "1.2.0", comp={"id": "u", "action": "rollback", "feature": "tone-rewriter"})) == (
        f"step s1 compensation u acts on 'tone-rewriter' instead of '{SUM}'")
    assert msg(st(SUM, "canary", "1.2.0", comp={"id": "u", "action": "enable", "feature": SUM})) == (
        "step s1 compensation u is a enable, which does not undo a canary (use canary or disable or rollback)")
    up = st(SUM, "canary", "1.2.0", comp={"id": "u", "action": "canary", "feature": SUM, "version": "1.2.0",
                                          "params": {"weight": 10}})
    assert msg(up) == "step s1 compensation u sets canary weight 10, which does not lower the step's 10"
    # a compensation must not switch off a version that was serving before the step
    assert msg(st(SUM, "canary", "1.2.0", comp={"id": "u", "action": "disable", "feature": SUM})) == (
        f"step s1 compensation u disables {SUM}, which was serving 1.1.0 before the step; use rollback")
    assert msg(st(SUM, "shadow", "1.2.0", comp={"id": "u", "action": "disable", "feature": SUM})).endswith(
        "which was serving 1.1.0 before the step; use rollback")
    off = serving(state, "answer-synthesizer", version=None)
    ok = st("answer-synthesizer", "canary", "1.0.0", comp={"id": "u", "action": "disable",
                                                           "feature": "answer-synthesizer"})
    assert "compensation_mismatch" not in codes(walk(store, off, ok))
    nested = st(SUM, "canary", "1.2.0", comp={"id": "u", "action": "rollback", "feature": SUM,
                                              "compensation": {"id": "uu", "action": "noop"}})
    assert msg(nested) == "step s1 compensation u has a compensation of its own; compensations must be single steps"
    ghost = st(SUM, "canary", "1.2.0", params={"weight": 50},
               comp={"id": "u", "action": "canary", "feature": SUM, "version": "9.9.9", "params": {"weight": 10}})
    assert msg(ghost) == "step s1 compensation u names ticket-summarizer@9.9.9, which is not in the catalog"


def test_compensation_must_restore_the_serving_version(store: CatalogStore, state: DeploymentState) -> None:
    pin_other = st(SUM, "refresh_prompt", "1.2.0",
                   comp={"id": "u", "action": "pin_version", "feature": SUM, "version": "1.0.0"})
    v = only(walk(store, state, pin_other), "compensation_mismatch")
    assert v.message == "step s1 compensation u restores 1.0.0, but 1.1.0 was serving before the step"
    lower = st(SUM, "canary", "1.2.0", params={"weight": 50},
               comp={"id": "u", "action": "canary", "feature": SUM, "version": "1.2.0", "params": {"weight": 10}})
    assert walk(store, state, lower) == []


def test_compensations_table_undoes_each_mutating_action() -> None:
    assert COMPENSATIONS["canary"] == {"canary", "rollback", "disable"}
    assert COMPENSATIONS["enable"] == {"disable", "rollback"}
    assert "disable" not in COMPENSATIONS["promote"]


# ---- dependencies ----------------------------------------------------------------------------


def test_dependency_enabled_earlier_in_the_plan_counts(store: CatalogStore, state: DeploymentState) -> None:
    off = serving(state, "kb-retriever", version=None)
    alone = walk(store, off, st("answer-synthesizer", "enable", "1.0.0"))
    v = only(alone, "dependency_order")
    assert v.message == ("step s1 enables answer-synthesizer@1.0.0, which depends on kb-retriever >=2.0,<3; "
                         "kb-retriever is not active and no earlier step enables it — add an enable or canary "
                         "step for kb-retriever before s1")
    first = walk(store, off, st("kb-retriever", "enable", "2.1.0", sid="s0"),
                 st("answer-synthesizer", "enable", "1.0.0", depends_on=["s0"]))
    assert "dependency_order" not in codes(first)


def test_disabling_a_dependency_names_the_active_dependent(store: CatalogStore, state: DeploymentState) -> None:
    state = serving(state, "answer-synthesizer", version="1.0.0")
    v = only(walk(store, state, st("kb-retriever", "disable")), "dependency_order")
    assert v.message == ("step s1 disables kb-retriever while answer-synthesizer@1.0.0, which depends on it, "
                         "is still active; disable answer-synthesizer in an earlier step first")
    ok = walk(store, state, st("answer-synthesizer", "disable", sid="s0"),
              st("kb-retriever", "disable", depends_on=["s0"]))
    assert "dependency_order" not in codes(ok)


def test_rollback_that_keeps_an_admitted_version_serving_is_fine(
    store: CatalogStore, state: DeploymentState
) -> None:
    canaried = serving(state, "pii-redactor", canary_version="1.1.0", canary_weight=20.0)
    back = st("pii-redactor", "rollback", comp=False, params={"to_version": "1.0.0"})
    back["compensation"] = {"id": "u", "action": "pin_version", "feature": "pii-redactor", "version": "1.0.0"}
    assert "dependency_order" not in codes(walk(store, canaried, back))


# ---- cost ------------------------------------------------------------------------------------


def test_observed_per_request_cost_uses_the_highest_sample(store: CatalogStore, state: DeploymentState) -> None:
    demand = signal(SUM, "demand", 50, "rpm")  # 50 x 1440 x 0.0009 = 64.8 USD/day: inside 90
    costs = [signal(SUM, "cost", 0.0004, "usd_per_request", name="c1"),
             signal(SUM, "cost", 0.0009, "usd_per_request", name="c2")]
    vs = walk(store, state, st(SUM, "enable", "1.1.0"), signals=[demand, *costs])
    v = only(vs, "over_budget")
    assert "0.0009 USD/request" in v.message and "the observed per-request cost breaks the envelope" in v.message


def test_observed_cost_of_another_version_is_not_used(store: CatalogStore, state: DeploymentState) -> None:
    sigs = [signal(SUM, "demand", 100, "rpm"), signal(SUM, "cost", 0.0009, "usd_per_request")]
    assert walk(store, state, st(SUM, "canary", "1.2.0"), signals=sigs) == []


def test_daily_cost_at_the_canary_share(store: CatalogStore, state: DeploymentState) -> None:
    # 0.0005 USD x 1440 min x 200 rpm = 144 USD/day at 100 %; the budget is 90
    sigs = [signal(SUM, "demand", 150, "rpm"), signal(SUM, "demand", 200, "rpm", name="d2")]
    assert walk(store, state, st(SUM, "canary", "1.2.0", params={"weight": 50}), signals=sigs) == []
    v = only(walk(store, state, st(SUM, "canary", "1.2.0", params={"weight": 70}), signals=sigs), "over_budget")
    assert "200 rpm" in v.message and v.message.endswith("lower the traffic share or raise the budget")
    # quarantined or other features' demand does not count
    bad = [signal(SUM, "demand", 200, "rpm", ok=False), signal("tone-rewriter", "demand", 9000, "rpm")]
    assert "over_budget" not in codes(walk(store, state, st(SUM, "canary", "1.2.0", params={"weight": 70}),
                                           signals=bad))


def test_a_lower_budget_in_the_state_is_the_ceiling(store: CatalogStore, state: DeploymentState) -> None:
    capped = serving(state, SUM, budget_usd_per_day=10.0)
    sigs = [signal(SUM, "demand", 100, "rpm")]
    v = only(walk(store, capped, st(SUM, "canary", "1.2.0", params={"weight": 20}), signals=sigs), "over_budget")
    assert "lower the traffic share" in v.message


# ---- signals, features, the executor ---------------------------------------------------------


def test_acting_on_a_feature_whose_trigger_is_quarantined(store: CatalogStore, state: DeploymentState) -> None:
    broken = signal(SUM, "latency", 900, "ms", ok=False, name="sum.lat")
    v = only(walk(store, state, st(SUM, "canary", "1.2.0"), signals=[broken]), "quarantined_signal")
    assert v.message == (f"step s1 acts on {SUM}, whose triggering signal sum.lat is quarantined (breaks its "
                         "contract); do not act on broken signals — use a noop or escalate step instead")
    # a plan whose trigger names other signals is not affected by this one
    trig = {"trigger": [{"signal": "other.sig"}]}
    assert "quarantined_signal" not in codes(walk(store, state, st(SUM, "canary", "1.2.0"), signals=[broken], **trig))
    named = {"trigger": [{"signal": "sum.lat"}]}
    assert "quarantined_signal" in codes(walk(store, state, st(SUM, "canary", "1.2.0"), signals=[broken], **named))
    assert walk(store, state, {"id": "e", "action": "escalate", "feature": SUM}, signals=[broken]) == []


def test_feature_in_the_state_but_not_in_the_catalog(store: CatalogStore, state: DeploymentState) -> None:
    ghost = state.with_feature("voice-bot", FeatureState(version="1.0.0"))
    v = only(walk(store, ghost, st("voice-bot", "disable")), "unknown_feature")
    assert "'voice-bot', which is in the deployment state but not in the catalog" in v.message
    assert only(walk(store, None, st("voice-bot", "disable")), "unknown_feature").message.endswith(
        "(unknown flag key)")


def test_mutating_step_without_a_feature(store: CatalogStore, state: DeploymentState) -> None:
    v = only(walk(store, state, {"id": "s1", "action": "disable", "tolerances": [ERR]}), "missing_feature")
    assert v.message == "step s1 (disable) names no feature; set 'feature' to a catalog feature id"


def test_promote_without_a_version_promotes_the_running_canary(store: CatalogStore, state: DeploymentState) -> None:
    running = serving(state, SUM, canary_version="1.2.0", canary_weight=50.0)
    checker = StepChecker(store, [], running)
    assert checker.run(Plan.from_data({"id": "p", "goal": "g", "steps": [st(SUM, "promote", comp=PIN)]})) == []
    assert checker.predicted.get(SUM).version == "1.2.0"


def test_a_step_the_executor_cannot_apply_is_reported(store: CatalogStore, state: DeploymentState) -> None:
    off = serving(state, "kb-retriever", version=None)
    strict = [{"metric": "error_rate", "comparator": "<=", "threshold": 0.005}]
    v = only(walk(store, off, st("kb-retriever", "enable", tolerances=strict)), "missing_version")
    assert v.message == ("step s1: enable kb-retriever needs a version (the feature is off); the executor "
                         "would stop here")
