"""Switch an SQLite connection to WAL, waiting for other processes setting up the same new file.

Changing the journal mode needs the database to itself, and SQLite answers "database is
locked" at once instead of calling the busy handler when another connection holds it. Two
processes opening a new ``audit.db`` or ``checkpoints.db`` at the same moment (two ``jitplan``
commands, ``regress --workers``) therefore failed one of them about once in thirty.
``enable_wal`` retries that one statement, with a growing pause, until ``within_s``.
"""

from __future__ import annotations

__all__ = ["enable_wal"]

import sqlite3
import time


def enable_wal(conn: sqlite3.Connection, within_s: float = 30.0) -> None:
    """``PRAGMA journal_mode=WAL`` on ``conn``, retried while the file is locked (up to
    ``within_s`` seconds); any other error, or the lock outlasting that, is raised."""
    deadline = time.monotonic() + within_s
    pause = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
