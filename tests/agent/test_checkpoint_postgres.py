"""Planning cycles on the Postgres scale-out path: LangGraph's Postgres checkpointer
(``JITPLAN_CHECKPOINT_URL``) and the Postgres audit log (``JITPLAN_AUDIT_URL``).

A cycle escalates in one process and is approved (or resumed after a SIGKILL) from a fresh
process with an empty ``JITPLAN_HOME``, so everything it continues from comes out of Postgres.

Needs ``JITPLAN_TEST_POSTGRES_URL`` (``make test-postgres`` starts a throwaway server and sets
it); without it every test here is skipped. Each test works in a schema of its own (selected
through the URL's ``search_path``), dropped afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from jitplan.agent.nodes.common import CRASH_ENV
from jitplan.agent.runtime import approve_cycle, resume_cycle, run_cycle
from jitplan.contracts.agent import PlanRequest
from jitplan.contracts.errors import UserError
from jitplan.tools.audit import AuditLog

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
BASE_URL = os.environ.get("JITPLAN_TEST_POSTGRES_URL", "")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not BASE_URL, reason="JITPLAN_TEST_POSTGRES_URL not set (make test-postgres)"),
]


@pytest.fixture
def pg_url(postgres_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Checkpoints and audit log both in a fresh schema of the test server, via the env vars."""
    monkeypatch.setenv("JITPLAN_CHECKPOINT_URL", postgres_schema_url)
    monkeypatch.setenv("JITPLAN_AUDIT_URL", postgres_schema_url)
    return postgres_schema_url


def _request() -> PlanRequest:
    # The hostile snapshot asks (inside a signal's text) to promote the critical medical-triage
    # feature: the cycle must wait for a clinical lead.
    return PlanRequest(
        catalog=str(WORLD / "catalog.yaml"), signals=str(WORLD / "signals" / "hostile.yaml"),
        contracts=str(WORLD / "contracts.yaml"), state=str(WORLD / "flags.json"),
        policy=str(ROOT / "tools" / "policy_bundle"), replications=3, role="operator", region="eu",
    )


