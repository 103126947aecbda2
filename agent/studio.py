"""The graph for LangGraph's own server (``langgraph dev`` / Studio), named in ``langgraph.json``.

It is the planning graph of ``agent.graph`` compiled without a checkpointer (the server supplies
its own) and with a ``prepare`` node first that fills in a cycle's defaults, so a run's input
can be as small as::

    {"inputs": {"request": "enable refund-advisor", "role": "operator", "region": "eu"}}

- ``thread_id``: the server's thread id (``config["configurable"]["thread_id"]``);
- no ``catalog``: the sample world shipped in the package (catalog, contracts, evidence and the
  ``steady`` signals); a named catalog is used with the signals and contracts named with it;
- ``role`` / ``region``: ``JITPLAN_ROLE`` / ``JITPLAN_REGION`` of the server's environment;
- ``policy``: ``JITPLAN_POLICY``, else the shipped bundle (as for the CLI).

Relative paths are resolved against the server's working directory. An escalated cycle waits in
``decide``'s ``interrupt()`` and resumes with ``Command(resume={"decision": "approved" |
"rejected", "by": ROLE, "comment": TEXT})``; the server has no login of its own, so the role
check of ``jitplan approve`` does not apply to a resume sent to it.
"""

from __future__ import annotations

__all__ = ["graph", "make_graph", "prepare", "studio_inputs"]

from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from jitplan.agent.graph import build_graph
from jitplan.agent.state import CycleState

_PATHS = ("catalog", "signals", "contracts", "state", "policy")


def _world() -> Path:
    """The sample world shipped in the package (``jitplan/scenarios/world``)."""
    from importlib.resources import files

    return Path(str(files("jitplan") / "scenarios" / "world"))


def studio_inputs(given: dict[str, Any]) -> dict[str, Any]:
    """A ``PlanRequest`` dict from a run's (partial) ``inputs``; ``UserError`` when invalid."""
    from jitplan.contracts.agent import PlanRequest
    from jitplan.contracts.errors import UserError
    from jitplan.contracts.loading import format_validation_error
    from jitplan.contracts.settings import get_settings

    if not isinstance(given, dict):
        raise UserError("expected an object of plan-request fields", source="<run input>",
                        field="inputs")
    inputs = dict(given)
    if not inputs.get("catalog"):
        world = _world()
        inputs.update(catalog=str(world / "catalog.yaml"),
                      contracts=inputs.get("contracts") or str(world / "contracts.yaml"),
                      signals=inputs.get("signals") or str(world / "signals" / "steady.yaml"))
        inputs.setdefault("evidence", [str(world / "evidence")])
    settings = get_settings()
    if not inputs.get("role") and settings.role:
        inputs["role"] = settings.role
    if not inputs.get("region") and settings.region:
        inputs["region"] = settings.region
    if not inputs.get("policy") and not inputs.get("no_policy") and settings.policy is not None:
        inputs["policy"] = str(settings.policy)
    for key in _PATHS:
        if isinstance(inputs.get(key), str) and inputs[key]:
            inputs[key] = str(Path(inputs[key]).expanduser().resolve())
    if isinstance(inputs.get("evidence"), list | tuple):
        inputs["evidence"] = [str(Path(str(e)).expanduser().resolve()) for e in inputs["evidence"]]
    try:
        return PlanRequest.model_validate(inputs).model_dump(mode="json")
    except ValueError as exc:
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            raise format_validation_error(exc, "<run input>") from None
        raise


def prepare(state: CycleState, config: RunnableConfig) -> dict[str, Any]:
    """The first node on the server: a thread id, complete inputs and the counters' start.

    The inputs' files are loaded here (``perceive`` reuses them), and bad input is raised as a
    ``ValueError``: the server shows the message of built-in exceptions only.
    """
    from jitplan.agent.nodes.common import load_inputs
    from jitplan.contracts.errors import UserError

    configurable = config.get("configurable") or {}
    tid = state.get("thread_id") or str(configurable.get("thread_id") or "")
    if not tid:
        from jitplan.agent.runtime import new_thread_id

        tid = new_thread_id()
    try:
        inputs = studio_inputs(state.get("inputs") or {})
        load_inputs(inputs)
    except UserError as exc:
        raise ValueError(str(exc)) from None
    return {"thread_id": tid, "inputs": inputs,
            "reasons": list(state.get("reasons", [])), "revision": int(state.get("revision", 0)),
            "llm": dict(state.get("llm") or {})}


def make_graph(config: Any = None) -> Any:
    """The planning graph with ``prepare`` first, compiled without a checkpointer.

    ``config`` is accepted so the server may also call this as a graph factory.
    """
    del config
    return build_graph(checkpointer=None, prepare=prepare)


graph = make_graph()
