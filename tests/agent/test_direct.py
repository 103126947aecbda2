"""Cycles run without LangGraph (``agent.direct``) are the graph's cycles, record for record."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jitplan.agent import direct
from jitplan.agent.runtime import (
    approve_cycle,
    checkpoint_target,
    load_result,
    load_values,
    resume_cycle,
    run_cycle,
)
from jitplan.contracts.agent import PlanRequest
from jitplan.contracts.errors import UserError
from jitplan.tools.audit import AuditLog

ROOT = Path(__file__).resolve().parents[2]


def _request(world: Path, signals: str = "steady.yaml", **kw: Any) -> PlanRequest:
    base: dict[str, Any] = {
        "catalog": str(world / "catalog.yaml"), "signals": str(world / "signals" / signals),
        "contracts": str(world / "contracts.yaml"), "state": str(world / "flags.json"),
        "role": "operator", "region": "eu", "use_cache": False, "replications": 3,
        "evidence": (str(world / "evidence"),),
    }
    return PlanRequest(**(base | kw))


def _audited(thread_id: str) -> list[tuple[str, Any]]:
    with AuditLog.open() as log:
        return [(r.kind, r.payload) for r in log.records(thread_id)]


def _report(cli: Any, thread_id: str) -> dict[str, Any]:
    res = cli("report", thread_id, "--json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    doc["nodes"] = {k: v["spans"] for k, v in doc["nodes"].items()}  # durations differ
    for entry in doc.get("approval") or []:
        entry.pop("ts", None)
    for key in ("thread_id", "totals"):
        doc.pop(key, None)
    return dict(doc)


def _direct_rows() -> int:
    with sqlite3.connect(checkpoint_target()) as conn:
        try:
            return int(conn.execute(f"SELECT count(*) FROM {direct.TABLE}").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def _graph_threads() -> set[str]:
    with sqlite3.connect(checkpoint_target()) as conn:
        try:
            return {r[0] for r in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")}
        except sqlite3.OperationalError:
            return set()


def _both(world: Path, monkeypatch: pytest.MonkeyPatch, signals: str, **kw: Any) -> tuple[Any, Any]:
    """The same cycle run directly (thread ``cycle-d``) and by the graph (``cycle-g``)."""
    d = run_cycle(_request(world, signals, **kw), thread_id="cycle-d")
    monkeypatch.setattr(direct, "ENABLED", False)
    g = run_cycle(_request(world, signals, **kw), thread_id="cycle-g")
    monkeypatch.setattr(direct, "ENABLED", True)
    return d, g


def _same_result(d: Any, g: Any) -> None:
    a, b = d.model_dump(mode="json"), g.model_dump(mode="json")
    assert a.pop("thread_id") == "cycle-d" and b.pop("thread_id") == "cycle-g"
    for doc, tid in ((a, "cycle-d"), (b, "cycle-g")):
        if doc.get("escalation"):
            assert doc["escalation"].pop("thread_id") == tid
    assert a == b


@pytest.mark.parametrize(("signals", "decision", "kinds"), [
    ("steady.yaml", "noop", ["inputs", "outcome"]),
    ("demand-rise.yaml", "approved", ["inputs", "policy", "plan_draft", "validation", "simulation",
                                      "approval", "outcome"]),
])
def test_same_result_audit_and_report_as_the_graph(
    world: Path, cli: Any, monkeypatch: pytest.MonkeyPatch, signals: str, decision: str, kinds: list[str],
) -> None:
    d, g = _both(world, monkeypatch, signals)
    assert _direct_rows() == 1 and _graph_threads() == {"cycle-g"}  # only the graph checkpointed
    assert d.decision == decision and d.status == "done"
    _same_result(d, g)
    assert _audited("cycle-d") == _audited("cycle-g")
    assert [k for k, _ in _audited("cycle-d")] == kinds
    rd, rg = _report(cli, "cycle-d"), _report(cli, "cycle-g")
    assert rd == rg, json.dumps([(k, rd[k], rg.get(k)) for k in rd if rd[k] != rg.get(k)])
    assert load_values("cycle-d") == load_values("cycle-g") | {"thread_id": "cycle-d"}


def test_a_rejected_cycle_is_the_graph_s(world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # every version unproven and no evidence: the offline planner's plan fails simulation or
    # validation the same way in both
    d, g = _both(world, monkeypatch, "demand-rise.yaml", evidence=(), replications=2)
    _same_result(d, g)
    assert _audited("cycle-d") == _audited("cycle-g")
    assert _direct_rows() == 1


def test_an_escalated_cycle_is_handed_to_the_graph_and_waits(
    world: Path, cli: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    d, g = _both(world, monkeypatch, "hostile.yaml")
    assert (d.decision, d.status) == ("escalated", "interrupted"), d.reasons
    _same_result(d, g)
    assert _direct_rows() == 0 and _graph_threads() == {"cycle-d", "cycle-g"}
    assert _audited("cycle-d") == _audited("cycle-g")
    rd, rg = _report(cli, "cycle-d"), _report(cli, "cycle-g")
    assert rd == rg, json.dumps([(k, rd[k], rg.get(k)) for k in rd if rd[k] != rg.get(k)])
    assert rd["nodes"]["decide"] == 1  # the direct path's try is not traced: only the graph's run
    assert load_result("cycle-d") == d
    done = approve_cycle("cycle-d", approve=True, role="clinical-lead", comment="ok")
    assert done.decision == "approved" and done.status == "done"
    assert [k for k, _ in _audited("cycle-d")][-2:] == ["approval", "outcome"]


def test_apply_is_handed_to_the_graph_at_execute(world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flags = {}
    for name in ("d", "g"):
        flags[name] = tmp_path / f"flags-{name}.json"
        flags[name].write_bytes((world / "flags.json").read_bytes())
    d = run_cycle(_request(world, "demand-rise.yaml", state=str(flags["d"]), apply=True), thread_id="cycle-d")
    assert _direct_rows() == 0 and _graph_threads() == {"cycle-d"}  # the saga ran under the graph
    monkeypatch.setattr(direct, "ENABLED", False)
    g = run_cycle(_request(world, "demand-rise.yaml", state=str(flags["g"]), apply=True), thread_id="cycle-g")
    assert d.decision == "approved" and d.execution is not None
    assert "execution" in [k for k, _ in _audited("cycle-d")]
    assert (d.execution["exit_code"], d.execution["status"], d.execution["state_after_sha256"]) == (
        g.execution["exit_code"], g.execution["status"], g.execution["state_after_sha256"])
    assert flags["d"].read_bytes() == flags["g"].read_bytes()
    assert resume_cycle("cycle-d") == d  # finished: nothing runs again


def test_a_failing_node_fails_under_the_graph_with_its_checkpoint(world: Path, tmp_path: Path) -> None:
    bad = _request(world).model_copy(update={"signals": str(tmp_path / "missing.yaml")})
    with pytest.raises(UserError, match=r"missing\.yaml"):
        run_cycle(bad, thread_id="cycle-bad")
    assert _direct_rows() == 0 and "cycle-bad" in _graph_threads()  # the graph's try, as before
    from jitplan.contracts.home import jitplan_home
    from jitplan.tools.telemetry import read_spans

    tried = read_spans(jitplan_home() / "traces.jsonl", thread_id="cycle-bad")
    assert [(sp["name"], sp["status"]) for sp in tried] == [("jitplan.node.perceive", "ERROR")]  # traced once


def test_a_direct_cycle_reads_like_a_finished_one(world: Path) -> None:
    first = run_cycle(_request(world, "demand-rise.yaml"), thread_id="cycle-one")
    records = _audited("cycle-one")
    assert load_result("cycle-one") == first
    assert resume_cycle("cycle-one") == first
    assert run_cycle(_request(world, "demand-rise.yaml"), thread_id="cycle-one") == first  # not run again
    assert _audited("cycle-one") == records
    assert load_values("cycle-one")["decision"] == "approved"
    with pytest.raises(UserError, match="not waiting for approval: already decided \\(approved by auto\\)"):
        approve_cycle("cycle-one", approve=True, role="operator")
    with pytest.raises(UserError, match="no planning cycle with thread id 'cycle-none'"):
        load_result("cycle-none")


def test_left_to_the_graph(world: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = checkpoint_target()
    assert direct.run_direct(_request(world, request="enable answer-synthesizer"), "cycle-x", target) is None
    assert direct.run_direct(_request(world, model=f"scripted:{tmp_path / 's.yaml'}"), "cycle-x", target) is None
    assert direct.run_direct(_request(world), "cycle-x", "postgresql://h/db") is None
    monkeypatch.setenv("JITPLAN_CRASH_AT", "nowhere")
    assert direct.run_direct(_request(world), "cycle-x", target) is None
    monkeypatch.delenv("JITPLAN_CRASH_AT")
    monkeypatch.setattr(direct, "ENABLED", False)
    run_cycle(_request(world), thread_id="cycle-g")
    monkeypatch.setattr(direct, "ENABLED", True)
    assert direct.run_direct(_request(world), "cycle-g", target) is None  # the graph's thread


def test_threads_running_direct_and_graph_cycles_in_one_home(world: Path) -> None:
    """``jitplan regress --workers`` and the console run cycles on threads of one process: the
    graph's saver connection is shared, and the direct path must use it under the saver's lock."""
    from concurrent.futures import ThreadPoolExecutor

    signals = ["steady.yaml", "demand-rise.yaml", "hostile.yaml"] * 4

    def one(i: int) -> tuple[str, str]:
        tid = f"cycle-t{i}"
        res = run_cycle(_request(world, signals[i], replications=2), thread_id=tid)
        # reading back goes through the shared saver connection while other threads write
        return res.decision, load_result(tid).decision

    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(one, range(len(signals))))
    assert all(a == b for a, b in got), got
    assert [a for a, _ in got[:3]] == ["noop", "approved", "escalated"]
    assert _direct_rows() == 8 and len(_graph_threads()) == 4


_KILLED_IN_SIMULATE = """
import os, signal, sys
from jitplan.agent.cli import main
from jitplan.agent.nodes import check

