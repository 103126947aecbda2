"""The audit chain, rule by rule (found by ``make mutation``): the link hash recomputed here from
its documented formula, every record field protected, every way ``verify`` reports a broken or
unanchored chain, the head and its signature, and the SQLite backend's contract.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.errors import UserError
from jitplan.tools.audit import AuditHead, AuditLog, load_hmac_key, opened, verify_rows
from jitplan.tools.audit_chain import MAX_KEY, MAX_KIND, MAX_THREAD, StoredRow, build_row

GENESIS = "0" * 64


def doc_json(value: Any) -> str:
    """The documented canonical JSON: sorted keys, no whitespace, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def doc_hash(prev: str, seq: int, ts: str, kind: str, thread_id: str | None, key: str | None,
             payload: dict[str, Any]) -> str:
    psha = hashlib.sha256(doc_json(payload).encode()).hexdigest()
    fields = {"seq": seq, "ts": ts, "kind": kind, "thread_id": thread_id, "key": key, "payload_sha256": psha}
    return hashlib.sha256((prev + doc_json(fields)).encode()).hexdigest()


@pytest.fixture
def log(tmp_path: Path) -> Any:
    with opened(str(tmp_path / "audit.db")) as lg:
        yield lg


def three(log: AuditLog) -> list[StoredRow]:
    log.append("plan", {"b": 2, "a": "é"}, thread_id="t1", key="k1")
    log.append("gate", {"ok": True}, thread_id="t2")
    log.append("apply", {"n": [1, 2]}, thread_id="t1", key="k3")
    return log.rows()


# ---- the chain -------------------------------------------------------------------------------


def test_each_link_is_the_documented_hash(log: AuditLog) -> None:
    rows = three(log)
    prev = GENESIS
    payloads: list[dict[str, Any]] = [{"b": 2, "a": "é"}, {"ok": True}, {"n": [1, 2]}]
    for r, payload in zip(rows, payloads, strict=True):
        assert r.prev_hash == prev and r.payload == doc_json(payload)
        assert r.payload_sha256 == hashlib.sha256(doc_json(payload).encode()).hexdigest()
        assert r.hash == doc_hash(prev, r.seq, r.ts, r.kind, r.thread_id, r.key, payload)
        prev = r.hash
    assert [r.seq for r in rows] == [1, 2, 3]
    assert [(r.kind, r.thread_id, r.key) for r in rows] == [("plan", "t1", "k1"), ("gate", "t2", None),
                                                           ("apply", "t1", "k3")]


@pytest.mark.parametrize("field", ["ts", "kind", "thread_id", "key"])
def test_editing_any_record_field_breaks_the_chain(log: AuditLog, field: str) -> None:
    rows = three(log)
    value = {"ts": "2020-01-01T00:00:00+00:00", "kind": "forged", "thread_id": "t9", "key": "k9"}[field]
    log.backend.conn.execute(f"UPDATE audit SET {field} = ? WHERE seq = 2", (value,))  # type: ignore[attr-defined]
    rep = log.verify()
    assert not rep.ok and rep.first_broken_seq == 2
    assert rep.message == "record 2: hash does not match the record's fields (edited or forged)"
    assert (rep.head_seq, rep.head_hash) == (1, rows[0].hash) and rep.count == 3 and not rep.anchored


def test_payload_edits_are_named(log: AuditLog) -> None:
    three(log)
    conn = log.backend.conn  # type: ignore[attr-defined]
    conn.execute("UPDATE audit SET payload = ? WHERE seq = 3", ('{"n":[1,3]}',))
    assert log.verify().message == "record 3: payload does not match its payload_sha256 (edited)"
    conn.execute("UPDATE audit SET payload = ? WHERE seq = 3", ("{not json",))
    rep = log.verify()
    assert rep.message == "record 3: payload is not valid JSON (edited)" and rep.first_broken_seq == 3
    assert log.records()[2].payload == {"_unparseable": "{not json"}
    conn.execute("UPDATE audit SET payload = ? WHERE seq = 3", ("[1, 2]",))
    assert log.records()[2].payload == {"_value": [1, 2]}


def test_deleted_reordered_and_relinked_records(log: AuditLog) -> None:
    rows = three(log)
    assert verify_rows([rows[0], rows[2]]).message == "record 2: missing (deleted?): the next stored record is 3"
    assert verify_rows([rows[0], rows[2]]).first_broken_seq == 2
    dup = verify_rows([rows[0], rows[1], rows[1]])
    assert dup.message == "record 2: out of order or duplicated after record 2" and dup.first_broken_seq == 2
    relinked = StoredRow(**{**rows[1].__dict__, "prev_hash": "f" * 64})
    rep = verify_rows([rows[0], relinked, rows[2]])
    assert rep.message == "record 2: prev_hash does not link to record 1 (reordered, inserted or edited)"
    assert verify_rows([rows[1]]).message == "record 1: missing (deleted?): the next stored record is 2"


