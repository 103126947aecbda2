"""Approvals racing across processes (issue 15): ``jitplan approve`` against the console API, two
``jitplan approve`` processes, and (``make test-postgres``) both on a Postgres checkpointer.
``runtime.approve_cycle`` holds a per-thread inter-process lock and re-reads the state under it,
so exactly one approval is recorded and the loser is told who decided (exit 2 / HTTP 409).

Each racer is its own Python process: it warms up (imports, opens the checkpoint db, compiles the
graph), waits on a file barrier, then approves. Reading the state is slowed by 0.5 s in the racers
so that, without the lock, both would see the cycle still waiting (the test fails then).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
TOKENS = {"operator": "op-" + "a" * 30, "payments-lead": "pl-" + "b" * 30}

RACER = r'''
import json, sys, time
from pathlib import Path

kind, tid, role, sync, name = sys.argv[1:6]
sync = Path(sync)
from jitplan.agent import runtime

runtime.load_result(tid)  # warm up: checkpoint db open, graph compiled
_read = runtime.result_of


def slow_read(graph, thread_id):
    result = _read(graph, thread_id)
    time.sleep(0.5)  # widen the window between reading the state and resuming the cycle
    return result


runtime.result_of = slow_read
if kind == "api":
    from fastapi.testclient import TestClient

    from jitplan.agent.console import ConsoleConfig, create_app
    from jitplan.agent.console.security import TokensFile

    app = create_app(ConsoleConfig(tokens=TokensFile.from_file(str(sync / "tokens.yaml"))))
    client = TestClient(app, headers={"Authorization": "Bearer " + sys.argv[6]})
    assert client.get("/api/me").status_code == 200
else:
    import jitplan.agent.commands.approve
    import jitplan.agent.commands.plan
    from jitplan.agent.cli import main
(sync / f"ready-{name}").touch()
while not (sync / "go").exists():
    time.sleep(0.005)
if kind == "api":
    r = client.post(f"/api/cycles/{tid}/decision", json={"approve": True, "comment": name})
    out = {"name": name, "role": role, "ok": r.status_code == 200, "status": r.status_code,
           "detail": r.json().get("detail", "") if r.status_code != 200 else ""}
else:
    code = main(["approve", tid, "--as", role, "--comment", name, "--json"])
    out = {"name": name, "role": role, "ok": code == 0, "status": code, "detail": ""}
(sync / f"result-{name}.json").write_text(json.dumps(out))
'''


def _escalated_cycle(tmp_path: Path) -> str:
    from jitplan.agent.runtime import run_cycle
    from jitplan.contracts.agent import PlanRequest

    flags = tmp_path / "flags.json"
    shutil.copy(WORLD / "flags.json", flags)
    res = run_cycle(PlanRequest(
        catalog=str(WORLD / "catalog.yaml"), signals=str(WORLD / "signals" / "steady.yaml"),
        contracts=str(WORLD / "contracts.yaml"), state=str(flags), evidence=[str(WORLD / "evidence")],
        replications=2, request="enable refund-advisor", role="operator", region="eu"))
    assert (res.decision, res.status) == ("escalated", "interrupted")
    assert {"operator", "payments-lead"} <= set(res.escalation["approver_roles"])
    return str(res.thread_id)


def _race(tmp_path: Path, racers: list[tuple[str, str]]) -> tuple[str, list[dict[str, Any]]]:
    """Run ``racers`` ([(kind "cli"|"api", role)]) at once; their results, stderr in ``err``."""
    from jitplan.agent.console.security import hash_token

    tid = _escalated_cycle(tmp_path)
    sync = tmp_path / "sync"
    sync.mkdir()
    (sync / "tokens.yaml").write_text("tokens:\n" + "".join(
        f'  - {{role: {role}, region: eu, sha256: "{hash_token(tok)}"}}\n' for role, tok in TOKENS.items()))
    procs = []
    for i, (kind, role) in enumerate(racers):
        name = f"{kind}{i}"
        procs.append((name, subprocess.Popen(
            [sys.executable, "-c", RACER, kind, tid, role, str(sync), name, TOKENS[role]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    try:
        deadline = time.monotonic() + 120
        while not all((sync / f"ready-{n}").exists() for n, _ in procs):
            assert time.monotonic() < deadline and all(p.poll() is None for _, p in procs), \
                [p.communicate() for _, p in procs if p.poll() is not None]
            time.sleep(0.02)
        (sync / "go").touch()
        results = []
        for name, p in procs:
            _out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            results.append({**json.loads((sync / f"result-{name}.json").read_text()), "err": err})
    finally:
        for _, p in procs:  # stop our own racers by PID if anything above failed
            if p.poll() is None:
                p.kill()
                p.wait()
    return tid, results


def _approvals(tid: str) -> list[str]:
    from jitplan.tools.audit import AuditLog

    with AuditLog.open() as log:
        return [r.payload["by"] for r in log.records(tid) if r.kind == "approval"]


def _check_one_winner(tid: str, results: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    winners = [r for r in results if r["ok"]]
    assert len(winners) == 1, results
    winner, loser = winners[0], next(r for r in results if not r["ok"])
    assert _approvals(tid) == [winner["role"]]
    told = loser["detail"] or loser["err"]
    assert f"already decided (approved by {winner['role']})" in told, loser
    from jitplan.agent.runtime import load_result

    res = load_result(tid)
    assert res.decision == "approved" and res.approval["by"] == winner["role"]
    assert res.approval["comment"] == winner["name"]
    return winner, loser


def test_cli_approve_racing_the_console_api_gives_one_approval(tmp_path: Path) -> None:
    tid, results = _race(tmp_path, [("cli", "payments-lead"), ("api", "operator")])
    _winner, loser = _check_one_winner(tid, results)
    assert loser["status"] == (409 if loser["name"].startswith("api") else 2), loser


def test_two_cli_approve_processes_give_one_approval(tmp_path: Path) -> None:
    tid, results = _race(tmp_path, [("cli", "payments-lead"), ("cli", "operator")])
    _winner, loser = _check_one_winner(tid, results)
    assert loser["status"] == 2 and len(loser["err"].strip().splitlines()) == 1, loser


@pytest.mark.postgres
def test_approvals_racing_on_a_postgres_checkpointer_give_one_approval(
        postgres_schema_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JITPLAN_CHECKPOINT_URL", postgres_schema_url)  # the racers inherit both
    monkeypatch.setenv("JITPLAN_AUDIT_URL", postgres_schema_url)
    tid, results = _race(tmp_path, [("cli", "payments-lead"), ("api", "operator")])
    _winner, loser = _check_one_winner(tid, results)
    assert loser["status"] == (409 if loser["name"].startswith("api") else 2), loser
