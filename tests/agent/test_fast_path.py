"""The fast path without LangGraph (``agent.fast_path``) is the graph's fast path, record for record."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jitplan.agent import fast_path
from jitplan.agent.nodes.perceive import takes_fast_path
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


def _request(world: Path, signals: str = "steady.yaml") -> PlanRequest:
    return PlanRequest(catalog=str(world / "catalog.yaml"), signals=str(world / "signals" / signals),
                       contracts=str(world / "contracts.yaml"), state=str(world / "flags.json"),
                       role="operator", region="eu", use_cache=False)


def _audited(thread_id: str) -> list[tuple[str, Any]]:
    with AuditLog.open() as log:
        return [(r.kind, r.payload) for r in log.records(thread_id)]


def _report(cli: Any, thread_id: str) -> dict[str, Any]:
    res = cli("report", thread_id, "--json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    doc["nodes"] = {k: v["spans"] for k, v in doc["nodes"].items()}  # durations differ
    for key in ("thread_id", "totals"):
        doc.pop(key, None)
    return dict(doc)


def _fast_rows() -> int:
    with sqlite3.connect(checkpoint_target()) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {fast_path.TABLE}").fetchone()[0])


def test_the_prediction_is_triage_s(world: Path) -> None:
    assert takes_fast_path(_request(world).model_dump(mode="json"))
    assert not takes_fast_path(_request(world, "demand-rise.yaml").model_dump(mode="json"))
    scoped = _request(world).model_copy(update={"request": "enable answer-synthesizer"})
    assert not takes_fast_path(scoped.model_dump(mode="json"))


def test_same_result_audit_and_report_as_the_graph(world: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = run_cycle(_request(world), thread_id="cycle-fast")
    assert _fast_rows() == 1
    monkeypatch.setattr(fast_path, "ENABLED", False)
    graph = run_cycle(_request(world), thread_id="cycle-graph")
    assert _fast_rows() == 1  # the graph checkpointed its own
    assert fast.decision == "noop" and fast.fast_path and fast.status == "done"
    a, b = fast.model_dump(mode="json"), graph.model_dump(mode="json")
    assert a.pop("thread_id") == "cycle-fast" and b.pop("thread_id") == "cycle-graph"
    assert a == b
    assert _audited("cycle-fast") == _audited("cycle-graph")
    assert [k for k, _ in _audited("cycle-fast")] == ["inputs", "outcome"]
    assert _report(cli, "cycle-fast") == _report(cli, "cycle-graph")
    assert set(_report(cli, "cycle-fast")["nodes"]) == {"perceive", "triage", "decide", "record"}
    monkeypatch.setattr(fast_path, "ENABLED", True)
    assert load_values("cycle-fast") == load_values("cycle-graph") | {"thread_id": "cycle-fast"}


def test_a_fast_path_cycle_reads_like_a_finished_one(world: Path) -> None:
    first = run_cycle(_request(world), thread_id="cycle-one")
    records = _audited("cycle-one")
    assert load_result("cycle-one") == first
    assert resume_cycle("cycle-one") == first
    assert run_cycle(_request(world), thread_id="cycle-one") == first  # not run again
    assert _audited("cycle-one") == records
    assert load_values("cycle-one")["fast_path"] is True
    with pytest.raises(UserError, match="not waiting for approval \\(decision: noop\\)"):
        approve_cycle("cycle-one", approve=True, role="operator")
    with pytest.raises(UserError, match="no planning cycle with thread id 'cycle-none'"):
        load_result("cycle-none")


def test_not_taken_under_crash_injection_or_for_a_graph_thread(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = checkpoint_target()
    monkeypatch.setenv("JITPLAN_CRASH_AT", "nowhere")
    assert fast_path.run_fast_path(_request(world), "cycle-x", target) is None
    monkeypatch.delenv("JITPLAN_CRASH_AT")
    monkeypatch.setattr(fast_path, "ENABLED", False)
    run_cycle(_request(world), thread_id="cycle-g")
    monkeypatch.setattr(fast_path, "ENABLED", True)
    assert fast_path.run_fast_path(_request(world), "cycle-g", target) is None  # the graph's thread
    assert fast_path.run_fast_path(_request(world), "cycle-x", "postgresql://h/db") is None


def test_bad_inputs_are_left_to_the_graph(world: Path, tmp_path: Path) -> None:
    bad = _request(world).model_copy(update={"signals": str(tmp_path / "missing.yaml")})
    assert fast_path.run_fast_path(bad, "cycle-bad", checkpoint_target()) is None
    with pytest.raises(UserError):
        run_cycle(bad, thread_id="cycle-bad")  # the graph's error, as before


def test_threads_running_fast_and_graph_cycles_in_one_home(world: Path) -> None:
    """``jitplan regress --workers`` and the console run cycles on threads of one process: the
    graph's saver connection is shared, and the fast path must use it under the saver's lock."""
    from concurrent.futures import ThreadPoolExecutor

    signals = ["steady.yaml", "demand-rise.yaml"] * 6

    def one(i: int) -> tuple[str, str]:
        tid = f"cycle-t{i}"
        res = run_cycle(_request(world, signals[i]).model_copy(update={"replications": 2}), thread_id=tid)
        # reading back goes through the shared saver connection while other threads write
        return res.decision, load_result(tid).decision

    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(one, range(len(signals))))
    assert all(a == b for a, b in got), got
    assert {a for a, _ in got[0::2]} == {"noop"}
    assert _fast_rows() == len(signals) // 2
