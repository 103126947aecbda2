"""The SimPy control plane: fault windows, data-quality drops and the plan under test.

Each plan step changes the deployment state exactly as the executor would
(``DeploymentState.apply``; a ``refresh_prompt`` step applies whole, its phases in one hold),
and the routing follows the state: the serving version takes the traffic the canary does not,
a shadow receives a mirrored copy. The step then holds for its gate window (the largest
tolerance window, or the scenario's ``step_interval_s``) and its gates judge the requests of
the version the step puts traffic on: the canary's for a ``canary``, the shadow's for a
``shadow``, else the version serving after the step (so an ``enable`` from off is judged on
the new version's requests). On a breach the run does what the executor does: it restores the
state from before the failing step, then from before each earlier step in reverse (saga), and
aborts the plan. Every change is recorded on the timeline.

Version keys are ``<feature>@<version>``; a feature that is off routes to ``<feature>@off``
when the scenario defines it, else to the scenario's baseline.
"""

from __future__ import annotations

__all__ = [
    "MIN_GATE_SAMPLES",
    "GateResult",
    "PlanRun",
    "dq_process",
    "fault_process",
    "resolve_version",
    "sim_state",
]

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from jitplan.contracts.errors import UserError
from jitplan.contracts.plan import Plan, Step
from jitplan.contracts.scenario import DataQualityDrop, Fault
from jitplan.contracts.state import OFF, DeploymentState, FeatureState, StepError
from jitplan.simulator.stats import Recorder, window_metrics
from jitplan.simulator.world import World

MIN_GATE_SAMPLES = 20
"""A gate that saw fewer requests than this is inconclusive (never a pass)."""

Proc = Generator[simpy.Event, Any, None]


@dataclass(frozen=True)
class GateResult:
    """One tolerance judged at the end of one step's window."""

    step: str
    metric: str
    comparator: str
    threshold: float
    observed: float | None
    passed: bool
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "step": self.step,
            "metric": self.metric,
            "comparator": self.comparator,
            "threshold": self.threshold,
            "observed": self.observed,
            "passed": self.passed,
        }
        if self.reason:
            out["reason"] = self.reason
        return out


def fault_process(env: simpy.Environment, world: World, fault: Fault) -> Proc:
    """Activate ``fault`` during its window."""
    yield env.timeout(fault.start_s)
    world.faults.append(fault)
    world.bump()
    world.log(env.now, "fault_started", fault=fault.kind, target=fault.target or "*")
    yield env.timeout(fault.duration_s)
    world.faults.remove(fault)
    world.bump()
    world.log(env.now, "fault_ended", fault=fault.kind, target=fault.target or "*")


def dq_process(env: simpy.Environment, world: World, drop: DataQualityDrop) -> Proc:
    """Apply a data-quality drop during its window."""
    yield env.timeout(drop.start_s)
    world.dq_drop += drop.quality_drop
    world.dq_err += drop.error_rate_add
    world.bump()
    world.log(env.now, "data_quality_drop_started", quality_drop=drop.quality_drop)
    yield env.timeout(drop.duration_s)
    world.dq_drop -= drop.quality_drop
    world.dq_err -= drop.error_rate_add
    world.bump()
    world.log(env.now, "data_quality_drop_ended")


def resolve_version(world: World, step: Step) -> int:
    """The version index a step names; a version the scenario lacks is a ``UserError``.

    A step naming no version gets the only other version of its feature in the scenario (a
    convenience for hand-written scenarios), else the baseline.
    """
    keys = world.keys
    if step.feature and step.version:
        return _index(world, step, step.feature, step.version)
    if step.feature:
        matches = [i for i, k in enumerate(keys) if k.startswith(f"{step.feature}@")]
        others = [i for i in matches if i != world.baseline and not keys[i].endswith(f"@{OFF}")]
        if step.action in ("canary", "shadow", "promote", "enable", "refresh_prompt") and len(others) == 1:
            return others[0]
    return world.baseline


