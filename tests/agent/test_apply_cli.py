"""``jitplan apply``: the approval handshake (unapproved, rejected, stale), bad input, outcomes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.plan import Plan
from jitplan.contracts.state import DeploymentState
from jitplan.tools.audit import AuditLog
from jitplan.tools.flags import FlagStore

ROOT = Path(__file__).resolve().parents[2]
TOL = [{"metric": "latency_p95_ms", "comparator": "<", "threshold": 2500}]
PLAN = {
    "id": "plan-cli", "goal": "budget and shadow",
    "steps": [
        {"id": "a", "action": "set_budget", "feature": "ticket-summarizer", "params": {"usd_per_day": 40},
         "tolerances": TOL},
        {"id": "b", "action": "shadow", "feature": "ticket-summarizer", "version": "1.2.0", "tolerances": TOL,
         "depends_on": ["a"]},
    ],
}


def fresh(src: Path, dst: Path, ahead_s: float = 3600.0) -> Path:
    """A copy of a snapshot with every time moved so it was taken ``ahead_s`` from now: gates use
    only samples observed after their stage began, and these applies run on the real clock."""
    from datetime import UTC, datetime, timedelta

    from jitplan.contracts.signals import SignalSnapshot

    snap = SignalSnapshot.from_file(src)
    shift = datetime.now(UTC) + timedelta(seconds=ahead_s) - snap.observed_at
    doc = snap.model_dump(mode="json")
    doc["observed_at"] = (snap.observed_at + shift).isoformat()
    for d, sig in zip(doc["signals"], snap.signals, strict=True):
        d["observed_at"] = (sig.observed_at + shift).isoformat()
    dst.write_text(json.dumps(doc))
    return dst


@pytest.fixture
def ws(tmp_path: Path, world: Path) -> dict[str, Path]:
    flags = tmp_path / "flags.json"
    shutil.copyfile(world / "flags.json", flags)
    catalog = tmp_path / "catalog.yaml"
    shutil.copyfile(world / "catalog.yaml", catalog)
    policy = tmp_path / "policies"
    shutil.copytree(ROOT / "tools" / "policy_bundle", policy)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    return {"flags": flags, "catalog": catalog, "policy": policy, "plan": plan,
            "steady": fresh(world / "signals" / "steady.yaml", tmp_path / "steady.json"),
            "spike": fresh(world / "signals" / "latency-spike.yaml", tmp_path / "spike.json"),
            "stale": world / "signals" / "steady.yaml"}


def approve(ws: dict[str, Path], decision: str = "approved", **override: Any) -> None:
    from jitplan.tools.policy import PolicyBundle

    plan = Plan.from_file(ws["plan"])
    inputs = {
        "catalog_path": str(ws["catalog"]), "catalog_sha256": Catalog.from_file(ws["catalog"]).digest(),
        "policy_dir": str(ws["policy"]), "policy_sha256": PolicyBundle.load(ws["policy"]).sha256,
        "state_path": str(ws["flags"]), "state_sha256": FlagStore(ws["flags"]).read().digest(),
    } | override
    with AuditLog.open() as log:
        log.append("approval", {"plan_sha256": plan.digest(), "decision": decision, "by": "operator",
                                "comment": "ok", "auto": False, "inputs": inputs}, thread_id="cycle-1")


def apply(cli: Any, ws: dict[str, Path], *extra: str, signals: str = "steady") -> Any:
    return cli("apply", ws["plan"], "--state", ws["flags"], "--signals", ws[signals], *extra)


def test_unapproved_plan_is_refused(cli: Any, ws: dict[str, Path]) -> None:
    before = ws["flags"].read_bytes()
    res = apply(cli, ws)
    assert res.code == 1 and "not approved" in res.err
    assert ws["flags"].read_bytes() == before
    with AuditLog.open() as log:
        assert [r.kind for r in log.records()] == ["apply_refused"]


def test_a_refusal_with_json_is_one_object_on_stdout(cli: Any, ws: dict[str, Path]) -> None:
    res = apply(cli, ws, "--json")
    assert res.code == 1
    doc = json.loads(res.out)
    assert doc["status"] == "refused" and doc["exit_code"] == 1 and "not approved" in doc["reason"]


def test_rejected_plan_is_refused_and_latest_decision_wins(cli: Any, ws: dict[str, Path]) -> None:
    approve(ws, "rejected")
    res = apply(cli, ws)
    assert res.code == 1 and "rejected" in res.err
    approve(ws, "approved")
    approve(ws, "rejected")
    assert apply(cli, ws).code == 1


def test_approved_plan_applies_and_is_audited_under_the_approval_thread(cli: Any, ws: dict[str, Path]) -> None:
    approve(ws)
    res = apply(cli, ws, "--json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["status"] == "applied" and [s["step_id"] for s in doc["steps"]] == ["a", "b"]
    st = FlagStore(ws["flags"]).read().get("ticket-summarizer")
    assert st.budget_usd_per_day == 40 and st.shadow_version == "1.2.0"
    with AuditLog.open() as log:
        kinds = [r.kind for r in log.records("cycle-1")]
    assert kinds.count("step_applied") == 2 and kinds[-1] == "execution"


@pytest.mark.parametrize("what", ["state", "catalog", "policy"])
def test_stale_validation_is_refused(cli: Any, ws: dict[str, Path], what: str) -> None:
    approve(ws)
    if what == "state":
        store = FlagStore(ws["flags"])
        st = store.read()
        store.write(DeploymentState(features={k: v for k, v in st.features.items() if k != "tone-rewriter"}))
    elif what == "catalog":
        text = ws["catalog"].read_text()
        ws["catalog"].write_text(text.replace("catalog: support-desk", "catalog: support-desk-2", 1))
        assert Catalog.from_file(ws["catalog"]).catalog == "support-desk-2"
    else:
        (ws["policy"] / "extra.rego").write_text("package jitplan.extra\n\nx := 1\n")
    before = ws["flags"].read_bytes()
    res = apply(cli, ws)
    assert res.code == 1 and "stale" in res.err and what in res.err
    assert ws["flags"].read_bytes() == before


def test_breach_compensates_and_exits_1(cli: Any, ws: dict[str, Path]) -> None:
    approve(ws)
    before = ws["flags"].read_bytes()
    res = apply(cli, ws, signals="spike")
    assert res.code == 1 and "compensated" in res.out and "BREACHED" in res.out
    assert ws["flags"].read_bytes() == before


def test_dry_run_needs_no_approval_and_writes_nothing(cli: Any, ws: dict[str, Path]) -> None:
    before = ws["flags"].read_bytes()
    res = cli("apply", ws["plan"], "--state", ws["flags"], "--catalog", ws["catalog"], "--dry-run")
    assert res.code == 0 and "dry_run" in res.out and "would be refused" in res.err
    assert ws["flags"].read_bytes() == before


def test_signals_dir_uses_the_newest_snapshot(cli: Any, ws: dict[str, Path], tmp_path: Path) -> None:
    approve(ws)
    d = tmp_path / "signals"
    d.mkdir()
    shutil.copyfile(ws["spike"], d / "a-old.yaml")
    shutil.copyfile(ws["steady"], d / "b-new.yaml")
    import os

    os.utime(d / "a-old.yaml", (1_000_000, 1_000_000))
    res = cli("apply", ws["plan"], "--state", ws["flags"], "--signals-dir", d)
    assert res.code == 0, res.out + res.err


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda ws: ws["plan"].write_text("{not json"), "plan.json"),
        (lambda ws: ws["plan"].write_text(json.dumps({**PLAN, "steps": [{"id": "x", "action": "explode"}]})), "steps[0].action"),
        (lambda ws: ws["flags"].write_text('{"flags": []}'), "flags.json"),
    ],
    ids=["malformed-plan", "bad-action", "bad-flags"],
)
def test_bad_input_exits_2_naming_the_file(cli: Any, ws: dict[str, Path], mutate: Any, needle: str) -> None:
    mutate(ws)
    res = apply(cli, ws)
    assert res.code == 2 and needle in res.err and "Traceback" not in res.err


def test_signals_are_required_for_a_real_apply(cli: Any, ws: dict[str, Path], tmp_path: Path) -> None:
    res = cli("apply", ws["plan"], "--state", ws["flags"])
    assert res.code == 2 and "--signals" in res.err
    bad = tmp_path / "bad.yaml"
    bad.write_text("observed_at: yesterday\nsignals: []\n")
    res = cli("apply", ws["plan"], "--state", ws["flags"], "--signals", bad)
    assert res.code == 2 and "bad.yaml" in res.err


def test_hostile_text_in_an_approval_is_not_echoed_raw(cli: Any, ws: dict[str, Path]) -> None:
    plan = Plan.from_file(ws["plan"])
    with AuditLog.open() as log:
        log.append("approval", {"plan_sha256": plan.digest(), "decision": "rejected", "by": "evil\x1b[2J\x07",
                                "comment": "", "auto": False, "inputs": {}})
    res = apply(cli, ws)
    assert res.code == 1 and "\x1b" not in res.err and "\x07" not in res.err and "evil?" in res.err
    show = cli("audit", "show")
    assert "\x1b" not in show.out


def test_a_stale_snapshot_waits_up_to_the_step_timeout_then_pauses(cli: Any, ws: dict[str, Path]) -> None:
    """The old apply judged every stage on whatever the snapshot held, however old."""
    quick = {**PLAN, "steps": [{**st, "timeout_s": 0.3} for st in PLAN["steps"]]}
    ws["plan"].write_text(json.dumps(quick))
    approve(ws)
    res = apply(cli, ws, "--poll", "0.1", "--json", signals="stale")
    assert res.code == 1, res.err
    doc = json.loads(res.out)
    assert doc["status"] == "paused" and [s["step_id"] for s in doc["steps"]] == ["a"]
    gate = doc["steps"][0]["gate"]
    assert gate["waited_s"] > 0 and "before the stage began" in gate["reason"] and "waited" in gate["reason"]


def test_retry_after_compensation(cli: Any, ws: dict[str, Path]) -> None:
    approve(ws)
    assert apply(cli, ws, "--retry").code == 2  # nothing to retry yet
    first = apply(cli, ws, signals="spike")
    assert first.code == 1 and "compensated" in first.out
    again = apply(cli, ws)
    assert again.code == 1 and "already compensated" in again.out and "--retry" in again.out
    retried = apply(cli, ws, "--retry")
    assert retried.code == 0 and "applied (attempt 2)" in retried.out, retried.out + retried.err
    with AuditLog.open() as log:
        recs = log.records()
    retry = [r for r in recs if r.kind == "retry"]
    assert len(retry) == 1 and "BREACHED" in retry[0].payload["previous_reason"]
    assert [r.payload["status"] for r in recs if r.kind == "execution"] == ["compensated", "applied"]
    assert apply(cli, ws, "--retry").code == 2  # an applied run is not retried
