"""The audit log on a real Postgres server: same schema and chain as SQLite, tamper detection,
idempotent keys and two concurrent writer processes.

Needs ``JITPLAN_TEST_POSTGRES_URL`` (``make test-postgres`` starts a throwaway server and sets
it); without it every test here is skipped. Each test works in a schema of its own (selected
through the URL's ``search_path``), dropped afterwards.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.audit import canonical_json, sha256_hex
from jitplan.contracts.errors import UserError
from jitplan.tools.audit import AuditLog, record_hash

ROOT = Path(__file__).resolve().parents[2]
BASE_URL = os.environ.get("JITPLAN_TEST_POSTGRES_URL", "")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not BASE_URL, reason="JITPLAN_TEST_POSTGRES_URL not set (make test-postgres)"),
]


@pytest.fixture
def pg_url(postgres_schema_url: str) -> str:
    """A Postgres URL whose ``search_path`` is a fresh, empty schema."""
    return postgres_schema_url


def _connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _sql(url: str, *statements: str) -> None:
    """Tamper with the table behind the backend's back (its own connection, committed)."""
    with _connect(url) as conn:
        for s in statements:
            conn.execute(s)


def _filled(url: str, n: int = 6) -> AuditLog:
    log = AuditLog.open(url)
    for i in range(n):
        log.append("step_applied" if i % 2 else "inputs", {"i": i, "note": f"record {i}"}, thread_id=f"t{i % 2}")
    return log


