"""A plan as units of execution: steps in dependency order, refresh_prompt split in phases.

What a unit does to the deployment state is ``DeploymentState.apply`` (one phase of a
``refresh_prompt`` step, or the whole step); this module only orders and names the units.
"""

from __future__ import annotations

__all__ = ["Unit", "effective_action", "plan_units"]

from dataclasses import dataclass

from jitplan.contracts.errors import UserError
from jitplan.contracts.plan import Plan, Step
from jitplan.contracts.state import (
    REFRESH_PHASES,
    DeploymentState,
    RefreshPhase,
    refresh_phase_applies,
)


@dataclass(frozen=True)
class Unit:
    """One journalled unit of work: a step, or one phase of a refresh_prompt step."""

    name: str
    step: Step
    action: str

    @property
    def phase(self) -> RefreshPhase | None:
        """The refresh_prompt phase this unit runs (None for a whole step)."""
        if self.step.action != "refresh_prompt":
            return None
        return next(p for p in REFRESH_PHASES if p == self.action)

    def apply(self, state: DeploymentState) -> DeploymentState:
        """The state after this unit (``StepError`` when it cannot apply)."""
        return state.apply(self.step, self.phase)


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
            units += [Unit(f"{st.id}#{ph}", st, ph) for ph in REFRESH_PHASES]
        else:
            units.append(Unit(st.id, st, st.action))
    return units


def effective_action(u: Unit, state: DeploymentState) -> str:
    """The unit's action, or ``noop`` for a refresh_prompt phase the feature is already past."""
    phase = u.phase
    if phase is None or u.step.feature is None:
        return u.action
    return phase if refresh_phase_applies(u.step, phase, state.get(u.step.feature)) else "noop"
