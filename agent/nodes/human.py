"""Asking a human: LangGraph's ``interrupt()`` under the graph, a hand-off outside it.

``decide`` asks for an approval through ``ask_human``. Under the compiled graph that is
``interrupt()``: the cycle is checkpointed and waits for ``Command(resume=...)``. A cycle run
without LangGraph (``agent.direct``) runs inside ``without_graph()``; there ``ask_human``
raises ``HumanNeeded`` before anything is recorded, and the runner hands the cycle to the
graph at the node before, which runs ``decide`` again and interrupts.
"""

from __future__ import annotations

__all__ = ["HumanNeeded", "ask_human", "outside_graph", "without_graph"]

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

_OUTSIDE_GRAPH: contextvars.ContextVar[bool] = contextvars.ContextVar("jitplan_outside_graph", default=False)


class HumanNeeded(Exception):
    """Raised by ``ask_human`` outside the graph: this cycle must wait for a human."""

    def __init__(self, question: dict[str, Any]) -> None:
        super().__init__("a human must decide this cycle")
        self.question = question


@contextlib.contextmanager
def without_graph() -> Iterator[None]:
    """Nodes run inside are not under LangGraph: ``ask_human`` raises ``HumanNeeded``."""
    token = _OUTSIDE_GRAPH.set(True)
    try:
        yield
    finally:
        _OUTSIDE_GRAPH.reset(token)


def outside_graph() -> bool:
    """Whether the node running now runs inside ``without_graph()`` (``agent.direct``)."""
    return _OUTSIDE_GRAPH.get()


def ask_human(question: dict[str, Any]) -> Any:
    """The human's answer to ``question`` (LangGraph's ``interrupt``), or ``HumanNeeded``."""
    if outside_graph():
        raise HumanNeeded(question)
    # imported here only: a cycle run without the graph never imports langgraph
    from langgraph.types import interrupt

    return interrupt(question)
