"""Running, resuming, reading and deciding planning cycles (directly or through the graph).

Where their checkpoints live is ``agent.checkpoints``; ``CHECKPOINT_ENV``, ``checkpoint_target``
and ``checkpointer`` are re-exported here.
"""

from __future__ import annotations

__all__ = [
    "CHECKPOINT_ENV",
    "approve_cycle",
    "checkpoint_target",
    "checkpointer",
    "load_result",
    "load_values",
    "resume_cycle",
    "run_cycle",
]

import threading
from typing import Any

from jitplan.agent.checkpoints import (
    CHECKPOINT_ENV,
    checkpoint_target,
    checkpointer,
    compiled_graph,
    decision_lock,
    redacted,
)


def new_thread_id() -> str:
    """A fresh thread id for a cycle (``cycle-`` + 12 hex digits)."""
    import uuid

    return f"cycle-{uuid.uuid4().hex[:12]}"


def _config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}, "recursion_limit": 100}


def _direct_values(graph: Any, thread_id: str) -> dict[str, Any] | None:
    """The state of a cycle run by ``agent.direct`` (no LangGraph checkpoint), or None."""
    from jitplan.agent.direct import stored_values

    return stored_values(getattr(graph, "checkpointer", None), thread_id)


def _direct_started(graph: Any, thread_id: str) -> dict[str, Any] | None:
    """The inputs of a cycle ``agent.direct`` started and never finished (killed), or None."""
    from jitplan.agent.direct import started_inputs

    return started_inputs(getattr(graph, "checkpointer", None), thread_id)


def result_of(graph: Any, thread_id: str) -> Any:
    """The ``CycleResult`` of a thread from its latest checkpoint."""
    snap = graph.get_state(_config(thread_id))
    v: dict[str, Any] = dict(snap.values or {})
    pending = bool(snap.next)
    if not v and not pending:
        v = _direct_values(graph, thread_id) or {}
        if not v and (inputs := _direct_started(graph, thread_id)) is not None:
            v, pending = {"thread_id": thread_id, "inputs": inputs}, True  # killed: resume runs it again
    interrupts = [i for t in (snap.tasks or ()) for i in (getattr(t, "interrupts", ()) or ())]
    return _cycle_result(graph, thread_id, v, interrupts, pending)


def _cycle_result(graph: Any, thread_id: str, v: dict[str, Any], interrupts: list[Any], pending: bool) -> Any:
    """The ``CycleResult`` of a cycle's state values (``graph`` only for a scoped cycle)."""
    from jitplan.contracts.agent import CycleResult
    from jitplan.contracts.plan import Plan

    plan = v.get("plan")
    sha = None
    if plan is not None:
        try:
            sha = Plan.model_validate(plan).digest()
        except ValueError:
            sha = None
    decision = v.get("decision")
    status = "done"
    escalation = v.get("escalation")
    if interrupts:
        decision, status = "escalated", "interrupted"
        escalation = interrupts[0].value
    elif pending:
        status = "interrupted"
    val = v.get("validation") or {}
    return CycleResult(
        thread_id=thread_id,
        decision=decision,
        status=status,  # type: ignore[arg-type]
        plan=plan,
        plan_sha256=sha,
        planner=str(v.get("planner", "offline")),
        reasons=list(v.get("reasons", [])),
        validation={"ok": bool(val.get("ok", bool(v.get("fast_path")))),
                    "violations": list(val.get("violations", [])),
                    "escalate": list(val.get("escalate", []))},
        simulation=dict(v.get("simulation") or (
            {"passed": None, "scenarios": {}, "note": "not run: nothing to change (noop)"} if v.get("fast_path")
            else {"passed": False, "scenarios": {}, "note": "not run"})),
        quarantined=list(v.get("quarantined", [])),
        fast_path=bool(v.get("fast_path", False)),
        cache_hit=bool(v.get("cache_hit", False)),
        revisions=int(v.get("revision", 0)),
        llm=dict(v.get("llm") or {}),
        policy=v.get("policy"),
        approval=v.get("approval"),
        escalation=escalation,
        execution=v.get("execution"),
        scope=_scope_of(graph, thread_id, v.get("scope")),
    )


