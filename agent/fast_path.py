"""The fast path (nothing actionable: noop) without LangGraph.

A cycle that triage would send down the fast path runs perceive -> triage -> decide -> record,
four nodes with no interrupt and no branch left to take. Importing LangGraph and compiling the
graph costs about half a second of a cold ``jitplan plan``, more than the cycle itself, so such
a cycle runs the same node functions here, in the graph's order, merging each node's update
into the state as the graph's channels would (every key is last-value). Decisions, reasons,
audit records and telemetry spans are the graph's, node for node.

Instead of LangGraph checkpoints, the finished state is kept as one JSON row per thread in a
table of the SQLite checkpoint database (``TABLE``); ``agent.runtime`` reads it wherever it
reads a checkpoint (``load_result``, ``load_values``, ``resume_cycle``, ``approve_cycle``, a
repeated ``run_cycle`` with the same thread id), so a fast-path cycle looks finished, like one
the graph ran. Taken only with the SQLite checkpointer, for a thread id with no checkpoint
yet, and not under crash injection (``JITPLAN_CRASH_AT`` tests the graph's resume).
"""

from __future__ import annotations

__all__ = ["ENABLED", "TABLE", "run_fast_path", "stored_values"]

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from jitplan.contracts.settings import get_settings

ENABLED = True
"""Switch for tests comparing the fast path with the graph."""
TABLE = "jitplan_fast_path"
_CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (thread_id TEXT PRIMARY KEY, state TEXT NOT NULL)"


@contextmanager
def _connect(path: str) -> Iterator[sqlite3.Connection]:
    # wait for a writer on the same file (the graph's saver, another cycle) as the saver would
    with closing(sqlite3.connect(path, timeout=30.0)) as conn:
        yield conn


def _read(conn: sqlite3.Connection, thread_id: str) -> dict[str, Any] | None:
    try:
        row = conn.execute(f"SELECT state FROM {TABLE} WHERE thread_id = ?", (thread_id,)).fetchone()
    except sqlite3.OperationalError:  # no such table: no fast-path cycle was ever stored here
        return None
    return dict(json.loads(row[0])) if row else None


def stored_values(saver: Any, thread_id: str) -> dict[str, Any] | None:
    """The final state of a fast-path cycle kept beside ``saver``'s checkpoints, or None."""
    conn = getattr(saver, "conn", None)
    if not isinstance(conn, sqlite3.Connection):
        return None  # Postgres: the fast path is never taken there
    # the saver's connection is shared by every thread of the process (check_same_thread=False):
    # use it under the saver's own lock, as the saver does
    lock = getattr(saver, "lock", None)
    if lock is None:
        return _read(conn, thread_id)
    with lock:
        return _read(conn, thread_id)


def _graph_knows(conn: sqlite3.Connection, thread_id: str) -> bool:
    try:
        return conn.execute("SELECT 1 FROM checkpoints WHERE thread_id = ? LIMIT 1",
                            (thread_id,)).fetchone() is not None
    except sqlite3.OperationalError:  # no checkpoints table yet
        return False


def run_fast_path(request: Any, thread_id: str, target: str) -> dict[str, Any] | None:
    """The final state of the cycle when it takes the fast path (run here), else None.

    ``target`` is the checkpoint target (``runtime.checkpoint_target``). A thread already kept
    here returns its stored state, as the graph returns a finished thread's; a thread the graph
    has checkpoints for is left to the graph.
    """
    if not ENABLED or target.startswith(("postgres://", "postgresql://")) or get_settings().crash_at:
        return None
    path = Path(target)
    if path.exists():
        with _connect(target) as conn:
            kept = _read(conn, thread_id)
            if kept is not None:
                return kept
            if _graph_knows(conn, thread_id):
                return None
    inputs = request.model_dump(mode="json")
    from jitplan.agent.nodes.perceive import takes_fast_path

    try:
        if not takes_fast_path(inputs):
            return None
    except Exception:  # bad inputs: the graph reports them as it always did (and checkpoints the try)
        return None
    from jitplan.agent.nodes.decide import decide, record
    from jitplan.agent.nodes.perceive import perceive, triage

    state: dict[str, Any] = {"thread_id": thread_id, "inputs": inputs, "reasons": [], "revision": 0, "llm": {}}
    for node in (perceive, triage, decide, record):
        state.update(node(state))  # type: ignore[arg-type]
    if not state.get("fast_path"):  # cannot happen: takes_fast_path is triage's own test
        raise AssertionError("the fast path was predicted but triage did not take it")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _connect(target) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")  # as the graph's checkpointer
        conn.execute(f"PRAGMA synchronous={get_settings().checkpoint_sync.upper()}")
        conn.execute(_CREATE)
        conn.execute(f"INSERT OR REPLACE INTO {TABLE} (thread_id, state) VALUES (?, ?)",
                     (thread_id, json.dumps(state, sort_keys=True)))
    return state
