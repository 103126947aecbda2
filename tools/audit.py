"""The audit log: append-only, hash-chained records behind one ``AuditBackend`` Protocol.

Each record's ``hash = sha256(prev_hash + canonical_json({seq, ts, kind, thread_id, key,
payload_sha256}))`` and ``payload_sha256 = sha256(canonical_json(payload))``; the first record
links to ``GENESIS_HASH``. ``verify`` recomputes the chain and names the first broken record
(edited, deleted, reordered or inserted). A chain can be rewritten wholesale or truncated
without breaking its links, so ``head()`` gives ``{seq, hash}`` (HMAC-signed with a key kept
outside the database when one is given) to store elsewhere; ``verify(head=...)`` then detects
truncation and rewrites. Without a head, an intact log is reported as "tail unanchored".

Backends (one module each): ``tools.audit_sqlite`` (default, ``<home>/audit.db``) and
``tools.audit_postgres`` (``postgresql://...`` URLs, needs the ``postgres`` extra).
"""

from __future__ import annotations

__all__ = [
    "AuditBackend",
    "AuditHead",
    "AuditLog",
    "StoredRow",
    "VerifyReport",
    "build_row",
    "load_hmac_key",
    "opened",
    "record_hash",
    "verify_rows",
]

import hashlib
import hmac as _hmac
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from jitplan.contracts.audit import GENESIS_HASH, AuditRecord, canonical_json, sha256_hex
from jitplan.contracts.errors import UserError
from jitplan.contracts.loading import FromFile, read_text
from jitplan.contracts.settings import get_settings
from jitplan.tools.audit_chain import (
    AuditBackend,
    StoredRow,
    build_row,
    record_hash,
)


