"""The planning cycle as one LangGraph ``StateGraph`` (the only place it is built).

perceive -> triage -> (fast path) decide | govern -> plan -> validate -> simulate -> decide
-> [execute] -> record. validate and simulate loop back to plan (bounded revisions, then the
offline fallback); decide may ``interrupt()`` for a human and resumes with
``Command(resume={"decision": "approved" | "rejected", "by": ROLE, "comment": TEXT})``.

Run with ``durability="sync"`` (see ``agent.chat``/``agent.commands.plan``) so a killed process
resumes from the last finished node; every node's side effects are idempotent.
"""

from __future__ import annotations

__all__ = ["NODES", "build_graph", "mermaid"]

from typing import Any

from jitplan.agent.state import CycleState

NODES: tuple[str, ...] = (
    "perceive", "triage", "govern", "plan", "validate", "simulate", "decide", "execute", "record",
)


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


def build_graph(checkpointer: Any = None, *, prepare: Any = None) -> Any:
    """Compile the planning graph (with ``checkpointer`` for HITL and crash-resume).

    ``prepare``: a node run first (``prepare -> perceive``), e.g. ``agent.studio``'s, which fills
    in a cycle's defaults when LangGraph's server starts it.
    """
    from langgraph.graph import END, START, StateGraph

    from jitplan.agent.nodes.check import simulate, validate
    from jitplan.agent.nodes.decide import decide, execute, record
    from jitplan.agent.nodes.govern import govern
    from jitplan.agent.nodes.perceive import perceive, triage
    from jitplan.agent.nodes.plan import plan

    g: Any = StateGraph(CycleState)
    g.add_node("perceive", perceive)
    g.add_node("triage", triage)
    g.add_node("govern", govern)
    g.add_node("plan", plan)
    g.add_node("validate", validate)
    g.add_node("simulate", simulate)
    g.add_node("decide", decide)
    g.add_node("execute", execute)
    g.add_node("record", record)
    if prepare is None:
        g.add_edge(START, "perceive")
    else:
        g.add_node("prepare", prepare)
        g.add_edge(START, "prepare")
        g.add_edge("prepare", "perceive")
    g.add_edge("perceive", "triage")
    g.add_conditional_edges("triage", _after_triage, {"decide": "decide", "govern": "govern"})
    g.add_conditional_edges("govern", _after_govern, {"decide": "decide", "plan": "plan"})
    g.add_edge("plan", "validate")
    g.add_conditional_edges("validate", _route,
                            {"plan": "plan", "simulate": "simulate", "decide": "decide"})
    g.add_conditional_edges("simulate", _route, {"plan": "plan", "decide": "decide"})
    g.add_conditional_edges("decide", _after_decide, {"execute": "execute", "record": "record"})
    g.add_edge("execute", "record")
    g.add_edge("record", END)
    return g.compile(checkpointer=checkpointer)


def mermaid() -> str:
    """The graph's Mermaid drawing (kept in a snapshot test)."""
    text: str = build_graph().get_graph().draw_mermaid()
    return text