def _scope_of(graph: Any, thread_id: str, scope: dict[str, Any] | None) -> dict[str, Any] | None:
    """The cycle's scope, each deferred feature with the thread id and outcome of its own cycle."""
    from jitplan.agent.planners.scope import followup_thread_id

    if not scope:
        return None
    deferred = []
    for d in scope.get("deferred", []):
        ftid = followup_thread_id(thread_id, d["feature"])
        entry = {**d, "thread_id": ftid, "decision": None, "status": "not started", "goal": None}
        if _known(graph, ftid):
            sub = result_of(graph, ftid)
            entry.update(decision=sub.decision, status=sub.status, plan_sha256=sub.plan_sha256,
                         goal=(sub.plan or {}).get("goal"))
        deferred.append(entry)
    return {**scope, "deferred": deferred}


def _run_followups(graph: Any, thread_id: str) -> None:
    """Plan each feature a request's cycle deferred in its own cycle (started or resumed).

    Such a cycle is signal-driven, limited to that feature (``focus``) and never executed by
    the request's ``--apply``; it reaches its own decision (and waits for its own approval).
    """
    from jitplan.agent.planners.scope import followup_thread_id

    values = graph.get_state(_config(thread_id)).values or {}
    scope = values.get("scope") or {}
    for d in scope.get("deferred", []):
        ftid = followup_thread_id(thread_id, d["feature"])
        cfg = _config(ftid)
        if _known(graph, ftid):
            if graph.get_state(cfg).next and not _waiting(graph, ftid):
                graph.invoke(None, cfg, durability="sync")
            continue
        inputs = {**values["inputs"], "request": "", "focus": [d["feature"]], "apply": False}
        graph.invoke({"thread_id": ftid, "inputs": inputs, "reasons": [], "revision": 0, "llm": {},
                      "parent_thread_id": thread_id}, cfg, durability="sync")


def _waiting(graph: Any, thread_id: str) -> bool:
    snap = graph.get_state(_config(thread_id))
    return any(getattr(t, "interrupts", ()) for t in (snap.tasks or ()))


def _known(graph: Any, thread_id: str) -> bool:
    snap = graph.get_state(_config(thread_id))
    return (bool(snap.values) or bool(snap.next) or _direct_values(graph, thread_id) is not None
            or _direct_started(graph, thread_id) is not None)


def _require_known(graph: Any, thread_id: str, checkpoint_url: str | None) -> None:
    """An unknown thread id is bad input (exit 2), naming where checkpoints were looked up."""
    from jitplan.contracts.errors import UserError

    if not _known(graph, thread_id):
        raise UserError(f"no planning cycle with thread id {thread_id!r} in "
                        f"{redacted(checkpoint_target(checkpoint_url))}", source="THREAD_ID")


def run_cycle(request: Any, *, thread_id: str | None = None, checkpoint_url: str | None = None) -> Any:
    """Run one planning cycle to its end or to an approval interrupt; returns a ``CycleResult``.

    With the ``thread_id`` of an unfinished cycle (killed, or waiting), it resumes from the last
    checkpoint instead of starting again; a direct cycle killed before it finished runs again
    from the inputs it stored (``agent.direct``), whatever ``request`` says now.
    """
    tid = thread_id or new_thread_id()
    from jitplan.agent.direct import handed_over, run_direct, started_at

    target = checkpoint_target(checkpoint_url)
    restarted = started_at(target, tid) if thread_id else None
    if restarted is not None:
        from jitplan.contracts.agent import PlanRequest

        request = PlanRequest.model_validate(restarted)
    direct = run_direct(request, tid, target)
    if direct is not None and direct.finished:  # run without LangGraph (agent.direct)
        return _cycle_result(None, tid, direct.state, [], False)
    with checkpointer(checkpoint_url) as saver:
        graph = compiled_graph(saver)
        cfg = _config(tid)
        fresh = {"thread_id": tid, "inputs": request.model_dump(mode="json"), "reasons": [], "revision": 0,
                 "llm": {}}
        snap = graph.get_state(cfg)
        if direct is not None and direct.last_node is not None:
            # handed over (a human must decide, --apply, or a node failed): the graph goes on
            # from the last node the direct run finished, as if it had run it
            graph.update_state(cfg, direct.state, as_node=direct.last_node)
            handed_over(target, tid)
            graph.invoke(None, cfg, durability="sync")
        elif snap.values or snap.next:  # the graph's own thread: resumed if unfinished
            if snap.next:
                graph.invoke(None, cfg, durability="sync")
        elif direct is not None or restarted is not None or _direct_values(graph, tid) is None:
            # a new cycle, one whose first node failed on the direct path, or a killed direct
            # cycle that the direct path does not take now (e.g. under JITPLAN_CRASH_AT)
            try:
                graph.invoke(fresh, cfg, durability="sync")  # checkpoints its input first
            finally:
                if restarted is not None or direct is not None:
                    handed_over(target, tid)
        _run_followups(graph, tid)
        return result_of(graph, tid)