class AuditHead(FromFile):
    """The chain head to keep outside the database: ``{seq, hash, hmac?}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(ge=0)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    hmac: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @staticmethod
    def signature(seq: int, hash_: str, key: bytes) -> str:
        return _hmac.new(key, f"{seq}:{hash_}".encode(), hashlib.sha256).hexdigest()


def load_hmac_key(key_file: str | os.PathLike[str] | None = None) -> bytes | None:
    """The HMAC key from ``key_file`` or ``$JITPLAN_AUDIT_KEY`` (None when neither is set)."""
    if key_file is not None:
        text = read_text(key_file).strip()
        if not text:
            raise UserError("key file is empty", source=str(key_file))
        return text.encode()
    key = get_settings().audit_key
    return key.get_secret_value().encode() if key else None


@dataclass(frozen=True)
class VerifyReport:
    """The result of ``verify``: intact or the first broken record and why."""

    ok: bool
    count: int
    anchored: bool
    message: str
    first_broken_seq: int | None = None
    head_seq: int = 0
    head_hash: str = GENESIS_HASH

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "count": self.count,
            "anchored": self.anchored,
            "message": self.message,
            "first_broken_seq": self.first_broken_seq,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
        }


def verify_rows(
    rows: list[StoredRow], head: AuditHead | None = None, *, hmac_key: bytes | None = None
) -> VerifyReport:
    """Recompute the chain over ``rows`` (ordered by seq) and check it against ``head``."""
    prev_hash = GENESIS_HASH
    prev_seq = 0

    def broken(seq: int, why: str) -> VerifyReport:
        return VerifyReport(False, len(rows), head is not None, f"record {seq}: {why}", seq, prev_seq, prev_hash)

    for row in rows:
        expected = prev_seq + 1
        if row.seq > expected:
            return broken(expected, f"missing (deleted?): the next stored record is {row.seq}")
        if row.seq < expected:
            return broken(row.seq, f"out of order or duplicated after record {prev_seq}")
        try:
            psha = sha256_hex(canonical_json(json.loads(row.payload)))
        except json.JSONDecodeError:
            return broken(row.seq, "payload is not valid JSON (edited)")
        if psha != row.payload_sha256:
            return broken(row.seq, "payload does not match its payload_sha256 (edited)")
        if row.prev_hash != prev_hash:
            return broken(
                row.seq,
                f"prev_hash does not link to record {prev_seq} (reordered, inserted or edited)",
            )
        again = record_hash(row.prev_hash, row.seq, row.ts, row.kind, row.thread_id, row.key, psha)
        if again != row.hash:
            return broken(row.seq, "hash does not match the record's fields (edited or forged)")
        prev_hash, prev_seq = row.hash, row.seq
    n = len(rows)
    if head is None:
        return VerifyReport(
            True, n, False,
            f"chain intact: {n} records, head {prev_seq}:{prev_hash[:12]}; "
            "tail unanchored (no --head given: truncation or a wholesale rewrite is not detectable)",
            None, prev_seq, prev_hash,
        )
    if head.hmac is not None:
        if hmac_key is None:
            return VerifyReport(
                False, n, True, "head is HMAC-signed but no key was given (--key-file or JITPLAN_AUDIT_KEY)",
                None, prev_seq, prev_hash,
            )
        if not _hmac.compare_digest(head.hmac, AuditHead.signature(head.seq, head.hash, hmac_key)):
            return VerifyReport(False, n, True, "head signature does not verify (forged head or wrong key)", None, prev_seq, prev_hash)
    if head.seq > prev_seq:
        return VerifyReport(
            False, n, True,
            f"record {prev_seq + 1}: missing: the saved head is at record {head.seq} but the log "
            f"ends at {prev_seq} (tail truncated)",
            prev_seq + 1, prev_seq, prev_hash,
        )
    anchor = GENESIS_HASH if head.seq == 0 else next(r.hash for r in rows if r.seq == head.seq)
    if anchor != head.hash:
        return VerifyReport(
            False, n, True,
            f"record {head.seq}: hash differs from the saved head (log rewritten)",
            head.seq, prev_seq, prev_hash,
        )
    extra = f"; {prev_seq - head.seq} records after it are unanchored" if prev_seq > head.seq else ""
    return VerifyReport(
        True, n, True, f"chain intact: {n} records, anchored at head {head.seq}{extra}",
        None, prev_seq, prev_hash,
    )


class AuditLog:
    """The audit log facade the agent and orchestrator use."""

    def __init__(self, backend: AuditBackend) -> None:
        self.backend = backend

    @classmethod
    def open(cls, url: str | None = None) -> AuditLog:
        """``None`` -> SQLite at ``jitplan_home()/audit.db``; a path or ``sqlite:///path``;
        ``postgresql://...`` -> Postgres."""
        if url is None:
            url = get_settings().audit_url
        if url is not None and url.startswith(("postgresql://", "postgres://")):
            from jitplan.tools.audit_postgres import PostgresAuditBackend

            return cls(PostgresAuditBackend(url))
        from jitplan.tools.audit_sqlite import SqliteAuditBackend

        if url is None:
            from jitplan.contracts.home import jitplan_home

            path = jitplan_home() / "audit.db"
        else:
            path = Path(url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url)
        return cls(SqliteAuditBackend(path))

    def append(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        thread_id: str | None = None,
        key: str | None = None,
    ) -> AuditRecord:
        """Append one record; with a ``key`` already present, return that record, write nothing."""
        return self.backend.append(kind, payload, thread_id=thread_id, key=key).to_record()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make the appends inside one transaction: one durable commit when the block ends
        (before any action that depends on them), all or none after a crash. Only the SQLite
        backend batches; elsewhere each append stays its own commit."""
        batch = getattr(self.backend, "batch", None)
        if batch is None:
            yield
            return
        with batch():
            yield

    def find(self, key: str) -> AuditRecord | None:
        """The record stored under an idempotency key."""
        row = self.backend.by_key(key)
        return row.to_record() if row else None

    def rows(self, thread_id: str | None = None) -> list[StoredRow]:
        return self.backend.rows(thread_id)

    def records(self, thread_id: str | None = None) -> list[AuditRecord]:
        """All records (of one thread when given), oldest first."""
        return [r.to_record() for r in self.backend.rows(thread_id)]

    def verify(self, head: AuditHead | None = None, *, hmac_key: bytes | None = None) -> VerifyReport:
        """Check the whole chain (and against a saved head when given)."""
        return verify_rows(self.backend.rows(None), head, hmac_key=hmac_key)

    def head(self, hmac_key: bytes | None = None) -> AuditHead:
        """The current head, HMAC-signed when a key is given."""
        last = self.backend.last()
        seq, h = (last.seq, last.hash) if last else (0, GENESIS_HASH)
        sig = AuditHead.signature(seq, h, hmac_key) if hmac_key else None
        return AuditHead(seq=seq, hash=h, hmac=sig)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def opened(url: str | None = None) -> Iterator[AuditLog]:
    """``with opened(url) as log:`` — open and always close."""
    log = AuditLog.open(url)
    try:
        yield log
    finally:
        log.close()
