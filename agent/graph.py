"""The planning cycle as one LangGraph ``StateGraph`` (the only place it is built).

perceive -> triage -> (fast path) decide | govern -> plan -> validate -> simulate -> decide
-> [execute] -> record. validate and simulate loop back to plan (bounded revisions, then the
offline fallback); decide may ``interrupt()`` for a human and resumes with
``Command(resume={"decision": "approved" | "rejected", "by": ROLE, "comment": TEXT})``.

The flow (``FLOW``: each node's successor, or its router and the nodes it may route to) is
data, read both by ``build_graph`` and by ``next_node``, which ``agent.direct`` follows when
it runs a cycle without LangGraph: one flow, so the two cannot take different turns.

Run with ``durability="sync"`` (see ``agent.chat``/``agent.commands.plan``) so a killed process
resumes from the last finished node; every node's side effects are idempotent.
"""

from __future__ import annotations

__all__ = ["FLOW", "LAST", "NODES", "build_graph", "mermaid", "next_node", "node_functions"]

from collections.abc import Callable
from typing import Any

from jitplan.agent.state import CycleState

NODES: tuple[str, ...] = (
    "perceive", "triage", "govern", "plan", "validate", "simulate", "decide", "execute", "record",
)
FIRST = "perceive"
LAST = "record"
"""The node after which a cycle ends."""


def _after_triage(state: CycleState) -> str:
    return "decide" if state.get("fast_path") else "govern"


def _after_govern(state: CycleState) -> str:
    # A policy that cannot be evaluated denies outright; an ordinary deny of the request goes on
    # to planning (the planner sees it; the validator re-checks policy on the actual plan).
    policy = state.get("policy")
    return "decide" if policy is not None and policy.get("error") else "plan"


def _route(state: CycleState) -> str:
    return state.get("route", "decide")


def _after_decide(state: CycleState) -> str:
    apply = bool(state.get("inputs", {}).get("apply"))
    return "execute" if apply and state.get("decision") == "approved" else "record"


Router = Callable[[CycleState], str]
FLOW: dict[str, str | tuple[Router, tuple[str, ...]]] = {
    "perceive": "triage",
    "triage": (_after_triage, ("decide", "govern")),
    "govern": (_after_govern, ("decide", "plan")),
    "plan": "validate",
    "validate": (_route, ("plan", "simulate", "decide")),
    "simulate": (_route, ("plan", "decide")),
    "decide": (_after_decide, ("execute", "record")),
    "execute": "record",
}
"""Each node but ``LAST``: the node after it, or (router, the nodes the router may return)."""


def next_node(node: str, state: CycleState) -> str | None:
    """The node after ``node`` given the state it left (None: the cycle is over)."""
    if node == LAST:
        return None
    step = FLOW[node]
    if isinstance(step, str):
        return step
    router, targets = step
    nxt = router(state)
    if nxt not in targets:
        raise ValueError(f"node {node!r} routed to {nxt!r}, not one of {', '.join(targets)}")
    return nxt


def node_functions() -> dict[str, Callable[[CycleState], dict[str, Any]]]:
    """Each node's function by name (imported on demand)."""
    from jitplan.agent.nodes.check import simulate, validate
    from jitplan.agent.nodes.decide import decide, execute, record
    from jitplan.agent.nodes.govern import govern
    from jitplan.agent.nodes.perceive import perceive, triage
    from jitplan.agent.nodes.plan import plan

    funcs: dict[str, Callable[[CycleState], dict[str, Any]]] = {
        "perceive": perceive, "triage": triage, "govern": govern, "plan": plan, "validate": validate,
        "simulate": simulate, "decide": decide, "execute": execute, "record": record,
    }
    return funcs


def build_graph(checkpointer: Any = None, *, prepare: Any = None) -> Any:
    """Compile the planning graph (with ``checkpointer`` for HITL and crash-resume).

    ``prepare``: a node run first (``prepare -> perceive``), e.g. ``agent.studio``'s, which fills
    in a cycle's defaults when LangGraph's server starts it.
    """
    from langgraph.graph import END, START, StateGraph

    g: Any = StateGraph(CycleState)
    for name, fn in node_functions().items():
        g.add_node(name, fn)
    if prepare is None:
        g.add_edge(START, FIRST)
    else:
        g.add_node("prepare", prepare)
        g.add_edge(START, "prepare")
        g.add_edge("prepare", FIRST)
    for name, step in FLOW.items():
        if isinstance(step, str):
            g.add_edge(name, step)
        else:
            router, targets = step
            g.add_conditional_edges(name, router, {t: t for t in targets})
    g.add_edge(LAST, END)
    return g.compile(checkpointer=checkpointer)


def mermaid() -> str:
    """The graph's Mermaid drawing (kept in a snapshot test)."""
    text: str = build_graph().get_graph().draw_mermaid()
    return text
