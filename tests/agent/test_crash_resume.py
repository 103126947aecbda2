"""A cycle SIGKILLed inside each node resumes from its checkpoint and completes, with its side
effects (audit records, flag writes) exactly once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jitplan.agent.nodes.common import CRASH_ENV
from jitplan.agent.runtime import resume_cycle, run_cycle
from jitplan.contracts.agent import PlanRequest
from jitplan.tools.audit import opened

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
NODES = ("perceive", "govern", "plan", "validate", "simulate", "decide", "execute", "record")


def _argv(flags: Path, thread_id: str) -> list[str]:
    return [sys.executable, "-m", "jitplan.agent.cli", "plan",
            "--catalog", str(WORLD / "catalog.yaml"), "--signals", str(WORLD / "signals" / "cost-overrun.yaml"),
            "--contracts", str(WORLD / "contracts.yaml"), "--state", str(flags),
            "--policy", str(ROOT / "tools" / "policy_bundle"), "--replications", "2",
            "--evidence", str(WORLD / "evidence"), "--apply", "--thread-id", thread_id, "--json",
            "--as", "operator", "--region", "eu"]


def _records(home: Path, thread_id: str) -> list[Any]:
    os.environ["JITPLAN_HOME"] = str(home)
    with opened() as log:
        return log.records(thread_id)


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, int]]:
    """One subprocess per node, all started at once, each killed inside its node."""
    procs: dict[str, tuple[Path, subprocess.Popen[bytes]]] = {}
    for node in NODES:
        home = tmp_path_factory.mktemp(f"crash-{node}")
        shutil.copy(WORLD / "flags.json", home / "flags.json")
        env = {**os.environ, "JITPLAN_HOME": str(home), CRASH_ENV: node}
        procs[node] = (home, subprocess.Popen(_argv(home / "flags.json", f"t-{node}"), cwd=ROOT, env=env,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    out: dict[str, tuple[Path, int]] = {}
    for node, (home, p) in procs.items():
        p.communicate(timeout=120)
        out[node] = (home, p.returncode)
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, Any]]:
    """Audit kinds and final flags of the same cycle without a crash."""
    home = tmp_path_factory.mktemp("ref")
    shutil.copy(WORLD / "flags.json", home / "flags.json")
    mp = pytest.MonkeyPatch()
    mp.setenv("JITPLAN_HOME", str(home))
    req = PlanRequest(catalog=str(WORLD / "catalog.yaml"), signals=str(WORLD / "signals" / "cost-overrun.yaml"),
                      contracts=str(WORLD / "contracts.yaml"), state=str(home / "flags.json"),
                      policy=str(ROOT / "tools" / "policy_bundle"), replications=2, apply=True,
                      role="operator", region="eu", evidence=(str(WORLD / "evidence"),))
    run_cycle(req, thread_id="t-ref")
    out = [r.kind for r in _records(home, "t-ref")], json.loads((home / "flags.json").read_text())
    mp.undo()
    return out


@pytest.mark.parametrize("node", NODES)
def test_killed_cycle_resumes_and_side_effects_happen_once(
    node: str, crashed: dict[str, tuple[Path, int]], reference: tuple[list[str], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home, code = crashed[node]
    assert code == -signal.SIGKILL, f"the process was not killed inside {node}"
    ref_kinds, ref_flags = reference
    assert "execution" in ref_kinds and "approval" in ref_kinds
    monkeypatch.setenv("JITPLAN_HOME", str(home))
    before = [r.kind for r in _records(home, f"t-{node}")]
    assert before == ref_kinds[: len(before)]  # the killed run wrote a prefix of a normal run
    res = resume_cycle(f"t-{node}")
    assert res.status == "done" and res.decision == "approved", res.reasons
    kinds = [r.kind for r in _records(home, f"t-{node}")]
    assert kinds == ref_kinds, f"audit records after a crash in {node} differ from a clean run"
    assert kinds.count("approval") == 1 and kinds.count("outcome") == 1
    assert json.loads((home / "flags.json").read_text()) == ref_flags
    # Resuming a finished cycle changes nothing.
    again = resume_cycle(f"t-{node}")
    assert again.decision == "approved" and [r.kind for r in _records(home, f"t-{node}")] == kinds
