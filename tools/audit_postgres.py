"""Postgres audit backend: the SQLite schema on Postgres (``pip install 'jitplan[postgres]'``).

Appends run in one transaction holding a transaction-scoped advisory lock, so concurrent
writers serialise exactly like SQLite's ``BEGIN IMMEDIATE``; commits are durable by default
(``synchronous_commit=on``).
"""

from __future__ import annotations

__all__ = ["PostgresAuditBackend"]

import importlib
from typing import Any

from contracts.errors import UserError
from tools.audit import StoredRow, build_row

SCHEMA = """
CREATE TABLE IF NOT EXISTS jitplan_audit (
    seq BIGINT PRIMARY KEY,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    thread_id TEXT,
    key TEXT UNIQUE,
    payload TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)
"""
_INDEX = "CREATE INDEX IF NOT EXISTS jitplan_audit_thread ON jitplan_audit(thread_id, seq)"
_COLS = "seq, ts, kind, thread_id, key, payload, payload_sha256, prev_hash, hash"
_LOCK_ID = 0x6A6974706C616E  # "jitplan"


def _row(r: Any) -> StoredRow:
    return StoredRow(
        seq=int(r[0]), ts=str(r[1]), kind=str(r[2]), thread_id=r[3], key=r[4],
        payload=str(r[5]), payload_sha256=str(r[6]), prev_hash=str(r[7]), hash=str(r[8]),
    )


class PostgresAuditBackend:
    """Audit rows in a Postgres table ``jitplan_audit``."""

    def __init__(self, url: str, *, table: str = "jitplan_audit") -> None:
        try:
            psycopg: Any = importlib.import_module("psycopg")
        except ImportError:
            raise UserError(
                "the Postgres audit backend needs psycopg: pip install 'jitplan[postgres]'",
                source="audit url",
            ) from None
        if not table.replace("_", "").isalnum():
            raise UserError("table name must be letters, digits and '_'", field="table")
        self.url = url
        self.table = table
        try:
            self.conn: Any = psycopg.connect(url, autocommit=False)
        except Exception as exc:  # psycopg.OperationalError and friends
            raise UserError(f"cannot connect to Postgres: {exc}", source="audit url") from None
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            self.conn.execute(SCHEMA.replace("jitplan_audit", table))
            self.conn.execute(_INDEX.replace("jitplan_audit", table))
        self.conn.commit()

    def append(
        self, kind: str, payload: dict[str, Any], *, thread_id: str | None, key: str | None
    ) -> StoredRow:
        t = self.table
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            if key is not None:
                found = self.conn.execute(f"SELECT {_COLS} FROM {t} WHERE key = %s", (key,)).fetchone()
                if found is not None:
                    return _row(found)
            last = self.conn.execute(f"SELECT {_COLS} FROM {t} ORDER BY seq DESC LIMIT 1").fetchone()
            row = build_row(_row(last) if last else None, kind, payload, thread_id=thread_id, key=key)
            self.conn.execute(
                f"INSERT INTO {t} ({_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (row.seq, row.ts, row.kind, row.thread_id, row.key, row.payload,
                 row.payload_sha256, row.prev_hash, row.hash),
            )
        self.conn.commit()
        return row

    def rows(self, thread_id: str | None = None) -> list[StoredRow]:
        t = self.table
        with self.conn.transaction():
            if thread_id is None:
                cur = self.conn.execute(f"SELECT {_COLS} FROM {t} ORDER BY seq")
            else:
                cur = self.conn.execute(
                    f"SELECT {_COLS} FROM {t} WHERE thread_id = %s ORDER BY seq", (thread_id,)
                )
            out = [_row(r) for r in cur.fetchall()]
        self.conn.commit()
        return out

    def last(self) -> StoredRow | None:
        with self.conn.transaction():
            r = self.conn.execute(f"SELECT {_COLS} FROM {self.table} ORDER BY seq DESC LIMIT 1").fetchone()
        self.conn.commit()
        return _row(r) if r else None

    def by_key(self, key: str) -> StoredRow | None:
        with self.conn.transaction():
            r = self.conn.execute(f"SELECT {_COLS} FROM {self.table} WHERE key = %s", (key,)).fetchone()
        self.conn.commit()
        return _row(r) if r else None

    def close(self) -> None:
        self.conn.close()
