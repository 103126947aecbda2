"""The SimPy control plane: fault windows, data-quality drops and the plan under test.

Each plan step applies its routing change, holds for its gate window (the largest tolerance
window, or the scenario's ``step_interval_s``), measures the traffic routed to the step's
version over the hold, and on a breach applies the step's compensation (a rollback to the
baseline when it has none), then the compensations of the earlier steps in reverse order
(saga), and aborts the plan. Every change is recorded on the timeline.
"""

from __future__ import annotations

__all__ = [
    "MIN_GATE_SAMPLES",
    "GateResult",
    "PlanRun",
    "dq_process",
    "fault_process",
    "resolve_version",
]

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from jitplan.contracts.errors import UserError
from jitplan.contracts.plan import Plan, Step
from jitplan.contracts.scenario import DataQualityDrop, Fault
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
    """The version index a step acts on; a version the scenario lacks is a ``UserError``."""
    keys = world.keys
    if step.feature and step.version:
        key = f"{step.feature}@{step.version}"
        if key not in keys:
            raise UserError(
                f"plan step '{step.id}' targets version '{key}', which the scenario does not "
                f"define (service versions: {', '.join(keys)})",
                field=f"steps[{step.id}]",
            )
        return keys.index(key)
    if step.feature:
        matches = [i for i, k in enumerate(keys) if k.startswith(f"{step.feature}@")]
        others = [i for i in matches if i != world.baseline]
        if step.action in ("canary", "shadow", "promote", "enable") and len(others) == 1:
            return others[0]
        if world.baseline in matches or not matches:
            return world.baseline
        return matches[0]
    if step.action in ("canary", "shadow", "promote") and len(keys) == 2:
        return 1 - world.baseline if world.baseline in (0, 1) else 1
    return world.baseline


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

    def process(self) -> Proc:
        """The SimPy process running every step in order."""
        env, world = self.env, self.world
        self.original_baseline = world.baseline
        if self.start_s > 0:
            yield env.timeout(self.start_s)
        world.log(env.now, "plan_started", plan=self.plan.id)
        done: list[Step] = []
        for step in self.plan.steps:
            v = resolve_version(world, step)
            world.log(
                env.now, "step_started", step=step.id, action=step.action, version=world.keys[v]
            )
            self._apply(step, v)
            hold = self.step_interval_s
            if hold is None:
                hold = max((t.window_s for t in step.tolerances), default=0.0)
            if not step.tolerances:
                if hold > 0:
                    yield env.timeout(hold)
                world.log(env.now, "step_completed", step=step.id)
                done.append(step)
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
                done.append(step)
                continue
            kind = "gate_inconclusive" if all(r.observed is None for r in failed) else "gate_failed"
            world.log(env.now, kind, step=step.id, metrics=",".join(r.metric for r in failed))
            self._compensate(step, v)
            for prev in reversed(done):
                if prev.compensation is not None:
                    self._apply(
                        prev.compensation, resolve_version(world, prev.compensation), via=prev.id
                    )
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

    def _compensate(self, step: Step, v: int) -> None:
        comp = step.compensation
        if comp is None:
            self._rollback(None, via=step.id)
        else:
            self._apply(comp, resolve_version(self.world, comp), via=step.id)

    def _rollback(self, v: int | None, via: str) -> None:
        world = self.world
        world.baseline = self.original_baseline if v is None else v
        world.canary, world.canary_weight = -1, 0.0
        world.shadow, world.shadow_weight = -1, 0.0
        world.log(self.env.now, "rollback", step=via, version=world.keys[world.baseline])

    def _apply(self, step: Step, v: int, via: str | None = None) -> None:
        world, now = self.world, self.env.now
        w = step.weight
        if step.action == "canary":
            if v == world.baseline:
                world.log(now, "step_noop", step=step.id, reason="canary targets the baseline")
                return
            world.canary, world.canary_weight = v, 10.0 if w is None else min(max(w, 0.0), 100.0)
            world.log(
                now,
                "canary_weight",
                step=step.id,
                version=world.keys[v],
                weight=world.canary_weight,
            )
        elif step.action == "promote":
            world.baseline = v
            world.canary, world.canary_weight = -1, 0.0
            world.log(now, "promoted", step=step.id, version=world.keys[v])
        elif step.action == "shadow":
            world.shadow, world.shadow_weight = v, 100.0 if w is None else min(max(w, 0.0), 100.0)
            world.log(now, "shadow_started", step=step.id, version=world.keys[v])
        elif step.action == "rollback":
            explicit = step.feature is not None and step.version is not None
            self._rollback(v if explicit else None, via=via or step.id)
        elif step.action == "refresh_prompt":
            world.refreshed_at[v] = now
            world.bump()
            world.log(now, "prompt_refreshed", step=step.id, version=world.keys[v])
        elif step.action == "disable" and world.canary == v:
            world.canary, world.canary_weight = -1, 0.0
            world.log(now, "disabled", step=step.id, version=world.keys[v])
        else:
            world.log(now, "step_recorded", step=step.id, action=step.action)
