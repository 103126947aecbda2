"""Audit log: hash chain, idempotent keys, tamper detection, signed heads, concurrent writers."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from jitplan.contracts.audit import GENESIS_HASH, canonical_json, sha256_hex
from jitplan.tools.audit import AuditHead, AuditLog

ROOT = Path(__file__).resolve().parents[2]


def _filled(path: Path, n: int = 6) -> AuditLog:
    log = AuditLog.open(str(path))
    for i in range(n):
        log.append("step_applied" if i % 2 else "inputs", {"i": i, "note": f"record {i}"}, thread_id=f"t{i % 2}")
    return log


def _sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for s in statements:
        conn.execute(s)
    conn.commit()
    conn.close()


def test_chain_links_and_hashes(tmp_path: Path) -> None:
    log = _filled(tmp_path / "a.db")
    recs = log.records()
    assert [r.seq for r in recs] == [1, 2, 3, 4, 5, 6]
    assert recs[0].prev_hash == GENESIS_HASH
    for prev, cur in itertools.pairwise(recs):
        assert cur.prev_hash == prev.hash
    for r in recs:
        # The documented link formula, recomputed with hashlib and json alone (not the
        # implementation's own helpers): sha256(prev_hash + canonical_json({seq, ts, kind,
        # thread_id, key, payload_sha256})), payload_sha256 = sha256(canonical_json(payload)).
        text = json.dumps(r.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert r.payload_sha256 == hashlib.sha256(text.encode()).hexdigest()
        fields = {"seq": r.seq, "ts": r.ts, "kind": r.kind, "thread_id": r.thread_id, "key": None,
                  "payload_sha256": r.payload_sha256}
        link = r.prev_hash + json.dumps(fields, sort_keys=True, separators=(",", ":"))
        assert r.hash == hashlib.sha256(link.encode()).hexdigest()
    assert [x.seq for x in log.records("t1")] == [2, 4, 6]
    report = log.verify()
    assert report.ok and report.count == 6 and not report.anchored
    assert "tail unanchored" in report.message


def test_a_keyed_record_links_by_the_documented_formula(tmp_path: Path) -> None:
    # the same independent recomputation with every field set (thread, idempotency key, a
    # non-ASCII payload): canonical JSON is sorted keys, no whitespace, UTF-8 as is
    log = AuditLog.open(str(tmp_path / "a.db"))
    log.append("inputs", {"a": 1})
    r = log.append("approval", {"by": "opérateur", "z": [1, 2], "a": None}, thread_id="t-7",
                   key="t-7:decide:1")
    payload = '{"a":null,"by":"opérateur","z":[1,2]}'
    assert r.payload_sha256 == hashlib.sha256(payload.encode("utf-8")).hexdigest()
    link = (r.prev_hash + '{"key":"t-7:decide:1","kind":"approval","payload_sha256":"'
            + r.payload_sha256 + f'","seq":2,"thread_id":"t-7","ts":"{r.ts}"' + "}")
    assert r.hash == hashlib.sha256(link.encode("utf-8")).hexdigest()
    assert log.verify().ok


def test_same_key_returns_the_existing_record_and_writes_nothing(tmp_path: Path) -> None:
    log = AuditLog.open(str(tmp_path / "a.db"))
    first = log.append("approval", {"decision": "approved"}, thread_id="t", key="t:decide:1")
    again = log.append("approval", {"decision": "rejected"}, thread_id="t", key="t:decide:1")
    assert again == first
    assert len(log.records()) == 1
    assert log.find("t:decide:1") == first
    assert log.append("approval", {"decision": "x"}, key="t:decide:2").seq == 2


def test_default_location_is_jitplan_home(_isolated_home: Path) -> None:
    with AuditLog.open() as log:
        log.append("inputs", {"a": 1})
    assert (_isolated_home / "audit.db").exists()
    conn = sqlite3.connect(_isolated_home / "audit.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


@pytest.mark.parametrize(
    ("tamper", "broken", "needle"),
    [
        ("UPDATE audit SET payload = '{\"i\":2,\"note\":\"forged\"}' WHERE seq = 3", 3, "payload"),
        ("DELETE FROM audit WHERE seq = 4", 4, "missing"),
        ("INSERT INTO audit VALUES (7, '2026-01-01T00:00:00+00:00', 'approval', NULL, NULL, '{}', "
         "'44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', '"
         + "0" * 64 + "', '" + "f" * 64 + "')", 7, "prev_hash"),
    ],
    ids=["edit-payload", "delete-row", "insert-forged-row"],
)
def test_tampering_is_detected_and_names_the_first_broken_record(
    tmp_path: Path, cli, tamper: str, broken: int, needle: str  # type: ignore[no-untyped-def]
) -> None:
    db = tmp_path / "a.db"
    _filled(db).close()
    assert cli("audit", "verify", "--audit", db).code == 0
    _sql(db, tamper)
    report = AuditLog.open(str(db)).verify()
    assert not report.ok and report.first_broken_seq == broken and needle in report.message
    res = cli("audit", "verify", "--audit", db)
    assert res.code == 1 and f"record {broken}" in res.err


@pytest.mark.parametrize(
    ("column", "value"),
    [("kind", "'approval'"), ("ts", "'2020-01-01T00:00:00.000000+00:00'"), ("thread_id", "'t9'"),
     ("thread_id", "NULL"), ("key", "'forged-key'")],
    ids=["kind", "ts", "thread_id", "thread_id-null", "key"],
)
def test_editing_record_metadata_is_detected(tmp_path: Path, column: str, value: str) -> None:
    # Every field of the link is covered by the hash, not only the payload: relabelling a record
    # (its kind, time, thread or idempotency key) must break the chain at that record.
    db = tmp_path / "a.db"
    _filled(db).close()
    _sql(db, f"UPDATE audit SET {column} = {value} WHERE seq = 3")
    report = AuditLog.open(str(db)).verify()
    assert not report.ok and report.first_broken_seq == 3, (column, report.message)


def test_edit_with_recomputed_payload_hash_is_still_detected(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    _filled(db).close()
    forged = canonical_json({"i": 2, "note": "forged"})
    _sql(db, f"UPDATE audit SET payload = '{forged}', payload_sha256 = '{sha256_hex(forged)}' WHERE seq = 3")
    report = AuditLog.open(str(db)).verify()
    assert not report.ok and report.first_broken_seq == 3 and "hash" in report.message


def test_swapping_two_rows_is_detected(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "a.db"
    _filled(db).close()
    cols = "ts, kind, thread_id, key, payload, payload_sha256, prev_hash, hash"
    conn = sqlite3.connect(db)
    r2 = conn.execute(f"SELECT {cols} FROM audit WHERE seq = 2").fetchone()
    r5 = conn.execute(f"SELECT {cols} FROM audit WHERE seq = 5").fetchone()
    sets = ", ".join(f"{c.strip()} = ?" for c in cols.split(","))
    conn.execute(f"UPDATE audit SET {sets} WHERE seq = 2", r5)
    conn.execute(f"UPDATE audit SET {sets} WHERE seq = 5", r2)
    conn.commit()
    conn.close()
    res = cli("audit", "verify", "--audit", db)
    assert res.code == 1 and "record 2" in res.err


def test_truncation_and_rewrite_need_a_saved_head(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "a.db"
    _filled(db).close()
    key = tmp_path / "audit.key"
    key.write_text("s3cret\n")
    head_file = tmp_path / "head.json"
    res = cli("audit", "head", "--audit", db, "--key-file", key, "-o", head_file)
    head = json.loads(res.out)
    assert res.code == 0 and head["seq"] == 6 and len(head["hmac"]) == 64
    assert cli("audit", "verify", "--audit", db, "--head", head_file, "--key-file", key).code == 0
    # truncate the tail: the chain that is left is internally intact ...
    _sql(db, "DELETE FROM audit WHERE seq >= 5")
    assert AuditLog.open(str(db)).verify().ok
    # ... but not against the head kept elsewhere
    res = cli("audit", "verify", "--audit", db, "--head", head_file, "--key-file", key)
    assert res.code == 1 and "truncated" in res.err and "record 5" in res.err
    # wholesale rewrite: a fresh, internally consistent chain of the same length
    db2 = tmp_path / "b.db"
    log2 = AuditLog.open(str(db2))
    for i in range(6):
        log2.append("inputs", {"i": i, "note": "rewritten"})
    assert log2.verify().ok
    res = cli("audit", "verify", "--audit", db2, "--head", head_file, "--key-file", key)
    assert res.code == 1 and "rewritten" in res.err
    # a head forged to match the rewrite fails its signature without the real key
    forged = {"seq": 6, "hash": log2.head().hash, "hmac": AuditHead.signature(6, log2.head().hash, b"guess")}
    head_file.write_text(json.dumps(forged))
    res = cli("audit", "verify", "--audit", db2, "--head", head_file, "--key-file", key)
    assert res.code == 1 and "signature" in res.err
    # a malformed head file is bad input (exit 2), not a verdict
    head_file.write_text('{"seq": "six"}')
    assert cli("audit", "verify", "--audit", db2, "--head", head_file).code == 2
    monkeypatch.setenv("JITPLAN_AUDIT_KEY", "s3cret")
    assert AuditLog.open(str(db2)).head(b"s3cret").hmac == json.loads(cli("audit", "head", "--audit", db2).out)["hmac"]


def test_show_and_export(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "a.db"
    _filled(db).close()
    res = cli("audit", "show", "--audit", db, "--thread", "t0", "--json")
    assert res.code == 0 and [r["seq"] for r in json.loads(res.out)] == [1, 3, 5]
    res = cli("audit", "show", "--audit", db)
    assert res.code == 0 and len(res.out.splitlines()) == 6
    res = cli("audit", "export", "--audit", db, "--format", "jsonl")
    lines = [json.loads(x) for x in res.out.splitlines()]
    assert [x["seq"] for x in lines] == list(range(1, 7)) and all("hash" in x for x in lines)
    out = tmp_path / "export.jsonl"
    assert cli("audit", "export", "--audit", db, "-o", out).code == 0
    assert out.read_text() == res.out


def test_not_a_database_is_a_user_error(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    res = cli("audit", "verify", "--audit", bad)
    assert res.code == 2 and str(bad) in res.err


_WRITER = r"""
import os, sys, time
sys.path.insert(0, sys.argv[3])
from jitplan.tools.audit import AuditLog
log = AuditLog.open(sys.argv[1])
name = sys.argv[2]
while not os.path.exists(sys.argv[1] + ".go"):
    time.sleep(0.005)
