"""``jitplan watch``: cycles on trigger changes, rejected snapshots, the ledger across restarts,
approvals, --apply through the orchestrator, SIGTERM, bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.signals import SignalSnapshot
from jitplan.tools.audit import AuditLog
from tests.agent.test_apply_cli import fresh  # a snapshot re-dated to just ahead of now


@pytest.fixture
def ws(tmp_path: Path, world: Path) -> dict[str, Path]:
    d = tmp_path / "signals"
    d.mkdir()
    flags = tmp_path / "flags.json"
    shutil.copyfile(world / "flags.json", flags)
    return {"dir": d, "flags": flags, "catalog": world / "catalog.yaml", "contracts": world / "contracts.yaml",
            "world": world}


def put(ws: dict[str, Path], name: str, target: str | None = None, age_s: float = 10.0) -> Path:
    """Copy a sample snapshot into the watched folder, ``age_s`` old (past the settle time)."""
    dst = ws["dir"] / (target or f"{name}.yaml")
    shutil.copyfile(ws["world"] / "signals" / f"{name}.yaml", dst)
    t = time.time() - age_s
    os.utime(dst, (t, t))
    return dst


def watch(cli: Any, ws: dict[str, Path], *extra: str) -> tuple[int, list[dict[str, Any]], str]:
    r = cli("watch", "--catalog", ws["catalog"], "--contracts", ws["contracts"], "--signals-dir", ws["dir"],
            "--state", ws["flags"], "--once", "--json", *extra)
    return r.code, [json.loads(line) for line in r.out.splitlines() if line.strip()], r.err


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == kind]


def test_cycles_on_trigger_changes_and_rejects_malformed(cli: Any, ws: dict[str, Path]) -> None:
    put(ws, "steady")
    bad = ws["dir"] / "broken.yaml"
    bad.write_text("observed_at: [unclosed\n")
    os.utime(bad, (time.time() - 10, time.time() - 10))
    code, events, err = watch(cli, ws)
    assert code == 0, err
    assert [e["file"] for e in of(events, "snapshot")] == ["steady.yaml"]
    assert of(events, "cycle") == []  # steady: nothing crosses a trigger, no cycle
    (rej,) = of(events, "rejected")
    assert rej["file"] == "broken.yaml" and "broken.yaml" in rej["reason"]
    assert not bad.exists()
    assert (ws["dir"] / "rejected" / "broken.yaml").exists()
    assert "broken.yaml" in (ws["dir"] / "rejected" / "broken.yaml.reason").read_text()
    assert "malformed YAML" in rej["reason"]

    put(ws, "stale")  # contracts break: one fast-path cycle per feature, each on its own
    code, events, _ = watch(cli, ws)
    cycles = of(events, "cycle")
    assert {c["feature"] for c in cycles} == {"answer-synthesizer", "kb-retriever", "reply-drafter", "ticket-summarizer"}
    assert all(c["fast_path"] and c["decision"] == "noop" for c in cycles)
    assert of(events, "started")[0]["processed"] == 2  # restarted: the first two are skipped
    assert [e["file"] for e in of(events, "snapshot")] == ["stale.yaml"]

    code, events, _ = watch(cli, ws)  # nothing new: nothing processed, no cycle
    assert of(events, "snapshot") == [] and of(events, "cycle") == []

    put(ws, "stale", "stale-again.yaml")  # same triggers again: a new snapshot, no new cycle
    code, events, _ = watch(cli, ws)
    assert [e["file"] for e in of(events, "snapshot")] == ["stale-again.yaml"] and of(events, "cycle") == []

    with AuditLog.open() as log:
        assert log.verify().ok
        kinds = [r.kind for r in log.records()]
    assert kinds.count("watch_snapshot") == 3 and kinds.count("watch_rejected") == 1


def test_rewritten_file_is_a_new_snapshot(cli: Any, ws: dict[str, Path]) -> None:
    put(ws, "steady", "feed.yaml")
    watch(cli, ws)
    put(ws, "stale", "feed.yaml", age_s=5)
    _code, events, _ = watch(cli, ws)
    assert [e["file"] for e in of(events, "snapshot")] == ["feed.yaml"]
    assert of(events, "cycle")


def test_escalated_cycle_waits_for_approve_then_decided(cli: Any, ws: dict[str, Path], tmp_path: Path) -> None:
    put(ws, "latency-spike")
    code, events, err = watch(cli, ws, "--replications", "2")
    assert code == 0, err
    (cyc,) = of(events, "cycle")
    assert cyc["decision"] == "escalated" and cyc["status"] == "interrupted"
    (wait,) = of(events, "waiting")
    assert wait["hint"] == f"jitplan approve {cyc['thread_id']}"
    put(ws, "latency-spike", "spike-later.yaml")
    put(ws, "steady", "steady-later.yaml", age_s=5)  # the trigger clears while the cycle waits
    code, events, _ = watch(cli, ws, "--replications", "2")
    assert of(events, "cycle") == []  # one cycle per feature at a time: still waiting
    assert cli("approve", cyc["thread_id"], "--reject", "--comment", "no").code == 1
    code, events, _ = watch(cli, ws, "--replications", "2")
    assert of(events, "decided") == [{"event": "decided", "feature": "ticket-summarizer",
                                      "thread_id": cyc["thread_id"], "decision": "rejected"}]
    (after,) = of(events, "cycle")  # then the feature's newer state (back to normal) gets its cycle
    assert after["feature"] == "ticket-summarizer" and after["fast_path"] and after["triggers"] == []


def test_apply_runs_an_approved_plan_through_the_orchestrator(cli: Any, ws: dict[str, Path], tmp_path: Path) -> None:
    # the cost overrun, plus what the budget step's tolerances judge (latency, errors, quality)
    doc = SignalSnapshot.from_file(ws["world"] / "signals" / "cost-overrun.yaml").model_dump(mode="json")
    at = doc["observed_at"]
    doc["signals"] += [
        {"name": f"reply-drafter.{n}", "kind": k, "feature": "reply-drafter", "value": v, "unit": u,
         "observed_at": at, "source": "test", "lineage": ["gateway.requests"]}
        for n, k, v, u in [("latency_p95", "latency", 2100, "ms"), ("errors", "error_rate", 0.002, "ratio"),
                           ("quality", "data_quality", 0.91, "ratio")]]
    (tmp_path / "cost.json").write_text(json.dumps(doc))
    src = fresh(tmp_path / "cost.json", ws["dir"] / "cost.json")
    os.utime(src, (time.time() - 10, time.time() - 10))
    before = json.loads(ws["flags"].read_text())
    code, events, err = watch(cli, ws, "--apply", "--replications", "2")
    assert code == 0, err
    (cyc,) = of(events, "cycle")
    assert cyc["feature"] == "reply-drafter" and cyc["decision"] == "approved"
    (app,) = of(events, "applied")
    assert app["status"] == "applied", app
    assert json.loads(ws["flags"].read_text()) != before
    with AuditLog.open() as log:
        kinds = [r.kind for r in log.records(cyc["thread_id"])]
    assert "execution_started" in kinds and "gate" in kinds
    code, events, _ = watch(cli, ws, "--apply")  # restarted: applied once, never again
    assert of(events, "applied") == [] and of(events, "cycle") == []


def test_apply_waits_for_jitplan_approve(cli: Any, ws: dict[str, Path], tmp_path: Path) -> None:
    """Without a policy nothing is auto-approved: the cycle waits; once `jitplan approve`d, the
    next round applies the plan (and only then)."""
    doc = SignalSnapshot.from_file(ws["world"] / "signals" / "cost-overrun.yaml").model_dump(mode="json")
    doc["signals"] += [
        {"name": f"reply-drafter.{n}", "kind": k, "feature": "reply-drafter", "value": v, "unit": u,
         "observed_at": doc["observed_at"], "source": "test", "lineage": ["gateway.requests"]}
        for n, k, v, u in [("latency_p95", "latency", 2100, "ms"), ("errors", "error_rate", 0.002, "ratio"),
                           ("quality", "data_quality", 0.91, "ratio")]]
    (tmp_path / "cost.json").write_text(json.dumps(doc))
    src = fresh(tmp_path / "cost.json", ws["dir"] / "cost.json")
    os.utime(src, (time.time() - 10, time.time() - 10))
    before = ws["flags"].read_bytes()
    code, events, err = watch(cli, ws, "--apply", "--no-policy", "--replications", "2")
    assert code == 0, err
    (cyc,) = of(events, "cycle")
    assert cyc["decision"] == "escalated" and of(events, "waiting") and of(events, "applied") == []
    assert ws["flags"].read_bytes() == before
    code, events, _ = watch(cli, ws, "--apply", "--no-policy")  # still waiting: nothing happens
    assert of(events, "applied") == [] and of(events, "cycle") == []
    r = cli("approve", cyc["thread_id"], "--comment", "ok")
    assert r.code == 0, r.err
    assert ws["flags"].read_bytes() == before  # approving does not apply: the watch does
    code, events, err = watch(cli, ws, "--apply", "--no-policy")
    assert code == 0, err
    assert of(events, "decided") == [{"event": "decided", "feature": "reply-drafter",
                                      "thread_id": cyc["thread_id"], "decision": "approved"}]
    (app,) = of(events, "applied")
    assert app["status"] == "applied" and app["thread_id"] == cyc["thread_id"], app
    assert ws["flags"].read_bytes() != before
    with AuditLog.open() as log:
        assert log.verify().ok


@pytest.mark.parametrize(("argv", "needle"), [
    (["--signals-dir", "MISSING"], "expected a directory of signal snapshots"),
    (["--signals-dir", "DIR", "--catalog", "MISSING"], "file not found"),
    (["--signals-dir", "DIR", "--apply", "--no-state"], "--apply needs --state"),
    (["--signals-dir", "DIR", "--interval", "0"], "--interval"),
    (["--sources", "BADSOURCES"], "sources.yaml"),
    (["--signals-dir", "DIR", "--contracts", "BADCONTRACTS"], "contracts.yaml"),
    (["--signals-dir", "DIR", "--evidence", "MISSING"], "evidence path not found"),
    (["--signals-dir", "DIR", "--evidence", "BADSOURCES"], "malformed YAML"),
])
def test_bad_input_exits_2_with_one_line(cli: Any, ws: dict[str, Path], tmp_path: Path, argv: list[str], needle: str) -> None:
    bad_sources = tmp_path / "sources.yaml"
    bad_sources.write_text("signals: [")
    bad_contracts = tmp_path / "contracts.yaml"
    bad_contracts.write_text("contracts: [{kind: latency}]")
    opts = {"--catalog": str(ws["catalog"]), "--contracts": str(ws["contracts"]), "--state": str(ws["flags"])}
    rest: list[str] = []
    it = iter(argv)
    for a in it:
        if a in opts:
            opts[a] = next(it)
        elif a == "--no-state":
            opts.pop("--state")
        else:
            rest.append(a)
    subst = {"MISSING": str(tmp_path / "missing"), "DIR": str(ws["dir"]), "BADSOURCES": str(bad_sources),
             "BADCONTRACTS": str(bad_contracts)}
    args = [subst.get(x, x) for x in [*[y for k, v in opts.items() for y in (k, v)], *rest]]
    r = cli("watch", *args, "--once")
    assert r.code == 2, (r.out, r.err)
    assert needle in r.err and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err


def test_sigterm_stops_cleanly(ws: dict[str, Path], tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "jitplan"
    proc = subprocess.Popen([str(exe), "watch", "--catalog", str(ws["catalog"]), "--contracts", str(ws["contracts"]),
                             "--signals-dir", str(ws["dir"]), "--interval", "0.1", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["event"] == "started"
        put(ws, "stale")
        deadline = time.monotonic() + 60
        home = Path(os.environ["JITPLAN_HOME"])
        while time.monotonic() < deadline:
            with sqlite3.connect(home / "watch" / "ledger.db") as db:
                if db.execute("SELECT count(*) FROM processed").fetchone()[0]:
                    break
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "SIGTERM: stopping after the current step" in err
    events = [json.loads(x) for x in out.splitlines()]
    assert events[-1]["event"] == "stopped"
    with AuditLog.open() as log:
        assert log.verify().ok
        last = list(log.records())[-1]
    assert last.kind == "watch_stopped" and last.payload["why"] == "signal"


def test_sigterm_during_an_apply_stops_and_the_restart_resumes_it(cli: Any, ws: dict[str, Path], tmp_path: Path) -> None:
    """The gate waits for fresh samples (none yet): SIGTERM stops the watch at once, the step
    stays applied in the run journal; the restarted watch resumes the same run and gates it."""
    src = fresh(ws["world"] / "signals" / "cost-overrun.yaml", ws["dir"] / "cost.json")
    os.utime(src, (time.time() - 10, time.time() - 10))
    exe = Path(sys.executable).parent / "jitplan"
    before = ws["flags"].read_bytes()
    proc = subprocess.Popen([str(exe), "watch", "--catalog", str(ws["catalog"]), "--contracts", str(ws["contracts"]),
                             "--signals-dir", str(ws["dir"]), "--state", str(ws["flags"]), "--apply",
                             "--replications", "2", "--debounce", "0", "--interval", "0.1", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert proc.stdout is not None
        events: list[dict[str, Any]] = []
        while not events or events[-1]["event"] != "cycle":
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            events.append(json.loads(line))
        assert events[-1]["decision"] == "approved"
        tid = events[-1]["thread_id"]
        deadline = time.monotonic() + 60
        while ws["flags"].read_bytes() == before and time.monotonic() < deadline:
            time.sleep(0.1)  # the budget step is written; its gate now waits for fresh samples
        time.sleep(0.5)
        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert time.monotonic() - t0 < 10  # did not sit out the step's 600 s timeout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    tail = [json.loads(x) for x in out.splitlines()]
    assert tail[-1]["event"] == "stopped" and not [e for e in tail if e["event"] == "applied"]
    assert ws["flags"].read_bytes() != before

    doc = json.loads(src.read_text())  # fresh samples for the step's tolerances arrive
    doc["signals"] += [
        {"name": f"reply-drafter.{n}", "kind": k, "feature": "reply-drafter", "value": v, "unit": u,
         "observed_at": doc["observed_at"], "source": "test", "lineage": ["gateway.requests"]}
        for n, k, v, u in [("latency_p95", "latency", 2100, "ms"), ("errors", "error_rate", 0.002, "ratio"),
                           ("quality", "data_quality", 0.91, "ratio")]]
    later = ws["dir"] / "later.json"
    later.write_text(json.dumps(doc))
    os.utime(later, (time.time() - 5, time.time() - 5))
    code, events, err = watch(cli, ws, "--apply")
    assert code == 0, err
    assert of(events, "cycle") == []  # the same cycle, not a new one
    (app,) = of(events, "applied")
    assert app["status"] == "applied" and app["thread_id"] == tid
    with AuditLog.open() as log:
        kinds = [r.kind for r in log.records(app["thread_id"])]
        assert log.verify().ok
    assert kinds.count("execution_started") == 1 and kinds.count("step_applied") == 1


def test_a_yaml_snapshot_in_braces_is_judged_as_yaml(cli: Any, ws: dict[str, Path]) -> None:
    bad = ws["dir"] / "002.yaml"
    bad.write_text("{{bad\n")  # flow-style YAML (JSON-looking): the reason must say YAML
    os.utime(bad, (time.time() - 10, time.time() - 10))
    code, events, err = watch(cli, ws)
    assert code == 0, err
    (rej,) = of(events, "rejected")
    assert "malformed YAML" in rej["reason"] and "JSON" not in rej["reason"]
