"""A plan as units of execution: steps in dependency order, refresh_prompt split in phases."""

from __future__ import annotations

__all__ = ["Unit", "effective_action", "plan_units"]

from dataclasses import dataclass
from typing import Any

from jitplan.contracts.errors import UserError
from jitplan.contracts.plan import Plan, Step
from jitplan.contracts.state import DeploymentState


@dataclass(frozen=True)
class Unit:
    """One journalled unit of work: a step, or one phase of a refresh_prompt step."""

    name: str
    step: Step
    action: str

    @property
    def params(self) -> dict[str, Any]:
        if self.step.action == "refresh_prompt" and self.action == "canary":
            w = self.step.params.get("canary_weight", self.step.params.get("weight", 10))
            return {"weight": w}
        return dict(self.step.params)


def _ordered(steps: list[Step]) -> list[Step]:
    ids = {s.id for s in steps}
    placed: list[Step] = []
    done: set[str] = set()
    pending = list(steps)
    while pending:
        ready = next((s for s in pending if all(d in done or d not in ids for d in s.depends_on)), None)
        if ready is None:
            raise UserError("steps depend on each other in a cycle", field="steps[].depends_on")
        placed.append(ready)
        done.add(ready.id)
        pending.remove(ready)
    return placed


def plan_units(plan: Plan) -> list[Unit]:
    """The plan's units in execution order."""
    units: list[Unit] = []
    for st in _ordered(list(plan.steps)):
        if st.action == "refresh_prompt":
            units += [Unit(f"{st.id}#{ph}", st, ph) for ph in ("shadow", "canary", "promote")]
        else:
            units.append(Unit(st.id, st, st.action))
    return units


def effective_action(u: Unit, state: DeploymentState) -> str:
    """A refresh_prompt phase the feature is already past (e.g. the plan ran explicit shadow and
    canary steps before the swap) becomes a no-op instead of lowering the canary weight."""
    if u.step.action != "refresh_prompt" or u.step.feature is None or u.action == "promote":
        return u.action
    fs = state.get(u.step.feature)
    v = u.step.version
    if fs.version == v and fs.canary_version is None:
        return "noop"
    if fs.canary_version == v and fs.canary_weight > 0:
        if u.action == "shadow":
            return "noop"
        weight = u.params.get("weight")
        if isinstance(weight, int | float) and fs.canary_weight >= float(weight):
            return "noop"
    return u.action