for i in range(1000):
    log.append("test", {"writer": name, "i": i}, thread_id=name, key=f"{name}:{i}")
    time.sleep(0.001)  # some work between appends, so the two writers really interleave
"""


def test_two_processes_writing_1000_records_each_leave_one_intact_chain(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    AuditLog.open(str(db)).close()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(db), name, str(ROOT)], env=env)
        for name in ("A", "B")
    ]
    Path(str(db) + ".go").touch()  # both start writing together
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    log = AuditLog.open(str(db))
    report = log.verify()
    assert report.ok and report.count == 2000, report.message
    recs = log.records()
    assert [r.seq for r in recs] == list(range(1, 2001))
    switches = sum(1 for a, b in itertools.pairwise(recs) if a.thread_id != b.thread_id)
    assert switches > 10, "the writers did not actually interleave"
    for name in ("A", "B"):
        assert sorted(r.payload["i"] for r in recs if r.thread_id == name) == list(range(1000))


def test_missing_explicit_audit_file_is_bad_input(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("audit", "verify", "--audit", tmp_path / "nope.db")
    assert res.code == 2 and "nope.db" in res.err and not (tmp_path / "nope.db").exists()


def test_threads_opening_a_new_audit_database_at_once(tmp_path: Path) -> None:
    """``jitplan regress --workers`` opens the audit log of a new home from several threads at
    once; the new file's switch to WAL must not fail any of them ('database is locked')."""
    import threading

    from jitplan.tools.audit_sqlite import SqliteAuditBackend

    for attempt in range(40):
        path = tmp_path / f"a{attempt}" / "audit.db"
        start = threading.Barrier(6)
        errors: list[str] = []

        def one(path: Path = path, start: threading.Barrier = start, errors: list[str] = errors) -> None:
            start.wait()
            try:
                SqliteAuditBackend(path).conn.close()
            except Exception as exc:  # collected, asserted below
                errors.append(str(exc))

        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, (attempt, errors)
