"""SQLite audit backend (the default): WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE`` appends.

``BEGIN IMMEDIATE`` takes the database's write lock before the head is read, so two processes
appending at once serialise and never fork the chain; the busy timeout makes the second wait.
``synchronous=FULL`` means an acknowledged (committed) record survives a power loss.

``batch()`` makes the appends inside it one transaction (each in a savepoint, so a failed append
is undone alone): one durable commit at the end instead of one per record, and all of them or
none after a crash. Until it commits they are visible only on this connection, and the write lock
is held: keep batches short (one decision), and never wait on another writer inside one.
"""

from __future__ import annotations

__all__ = ["SCHEMA", "SqliteAuditBackend"]

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jitplan.contracts.errors import RunError, UserError
from jitplan.tools.audit_chain import AUDIT_COLUMNS, StoredRow, audit_schema, build_row
from jitplan.tools.sqlite_wal import enable_wal

SCHEMA = audit_schema("audit", "INTEGER")
_COLS = AUDIT_COLUMNS
BUSY_TIMEOUT_MS = 60_000
_OPEN_LOCK = threading.Lock()


def _row(r: tuple[Any, ...]) -> StoredRow:
    return StoredRow(
        seq=int(r[0]), ts=str(r[1]), kind=str(r[2]), thread_id=r[3], key=r[4],
        payload=str(r[5]), payload_sha256=str(r[6]), prev_hash=str(r[7]), hash=str(r[8]),
    )


class SqliteAuditBackend:
    """Audit rows in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        if self.path.is_dir():
            raise UserError("is a directory, expected an SQLite audit database", source=str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # one set-up at a time in this process: threads opening a new file at once (regress
        # --workers) would otherwise race its switch to WAL, which fails at once ("locked")
        with _OPEN_LOCK:
            try:
                self.conn = sqlite3.connect(
                    self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
                )
                self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                enable_wal(self.conn)  # another process may be setting the same new file up
                self.conn.execute("PRAGMA synchronous=FULL")
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    for stmt in SCHEMA:
                        self.conn.execute(stmt)
                    self.conn.execute("COMMIT")
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError as exc:
                raise UserError(f"not a usable SQLite audit database: {exc}", source=str(self.path)) from None
        self._batch = 0

    @contextmanager
    def batch(self) -> Iterator[None]:
        """The appends inside are one transaction, committed (durably) on a normal exit and
        rolled back on an exception; nested batches join the outermost one."""
        if self._batch:
            self._batch += 1
            try:
                yield
            finally:
                self._batch -= 1
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise RunError(f"audit log busy: {exc}") from None
        self._batch = 1
        try:
            yield
        except BaseException:
            self._batch = 0
            self.conn.execute("ROLLBACK")
            raise
        self._batch = 0
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:  # e.g. busy: nothing of the batch is kept
                self.conn.execute("ROLLBACK")
            raise

    def append(
        self, kind: str, payload: dict[str, Any], *, thread_id: str | None, key: str | None
    ) -> StoredRow:
        conn = self.conn
        begin, commit, rollback = (("SAVEPOINT audit_append", "RELEASE audit_append",
                                    "ROLLBACK TO audit_append; RELEASE audit_append") if self._batch
                                   else ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"))
        try:
            conn.execute(begin)
        except sqlite3.OperationalError as exc:
            raise RunError(f"audit log busy: {exc}") from None
        try:
            if key is not None:
                found = conn.execute(f"SELECT {_COLS} FROM audit WHERE key = ?", (key,)).fetchone()
                if found is not None:
                    conn.execute(commit)
                    return _row(found)
            last = conn.execute(f"SELECT {_COLS} FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            row = build_row(_row(last) if last else None, kind, payload, thread_id=thread_id, key=key)
            conn.execute(
                f"INSERT INTO audit ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row.seq, row.ts, row.kind, row.thread_id, row.key, row.payload,
                 row.payload_sha256, row.prev_hash, row.hash),
            )
            conn.execute(commit)
            return row
        except BaseException:
            for stmt in rollback.split("; "):
                conn.execute(stmt)
            raise

    def rows(self, thread_id: str | None = None) -> list[StoredRow]:
        if thread_id is None:
            cur = self.conn.execute(f"SELECT {_COLS} FROM audit ORDER BY seq")
        else:
            cur = self.conn.execute(
                f"SELECT {_COLS} FROM audit WHERE thread_id = ? ORDER BY seq", (thread_id,)
            )
        return [_row(r) for r in cur.fetchall()]

    def last(self) -> StoredRow | None:
        r = self.conn.execute(f"SELECT {_COLS} FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return _row(r) if r else None

    def by_key(self, key: str) -> StoredRow | None:
        r = self.conn.execute(f"SELECT {_COLS} FROM audit WHERE key = ?", (key,)).fetchone()
        return _row(r) if r else None

    def close(self) -> None:
        self.conn.close()
