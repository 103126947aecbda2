"""A bounded soak of ``jitplan watch`` (well under 60 s): 1,000 snapshots, 200 of them malformed,
one SIGKILL in the middle and a restart. Every good snapshot is processed exactly once (one
ledger row, one audit record), every bad one is quarantined in ``rejected/`` with its reason,
every cycle ran once, and the audit chain is intact (``jitplan audit verify``)."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

N, BAD = 1000, 200
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

MALFORMED = [
    b"observed_at: [unclosed\n",                                   # YAML syntax
    b'{"observed_at": "2026-11-26T12:00:00Z", "signals": [',      # truncated JSON
    b"observed_at: 2026-11-26T12:00:00Z\nsignals: [{name: x}]\n",  # schema
    b"\xff\xfe\x00garbage",                                        # not UTF-8
    b"",                                                           # empty
    b"- just\n- a list\n",                                         # not a mapping
    b"observed_at: not-a-time\nsignals: []\n",                     # bad timestamp
]


def snapshot(i: int, rng: random.Random) -> bytes:
    """Steady signals with jitter; every 100 snapshots, 20 in a row where reply-drafter's error
    signal lacks its data contract's freshness (a contract break, then back to normal)."""
    at = T0 + timedelta(minutes=i)
    broken = (i // 20) % 5 == 4
    err_at = at - timedelta(hours=2) if broken else at
    sigs = [
        ("answer-synthesizer.demand", "demand", "answer-synthesizer", rng.uniform(8, 14), "rpm", at, ["gateway.requests"]),
        ("ticket-summarizer.drift", "drift", "ticket-summarizer", rng.uniform(0.01, 0.04), "ratio", at, ["eval.golden"]),
        ("ticket-summarizer.latency_p95", "latency", "ticket-summarizer", rng.uniform(1200, 1500), "ms", at, []),
        ("reply-drafter.cost", "cost", "reply-drafter", rng.uniform(0.003, 0.004), "usd_per_request", at, []),
        ("reply-drafter.errors", "error_rate", "reply-drafter", rng.uniform(0.001, 0.003), "ratio", err_at, []),
    ]
    return json.dumps({"observed_at": at.isoformat(), "signals": [
        {"name": n, "kind": k, "feature": f, "value": round(v, 6), "unit": u, "observed_at": t.isoformat(),
         "source": "soak", "lineage": lin} for n, k, f, v, u, t, lin in sigs]}).encode()


def _watch(ws_args: list[str], *extra: str) -> subprocess.Popen[str]:
    exe = Path(sys.executable).parent / "jitplan"
    return subprocess.Popen([str(exe), "watch", *ws_args, "--interval", "0.05", "--debounce", "0", "--settle", "0",
                             "--json", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def _processed(home: Path) -> int:
    db = home / "watch" / "ledger.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            return int(conn.execute("SELECT count(*) FROM processed").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_soak_1000_snapshots_with_a_kill(tmp_path: Path, world: Path) -> None:
    started = time.monotonic()
    home = Path(os.environ["JITPLAN_HOME"])
    d = tmp_path / "signals"
    d.mkdir()
    rng = random.Random(14)
    bad_at = set(rng.sample(range(N), BAD))
    good, bad = set(), set()
    for i in range(N):
        name = f"snap-{i:04d}.{'yaml' if i % 3 else 'json'}"
        if i in bad_at:
            (d / name).write_bytes(MALFORMED[i % len(MALFORMED)])
            bad.add(name)
        else:
            (d / name).write_bytes(snapshot(i, rng))
            good.add(name)
        t = time.time() - 3600 + i * 0.01  # oldest first, in name order
        os.utime(d / name, (t, t))
    args = ["--catalog", str(world / "catalog.yaml"), "--contracts", str(world / "contracts.yaml"),
            "--signals-dir", str(d)]

    first = _watch(args)
    try:
        deadline = time.monotonic() + 40
        while _processed(home) < N // 2 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        assert first.poll() is None, first.communicate()[1]
        os.kill(first.pid, signal.SIGKILL)  # mid-flight: no chance to finish anything
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == -signal.SIGKILL
    at_kill = _processed(home)
    assert 0 < at_kill < N

    second = _watch(args, "--once")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    events = [json.loads(x) for x in out.splitlines()]
    assert events[0]["event"] == "started" and events[0]["processed"] >= at_kill - 1

    with sqlite3.connect(home / "watch" / "ledger.db") as conn:
        rows = conn.execute("SELECT name, status FROM processed").fetchall()
    names = [n for n, _ in rows]
    assert len(names) == len(set(names)) == N  # every snapshot once, none skipped
    assert {n for n, s in rows if s == "ok"} == good
    assert {n for n, s in rows if s == "rejected"} == bad

    left = {p.name for p in d.iterdir() if p.is_file()}
    assert left == good  # every bad one moved out ...
    rej = d / "rejected"
    assert {p.name for p in rej.iterdir() if not p.name.endswith(".reason")} == bad
    for name in bad:  # ... with its reason beside it
        assert name in (rej / f"{name}.reason").read_text()

    from jitplan.tools.audit import AuditLog

    with AuditLog.open() as log:
        records = log.records()
        assert log.verify().ok
    seen = Counter(r.payload["file"] for r in records if r.kind == "watch_snapshot")
    assert set(seen) == good and set(seen.values()) == {1}
    rejected = Counter(r.payload["file"] for r in records if r.kind == "watch_rejected")
    assert set(rejected) == bad and set(rejected.values()) == {1}
    # the contract breaks and their recoveries: fast-path cycles, each thread run to the end once
    outcomes = Counter(r.thread_id for r in records if r.kind == "outcome")
    # (reply-drafter breaks at snapshots 80, 180, ..., 980 and recovers at 100, ..., 900: 19 crossings)
    assert len(outcomes) == 19 and set(outcomes.values()) == {1}
    assert all(t.startswith("watch-") for t in outcomes)

    exe = Path(sys.executable).parent / "jitplan"
    verify = subprocess.run([str(exe), "audit", "verify"], capture_output=True, text=True, env=dict(os.environ))
    assert verify.returncode == 0 and "chain intact" in verify.stdout, verify.stderr
    assert time.monotonic() - started < 60
