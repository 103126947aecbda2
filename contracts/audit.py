"""Audit records: append-only, hash-chained."""

from __future__ import annotations

__all__ = ["GENESIS_HASH", "AuditRecord", "canonical_json", "sha256_hex"]

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace) used for every hash in jitplan."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


class AuditRecord(BaseModel):
    """One link in the chain: ``hash = sha256(prev_hash + seq + ts + kind + payload_sha256)``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int
    ts: str
    kind: str
    thread_id: str | None = None
    payload: dict[str, Any]
    payload_sha256: str
    prev_hash: str
    hash: str