def _index(world: World, step: Step, feature: str, version: str) -> int:
    key = f"{feature}@{version}"
    if key not in world.keys:
        raise UserError(
            f"plan step '{step.id}' targets version '{key}', which the scenario does not "
            f"define (service versions: {', '.join(world.keys)})",
            field=f"steps[{step.id}]",
        )
    return world.keys.index(key)


def sim_state(world: World, plan: Plan) -> DeploymentState:
    """The deployment state the scenario starts from, for the features ``plan`` acts on.

    The baseline key ``<feature>@<version>`` says which version serves (``@off``: none); a
    feature whose version the baseline key does not name starts off.
    """
    base = world.keys[world.baseline]
    features: dict[str, FeatureState] = {}
    for st in plan.steps:
        if st.feature and st.feature not in features:
            fid, _, ver = base.partition("@")
            serving = ver if fid == st.feature and ver and ver != OFF else None
            features[st.feature] = FeatureState(
                version=serving, known_versions=[serving] if serving else [])
    return DeploymentState(features=features)


@dataclass
class PlanRun:
    """Executes a plan inside the simulation and keeps its gate results."""

    env: simpy.Environment
    world: World
    plan: Plan
    recorder: Recorder
    flush: Callable[[], None]
    start_s: float
    step_interval_s: float | None
    gates: list[GateResult] = field(default_factory=list)
    finished: bool = False
    aborted: bool = False
    original_baseline: int = 0
    state: DeploymentState = field(default_factory=DeploymentState)

    def process(self) -> Proc:
        """The SimPy process running every step in order."""
        env, world = self.env, self.world
        self.original_baseline = world.baseline
        self.state = sim_state(world, self.plan)
        if self.start_s > 0:
            yield env.timeout(self.start_s)
        world.log(env.now, "plan_started", plan=self.plan.id)
        done: list[tuple[Step, DeploymentState]] = []
        for step in self.plan.steps:
            before = self.state
            step = self._resolved(step)
            try:
                self.state = before.apply(step)
            except StepError as exc:
                raise UserError(f"plan step '{step.id}' cannot apply: {exc}",
                                field=f"steps[{step.id}]") from None
            v = self._route(step)
            world.log(
                env.now, "step_started", step=step.id, action=step.action, version=world.keys[v]
            )
            self._log_change(step, v)
            hold = self.step_interval_s
            if hold is None:
                hold = max((t.window_s for t in step.tolerances), default=0.0)
            if not step.tolerances:
                if hold > 0:
                    yield env.timeout(hold)
                world.log(env.now, "step_completed", step=step.id)
                done.append((step, before))
                continue
            win = self.recorder.open_window(v, env.now)
            yield env.timeout(hold)
            self.flush()
            self.recorder.close_window(win)
            observed = window_metrics(win.tot, win.hist, env.now - win.t0)
            results = [
                self._judge(step, tol.metric, tol.comparator, tol.threshold, observed, tol.holds)
                for tol in step.tolerances
            ]
            self.gates.extend(results)
            failed = [r for r in results if not r.passed]
            if not failed:
                world.log(env.now, "gate_passed", step=step.id, requests=int(observed["requests"]))
                done.append((step, before))
                continue
            kind = "gate_inconclusive" if all(r.observed is None for r in failed) else "gate_failed"
            world.log(env.now, kind, step=step.id, metrics=",".join(r.metric for r in failed))
            for undone, prior in [(step, before), *reversed(done)]:
                self._restore(undone, prior)
            world.log(env.now, "plan_aborted", step=step.id)
            self.aborted = True
            return
        self.finished = True
        world.log(env.now, "plan_completed", plan=self.plan.id)

    def _judge(
        self,
        step: Step,
        metric: str,
        comparator: str,
        threshold: float,
        observed: dict[str, float],
        holds: Callable[[float], bool],
    ) -> GateResult:
        n = observed["requests"]
        unjudged = None
        if metric not in observed or metric == "requests":
            unjudged = "metric not measured by the simulator"
        elif n < MIN_GATE_SAMPLES:
            unjudged = f"inconclusive: {int(n)} requests in the window"
        if unjudged is not None:  # never a pass: no number to judge
            return GateResult(step.id, metric, comparator, threshold, None, False, unjudged)
        value = float(observed[metric])
        if math.isnan(value):
            return GateResult(
                step.id,
                metric,
                comparator,
                threshold,
                None,
                False,
                "inconclusive: no successful requests",
            )
        return GateResult(step.id, metric, comparator, threshold, value, bool(holds(value)))

    # ---- state -> routing --------------------------------------------------------------

    def _resolved(self, step: Step) -> Step:
        """The step with the version it acts on filled in when it names none and needs one."""
        if step.feature is None:
            if step.mutating:
                raise UserError(f"plan step '{step.id}' ({step.action}) names no feature; the "
                                "simulator needs one", field=f"steps[{step.id}]")
            return step
        if step.version is not None or step.action not in (
                "canary", "shadow", "refresh_prompt", "enable"):
            return step
        if step.action == "enable" and self.state.get(step.feature).version is not None:
            return step
        v = resolve_version(self.world, step)
        if v == self.world.baseline and self.world.keys[v].partition("@")[0] != step.feature:
            return step  # apply says what is missing
        return step.model_copy(update={"version": self.world.keys[v].partition("@")[2]})

    def _version_index(self, step: Step, feature: str, version: str | None) -> int:
        if version is None:
            off = f"{feature}@{OFF}"
            return self.world.keys.index(off) if off in self.world.keys else self.original_baseline
        return _index(self.world, step, feature, version)

    def _route(self, step: Step) -> int:
        """Route traffic as the state says; the index of the version the step's gates judge."""
        world = self.world
        if step.feature is None:
            return world.baseline
        fs = self.state.get(step.feature)
        world.baseline = self._version_index(step, step.feature, fs.version)
        if fs.canary_version is not None and fs.canary_weight > 0:
            world.canary = self._version_index(step, step.feature, fs.canary_version)
            world.canary_weight = fs.canary_weight
        else:
            world.canary, world.canary_weight = -1, 0.0
        if fs.shadow_version is not None:
            world.shadow, world.shadow_weight = (
                self._version_index(step, step.feature, fs.shadow_version), 100.0)
        else:
            world.shadow, world.shadow_weight = -1, 0.0
        if step.action == "canary" and world.canary >= 0:
            return world.canary
        if step.action == "shadow" and world.shadow >= 0:
            return world.shadow
        return world.baseline

    def _log_change(self, step: Step, v: int) -> None:
        world, now = self.world, self.env.now
        key = world.keys[v]
        match step.action:
            case "canary":
                world.log(now, "canary_weight", step=step.id, version=key, weight=world.canary_weight)
            case "promote" | "pin_version":
                world.log(now, "promoted", step=step.id, version=key)
            case "enable":
                world.log(now, "enabled", step=step.id, version=key)
            case "shadow":
                world.log(now, "shadow_started", step=step.id, version=key)
            case "rollback":
                world.log(now, "rollback", step=step.id, version=key)
            case "disable":
                world.log(now, "disabled", step=step.id, version=key)
            case "refresh_prompt":
                world.refreshed_at[v] = now  # the new prompt starts undecayed
                world.bump()
                world.log(now, "prompt_refreshed", step=step.id, version=key)
            case _:
                world.log(now, "step_recorded", step=step.id, action=step.action)

    def _restore(self, step: Step, prior: DeploymentState) -> None:
        """Put ``step``'s feature back as it was before the step (what the executor does)."""
        if step.feature is None or not step.mutating:
            return
        self.state = self.state.with_feature(step.feature, prior.get(step.feature))
        v = self._route(step.model_copy(update={"action": "rollback"}))
        self.world.log(self.env.now, "rollback", step=step.id, version=self.world.keys[v])