def test_an_intact_chain_without_a_head_is_unanchored(log: AuditLog) -> None:
    rows = three(log)
    rep = log.verify()
    assert rep.ok and not rep.anchored and rep.count == 3 and rep.first_broken_seq is None
    assert rep.message == (f"chain intact: 3 records, head 3:{rows[2].hash[:12]}; tail unanchored (no --head "
                           "given: truncation or a wholesale rewrite is not detectable)")
    assert rep.to_dict() == {"ok": True, "count": 3, "anchored": False, "message": rep.message,
                             "first_broken_seq": None, "head": {"seq": 3, "hash": rows[2].hash}}
    empty = verify_rows([])
    assert empty.ok and empty.head_hash == GENESIS and empty.head_seq == 0


# ---- heads -----------------------------------------------------------------------------------


def test_head_anchors_the_chain(log: AuditLog) -> None:
    assert log.head() == AuditHead(seq=0, hash=GENESIS)
    assert log.verify(AuditHead(seq=0, hash=GENESIS)).message == "chain intact: 0 records, anchored at head 0"
    rows = three(log)
    head = log.head()
    assert (head.seq, head.hash, head.hmac) == (3, rows[2].hash, None)
    assert log.verify(head).message == "chain intact: 3 records, anchored at head 3"
    log.append("more", {})
    log.append("more", {})
    rep = log.verify(head)
    assert rep.ok and rep.anchored and rep.message == "chain intact: 5 records, anchored at head 3; 2 records after it are unanchored"
    at_start = log.verify(AuditHead(seq=0, hash=GENESIS))
    assert at_start.ok and at_start.message.endswith("; 5 records after it are unanchored")


def test_head_detects_truncation_and_rewrites(log: AuditLog) -> None:
    rows = three(log)
    ahead = AuditHead(seq=5, hash=rows[2].hash)
    rep = log.verify(ahead)
    assert not rep.ok and rep.first_broken_seq == 4 and rep.anchored
    assert rep.message == "record 4: missing: the saved head is at record 5 but the log ends at 3 (tail truncated)"
    other = AuditHead(seq=2, hash="a" * 64)
    rep = log.verify(other)
    assert not rep.ok and rep.first_broken_seq == 2
    assert rep.message == "record 2: hash differs from the saved head (log rewritten)"
    bad_genesis = log.verify(AuditHead(seq=0, hash="b" * 64))
    assert not bad_genesis.ok and bad_genesis.message == "record 0: hash differs from the saved head (log rewritten)"


def test_signed_heads(log: AuditLog) -> None:
    three(log)
    key = b"secret"
    head = log.head(key)
    expected = hmac.new(key, f"{head.seq}:{head.hash}".encode(), hashlib.sha256).hexdigest()
    assert head.hmac == expected
    assert log.verify(head, hmac_key=key).ok
    no_key = log.verify(head)
    assert not no_key.ok and no_key.anchored and no_key.first_broken_seq is None
    assert no_key.message == "head is HMAC-signed but no key was given (--key-file or JITPLAN_AUDIT_KEY)"
    wrong = log.verify(head, hmac_key=b"other")
    assert not wrong.ok and wrong.message == "head signature does not verify (forged head or wrong key)"
    forged = head.model_copy(update={"seq": 2})
    assert not log.verify(forged, hmac_key=key).ok


def test_hmac_key_from_a_file_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "key"
    f.write_text("  s3cret\n")
    assert load_hmac_key(f) == b"s3cret"
    f.write_text("\n")
    with pytest.raises(UserError, match="is empty"):
        load_hmac_key(f)
    monkeypatch.delenv("JITPLAN_AUDIT_KEY", raising=False)
    assert load_hmac_key() is None
    monkeypatch.setenv("JITPLAN_AUDIT_KEY", "from-env")
    assert load_hmac_key() == b"from-env"


# ---- appending -------------------------------------------------------------------------------


def test_an_idempotency_key_returns_the_stored_record(log: AuditLog) -> None:
    first = log.append("plan", {"a": 1}, thread_id="t", key="k")
    again = log.append("other", {"b": 2}, thread_id="u", key="k")
    assert again == first and len(log.rows()) == 1
    assert log.find("k") == first and log.find("nope") is None


def test_records_of_one_thread(log: AuditLog) -> None:
    three(log)
    assert [r.seq for r in log.records("t1")] == [1, 3]
    assert [r.seq for r in log.rows("t2")] == [2]
    assert [r.kind for r in log.records()] == ["plan", "gate", "apply"]


@pytest.mark.parametrize(("kw", "message"), [
    (dict(kind=""), f"audit kind must be 1-{MAX_KIND} characters"),
    (dict(kind="k" * (MAX_KIND + 1)), f"audit kind must be 1-{MAX_KIND} characters"),
    (dict(thread_id="t" * (MAX_THREAD + 1)), f"thread id longer than {MAX_THREAD} characters"),
    (dict(key="x" * (MAX_KEY + 1)), f"idempotency key longer than {MAX_KEY} characters"),
])
def test_field_limits(log: AuditLog, kw: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"kind": "plan", "thread_id": None, "key": None, **kw}
    with pytest.raises(UserError, match=message) as info:
        log.append(args.pop("kind"), {}, **args)
    assert str(info.value) == message and info.value.field == next(iter(kw))  # names the field
    assert log.rows() == []
    ok: dict[str, Any] = {"kind": "k" * MAX_KIND, "thread_id": "t" * MAX_THREAD, "key": "x" * MAX_KEY}
    log.append(ok.pop("kind"), {}, **ok)