def _jitplan(home: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``jitplan ARGV`` in a fresh process whose JITPLAN_HOME is ``home`` (an empty directory)."""
    full_env = {**os.environ, "JITPLAN_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1", **env}
    return subprocess.run([sys.executable, "-m", "jitplan.agent.cli", *argv], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=180)


def _checkpoint_rows(url: str, thread_id: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = %s", (thread_id,)).fetchone()
    return int(row[0]) if row else 0


def _audit(url: str, thread_id: str) -> tuple[bool, str, list[Any]]:
    with AuditLog.open(url) as log:
        report = log.verify()
        return report.ok, report.message, log.records(thread_id)


def test_escalated_cycle_is_approved_from_a_fresh_process(
    pg_url: str, tmp_path: Path, _isolated_home: Path
) -> None:
    res = run_cycle(_request())
    assert res.decision == "escalated" and res.status == "interrupted", res.reasons
    assert res.escalation is not None and res.escalation["approver_roles"] == ["clinical-lead"]
    tid = res.thread_id
    assert _checkpoint_rows(pg_url, tid) > 0
    assert not (_isolated_home / "checkpoints.db").exists(), "the SQLite checkpointer was used"
    ok, msg, recs = _audit(pg_url, tid)
    assert ok, msg
    assert "approval" not in [r.kind for r in recs]

    fresh = tmp_path / "fresh-home"
    fresh.mkdir()
    # a role the escalation does not list is refused, and nothing changes
    r = _jitplan(fresh, "approve", tid, "--as", "operator", "--json")
    assert r.returncode == 2 and "may not approve" in r.stderr, r.stderr
    r = _jitplan(fresh, "approve", tid, "--as", "clinical-lead", "--comment", "checked", "--json")
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout)
    assert done["decision"] == "approved" and done["thread_id"] == tid
    assert done["approval"]["by"] == "clinical-lead" and done["plan_sha256"] == res.plan_sha256
    assert not (fresh / "checkpoints.db").exists() and not (fresh / "audit.db").exists()

    # this process sees the finished cycle in the Postgres checkpoint
    with pytest.raises(UserError, match="not waiting for approval"):
        approve_cycle(tid, approve=True, role="clinical-lead")
    final = resume_cycle(tid)
    assert final.status == "done" and final.decision == "approved" and final.approval["by"] == "clinical-lead"

    ok, msg, recs = _audit(pg_url, tid)
    assert ok, msg
    kinds = [r.kind for r in recs]
    approvals = [r.payload for r in recs if r.kind == "approval"]
    assert len(approvals) == 1 and approvals[0]["by"] == "clinical-lead" and approvals[0]["auto"] is False
    assert approvals[0]["comment"] == "checked" and approvals[0]["plan_sha256"] == res.plan_sha256
    assert kinds[0] == "inputs" and kinds[-1] == "outcome" and kinds.count("outcome") == 1


def test_killed_cycle_and_killed_approval_resume_from_postgres_with_each_record_once(
    pg_url: str, tmp_path: Path
) -> None:
    reference = run_cycle(_request())
    approve_cycle(reference.thread_id, approve=True, role="clinical-lead")
    ref_kinds = [r.kind for r in _audit(pg_url, reference.thread_id)[2]]
    assert ref_kinds.count("approval") == 1 and ref_kinds[-1] == "outcome"

    tid = "cycle-pgkilled01"
    argv = ["plan", "--catalog", str(WORLD / "catalog.yaml"), "--signals", str(WORLD / "signals" / "hostile.yaml"),
            "--contracts", str(WORLD / "contracts.yaml"), "--state", str(WORLD / "flags.json"),
            "--policy", str(ROOT / "tools" / "policy_bundle"), "--replications", "3",
            "--thread-id", tid, "--json"]
    homes = [tmp_path / f"process-{i}" for i in range(4)]
    for h in homes:
        h.mkdir()
    # 1. the planning process is SIGKILLed inside simulate (after its audit record)
    r = _jitplan(homes[0], *argv, **{CRASH_ENV: "simulate"})
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    assert _checkpoint_rows(pg_url, tid) > 0  # the nodes before it were checkpointed (sync)
    # 2. a fresh process resumes it from the Postgres checkpoint, up to the escalation
    r = _jitplan(homes[1], "plan", "--resume", tid, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["decision"] == "escalated" and doc["plan_sha256"] == reference.plan_sha256
    # 3. the approving process is SIGKILLed inside decide, after writing the approval record
    r = _jitplan(homes[2], "approve", tid, "--as", "clinical-lead", "--json", **{CRASH_ENV: "decide"})
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    # 4. a fresh process resumes: the human's answer was checkpointed with the resume
    r = _jitplan(homes[3], "plan", "--resume", tid, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["decision"] == "approved" and doc["approval"]["by"] == "clinical-lead"
    ok, msg, recs = _audit(pg_url, tid)
    assert ok, msg
    assert [r.kind for r in recs] == ref_kinds  # nothing recorded twice, nothing lost
    assert not any((h / "checkpoints.db").exists() or (h / "audit.db").exists() for h in homes)


_OPENER = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
from jitplan.agent.runtime import checkpointer
while not os.path.exists(sys.argv[2]):
    time.sleep(0.002)
with checkpointer() as saver:
    saver.get_tuple({"configurable": {"thread_id": "nobody", "checkpoint_ns": ""}})
"""


def test_processes_starting_together_on_an_empty_database_all_set_it_up(pg_url: str, tmp_path: Path) -> None:
    # setup() runs CREATE TABLE and the migrations; unserialised, processes racing on an empty
    # database fail on duplicate types or migration rows. Three rounds of six, each from empty.
    import time

    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for round_ in range(3):
        go = tmp_path / f"go-{round_}"
        procs = [subprocess.Popen([sys.executable, "-c", _OPENER, str(ROOT), str(go)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
        time.sleep(1.5)  # let every process import and wait at the line
        go.touch()
        results = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0] * 6, [err[-400:] for _, err in results]
        with psycopg.connect(pg_url, autocommit=True) as conn:
            versions = [r[0] for r in conn.execute("SELECT v FROM checkpoint_migrations ORDER BY v")]
            assert versions == list(range(len(PostgresSaver.MIGRATIONS)))
            conn.execute("DROP TABLE checkpoints, checkpoint_blobs, checkpoint_writes, checkpoint_migrations")


def test_checkpoint_errors_name_the_server_without_its_password(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    user = parts.username or "postgres"
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:hunter2@{host}" + (f":{parts.port}" if parts.port else "")
    with_password = urlunsplit(parts._replace(netloc=netloc))  # trust auth ignores the password
    with pytest.raises(UserError, match="no planning cycle") as err:
        approve_cycle("cycle-000000000000", approve=True, role="clinical-lead", checkpoint_url=with_password)
    assert "hunter2" not in str(err.value) and "***" in str(err.value)
    with pytest.raises(UserError, match="cannot connect"):
        run_cycle(_request(), checkpoint_url="postgresql://postgres@127.0.0.1:1/nowhere")