def killed(state):
    os.kill(os.getpid(), signal.SIGKILL)  # a real kill, mid-cycle: plan, validate already recorded

check.simulate = killed
sys.exit(main(sys.argv[1:]))
"""


def test_a_killed_direct_cycle_resumes_and_records_nothing_twice(world: Path, cli: Any, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    w = world
    args = ["plan", "--catalog", f"{w}/catalog.yaml", "--signals", f"{w}/signals/demand-rise.yaml",
            "--contracts", f"{w}/contracts.yaml", "--state", f"{w}/flags.json", "--evidence", f"{w}/evidence",
            "--no-cache", "--json", "--thread-id", "cycle-k"]
    proc = subprocess.run([sys.executable, "-c", _KILLED_IN_SIMULATE, *args], env=dict(os.environ),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == -9, proc.stderr
    before = _audited("cycle-k")
    assert [k for k, _ in before] == ["inputs", "policy", "plan_draft", "validation"]
    interrupted = load_result("cycle-k")
    assert (interrupted.status, interrupted.decision) == ("interrupted", None)
    res = cli("plan", "--resume", "cycle-k", "--json")
    assert res.code == 0, res.err
    assert json.loads(res.out)["decision"] == "approved"
    after = _audited("cycle-k")
    assert after[:4] == before  # kept as they were, once
    assert [k for k, _ in after] == ["inputs", "policy", "plan_draft", "validation", "simulation",
                                      "approval", "outcome"]
    assert _direct_rows() == 1 and not _graph_threads()
    with sqlite3.connect(checkpoint_target()) as conn:
        assert conn.execute(f"SELECT count(*) FROM {direct.STARTED}").fetchone()[0] == 0
    assert cli("audit", "verify").code == 0
    assert resume_cycle("cycle-k").decision == "approved"  # finished: nothing runs again
    assert _audited("cycle-k") == after


def test_a_replaced_checkpoint_file_is_opened_again(world: Path) -> None:
    """The direct path keeps its connection; a database deleted and created again under the same
    name (a cleaned home) must get the next cycle, not the unlinked file."""
    run_cycle(_request(world), thread_id="cycle-1")
    target = Path(checkpoint_target())
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    run_cycle(_request(world), thread_id="cycle-2")
    assert _direct_rows() == 1
    assert load_result("cycle-2").decision == "noop"
    with pytest.raises(UserError, match="no planning cycle with thread id 'cycle-1'"):
        load_result("cycle-1")


def test_threads_starting_at_once_on_a_new_home(world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``jitplan regress --workers`` starts its first cycles at once on a new home: switching
    the new checkpoint file to WAL and creating the tables must not fail ('database is locked')."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    for attempt in range(6):
        monkeypatch.setenv("JITPLAN_HOME", str(tmp_path / f"home-{attempt}"))
        start = threading.Barrier(4)

        def one(i: int, attempt: int = attempt, start: threading.Barrier = start) -> str:
            signals = ("steady.yaml", "hostile.yaml")[i % 2]  # direct, and handed to the graph
            start.wait()
            return str(run_cycle(_request(world, signals, replications=1),
                                 thread_id=f"cycle-{attempt}-{i}").decision)

        with ThreadPoolExecutor(max_workers=4) as pool:
            assert list(pool.map(one, range(4))) == ["noop", "escalated"] * 2
        assert _direct_rows() == 2



def test_a_killed_direct_cycle_runs_again_from_its_own_inputs(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Named again (``--thread-id``, ``watch`` after a restart) with other inputs, or where the
    direct path is not taken now, a killed direct cycle goes on with the inputs it started with."""
    from jitplan.agent.nodes import check

    def killed(state: Any) -> dict[str, Any]:
        raise KeyboardInterrupt  # as a kill: not caught, nothing after it runs

    for tid, then in (("cycle-k1", {}), ("cycle-k2", {"request": "enable answer-synthesizer"}),
                      ("cycle-k3", {"crash_at": "nowhere"})):
        with monkeypatch.context() as m:
            m.setattr(check, "simulate", killed)
            with pytest.raises(KeyboardInterrupt):
                run_cycle(_request(world, "demand-rise.yaml"), thread_id=tid)
        assert [k for k, _ in _audited(tid)] == ["inputs", "policy", "plan_draft", "validation"]
        other = _request(world, "steady.yaml", request=then.get("request", ""))
        with monkeypatch.context() as m:
            if "crash_at" in then:
                m.setenv("JITPLAN_CRASH_AT", then["crash_at"])  # the graph runs it, from its start
            res = run_cycle(other, thread_id=tid)
        assert res.decision == "approved", (tid, res.reasons)
        assert [k for k, _ in _audited(tid)] == ["inputs", "policy", "plan_draft", "validation", "simulation",
                                                 "approval", "outcome"]
        assert load_values(tid)["inputs"]["signals"].endswith("demand-rise.yaml")
        assert started_rows() == 0


def started_rows() -> int:
    with sqlite3.connect(checkpoint_target()) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {direct.STARTED}").fetchone()[0])


def test_a_replaced_home_is_seen_by_the_graph_s_saver_too(world: Path) -> None:
    run_cycle(_request(world), thread_id="cycle-1")
    assert load_result("cycle-1").decision == "noop"  # the saver is open now
    target = Path(checkpoint_target())
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    run_cycle(_request(world), thread_id="cycle-2")
    assert load_result("cycle-2").decision == "noop"


def test_connections_to_removed_homes_are_closed(world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    for i in range(5):
        home = tmp_path / f"home-{i}"
        monkeypatch.setenv("JITPLAN_HOME", str(home))
        run_cycle(_request(world), thread_id=f"cycle-{i}")
        shutil.rmtree(home)
    import threading

    mine = [k for k in direct._CONNS if k[0] == threading.get_ident() and k[1].startswith(str(tmp_path))]
    assert len(mine) <= 1, mine  # only the last home's, until the next connection is opened
