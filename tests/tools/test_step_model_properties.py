"""Property: for any valid plan, the state the validator predicts is the flags the executor writes.

Plans are drawn at random over the sample world (scenarios/world: catalog.yaml, flags.json),
steered towards plausible steps so most are valid; invalid ones are discarded. The executor
path is the real one, minus the gates: ``agent.execution_units.plan_units`` in order, each unit
applied to what ``tools.flags.FlagStore`` reads and written back through it (flagd JSON), as
``agent.orchestrator`` does for every unit. Deterministic: derandomized, bounded examples.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jitplan.agent.execution_units import plan_units
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.plan import Plan
from jitplan.contracts.state import DeploymentState, StepError
from jitplan.tools.flags import FlagStore
from jitplan.tools.validator import predict_state, validate

WORLD = Path(__file__).resolve().parents[2] / "scenarios" / "world"
CATALOG = Catalog.from_file(WORLD / "catalog.yaml")
FLAGS = (WORLD / "flags.json").read_bytes()
START = FlagStore(WORLD / "flags.json").read()
FEATURES = ["pii-redactor", "ticket-summarizer", "tone-rewriter", "kb-retriever",
            "answer-synthesizer", "fraud-screener", "sentiment-tagger"]
WEIGHTS = [5.0, 10.0, 12.5, 25.0, 50.0, 100.0]
ACTIONS = ["enable", "disable", "canary", "promote", "shadow", "rollback", "refresh_prompt",
           "set_budget", "pin_version", "noop", "escalate"]


def _tolerances(feature: str, version: str | None) -> list[dict[str, Any]]:
    spec = CATALOG.get(feature, version) or CATALOG.get(feature)
    assert spec is not None
    return [{"metric": "error_rate", "comparator": "<=", "threshold": spec.slo.error_rate_max}]


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """A plan of 1-8 steps, each chosen to make sense in the state the previous ones leave."""
    state = START
    steps: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 8))):
        sid = f"s{i + 1}"
        fid = draw(st.sampled_from(FEATURES))
        fs = state.get(fid)
        versions = [s.version for s in CATALOG.versions(fid)]
        action = draw(st.sampled_from(ACTIONS))
        step: dict[str, Any] = {"id": sid, "action": action, "feature": fid}
        if action in ("noop", "escalate"):
            step.pop("feature") if action == "noop" else None
        elif action == "canary":
            v = draw(st.sampled_from(versions))  # the serving one too: apply refuses it
            floor = fs.canary_weight if fs.canary_version == v else 0.0
            step.update(version=v, params={"weight": draw(st.sampled_from(
                [w for w in WEIGHTS if w >= floor]))})
        elif action in ("enable", "shadow"):
            step["version"] = draw(st.sampled_from(versions))
        elif action == "promote":
            if fs.canary_version is None:
                continue
            if draw(st.booleans()):
                step["version"] = fs.canary_version
        elif action == "rollback":
            if draw(st.booleans()):
                step["params"] = {"to_version": draw(st.sampled_from(
                    [fs.version, START.get(fid).version]))}
        elif action == "refresh_prompt":
            serving = CATALOG.get(fid, fs.version) if fs.version else None
            newer = [s.version for s in CATALOG.versions(fid)
                     if serving is not None and s.prompt and s.parsed_version > serving.parsed_version]
            if not newer:
                continue
            step["version"] = draw(st.sampled_from(newer))
            if draw(st.booleans()):
                step["params"] = {"canary_weight": draw(st.sampled_from(WEIGHTS))}
        elif action == "set_budget":
            ceiling = (CATALOG.get(fid) or CATALOG.features[0]).cost.daily_budget_usd
            step["params"] = {"usd_per_day": draw(st.sampled_from([0.0, ceiling / 2, ceiling]))}
        elif action == "pin_version" and fs.version is None:
            continue
        if action not in ("noop", "escalate"):
            step["tolerances"] = _tolerances(fid, step.get("version"))
            undo: dict[str, Any] = {"id": f"{sid}-undo", "action": "rollback", "feature": fid,
                                    "params": {"to_version": fs.version}}
            if action == "set_budget":
                undo = {"id": f"{sid}-undo", "action": "set_budget", "feature": fid,
                        "params": {"usd_per_day": fs.budget_usd_per_day}}
            step["compensation"] = undo
        if steps and draw(st.booleans()):
            step["depends_on"] = [steps[-1]["id"]]
        try:
            built = Plan.model_validate({"id": "p", "goal": "g", "steps": [*steps, step]})
            state = state.apply(built.steps[-1])
        except (ValueError, StepError):
            continue
        steps.append(step)
    assume(steps)
    return Plan.model_validate({"id": "p", "goal": "g", "steps": steps})


def _executor_flags(plan: Plan) -> DeploymentState:
    """The flags the executor writes: each unit read, applied and written through the store."""
    with tempfile.TemporaryDirectory() as tmp:
        store = FlagStore(Path(tmp) / "flags.json", history=False)
        store.write_bytes(FLAGS)
        for unit in plan_units(plan):
            store.write(unit.apply(store.read()))
        return store.read()


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(plans())
def test_validator_prediction_equals_the_flags_the_executor_writes(plan: Plan) -> None:
    report = validate(plan, CATALOG, [], START, None)
    assume(report.ok)
    assert predict_state(plan, CATALOG, START) == _executor_flags(plan)


def test_the_generator_yields_mostly_valid_plans() -> None:
    """Guards the property above against vacuity: most drawn plans must be valid."""
    seen = {"valid": 0, "all": 0}

    @settings(max_examples=60, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
    @given(plans())
    def count(plan: Plan) -> None:
        seen["all"] += 1
        seen["valid"] += validate(plan, CATALOG, [], START, None).ok

    count()
    assert seen["all"] >= 30 and seen["valid"] >= seen["all"] // 2, seen