def resume_cycle(thread_id: str, *, checkpoint_url: str | None = None) -> Any:
    """Continue an unfinished cycle (e.g. after a crash) from its last checkpoint."""

    with checkpointer(checkpoint_url) as saver:
        graph = compiled_graph(saver)
        _require_known(graph, thread_id, checkpoint_url)
        cfg = _config(thread_id)
        snap = graph.get_state(cfg)
        if not snap.values and not snap.next and (inputs := _direct_started(graph, thread_id)) is not None:
            from jitplan.contracts.agent import PlanRequest

            # a direct cycle killed before it finished: run it again from its inputs
            return run_cycle(PlanRequest.model_validate(inputs), thread_id=thread_id, checkpoint_url=checkpoint_url)
        if snap.next:
            graph.invoke(None, cfg, durability="sync")
        _run_followups(graph, thread_id)
        return result_of(graph, thread_id)


def load_result(thread_id: str, *, checkpoint_url: str | None = None) -> Any:
    """The ``CycleResult`` of a known cycle as checkpointed (nothing is run)."""

    with checkpointer(checkpoint_url) as saver:
        graph = compiled_graph(saver)
        _require_known(graph, thread_id, checkpoint_url)
        return result_of(graph, thread_id)


def load_values(thread_id: str, *, checkpoint_url: str | None = None) -> dict[str, Any]:
    """The checkpointed state values of a known cycle (inputs, plan, signals, ...)."""
    with checkpointer(checkpoint_url) as saver:
        graph = compiled_graph(saver)
        _require_known(graph, thread_id, checkpoint_url)
        values = dict(graph.get_state(_config(thread_id)).values or {})
        return values or _direct_values(graph, thread_id) or {}


_APPROVE_LOCK = threading.Lock()


def approve_cycle(
    thread_id: str, *, approve: bool, role: str, comment: str = "", checkpoint_url: str | None = None
) -> Any:
    """Resume a cycle waiting for a human with ``Command(resume=...)``; returns a ``CycleResult``.

    Raises ``UserError`` for an unknown thread, one not waiting for approval (already decided:
    by whom), or a role the escalation does not list among its approvers. Decisions are
    serialised per thread across threads and processes (``checkpoints.decision_lock``) and the state is
    re-read under the lock, so of concurrent approvals exactly one resumes the cycle.
    """
    from langgraph.types import Command

    from jitplan.contracts.errors import UserError

    with _APPROVE_LOCK, checkpointer(checkpoint_url) as saver, \
            decision_lock(saver, checkpoint_target(checkpoint_url), thread_id):
        graph = compiled_graph(saver)
        _require_known(graph, thread_id, checkpoint_url)
        current = result_of(graph, thread_id)
        if current.decision != "escalated" or current.status != "interrupted":
            by = (current.approval or {}).get("by")
            state = f": already decided ({current.decision} by {by})" if by else f" (decision: {current.decision})"
            raise UserError(f"cycle {thread_id} is not waiting for approval{state}", source="THREAD_ID")
        roles = list((current.escalation or {}).get("approver_roles") or [])
        if approve and roles and role not in roles:
            raise UserError(f"role {role!r} may not approve this plan; approvers: {', '.join(roles)}",
                            source="--as")
        answer = {"decision": "approved" if approve else "rejected", "by": role, "comment": comment}
        graph.invoke(Command(resume=answer), _config(thread_id), durability="sync")
        return result_of(graph, thread_id)
