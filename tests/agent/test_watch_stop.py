"""``jitplan watch`` stop (SIGTERM's ``Watcher.stop``) between steps, in-process: the step in
progress finishes, nothing further starts, and the next start does exactly the rest."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from jitplan.agent.watch_loop import WatchConfig, Watcher
from jitplan.tools.audit import AuditLog

FEATURES = {"answer-synthesizer", "kb-retriever", "reply-drafter", "ticket-summarizer"}


def test_stop_during_a_cycle_finishes_it_and_the_restart_runs_the_rest(tmp_path: Path, world: Path) -> None:
    d = tmp_path / "signals"
    d.mkdir()
    shutil.copyfile(world / "signals" / "stale.yaml", d / "stale.yaml")  # four features' contracts break
    cfg = WatchConfig(catalog=str(world / "catalog.yaml"), contracts=str(world / "contracts.yaml"),
                      role="operator", region="eu", signals_dir=str(d), settle_s=0.0, interval_s=0.05)
    first: list[dict[str, Any]] = []
    w = Watcher(cfg)

    def emit(e: dict[str, Any]) -> None:
        first.append(e)
        if e["event"] == "cycle":
            w.stop()  # as SIGTERM does, while the first cycle is being reported

    w.emit = emit
    try:
        assert w.run() == 0
        rows = w.ledger.features()
    finally:
        w.close()
    cycles = [e for e in first if e["event"] == "cycle"]
    assert len(cycles) == 1 and first[-1] == {"event": "stopped", "cycles": 1}
    done = cycles[0]["feature"]
    assert rows[done].cycle_status == "done" and rows[done].fired == rows[done].observed
    assert all(rows[f].cycle_status == "" and rows[f].fired != rows[f].observed for f in FEATURES - {done})

    again: list[dict[str, Any]] = []
    w = Watcher(WatchConfig(**{**cfg.__dict__, "once": True}), emit=again.append)
    try:
        assert w.run() == 0
    finally:
        w.close()
    assert [e for e in again if e["event"] == "snapshot"] == []  # the snapshot is not processed twice
    assert {e["feature"] for e in again if e["event"] == "cycle"} == FEATURES - {done}
    with AuditLog.open() as log:
        assert log.verify().ok
        stops = [r.payload for r in log.records() if r.kind == "watch_stopped"]
    assert [s["why"] for s in stops] == ["signal", "idle"] and [s["cycles"] for s in stops] == [1, 3]
