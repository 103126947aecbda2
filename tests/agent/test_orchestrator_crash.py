"""SIGKILL at every durable point of a run, then restart: fully applied or fully compensated,
no effect applied twice, audit chain intact."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jitplan.agent.orchestrator import apply_plan, plan_units
from jitplan.contracts.plan import Plan
from jitplan.contracts.signals import SignalSnapshot
from jitplan.tools.audit import AuditLog
from jitplan.tools.flags import FlagStore
from jitplan.tools.signal_source import SnapshotFileSource

ROOT = Path(__file__).resolve().parents[2]
TOL = [{"metric": "error_rate", "comparator": "<", "threshold": 0.05}]
PLAN = Plan.model_validate({
    "id": "plan-crash", "goal": "crash safety",
    "steps": [
        {"id": "s1", "action": "shadow", "feature": "ticket-summarizer", "version": "1.2.0", "tolerances": TOL},
        {"id": "s2", "action": "set_budget", "feature": "reply-drafter", "params": {"usd_per_day": 20}, "tolerances": TOL},
        {"id": "s3", "action": "canary", "feature": "pii-redactor", "version": "1.1.0", "params": {"weight": 5},
         "tolerances": [{"metric": "error_rate", "comparator": "<", "threshold": 0.05}]},
        {"id": "s4", "action": "enable", "feature": "answer-synthesizer", "version": "1.0.0", "tolerances": TOL},
    ],
})
FEATURES = ["ticket-summarizer", "reply-drafter", "pii-redactor", "answer-synthesizer"]
# gates use only samples observed after their stage began: these runs use the real clock, so the
# samples are stamped an hour ahead (as if they arrived after every stage)
LATER = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
SAMPLED_AT = LATER.strftime("%Y-%m-%dT%H:%M:%SZ")
SNAPSHOT_AT = (LATER + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

_RUNNER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from jitplan.agent.orchestrator import apply_plan
from jitplan.contracts.plan import Plan
from jitplan.tools.audit import AuditLog
from jitplan.tools.flags import FlagStore
from jitplan.tools.signal_source import SnapshotFileSource
plan = Plan.from_file(sys.argv[2])
with AuditLog.open() as audit:
    apply_plan(plan, FlagStore(sys.argv[3]), signals=SnapshotFileSource(sys.argv[4]), audit=audit, thread_id="t")
"""


def _snapshot(path: Path, breach: str | None) -> Path:
    sigs = []
    for f in FEATURES:
        value = 0.3 if f == breach else 0.002
        sigs.append({"name": f"{f}.errors", "kind": "error_rate", "feature": f, "value": value, "unit": "ratio",
                     "observed_at": SAMPLED_AT})
        # canary analysis for s3 needs cohort samples
        for i in range(6):
            for cohort in ("canary", "baseline"):
                if f == "pii-redactor":
                    v = 0.3 if (f == breach and cohort == "canary") else 0.002 + 0.0001 * i
                    sigs.append({"name": f"{f}.errors.{cohort}", "kind": "error_rate", "feature": f,
                                 "value": v, "unit": "ratio", "observed_at": SAMPLED_AT})
    SignalSnapshot.model_validate({"observed_at": SNAPSHOT_AT, "signals": sigs})
    import json

    path.write_text(json.dumps({"observed_at": SNAPSHOT_AT, "signals": sigs}))
    return path


def _setup(tmp: Path, world: Path, breach: str | None) -> tuple[Path, Path, Path]:
    flags = tmp / "flags.json"
    shutil.copyfile(world / "flags.json", flags)
    plan = tmp / "plan.json"
    plan.write_text(PLAN.canonical_json())
    return flags, plan, _snapshot(tmp / "signals.json", breach)


def _reference(tmp: Path, world: Path, breach: str | None) -> bytes:
    ref = tmp / "reference"
    ref.mkdir()
    flags, _, sigs = _setup(ref, world, breach)
    with AuditLog.open(str(ref / "audit.db")) as audit:
        apply_plan(PLAN, FlagStore(flags), signals=SnapshotFileSource(sigs), audit=audit, runs_dir=ref / "runs")
    return flags.read_bytes()


def _crash_then_restart(tmp: Path, world: Path, home: Path, label: str, breach: str | None) -> tuple[Path, bytes]:
    flags, plan, sigs = _setup(tmp, world, breach)
    original = flags.read_bytes()
    env = {**os.environ, "JITPLAN_HOME": str(home), "JITPLAN_CRASH_AT": label, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", _RUNNER, str(ROOT), str(plan), str(flags), str(sigs)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"{label}: did not crash ({proc.returncode}) {proc.stderr[-500:]}"
    with AuditLog.open() as audit:  # restart, in-process, same home
        res = apply_plan(PLAN, FlagStore(flags), signals=SnapshotFileSource(sigs), audit=audit, thread_id="t")
    assert res.resumed
    return flags, original


UNITS = [u.name for u in plan_units(PLAN)]


@pytest.mark.parametrize("label", [f"{p}:{u}" for u in UNITS for p in ("before_write", "after_write", "after_done")])
def test_crash_during_apply_then_restart_ends_fully_applied_once(
    tmp_path: Path, world: Path, _isolated_home: Path, label: str
) -> None:
    expected = _reference(tmp_path, world, None)
    flags, _ = _crash_then_restart(tmp_path, world, _isolated_home, label, None)
    assert flags.read_bytes() == expected
    with AuditLog.open() as audit:
        assert audit.verify().ok
        applied = Counter(r.payload["unit"] for r in audit.records() if r.kind == "step_applied")
        outcomes = [r.payload["status"] for r in audit.records() if r.kind == "execution"]
    assert applied == Counter(UNITS)  # every step applied, none twice
    assert outcomes == ["applied"]
    # every write to the flags file is archived first: one archive at start + one per step
    assert len(FlagStore(flags).history()) == 1 + len(UNITS)


@pytest.mark.parametrize(
    "label",
    ["after_done:s3"] + [f"{p}:{u}" for u in ("s3", "s2", "s1") for p in ("comp_before_write", "comp_after_write")],
)
def test_crash_during_compensation_then_restart_ends_fully_compensated(
    tmp_path: Path, world: Path, _isolated_home: Path, label: str
) -> None:
    flags, original = _crash_then_restart(tmp_path, world, _isolated_home, label, breach="pii-redactor")
    assert flags.read_bytes() == original
    with AuditLog.open() as audit:
        assert audit.verify().ok
        recs = audit.records()
    applied = Counter(r.payload["unit"] for r in recs if r.kind == "step_applied")
    compensated = [r.payload["unit"] for r in recs if r.kind == "step_compensated"]
    assert applied == Counter(["s1", "s2", "s3"])
    assert compensated == ["s3", "s2", "s1"]
    assert [r.payload["status"] for r in recs if r.kind == "execution"] == ["compensated"]
