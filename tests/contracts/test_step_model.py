"""One model of what a step does: per-action params and ``DeploymentState.apply``.

Each ``test_finding_*`` is a regression test for a finding of issue 11 ("One transition model")
and fails on the code before it: the validator, the executor, the simulator and the planners
each read ``Step.params`` their own way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from jitplan.agent.execution_units import plan_units
from jitplan.agent.planners.base import PlanningContext
from jitplan.agent.planners.findings import analyze
from jitplan.agent.planners.offline import build_offline_plan
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.plan import Plan, Step
from jitplan.contracts.signals import ContractSet, SignalSnapshot
from jitplan.contracts.state import REFRESH_PHASES, DeploymentState, FeatureState, StepError
from jitplan.contracts.step_params import REFRESH_CANARY_WEIGHT, describe_params
from jitplan.tools.flags import FlagStore
from jitplan.tools.flags import StepError as FlagsStepError
from jitplan.tools.signal_check import check_signals
from jitplan.tools.validator import predict_state, validate

WORLD = Path(__file__).resolve().parents[2] / "scenarios" / "world"
CATALOG = Catalog.from_file(WORLD / "catalog.yaml")
START = FlagStore(WORLD / "flags.json").read()
ERR = [{"metric": "error_rate", "comparator": "<=", "threshold": 0.005}]


def _plan(*steps: dict[str, Any]) -> Plan:
    return Plan.model_validate({"id": "p", "goal": "g", "steps": list(steps)})


def _run_units(plan: Plan, state: DeploymentState) -> DeploymentState:
    for unit in plan_units(plan):
        state = unit.apply(state)
    return state


# ---- the findings ------------------------------------------------------------------------


def test_finding_canary_weight_zero_fails_at_the_schema_not_at_apply() -> None:
    # Old: the validator accepted 0 <= weight <= 100 and the executor refused 0 at apply time.
    doc = {"id": "p", "goal": "g", "steps": [
        {"id": "s1", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0",
         "params": {"weight": 0}, "tolerances": ERR,
         "compensation": {"id": "u", "action": "rollback", "feature": "ticket-summarizer"}}]}
    with pytest.raises(ValidationError, match=r"steps\.0\.params\.weight"):
        Plan.model_validate(doc)
    report = validate(doc, CATALOG, [], START, None)
    assert [(v.code, v.step) for v in report.violations] == [("canary_weight_range", "s1")]
    assert "steps[0].params.weight: Input should be greater than 0" in report.violations[0].message


def test_finding_set_budget_has_one_key_for_validator_and_executor() -> None:
    # Old: the executor read budget_usd_per_day, usd_per_day or budget; the validator only
    # usd_per_day, so a plan the executor could run was invalid and vice versa.
    for alias in ("budget_usd_per_day", "budget"):
        with pytest.raises(ValidationError, match="did you mean 'usd_per_day'"):
            Step(id="s", action="set_budget", feature="tone-rewriter", params={alias: 5})
    step = Step(id="s", action="set_budget", feature="tone-rewriter", params={"usd_per_day": 5})
    assert START.apply(step).get("tone-rewriter").budget_usd_per_day == 5.0
    plan = _plan({**step.model_dump(mode="json"), "tolerances": ERR, "compensation": {
        "id": "u", "action": "set_budget", "feature": "tone-rewriter", "params": {"usd_per_day": None}}})
    assert validate(plan, CATALOG, [], START, None).ok
    assert predict_state(plan, CATALOG, START) == _run_units(plan, START)


def test_finding_rollback_means_the_same_to_validator_and_executor() -> None:
    # Old: a rollback went back to the state before the plan in the validator, to `version`
    # (else params.to_version) in the executor. Here the summarizer is promoted to 1.2.0 and a
    # bare rollback only ends canaries and shadows: 1.2.0 keeps serving, so refreshing to
    # 1.2.0 afterwards refreshes nothing and the validator must say so.
    plan = _plan(
        {"id": "s1", "action": "canary", "feature": "ticket-summarizer", "version": "1.2.0",
         "params": {"weight": 10}, "tolerances": ERR,
         "compensation": {"id": "u1", "action": "rollback", "feature": "ticket-summarizer"}},
        {"id": "s2", "action": "promote", "feature": "ticket-summarizer", "version": "1.2.0",
         "tolerances": ERR, "compensation": {"id": "u2", "action": "rollback",
                                             "feature": "ticket-summarizer",
                                             "params": {"to_version": "1.1.0"}}},
        {"id": "s3", "action": "rollback", "feature": "ticket-summarizer"},
        {"id": "s4", "action": "refresh_prompt", "feature": "ticket-summarizer", "version": "1.2.0",
         "tolerances": ERR, "compensation": {"id": "u4", "action": "rollback",
                                             "feature": "ticket-summarizer",
                                             "params": {"to_version": "1.2.0"}}},
    )
    report = validate(plan, CATALOG, [], START, None)
    assert [(v.code, v.step) for v in report.violations] == [("refresh_prompt_target", "s4")]
    assert "not newer than the serving 1.2.0" in report.violations[0].message
    assert _run_units(plan, START).get("ticket-summarizer").version == "1.2.0"
    assert predict_state(plan, CATALOG, START) == _run_units(plan, START)


def test_finding_offline_rollback_of_a_canary_never_promotes_it() -> None:
    # Old: the offline planner put the canary's version in the rollback's `version`, and the
    # executor made that version serve: rolling back a bad 1.2.0 canary promoted 1.2.0.
    fs = START.get("ticket-summarizer").model_copy(update={"canary_version": "1.2.0",
                                                           "canary_weight": 25.0})
    state = START.with_feature("ticket-summarizer", fs)
    contracts = ContractSet.from_file(WORLD / "contracts.yaml")
    statuses = check_signals(SignalSnapshot.from_file(WORLD / "signals" / "latency-spike.yaml"),
                             contracts, CATALOG)
    found, _ = analyze(CATALOG, statuses, state)
    ctx = PlanningContext(CATALOG, tuple(statuses), state, tuple(found), seed_id="test")
    plan = Plan.model_validate(build_offline_plan(ctx))
    assert [s.action for s in plan.steps] == ["rollback"]
    after = _run_units(plan, state).get("ticket-summarizer")
    assert (after.version, after.canary_version, after.canary_weight) == ("1.1.0", None, 0.0)


def test_finding_no_hidden_weight_default() -> None:
    # Old: a canary with no weight ran at 10 % in the simulator, and a refresh_prompt's canary
    # phase took params.canary_weight, else params.weight, else 10, in the executor only.
    with pytest.raises(ValidationError, match=r"params\.weight\n.*Field required"):
        Step(id="c", action="canary", feature="ticket-summarizer", version="1.2.0")
    with pytest.raises(ValidationError, match="did you mean 'canary_weight'"):
        Step(id="r", action="refresh_prompt", feature="ticket-summarizer", version="1.2.0",
             params={"weight": 30})
    refresh = Step(id="r", action="refresh_prompt", feature="ticket-summarizer", version="1.2.0")
    assert refresh.typed_params.action == "refresh_prompt"
    assert refresh.typed_params.canary_weight == REFRESH_CANARY_WEIGHT  # documented, one place
    assert "canary_weight (optional, default 10.0)" in describe_params()["refresh_prompt"]


# ---- the transition ------------------------------------------------------------------------


def test_refresh_prompt_phases_compose_to_the_whole_step() -> None:
    step = Step(id="r", action="refresh_prompt", feature="ticket-summarizer", version="1.2.0",
                params={"canary_weight": 20})
    seen, state = [], START
    for phase in REFRESH_PHASES:
        state = state.apply(step, phase)
        fs = state.get("ticket-summarizer")
        seen.append((fs.version, fs.shadow_version, fs.canary_version, fs.canary_weight))
    assert seen == [("1.1.0", "1.2.0", None, 0.0), ("1.1.0", "1.2.0", "1.2.0", 20.0),
                    ("1.2.0", None, None, 0.0)]
    assert START.apply(step) == state
    # already past the canary phase (a 50 % canary ran before): it is skipped, never lowered
    ahead = START.apply(Step(id="c", action="canary", feature="ticket-summarizer",
                             version="1.2.0", params={"weight": 50}))
    assert ahead.apply(step, "canary") == ahead


@pytest.mark.parametrize(("params", "serving"), [({}, "1.1.0"), ({"to_version": None}, None),
                                                 ({"to_version": "1.0.0"}, "1.0.0")])
def test_rollback_ends_canary_and_shadow_and_serves_to_version(
    params: dict[str, Any], serving: str | None
) -> None:
    fs = FeatureState(version="1.1.0", known_versions=["1.1.0", "1.2.0"], canary_version="1.2.0",
                      canary_weight=25.0, shadow_version="1.2.0")
    state = DeploymentState(features={"f": fs})
    after = state.apply(Step(id="r", action="rollback", feature="f", params=params)).get("f")
    assert (after.version, after.canary_version, after.canary_weight, after.shadow_version) == (
        serving, None, 0.0, None)


def test_a_rollback_names_its_target_in_params_only() -> None:
    with pytest.raises(ValidationError, match=r"params\.to_version"):
        Step(id="r", action="rollback", feature="f", version="1.0.0")


@pytest.mark.parametrize(("step", "code"), [
    ({"action": "enable", "feature": "answer-synthesizer"}, "missing_version"),
    ({"action": "promote", "feature": "tone-rewriter"}, "missing_version"),
    ({"action": "canary", "feature": "tone-rewriter", "version": "1.0.0", "params": {"weight": 5}},
     "bad_params"),
])
def test_steps_that_cannot_apply_raise_step_error_with_a_violation_code(
    step: dict[str, Any], code: str
) -> None:
    with pytest.raises(StepError) as exc:
        START.apply(Step(id="s", **step))
    assert exc.value.code == code
    assert FlagsStepError is StepError  # tools.flags re-exports the one error


def test_unknown_params_are_named_with_their_path() -> None:
    with pytest.raises(ValidationError) as exc:
        Plan.model_validate({"id": "p", "goal": "g", "steps": [
            {"id": "s1", "action": "promote", "feature": "f", "params": {"from_version": "1"}}]})
    err = exc.value.errors()[0]
    assert err["loc"] == ("steps", 0, "params", "from_version")
    assert "unknown parameter for a promote step (accepted: none)" in err["msg"]
