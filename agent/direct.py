"""Signal-driven offline cycles run without LangGraph (the direct path).

Importing LangGraph (with langchain-core's tracers and langsmith) and compiling the graph cost
about 0.9 s of a cold ``jitplan plan``: more than an offline cycle's own planning, checking and
simulation. So a cycle that needs none of what LangGraph adds here (an interrupt for a human,
the checkpointed ``execute`` saga, an LLM's conversation, a request's deferred features) runs
the same node functions in this process, in the graph's own flow (``agent.graph.next_node``),
merging each node's update into the state as the graph's channels would (every key is
last-value). Decisions, reasons, audit records and telemetry spans are the graph's, node for
node (``tests/agent/test_direct.py`` compares them).

When such a cycle reaches what only the graph does (``decide`` asks for a human, the flow
reaches ``execute``, or a node raises), the runner stops and returns the state so far
with the last node it finished: ``agent.runtime`` checkpoints that state as that node's output
(``update_state(..., as_node=...)``) and lets the graph go on from there, so an escalated
cycle waits for ``jitplan approve`` as before and a failing node fails under the graph as before.

A finished cycle's state is kept as one JSON row per thread in a table of the SQLite
checkpoint database (``TABLE``); ``agent.runtime`` reads it wherever it reads a checkpoint
(``load_result``, ``load_values``, ``resume_cycle``, ``approve_cycle``, a repeated
``run_cycle`` with the same thread id), so a direct cycle looks finished, like one the graph
ran. Before its first node, a cycle's inputs are kept in ``STARTED`` (removed with the final
state's row, in one transaction): a killed direct cycle is known, and ``resume_cycle`` runs it
again from those inputs; every node's audit write is idempotent by key, so the records it
already wrote are kept, once. Taken only with the SQLite checkpointer, for a thread id with no checkpoint yet, for a
cycle with no request text and no model, and not under crash injection (``JITPLAN_CRASH_AT``
tests the graph's resume).
"""

from __future__ import annotations

__all__ = [
    "ENABLED", "SETUP_LOCK", "STARTED", "TABLE", "DirectRun", "handed_over", "inode_of", "run_direct", "started_at",
    "started_inputs", "stored_values",
]

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jitplan.contracts.settings import get_settings
from jitplan.tools.sqlite_wal import enable_wal

ENABLED = True
"""Switch for tests comparing the direct path with the graph."""
TABLE = "jitplan_fast_path"
"""Where finished direct cycles are kept (named when only noop cycles ran here; kept so the
cycles in existing homes stay readable)."""
STARTED = "jitplan_direct_started"
"""Direct cycles started and not finished: their inputs (a ``PlanRequest`` as JSON)."""
_CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (thread_id TEXT PRIMARY KEY, state TEXT NOT NULL)",
           f"CREATE TABLE IF NOT EXISTS {STARTED} (thread_id TEXT PRIMARY KEY, inputs TEXT NOT NULL)")
_MAX_STEPS = 100
"""As the graph's ``recursion_limit``: a flow that never ends is a bug, not a long cycle."""
_GRAPH_ONLY = frozenset({"execute"})
"""Nodes left to the graph: the ``--apply`` saga resumes from a checkpoint after a crash."""


@dataclass(frozen=True)
class DirectRun:
    """A cycle run here: ``finished``, or stopped for the graph after ``last_node`` (None:
    before the first node; the graph runs the cycle from its start)."""

    state: dict[str, Any]
    finished: bool
    last_node: str | None


_CONNS: dict[tuple[int, str], tuple[sqlite3.Connection, int]] = {}
SETUP_LOCK = threading.Lock()
"""Held while a connection to a checkpoint database is set up in this process (here, and by
``agent.checkpoints`` for the graph's saver): switching a new file to WAL and creating tables at
once from two connections fails at once with 'database is locked' instead of waiting."""


def _connection(target: str) -> sqlite3.Connection:
    """This thread's connection to the checkpoint database ``target``, kept for the process.

    Opening and closing a connection per write cost ~2 ms each (closing the last connection of
    a WAL database checkpoints it), more than a noop cycle's own work in ``jitplan watch``. A
    connection is kept per thread and file; it is opened again when the file was replaced
    (another inode), and those of threads that ended are closed when the cache grows.
    """
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = (threading.get_ident(), str(path.resolve()))
    kept = _CONNS.get(key)
    inode = inode_of(path)
    if kept is not None and kept[1] == inode:
        return kept[0]
    with SETUP_LOCK:  # one set-up at a time: switching a new file to WAL needs it to itself
        # wait for a writer on the same file (the graph's saver, another cycle) as the saver
        # would; autocommit, so that writes take the write lock up front (BEGIN IMMEDIATE)
        conn = sqlite3.connect(target, timeout=30.0, check_same_thread=False, isolation_level=None)
        enable_wal(conn)  # as the graph's checkpointer
        for create in _CREATE:
            conn.execute(create)
        if kept is not None:
            kept[0].close()
        # close the connections of ended threads, and this thread's to files since removed
        alive = {t.ident for t in threading.enumerate()}
        for k, (c, ino) in list(_CONNS.items()):
            if k[0] not in alive or (k[0] == key[0] and k != key and inode_of(Path(k[1])) != ino):
                _CONNS.pop(k)
                c.close()
        _CONNS[key] = (conn, inode_of(path))
    return conn


