"""enable_wal: a new SQLite file switched to WAL waits for another process's set-up of it."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from jitplan.tools.sqlite_wal import enable_wal


def _held(path: Path, seconds: float) -> threading.Event:
    """Another connection holds ``path`` exclusively for ``seconds``; set once it holds it."""
    holding = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        holding.set()
        time.sleep(seconds)
        other.execute("ROLLBACK")
        other.close()

    threading.Thread(target=hold, daemon=True).start()
    assert holding.wait(5)
    return holding


def test_waits_for_the_lock_then_switches(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    _held(db, 0.3)
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        conn.execute("PRAGMA journal_mode=WAL")  # what a single try gets
    enable_wal(conn)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_gives_up_when_the_lock_outlasts_the_bound(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    _held(db, 2.0)
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        enable_wal(conn, within_s=0.2)
    assert time.monotonic() - started < 1.5


def test_other_errors_are_not_retried(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db")
    conn.close()
    with pytest.raises(sqlite3.ProgrammingError):
        enable_wal(conn)