def test_build_row_stores_exactly_what_it_hashes() -> None:
    row = build_row(None, "k", {"z": 1, "a": {"y": [1, 2]}}, thread_id=None, key=None, ts="2026-01-01T00:00:00+00:00")
    assert row.payload == '{"a":{"y":[1,2]},"z":1}' and row.seq == 1 and row.prev_hash == GENESIS
    assert row.ts == "2026-01-01T00:00:00+00:00"
    nxt = build_row(row, "k", {}, thread_id="t", key="q")
    assert nxt.seq == 2 and nxt.prev_hash == row.hash and "T" in nxt.ts and nxt.ts.endswith("+00:00")
    assert len(nxt.ts.split(".")[1].split("+")[0]) == 6  # microseconds


# ---- the SQLite backend ----------------------------------------------------------------------


def test_open_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with opened(f"sqlite:///{tmp_path / 'a.db'}") as lg:
        assert lg.backend.url == f"sqlite:///{tmp_path / 'a.db'}"
    assert (tmp_path / "a.db").is_file()
    with opened(str(tmp_path / "deep" / "b.db")) as lg:
        lg.append("k", {})
    assert (tmp_path / "deep" / "b.db").is_file()
    monkeypatch.setenv("JITPLAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JITPLAN_AUDIT_URL", raising=False)
    with opened() as lg:
        lg.append("k", {})
    assert (tmp_path / "home" / "audit.db").is_file()


def test_unusable_databases_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a directory, expected an SQLite audit database"):
        AuditLog.open(str(tmp_path))
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database file at all" * 100)
    with pytest.raises(UserError, match="not a usable SQLite audit database"):
        AuditLog.open(str(junk))


def test_the_log_survives_reopening_and_settings(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with opened(str(path)) as lg:
        rows = three(lg)
        conn = lg.backend.conn  # type: ignore[attr-defined]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 60_000
    with opened(str(path)) as lg:
        assert lg.rows() == rows and lg.verify().ok
        assert lg.append("next", {}).prev_hash == rows[2].hash
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT count(*) FROM audit").fetchone()[0] == 4
    raw.close()


def test_a_failed_append_writes_nothing(log: AuditLog) -> None:
    log.append("a", {})
    with pytest.raises(UserError):
        log.append("", {})
    assert [r.seq for r in log.rows()] == [1]
    assert log.append("b", {}).seq == 2


def test_reports_carry_the_last_good_head(log: AuditLog) -> None:
    rows = three(log)
    key = b"k"
    signed = log.head(key)
    for rep in (log.verify(signed), log.verify(signed, hmac_key=b"other"), log.verify(AuditHead(seq=9, hash=rows[2].hash)),
                log.verify(AuditHead(seq=2, hash="a" * 64)), log.verify(AuditHead(seq=1, hash=rows[0].hash))):
        assert (rep.head_seq, rep.head_hash) == (3, rows[2].hash)
        assert rep.anchored


def test_postgres_urls_go_to_the_postgres_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    import jitplan.tools.audit_postgres as pg

    class Fake:
        def __init__(self, url: str) -> None:
            self.url = url

    monkeypatch.setattr(pg, "PostgresAuditBackend", Fake)
    for url in ("postgresql://u@h/db", "postgres://u@h/db"):
        assert AuditLog.open(url).backend.url == url  # type: ignore[attr-defined]


def test_the_audit_url_setting_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JITPLAN_AUDIT_URL", str(tmp_path / "from-env.db"))
    with opened() as lg:
        lg.append("k", {})
    assert (tmp_path / "from-env.db").is_file()


def test_sqlite_backend_paths_threads_and_busy(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        AuditLog.open(str(tmp_path))
    assert str(info.value) == f"{tmp_path}: is a directory, expected an SQLite audit database"
    deep = tmp_path / "a" / "b" / "audit.db"
    with opened(str(deep)) as lg:
        import threading

        out: list[int] = []
        t = threading.Thread(target=lambda: out.append(lg.append("from-a-thread", {}).seq))
        t.start()
        t.join()
        assert out == [1]  # the orchestrator appends from worker threads
    assert deep.is_file()


def test_a_locked_database_is_a_run_error(tmp_path: Path) -> None:
    from jitplan.contracts.errors import RunError

    path = tmp_path / "audit.db"
    with opened(str(path)) as lg:
        lg.backend.conn.execute("PRAGMA busy_timeout=0")  # type: ignore[attr-defined]
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(RunError) as info:
                lg.append("k", {})
            assert str(info.value).startswith("audit log busy: ") and "locked" in str(info.value)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert lg.append("k", {}).seq == 1