def test_open_by_url_or_env_selects_postgres_with_the_sqlite_schema(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jitplan.tools.audit_postgres import PostgresAuditBackend

    monkeypatch.setenv("JITPLAN_AUDIT_URL", pg_url)
    with AuditLog.open() as log:
        assert isinstance(log.backend, PostgresAuditBackend)
        log.append("inputs", {"a": 1})
    # the same columns, in the same order, as the SQLite table
    with AuditLog.open(str(tmp_path / "a.db")) as lite:
        lite.append("inputs", {"a": 1})
    conn = sqlite3.connect(tmp_path / "a.db")
    sqlite_cols = [(r[1], bool(r[3])) for r in conn.execute("PRAGMA table_info(audit)")]
    conn.close()
    import psycopg

    with psycopg.connect(pg_url) as pg:
        pg_cols = [(r[0], r[1] == "NO") for r in pg.execute(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'jitplan_audit' AND table_schema = current_schema() ORDER BY ordinal_position")]
        uniques = pg.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'jitplan_audit'::regclass AND i.indisunique"
        ).fetchall()
    # SQLite's INTEGER PRIMARY KEY (seq) is reported as nullable by table_info; Postgres' is not
    assert [c for c, _ in pg_cols] == [c for c, _ in sqlite_cols]
    assert [n for c, n in pg_cols if c != "seq"] == [n for c, n in sqlite_cols if c != "seq"]
    assert sorted(r[0] for r in uniques) == ["key", "seq"]


def test_chain_links_keys_and_threads(pg_url: str) -> None:
    log = _filled(pg_url)
    recs = log.records()
    assert [r.seq for r in recs] == [1, 2, 3, 4, 5, 6]
    for prev, cur in itertools.pairwise(recs):
        assert cur.prev_hash == prev.hash
    r = recs[2]
    assert r.payload_sha256 == sha256_hex(canonical_json(r.payload))
    assert r.hash == record_hash(r.prev_hash, r.seq, r.ts, r.kind, r.thread_id, None, r.payload_sha256)
    assert [x.seq for x in log.records("t1")] == [2, 4, 6]
    first = log.append("approval", {"decision": "approved"}, thread_id="t", key="t:decide:1")
    again = log.append("approval", {"decision": "rejected"}, thread_id="t", key="t:decide:1")
    assert again == first and first.seq == 7 and len(log.records()) == 7
    assert log.find("t:decide:1") == first and log.find("nope") is None
    assert log.head().seq == 7 and log.head().hash == first.hash
    report = log.verify()
    assert report.ok and report.count == 7 and "tail unanchored" in report.message
    log.close()
    # a second connection (another process, say) sees the same chain and continues it
    with AuditLog.open(pg_url) as other:
        assert other.append("outcome", {"ok": True}).prev_hash == first.hash
        assert other.verify().ok


_FORGED_INSERT = (
    "INSERT INTO jitplan_audit VALUES (7, '2026-01-01T00:00:00+00:00', 'approval', NULL, NULL, '{}', "
    "'44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', '" + "0" * 64 + "', '" + "f" * 64 + "')"
)
_FORGED = canonical_json({"i": 2, "note": "forged"})
_SWAP = (
    "UPDATE jitplan_audit AS a SET ts = b.ts, kind = b.kind, thread_id = b.thread_id, key = b.key, "
    "payload = b.payload, payload_sha256 = b.payload_sha256, prev_hash = b.prev_hash, hash = b.hash "
    "FROM jitplan_audit AS b WHERE (a.seq, b.seq) IN ((2, 5), (5, 2))"
)


@pytest.mark.parametrize(
    ("tamper", "broken", "needle"),
    [
        ("UPDATE jitplan_audit SET payload = '{\"i\":2,\"note\":\"forged\"}' WHERE seq = 3", 3, "payload"),
        (f"UPDATE jitplan_audit SET payload = '{_FORGED}', payload_sha256 = '{sha256_hex(_FORGED)}' "
         "WHERE seq = 3", 3, "hash does not match"),
        ("DELETE FROM jitplan_audit WHERE seq = 4", 4, "missing"),
        (_FORGED_INSERT, 7, "prev_hash"),
        (_SWAP, 2, "prev_hash"),
        ("UPDATE jitplan_audit SET ts = '2020-01-01T00:00:00+00:00' WHERE seq = 6", 6, "hash does not match"),
    ],
    ids=["edit-payload", "edit-payload-and-its-sha", "delete-row", "insert-forged-row", "swap-rows", "edit-ts"],
)
def test_tampering_is_detected_and_names_the_first_broken_record(
    pg_url: str, cli: Any, tamper: str, broken: int, needle: str
) -> None:
    _filled(pg_url).close()
    assert cli("audit", "verify", "--audit", pg_url).code == 0
    _sql(pg_url, tamper)
    with AuditLog.open(pg_url) as log:
        report = log.verify()
    assert not report.ok and report.first_broken_seq == broken and needle in report.message, report.message
    res = cli("audit", "verify", "--audit", pg_url)
    assert res.code == 1 and f"record {broken}" in res.err


def test_truncation_is_detected_against_a_saved_head(pg_url: str, cli: Any, tmp_path: Path) -> None:
    _filled(pg_url).close()
    key = tmp_path / "audit.key"
    key.write_text("s3cret\n")
    head_file = tmp_path / "head.json"
    res = cli("audit", "head", "--audit", pg_url, "--key-file", key, "-o", head_file)
    assert res.code == 0 and json.loads(res.out)["seq"] == 6
    assert cli("audit", "verify", "--audit", pg_url, "--head", head_file, "--key-file", key).code == 0
    _sql(pg_url, "DELETE FROM jitplan_audit WHERE seq >= 5")
    with AuditLog.open(pg_url) as log:
        assert log.verify().ok  # what is left is internally intact ...
    res = cli("audit", "verify", "--audit", pg_url, "--head", head_file, "--key-file", key)
    assert res.code == 1 and "truncated" in res.err and "record 5" in res.err  # ... but not against the head


_WRITER = r"""
import os, sys, time
sys.path.insert(0, sys.argv[3])
from jitplan.tools.audit import AuditLog
log = AuditLog.open(sys.argv[1])
name = sys.argv[2]
while not os.path.exists(sys.argv[4]):
    time.sleep(0.005)
for i in range(400):
    log.append("test", {"writer": name, "i": i}, thread_id=name, key=f"{name}:{i}")
    if i % 4 == 0:  # both writers race for the same idempotency keys too
        log.append("shared", {"writer": name, "i": i}, thread_id="shared", key=f"shared:{i}")
    time.sleep(0.001)
log.close()
"""


def test_two_processes_never_fork_the_chain_and_keys_stay_unique(pg_url: str, tmp_path: Path) -> None:
    AuditLog.open(pg_url).close()  # the table exists before the race
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, pg_url, name, str(ROOT), str(go)], env=env)
        for name in ("A", "B")
    ]
    go.touch()
    assert [p.wait(timeout=180) for p in procs] == [0, 0]
    with AuditLog.open(pg_url) as log:
        report = log.verify()
        recs = log.records()
    assert report.ok and report.count == 900, report.message
    assert [r.seq for r in recs] == list(range(1, 901))
    for name in ("A", "B"):
        assert sorted(r.payload["i"] for r in recs if r.thread_id == name) == list(range(400))
    shared = [r for r in recs if r.thread_id == "shared"]
    assert sorted(r.payload["i"] for r in shared) == list(range(0, 400, 4))  # each key exactly once
    own = [r for r in recs if r.thread_id != "shared"]
    switches = sum(1 for a, b in itertools.pairwise(own) if a.thread_id != b.thread_id)
    assert switches > 10, "the writers did not actually interleave"


def test_a_dropped_connection_is_replaced_and_the_chain_continues(pg_url: str) -> None:
    log = _filled(pg_url, 3)
    pid = log.backend.conn.info.backend_pid  # type: ignore[attr-defined]
    with _connect(pg_url) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    rec = log.append("outcome", {"after": "restart"}, key="k-after")
    assert rec.seq == 4 and log.backend.conn.info.backend_pid != pid  # type: ignore[attr-defined]
    pid = log.backend.conn.info.backend_pid  # type: ignore[attr-defined]
    with _connect(pg_url) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert log.verify().ok and log.verify().count == 4
    log.close()


def test_bad_input_is_a_user_error_and_passwords_are_not_printed(pg_url: str) -> None:
    with pytest.raises(UserError, match="cannot connect") as err:
        AuditLog.open("postgresql://postgres:hunter2@127.0.0.1:1/nowhere")
    assert "hunter2" not in str(err.value) and "***" in str(err.value)
    with AuditLog.open(pg_url) as log, pytest.raises(UserError, match="NUL"):
        log.append("inputs", {"a": 1}, thread_id="bad\x00thread")
    with AuditLog.open(pg_url) as log:
        assert log.records() == [] and log.append("inputs", {"a": 1}).seq == 1
