"""Graph factory for ``langgraph.json`` (``langgraph dev`` / LangGraph Studio).

The platform supplies its own checkpointer, so the exported graph is compiled without one.
Start a cycle in Studio with an input such as::

    {"thread_id": "studio-1", "inputs": {"catalog": "scenarios/world/catalog.yaml",
     "signals": "scenarios/world/signals/demand-rise.yaml",
     "contracts": "scenarios/world/contracts.yaml", "role": "operator", "region": "eu"}}

(The default policy bundle applies; ``"policy": DIR`` replaces it.)
"""

from __future__ import annotations

__all__ = ["graph", "make_graph"]

from typing import Any

from jitplan.agent.graph import build_graph


def make_graph() -> Any:
    """The planning graph, compiled without a custom checkpointer."""
    return build_graph(checkpointer=None)


graph = make_graph()
