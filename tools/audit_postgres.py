"""Postgres audit backend: the SQLite schema on Postgres (``pip install 'jitplan[postgres]'``).

Appends run in one transaction holding a transaction-scoped advisory lock (one per table), so
concurrent writers, in any number of processes, serialise exactly like SQLite's
``BEGIN IMMEDIATE``: the head is read only after the lock is held, and under READ COMMITTED
that read sees every append committed before. ``seq`` is the primary key, so even a writer that
bypassed the lock could not fork the chain (its insert would fail). Every session runs with
``synchronous_commit = on`` whatever the server default, so an acknowledged record is on disk
(the counterpart of SQLite's ``synchronous=FULL``). A connection that dropped (server restart)
is replaced on the next call.
"""

from __future__ import annotations

__all__ = ["SCHEMA", "PostgresAuditBackend"]

import importlib
import re
from typing import Any

from jitplan.contracts.errors import RunError, UserError
from jitplan.tools.audit_chain import AUDIT_COLUMNS, StoredRow, audit_schema, build_row

SCHEMA = audit_schema("jitplan_audit", "BIGINT")
_COLS = AUDIT_COLUMNS
_LOCK_CLASS = 0x6A6974  # "jit": advisory lock (class, hashtext(table)), one lock per table
_TABLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _row(r: Any) -> StoredRow:
    return StoredRow(
        seq=int(r[0]), ts=str(r[1]), kind=str(r[2]), thread_id=r[3], key=r[4],
        payload=str(r[5]), payload_sha256=str(r[6]), prev_hash=str(r[7]), hash=str(r[8]),
    )


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to print)."""
    return re.sub(r"^(postgres(?:ql)?://[^:/@]*):[^@/]*@", r"\1:***@", url)


class PostgresAuditBackend:
    """Audit rows in a Postgres table ``jitplan_audit`` (or ``table``)."""

    def __init__(self, url: str, *, table: str = "jitplan_audit") -> None:
        try:
            self._pg: Any = importlib.import_module("psycopg")
        except ImportError:
            raise UserError(
                "the Postgres audit backend needs psycopg: pip install 'jitplan[postgres]'",
                source="audit url",
            ) from None
        if not _TABLE.match(table):
            raise UserError("table name must be lower-case letters, digits and '_' (at most 63)",
                            field="table")
        self.url = url
        self.table = table
        self.conn: Any = self._connect()
        try:
            with self.conn.transaction():
                self._lock()
                for stmt in audit_schema(table, "BIGINT"):
                    self.conn.execute(stmt)
        except self._pg.Error as exc:
            self.conn.close()
            raise UserError(f"cannot create the audit table {table!r}: {exc}",
                            source=redact(url)) from None

    def _connect(self) -> Any:
        try:
            conn = self._pg.connect(self.url, autocommit=False)
            conn.execute("SET synchronous_commit TO on")
            conn.commit()
        except self._pg.Error as exc:
            raise UserError(f"cannot connect to Postgres: {exc}", source=redact(self.url)) from None
        return conn

    def _live(self) -> Any:
        """The connection, replaced when the previous one was closed or broken."""
        if self.conn.closed or self.conn.broken:
            self.conn.close()
            self.conn = self._connect()
        return self.conn

    def _lock(self) -> None:
        self.conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, self.table))

    def _run_error(self, exc: Exception) -> RunError:
        return RunError(f"audit log on {redact(self.url)} failed: {exc}")

    def append(
        self, kind: str, payload: dict[str, Any], *, thread_id: str | None, key: str | None
    ) -> StoredRow:
        t = self.table
        for attempt in (1, 2):
            conn = self._live()
            locked = False
            try:
                with conn.transaction():
                    self._lock()
                    locked = True
                    if key is not None:
                        found = conn.execute(f"SELECT {_COLS} FROM {t} WHERE key = %s", (key,)).fetchone()
                        if found is not None:
                            return _row(found)
                    last = conn.execute(f"SELECT {_COLS} FROM {t} ORDER BY seq DESC LIMIT 1").fetchone()
                    row = build_row(_row(last) if last else None, kind, payload, thread_id=thread_id, key=key)
                    conn.execute(
                        f"INSERT INTO {t} ({_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        (row.seq, row.ts, row.kind, row.thread_id, row.key, row.payload,
                         row.payload_sha256, row.prev_hash, row.hash),
                    )
                return row
            except self._pg.DataError as exc:  # e.g. a NUL character in thread_id or key
                raise UserError(f"audit record not storable: {exc}", field="thread_id/key") from None
            except self._pg.OperationalError as exc:
                # Retry once on a new connection only when the old one was already gone before
                # the lock was taken: nothing was sent, so nothing can have been written.
                if attempt == 1 and not locked and conn.broken:
                    continue
                raise self._run_error(exc) from None
            except self._pg.Error as exc:
                raise self._run_error(exc) from None
        raise AssertionError("unreachable")

    def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        for attempt in (1, 2):
            conn = self._live()
            try:
                with conn.transaction():
                    return list(conn.execute(sql, params).fetchall())
            except self._pg.OperationalError as exc:
                if attempt == 1 and conn.broken:  # a read is always safe to repeat
                    continue
                raise self._run_error(exc) from None
            except self._pg.Error as exc:
                raise self._run_error(exc) from None
        raise AssertionError("unreachable")

    def rows(self, thread_id: str | None = None) -> list[StoredRow]:
        t = self.table
        if thread_id is None:
            found = self._fetch(f"SELECT {_COLS} FROM {t} ORDER BY seq")
        else:
            found = self._fetch(f"SELECT {_COLS} FROM {t} WHERE thread_id = %s ORDER BY seq", (thread_id,))
        return [_row(r) for r in found]

    def last(self) -> StoredRow | None:
        found = self._fetch(f"SELECT {_COLS} FROM {self.table} ORDER BY seq DESC LIMIT 1")
        return _row(found[0]) if found else None

    def by_key(self, key: str) -> StoredRow | None:
        found = self._fetch(f"SELECT {_COLS} FROM {self.table} WHERE key = %s", (key,))
        return _row(found[0]) if found else None

    def close(self) -> None:
        self.conn.close()
