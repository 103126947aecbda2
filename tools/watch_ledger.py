"""The checkpoints of ``jitplan watch``: which snapshots it processed and each feature's trigger.

One SQLite file, ``<JITPLAN_HOME>/watch/ledger.db``, shared by every watch (rows carry a
``scope``: the watched folder or sources file). Each change is one transaction, so a process
killed at any instant leaves either the old or the new row, never half of one:

- ``processed``: one row per snapshot file (name + content sha256), ``ok`` or ``rejected`` with
  the reason. A restarted watch skips exactly these; a file whose content changed is new.
- ``features``: per feature, the trigger state last ``observed`` (and the snapshot showing it),
  the one the last cycle was ``fired`` for, that cycle's thread id, status and decision, and the
  state of its apply. A cycle killed half-way has status ``running`` and resumes from its
  LangGraph checkpoint under the same thread id.
"""

from __future__ import annotations

__all__ = ["FeatureRow", "Ledger", "ProcessedRow"]

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path

from jitplan.tools.sqlite_wal import enable_wal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS processed (
    scope TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL, mtime_ns INTEGER, size INTEGER,
    status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', at TEXT NOT NULL,
    PRIMARY KEY (scope, name, sha256));
CREATE TABLE IF NOT EXISTS features (
    scope TEXT NOT NULL, feature TEXT NOT NULL,
    observed TEXT NOT NULL DEFAULT '', snapshot TEXT NOT NULL DEFAULT '', changed_at REAL NOT NULL DEFAULT 0,
    fired TEXT NOT NULL DEFAULT '', thread_id TEXT NOT NULL DEFAULT '', cycle_sig TEXT NOT NULL DEFAULT '',
    cycle_status TEXT NOT NULL DEFAULT '', decision TEXT NOT NULL DEFAULT '', apply_status TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (scope, feature));
"""


@dataclass(frozen=True)
class ProcessedRow:
    name: str
    sha256: str
    mtime_ns: int
    size: int
    status: str
    """``ok`` or ``rejected``."""
    reason: str = ""


@dataclass(frozen=True)
class FeatureRow:
    """One feature's trigger and cycle state (empty strings: none yet)."""

    feature: str
    observed: str = ""
    """The trigger state seen last (a canonical JSON list; ``[]``: nothing triggers)."""
    snapshot: str = ""
    """The stored snapshot that showed ``observed`` (the cycle's signals)."""
    changed_at: float = 0.0
    fired: str = ""
    """The trigger state the last finished cycle was run for."""
    thread_id: str = ""
    cycle_sig: str = ""
    cycle_status: str = ""
    """``running`` (started, not finished), ``waiting`` (for ``jitplan approve``) or ``done``."""
    decision: str = ""
    apply_status: str = ""
    """``pending`` (approved, to apply), or the run's status (``applied``, ``compensated``, ...)."""

    @property
    def busy(self) -> bool:
        return self.cycle_status in ("running", "waiting") or self.apply_status == "pending"


_FCOLS = tuple(f.name for f in fields(FeatureRow))


class Ledger:
    """The watch ledger of one scope (see the module docstring)."""

    def __init__(self, path: str | Path, scope: str) -> None:
        self.path = Path(path)
        self.scope = scope
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        enable_wal(self.conn)
        self.conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a killed process
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def processed(self) -> list[ProcessedRow]:
        rows = self.conn.execute(
            "SELECT name, sha256, mtime_ns, size, status, reason FROM processed WHERE scope = ? ORDER BY rowid",
            (self.scope,)).fetchall()
        return [ProcessedRow(*r) for r in rows]

    def features(self) -> dict[str, FeatureRow]:
        rows = self.conn.execute(f"SELECT {', '.join(_FCOLS)} FROM features WHERE scope = ?", (self.scope,))
        return {r[0]: FeatureRow(*r) for r in rows.fetchall()}

    def record(self, row: ProcessedRow | None, updates: Sequence[FeatureRow] = ()) -> None:
        """One snapshot processed (``row``; None for a live poll) and the feature rows it changed,
        in one transaction."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                if row is not None:
                    self.conn.execute(
                        "INSERT OR REPLACE INTO processed (scope, name, sha256, mtime_ns, size, status, reason, at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (self.scope, row.name, row.sha256, row.mtime_ns, row.size, row.status, row.reason,
                         datetime.now(UTC).isoformat()))
                for f in updates:
                    self.conn.execute(
                        f"INSERT OR REPLACE INTO features (scope, {', '.join(_FCOLS)}) "
                        f"VALUES (?, {', '.join('?' for _ in _FCOLS)})",
                        (self.scope, *(getattr(f, c) for c in _FCOLS)))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def update(self, row: FeatureRow, **changes: object) -> FeatureRow:
        """Write one feature row with ``changes`` applied; returns the new row."""
        new = replace(row, **changes)  # type: ignore[arg-type]
        self.record(None, [new])
        return new
