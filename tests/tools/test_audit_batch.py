"""``AuditLog.batch()``: the appends of one block are one SQLite transaction (one durable commit),
all of them or none after a crash, and the chain stays intact either way."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.errors import UserError
from jitplan.tools.audit import AuditLog


def _count(path: Path) -> int:
    """Rows another connection (another process) sees: only committed ones."""
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM audit").fetchone()[0])


def test_batch_commits_once_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog.open(str(path)) as log:
        log.append("before", {"i": 0})
        with log.batch():
            for i in range(1, 4):
                log.append("step", {"i": i}, thread_id="t", key=f"t:{i}")
                assert _count(path) == 1  # not committed yet: invisible elsewhere
            assert [r.kind for r in log.records()] == ["before", "step", "step", "step"]  # this connection sees them
            assert log.append("step", {"i": 99}, thread_id="t", key="t:2").payload == {"i": 2}  # idempotent inside
        assert _count(path) == 4
        log.append("after", {})
        assert log.verify().ok and [r.seq for r in log.records()] == [1, 2, 3, 4, 5]


def test_exception_rolls_the_whole_batch_back(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog.open(str(path)) as log:
        log.append("before", {})
        with pytest.raises(RuntimeError), log.batch():
            log.append("step", {"i": 1}, key="k1")
            raise RuntimeError("boom")
        assert [r.kind for r in log.records()] == ["before"] and log.find("k1") is None
        log.append("step", {"i": 1}, key="k1")  # the key is free again: the retry writes it
        assert log.verify().ok and _count(path) == 2


def test_a_failed_append_is_undone_alone(tmp_path: Path) -> None:
    with AuditLog.open(str(tmp_path / "audit.db")) as log:
        with log.batch():
            log.append("one", {})
            with pytest.raises(UserError):
                log.append("x" * 65, {})  # kind too long: refused, nothing of it stored
            log.append("two", {})
        assert [r.kind for r in log.records()] == ["one", "two"] and log.verify().ok


def test_nested_batches_join_the_outer_one(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditLog.open(str(path)) as log:
        with log.batch():
            log.append("a", {})
            with log.batch():
                log.append("b", {})
            assert _count(path) == 0
        assert _count(path) == 2 and log.verify().ok


def test_other_backends_append_one_by_one(tmp_path: Path) -> None:
    calls: list[str] = []

    class Plain:
        url = "x://"

        def append(self, kind: str, payload: dict[str, Any], *, thread_id: str | None, key: str | None) -> Any:
            calls.append(kind)
            from jitplan.tools.audit_chain import build_row

            return build_row(None, kind, payload, thread_id=thread_id, key=key)

    log = AuditLog(Plain())  # type: ignore[arg-type]
    with log.batch():
        log.append("a", {})
    assert calls == ["a"]


_CHILD = """
import os, signal, sys
from jitplan.tools.audit import AuditLog
log = AuditLog.open(sys.argv[1])
log.append("before", {})
with log.batch():
    for i in range(5):
        log.append("step", {"i": i}, key=f"k{i}")
        if sys.argv[2] == "inside" and i == 2:
            os.kill(os.getpid(), signal.SIGKILL)
if sys.argv[2] == "after":
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize(("where", "kept"), [("inside", ["before"]), ("after", ["before"] + ["step"] * 5)])
def test_killed_process_leaves_all_or_none_of_the_batch(tmp_path: Path, where: str, kept: list[str]) -> None:
    path = tmp_path / "audit.db"
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), where], env=dict(os.environ), timeout=60)
    assert proc.returncode == -9
    with AuditLog.open(str(path)) as log:
        assert [r.kind for r in log.records()] == kept
        assert log.verify().ok
        log.append("next", {})  # the killed writer's lock is gone
        assert log.verify().ok