def inode_of(path: Path) -> int:
    """The file's inode (-1: none, or not a file): a file removed and created again differs."""
    try:
        return path.stat().st_ino
    except OSError:  # not there (yet), or not a file (":memory:")
        return -1


def _read(conn: sqlite3.Connection, table: str, thread_id: str) -> dict[str, Any] | None:
    column = "state" if table == TABLE else "inputs"
    try:
        row = conn.execute(f"SELECT {column} FROM {table} WHERE thread_id = ?", (thread_id,)).fetchone()
    except sqlite3.OperationalError:  # no such table: no direct cycle was ever stored here
        return None
    return dict(json.loads(row[0])) if row else None


def _read_beside(saver: Any, table: str, thread_id: str) -> dict[str, Any] | None:
    conn = getattr(saver, "conn", None)
    if not isinstance(conn, sqlite3.Connection):
        return None  # Postgres: the direct path is never taken there
    # the saver's connection is shared by every thread of the process (check_same_thread=False):
    # use it under the saver's own lock, as the saver does
    lock = getattr(saver, "lock", None)
    if lock is None:
        return _read(conn, table, thread_id)
    with lock:
        return _read(conn, table, thread_id)


def stored_values(saver: Any, thread_id: str) -> dict[str, Any] | None:
    """The final state of a direct cycle kept beside ``saver``'s checkpoints, or None."""
    return _read_beside(saver, TABLE, thread_id)


def started_inputs(saver: Any, thread_id: str) -> dict[str, Any] | None:
    """The inputs (``PlanRequest`` JSON) of a direct cycle started and never finished, or None."""
    return _read_beside(saver, STARTED, thread_id)


def started_at(target: str, thread_id: str) -> dict[str, Any] | None:
    """``started_inputs`` read from the checkpoint database ``target`` itself (no saver)."""
    if target.startswith(("postgres://", "postgresql://")) or not Path(target).exists():
        return None
    return _read(_connection(target), STARTED, thread_id)


def _write(target: str, *statements: tuple[str, tuple[str, ...]]) -> None:
    """Run ``statements`` in one durable transaction on the checkpoint database."""
    conn = _connection(target)
    conn.execute(f"PRAGMA synchronous={get_settings().checkpoint_sync.upper()}")
    # the write lock first: a deferred transaction that must upgrade is refused at once
    # ("database is locked") when another connection writes, instead of waiting its turn
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql, params in statements:
            conn.execute(sql, params)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _graph_knows(conn: sqlite3.Connection, thread_id: str) -> bool:
    try:
        return conn.execute("SELECT 1 FROM checkpoints WHERE thread_id = ? LIMIT 1",
                            (thread_id,)).fetchone() is not None
    except sqlite3.OperationalError:  # no checkpoints table yet
        return False


def eligible(request: Any, target: str) -> bool:
    """Whether a cycle on ``request`` may run here (before looking at its thread)."""
    return (ENABLED and not target.startswith(("postgres://", "postgresql://")) and target != ":memory:"
            and not get_settings().crash_at and request.model is None and not request.request.strip())


def run_direct(request: Any, thread_id: str, target: str) -> DirectRun | None:
    """Run the cycle here as far as it goes without LangGraph; None when it is the graph's.

    ``target`` is the checkpoint target (``runtime.checkpoint_target``). A thread already kept
    here returns its stored state, as the graph returns a finished thread's; a thread the graph
    has checkpoints for is left to the graph.
    """
    if not eligible(request, target):
        return None
    if Path(target).exists():
        conn = _connection(target)
        kept = _read(conn, TABLE, thread_id)
        if kept is not None:
            return DirectRun(kept, True, "record")
        if _graph_knows(conn, thread_id):
            return None
    inputs = request.model_dump(mode="json")
    _write(target, (f"INSERT OR REPLACE INTO {STARTED} (thread_id, inputs) VALUES (?, ?)",
                    (thread_id, json.dumps(inputs, sort_keys=True))))
    from jitplan.agent.graph import FIRST, next_node, node_functions
    from jitplan.agent.nodes.human import without_graph

    funcs = node_functions()
    state: dict[str, Any] = {"thread_id": thread_id, "inputs": inputs, "reasons": [], "revision": 0, "llm": {}}
    last: str | None = None
    node: str | None = FIRST
    for _ in range(_MAX_STEPS):
        if node is None:
            break
        if node in _GRAPH_ONLY:
            return DirectRun(state, False, last)
        try:
            with without_graph():
                update = funcs[node](dict(state))  # type: ignore[arg-type]
        except Exception:  # HumanNeeded (the graph runs decide again and interrupts), or a
            return DirectRun(state, False, last)  # failure (it fails there as it always did, checkpointed)
        state.update(update)
        last, node = node, next_node(node, state)  # type: ignore[arg-type]
    else:
        from jitplan.contracts.errors import RunError

        raise RunError(f"cycle {thread_id} did not end within {_MAX_STEPS} node runs")
    stored = json.dumps(state, sort_keys=True)
    _write(target, (f"INSERT OR REPLACE INTO {TABLE} (thread_id, state) VALUES (?, ?)", (thread_id, stored)),
           (f"DELETE FROM {STARTED} WHERE thread_id = ?", (thread_id,)))
    return DirectRun(json.loads(stored), True, last)


def handed_over(target: str, thread_id: str) -> None:
    """Forget a started direct cycle once the graph has checkpointed it (its state is the graph's)."""
    _write(target, (f"DELETE FROM {STARTED} WHERE thread_id = ?", (thread_id,)))
