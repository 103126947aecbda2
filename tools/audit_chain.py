"""The audit chain's storage model, shared by the facade (``tools.audit``) and every backend.

The columns, the table definition, one stored row, the link hash and how the next row is built
live here, below both ``tools.audit`` and its backends (``tools.audit_sqlite``,
``tools.audit_postgres``), so the backends never import the facade that selects them.
"""

from __future__ import annotations

__all__ = [
    "AUDIT_COLUMNS",
    "MAX_KEY",
    "MAX_KIND",
    "MAX_THREAD",
    "AuditBackend",
    "StoredRow",
    "audit_schema",
    "build_row",
    "record_hash",
]

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from jitplan.contracts.audit import GENESIS_HASH, AuditRecord, canonical_json, sha256_hex
from jitplan.contracts.errors import UserError

MAX_KIND = 64
MAX_THREAD = 200
MAX_KEY = 300

AUDIT_COLUMNS = "seq, ts, kind, thread_id, key, payload, payload_sha256, prev_hash, hash"
"""Every backend stores exactly these columns, in this order (``StoredRow``'s fields)."""


def audit_schema(table: str, seq_type: str) -> list[str]:
    """The audit table and its thread index, the same on every backend but ``seq``'s type."""
    return [
        f"""CREATE TABLE IF NOT EXISTS {table} (
    seq {seq_type} PRIMARY KEY,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    thread_id TEXT,
    key TEXT UNIQUE,
    payload TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)""",
        f"CREATE INDEX IF NOT EXISTS {table}_thread ON {table}(thread_id, seq)",
    ]


@dataclass(frozen=True)
class StoredRow:
    """One row exactly as stored (payload as canonical JSON text)."""

    seq: int
    ts: str
    kind: str
    thread_id: str | None
    key: str | None
    payload: str
    payload_sha256: str
    prev_hash: str
    hash: str

    def to_record(self) -> AuditRecord:
        try:
            payload = json.loads(self.payload)
        except json.JSONDecodeError:
            payload = {"_unparseable": self.payload}
        if not isinstance(payload, dict):
            payload = {"_value": payload}
        return AuditRecord(
            seq=self.seq,
            ts=self.ts,
            kind=self.kind,
            thread_id=self.thread_id,
            payload=payload,
            payload_sha256=self.payload_sha256,
            prev_hash=self.prev_hash,
            hash=self.hash,
        )


def record_hash(
    prev_hash: str,
    seq: int,
    ts: str,
    kind: str,
    thread_id: str | None,
    key: str | None,
    payload_sha256: str,
) -> str:
    """The chain link of one record."""
    fields = {
        "seq": seq,
        "ts": ts,
        "kind": kind,
        "thread_id": thread_id,
        "key": key,
        "payload_sha256": payload_sha256,
    }
    return sha256_hex(prev_hash + canonical_json(fields))


def build_row(
    prev: StoredRow | None,
    kind: str,
    payload: dict[str, Any],
    *,
    thread_id: str | None,
    key: str | None,
    ts: str | None = None,
) -> StoredRow:
    """The next row after ``prev`` (backends call this inside their write transaction)."""
    if not kind or len(kind) > MAX_KIND:
        raise UserError(f"audit kind must be 1-{MAX_KIND} characters", field="kind")
    if thread_id is not None and len(thread_id) > MAX_THREAD:
        raise UserError(f"thread id longer than {MAX_THREAD} characters", field="thread_id")
    if key is not None and len(key) > MAX_KEY:
        raise UserError(f"idempotency key longer than {MAX_KEY} characters", field="key")
    text = canonical_json(payload)
    text = canonical_json(json.loads(text))  # what is stored is exactly what is hashed
    seq = (prev.seq if prev else 0) + 1
    prev_hash = prev.hash if prev else GENESIS_HASH
    stamp = ts or datetime.now(UTC).isoformat(timespec="microseconds")
    psha = sha256_hex(text)
    return StoredRow(
        seq=seq,
        ts=stamp,
        kind=kind,
        thread_id=thread_id,
        key=key,
        payload=text,
        payload_sha256=psha,
        prev_hash=prev_hash,
        hash=record_hash(prev_hash, seq, stamp, kind, thread_id, key, psha),
    )


class AuditBackend(Protocol):
    """Where rows live. ``append`` reads the head and inserts in one exclusive transaction."""

    url: str

    def append(
        self, kind: str, payload: dict[str, Any], *, thread_id: str | None, key: str | None
    ) -> StoredRow: ...

    def rows(self, thread_id: str | None = None) -> list[StoredRow]: ...

    def last(self) -> StoredRow | None: ...

    def by_key(self, key: str) -> StoredRow | None: ...

    def close(self) -> None: ...
