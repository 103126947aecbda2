"""A small plan cache: plans that survived validation and simulation, keyed by their inputs.

The key hashes the catalog digest, a bucketed signal snapshot (values to two significant
digits, timestamps to 5-minute buckets, verdicts), the policy bundle hash, the deployment state
digest, the planner and the request text, so a near-identical situation reuses the plan
(it is still validated and simulated again before anyone trusts it).
"""

from __future__ import annotations

__all__ = ["PlanCache", "bucket_value", "cache_key"]

import hashlib
import json
import math
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jitplan.contracts.signals import SignalStatus

_BUCKET_S = 300


def bucket_value(value: float) -> float:
    """``value`` rounded to two significant digits (0 stays 0)."""
    if value == 0 or not math.isfinite(value):
        return value
    digits = 1 - math.floor(math.log10(abs(value)))
    return round(value, digits)


def cache_key(
    *,
    catalog_sha256: str,
    signals: Sequence[SignalStatus],
    policy_sha256: str | None,
    state_sha256: str | None,
    planner: str,
    request: str,
    evidence_sha256: str | None = None,
) -> str:
    """The cache key (sha256 hex) of one planning situation (the evidence's digest when given:
    new evidence, e.g. from a shadow, must not reuse the shadow-first plan)."""
    sigs = sorted(
        (
            s.signal.name,
            s.signal.kind,
            s.signal.feature,
            bucket_value(s.signal.value),
            int(s.signal.observed_at.timestamp()) // _BUCKET_S,
            s.ok,
        )
        for s in signals
    )
    parts: list[Any] = [catalog_sha256, sigs, policy_sha256, state_sha256, planner, " ".join(request.split())]
    if evidence_sha256:
        parts.append(evidence_sha256)
    blob = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class PlanCache:
    """SQLite-backed ``key -> plan`` store (default ``jitplan_home()/plan_cache.db``)."""

    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            from jitplan.contracts.home import jitplan_home

            path = jitplan_home() / "plan_cache.db"
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path)
        conn.execute("CREATE TABLE IF NOT EXISTS plans (key TEXT PRIMARY KEY, plan TEXT NOT NULL)")
        return conn

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached plan document, or None (also when the stored row is unreadable)."""
        conn = self._connect()
        try:
            row = conn.execute("SELECT plan FROM plans WHERE key = ?", (key,)).fetchone()
        finally:
            conn.close()
        if row is None:
            return None
        try:
            doc = json.loads(row[0])
        except json.JSONDecodeError:
            return None
        return doc if isinstance(doc, dict) else None

    def put(self, key: str, plan: dict[str, Any]) -> None:
        """Store (or replace) the plan for ``key``."""
        conn = self._connect()
        try:
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO plans (key, plan) VALUES (?, ?)",
                    (key, json.dumps(plan, sort_keys=True)),
                )
        finally:
            conn.close()
