"""Where a cycle's checkpoints live: SQLite under ``jitplan_home()`` by default, Postgres by URL.

One LangGraph saver per SQLite file for the process (reopened when the file is replaced), one
per call for Postgres; the graph compiled for each saver (``compiled_graph``); and the lock that
makes one thread's decision exclusive across processes (``decision_lock``).
"""

from __future__ import annotations

__all__ = ["CHECKPOINT_ENV", "checkpoint_target", "checkpointer", "compiled_graph", "decision_lock", "redacted"]

import contextlib
from collections.abc import Iterator
from typing import Any

from jitplan.contracts.settings import get_settings

CHECKPOINT_ENV = "JITPLAN_CHECKPOINT_URL"


def checkpoint_target(url: str | None = None) -> str:
    """Where checkpoints go: a postgres URL, or a SQLite file path."""
    from jitplan.contracts.home import jitplan_home

    url = url or get_settings().checkpoint_url
    if url is None:
        return str(jitplan_home() / "checkpoints.db")
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    return url


_SAVERS: dict[str, Any] = {}
_SAVER_INODES: dict[str, int] = {}
"""The file each kept SQLite saver opened: a home cleaned and used again gets a new saver."""
_PG_SET_UP: set[str] = set()
_PG_SETUP_LOCK = 0x6A6974706C616F  # advisory lock serialising the saver's migrations


def redacted(target: str) -> str:
    """A checkpoint target safe to print: a postgres URL without its password."""
    import re

    return re.sub(r"^(postgres(?:ql)?://[^:/@]*):[^@/]*@", r"\1:***@", target)


@contextlib.contextmanager
def _postgres_saver(saver_cls: Any, url: str) -> Iterator[Any]:
    """A ``PostgresSaver`` on its own connection, set up (migrated) once per process and URL.

    The connection is what ``PostgresSaver.from_conn_string`` opens (autocommit, no prepared
    statements, dict rows) plus ``synchronous_commit = on``, so a checkpoint written with
    durability "sync" is on disk when the step returns, whatever the server default.
    ``setup()`` runs under an advisory lock, taken by polling so that a waiting process holds
    no snapshot while the other runs the ``CREATE INDEX CONCURRENTLY`` migrations.
    """
    import time

    from psycopg import Connection  # type: ignore[import-not-found]
    from psycopg.rows import dict_row  # type: ignore[import-not-found]

    from jitplan.contracts.errors import RunError, UserError

    try:
        conn = Connection.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
    except Exception as exc:  # psycopg.OperationalError: bad URL, server down, auth
        raise UserError(f"cannot connect to the Postgres checkpointer: {exc}", source=CHECKPOINT_ENV) from None
    with conn:
        conn.execute("SET synchronous_commit TO on")
        saver = saver_cls(conn)
        if url not in _PG_SET_UP:
            deadline = time.monotonic() + 120
            while not (conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (_PG_SETUP_LOCK,)).fetchone()
                       or {}).get("ok"):
                if time.monotonic() > deadline:
                    raise RunError(f"timed out waiting for another process to set up {redacted(url)}")
                time.sleep(0.05)
            try:
                saver.setup()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_PG_SETUP_LOCK,))
            _PG_SET_UP.add(url)
        yield saver


@contextlib.contextmanager
def checkpointer(url: str | None = None) -> Iterator[Any]:
    """Yield a LangGraph checkpointer. SQLite savers stay open for the process (one per file)."""
    target = checkpoint_target(url)
    if target.startswith(("postgres://", "postgresql://")):
        try:
            from langgraph.checkpoint.postgres import PostgresSaver  # type: ignore[import-not-found]
        except ImportError:
            from jitplan.contracts.errors import UserError

            raise UserError(
                "a postgres checkpoint URL needs the postgres extra: pip install 'jitplan[postgres]'",
                source=CHECKPOINT_ENV,
            ) from None
        with _postgres_saver(PostgresSaver, target) as saver:
            try:
                yield saver
            finally:
                _GRAPHS.pop(id(saver), None)  # one saver per call: do not keep its graph
        return
    import sqlite3
    from pathlib import Path

    from langgraph.checkpoint.sqlite import SqliteSaver

    from jitplan.agent.direct import inode_of
    from jitplan.tools.sqlite_wal import enable_wal

    key = str(Path(target).resolve())
    saver = _SAVERS.get(key)
    if saver is None or inode_of(Path(key)) != _SAVER_INODES.get(key):  # new, or the file replaced
        from jitplan.agent.direct import SETUP_LOCK

        Path(target).parent.mkdir(parents=True, exist_ok=True)
        with SETUP_LOCK:  # not at once with the direct path's own set-up on a new file
            conn = sqlite3.connect(target, check_same_thread=False)
            enable_wal(conn)  # another process may be setting the same new file up
            # WAL + NORMAL survives a killed process (what resume needs); set
            # JITPLAN_CHECKPOINT_SYNC=full to also survive power loss, at ~10 ms per step.
            mode = get_settings().checkpoint_sync.upper()
            conn.execute(f"PRAGMA synchronous={mode}")
            saver = SqliteSaver(conn)
            saver.setup()  # its tables, now rather than at the first write
        _SAVERS[key] = saver
        _SAVER_INODES[key] = inode_of(Path(key))
    yield saver


_GRAPHS: dict[int, Any] = {}


def compiled_graph(saver: Any) -> Any:
    """The compiled graph for ``saver`` (compiling costs ~25 ms; done once per saver)."""
    from jitplan.agent.graph import build_graph

    graph = _GRAPHS.get(id(saver))
    if graph is None or graph.checkpointer is not saver:
        graph = build_graph(saver)
        _GRAPHS[id(saver)] = graph
    return graph


@contextlib.contextmanager
def decision_lock(saver: Any, target: str, thread_id: str) -> Iterator[None]:
    """Exclusive across processes for one thread's decision.

    SQLite: ``flock`` on ``locks/approve-<hash>.lock`` beside the checkpoint db (under
    ``JITPLAN_HOME`` by default; released by the kernel if the holder dies), removed by its
    holder on release; a waiter that locked a removed file locks the new one instead. Postgres: a
    session advisory lock on the saver's own connection (closed, hence released, after the call).
    """
    import hashlib

    digest = hashlib.sha256(f"{target}\0{thread_id}".encode()).digest()
    if target.startswith(("postgres://", "postgresql://")):
        key = int.from_bytes(digest[:8], "big", signed=True)
        saver.conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            saver.conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return
    import fcntl
    import os
    from pathlib import Path

    locks = Path(target).resolve().parent / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"approve-{digest.hex()[:24]}.lock"
    while True:  # the file is removed by its holder on release: lock the one still at the path
        fh = open(path, "a+b")  # noqa: SIM115 (closed below)
        fcntl.flock(fh, fcntl.LOCK_EX)  # blocks while another process decides this thread
        try:
            current = os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        fh.close()  # locked a file its holder had just removed: take the new one
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # while held: one file per decision would otherwise pile up
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()
