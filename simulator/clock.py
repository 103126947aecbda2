"""SimPy helpers shared by the engines."""

from __future__ import annotations

__all__ = ["LATE", "Late"]

import simpy
from simpy.events import Event, EventPriority

LATE = EventPriority(2)
"""Priority after SimPy's URGENT (0) and NORMAL (1): data-plane wake-ups run after every
control event scheduled for the same instant."""


class Late(Event):
    """A timeout processed after all control events of the same instant."""

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, LATE, max(delay, 0.0))
