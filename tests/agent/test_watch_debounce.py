"""``jitplan watch`` debouncing (in-process, on a fake clock): a trigger change runs its cycle only
once it has held for ``debounce_s``; a flap shorter than that runs none; ``max_cycles`` stops."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from jitplan.agent.watch_loop import WatchConfig, Watcher
from jitplan.contracts.signals import SignalSnapshot


class Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


def _write(d: Path, name: str, world: Path, sample: str, stale_errors: bool = False) -> None:
    doc = SignalSnapshot.from_file(world / "signals" / f"{sample}.yaml").model_dump(mode="json")
    for s in doc["signals"]:
        if stale_errors and s["name"] == "reply-drafter.errors":
            s["observed_at"] = "2026-11-26T09:00:00Z"  # breaks its contract's max_age_s
    (d / name).write_text(json.dumps(doc))


def test_debounce_and_max_cycles(tmp_path: Path, world: Path) -> None:
    d = tmp_path / "signals"
    d.mkdir()
    shutil.copyfile(world / "flags.json", tmp_path / "flags.json")
    clock = Clock()
    events: list[dict[str, Any]] = []
    cfg = WatchConfig(catalog=str(world / "catalog.yaml"), contracts=str(world / "contracts.yaml"),
                      role="operator", region="eu", signals_dir=str(d), state=str(tmp_path / "flags.json"),
                      debounce_s=5.0, settle_s=0.0, max_cycles=2)
    w = Watcher(cfg, emit=events.append, clock=clock)
    try:
        cycles = lambda: [e for e in events if e["event"] == "cycle"]  # noqa: E731
        _write(d, "a.json", world, "steady")
        w.step()
        _write(d, "b.json", world, "steady", stale_errors=True)  # reply-drafter's contract breaks
        w.step()
        clock.t += 3
        w.step()
        assert cycles() == []  # held 3 s < 5 s
        _write(d, "c.json", world, "steady")  # ... and recovers: a flap
        w.step()
        clock.t += 10
        w.step()
        assert cycles() == []  # back where the last cycle left it: nothing to plan
        _write(d, "d.json", world, "steady", stale_errors=True)
        w.step()
        clock.t += 5
        w.step()
        (c,) = cycles()
        assert c["feature"] == "reply-drafter" and c["fast_path"] and c["triggers"] == ["contract:reply-drafter.errors"]
        _write(d, "e.json", world, "steady")
        w.step()
        clock.t += 5
        assert w.step() and len(cycles()) == 2
        _write(d, "f.json", world, "steady", stale_errors=True)
        clock.t += 5
        assert w.run() == 0  # max_cycles reached: returns at once, the new file left for later
        assert len(cycles()) == 2 and events[-1] == {"event": "stopped", "cycles": 2}
    finally:
        w.close()


def test_a_failing_cycle_is_reported_and_the_watch_goes_on(tmp_path: Path, world: Path) -> None:
    from jitplan.contracts.errors import UserError

    d = tmp_path / "signals"
    d.mkdir()
    catalog = tmp_path / "catalog.yaml"
    shutil.copytree(world / "prompts", tmp_path / "prompts")
    shutil.copyfile(world / "catalog.yaml", catalog)
    events: list[dict[str, Any]] = []
    cfg = WatchConfig(catalog=str(catalog), contracts=str(world / "contracts.yaml"), role="operator", region="eu",
                      signals_dir=str(d), settle_s=0.0)
    w = Watcher(cfg, emit=events.append)
    try:
        import pytest

        with pytest.raises(UserError, match="another jitplan watch"):
            Watcher(cfg)  # one watch per folder
        catalog.write_text("features: [")  # the cycle re-reads it: bad input, for that cycle only
        _write(d, "a.json", world, "steady", stale_errors=True)
        assert w.step()
        (err,) = [e for e in events if e["event"] == "error"]
        assert err["feature"] == "reply-drafter" and "catalog.yaml" in err["error"] and err["exit_code"] == 2
        assert not w.step()  # not retried until the triggers change
        _write(d, "b.json", world, "steady")
        assert w.step() and len([e for e in events if e["event"] == "snapshot"]) == 2
    finally:
        w.close()
    from jitplan.tools.audit import AuditLog

    with AuditLog.open() as log:
        assert [r for r in log.records() if r.kind == "watch_error"]
