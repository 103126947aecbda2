"""CLI contracts asserted end to end (issue 17: none of these was tested).

- Exit code 3, "run failure" (README, agent/cli.py): a failure of the run itself, not of the
  input. A real case: ``jitplan apply`` while another apply holds the flags file's lock.
- The input size cap: 5 MiB by default (README: "capped at 5 MiB"), ``JITPLAN_MAX_INPUT_BYTES``
  changes it; a file exactly at the cap is read, one byte over is exit 2 with one line naming the
  file and the limit.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
FIVE_MIB = 5 * 1024 * 1024


def _jitplan(*argv: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``jitplan ARGV`` in its own process (the real exit status, not a return value)."""
    return subprocess.run([sys.executable, "-m", "jitplan.agent.cli", *map(str, argv)],
                          capture_output=True, text=True, timeout=300,
                          env=env if env is not None else dict(os.environ))


# ---- exit code 3: run failure ---------------------------------------------------------------


@contextmanager
def _held_apply_lock(flags: Path) -> Iterator[None]:
    """Hold the lock a running ``jitplan apply`` holds on ``flags`` (see orchestrator._exclusive)."""
    fd = os.open(flags.with_name(f".{flags.name}.jitplan.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


@pytest.fixture
def approved_plan(cli: Any, tmp_path: Path) -> tuple[Path, Path]:
    """An approved plan (in this test's JITPLAN_HOME audit log) and a copy of the flags it targets."""
    flags = tmp_path / "flags.json"
    shutil.copy(WORLD / "flags.json", flags)
    plan_file = tmp_path / "plan.json"
    r = cli("plan", "--catalog", WORLD / "catalog.yaml", "--signals", WORLD / "signals" / "steady.yaml",
            "--contracts", WORLD / "contracts.yaml", "--state", flags, "--evidence", WORLD / "evidence",
            "--replications", "3", "--request", "refresh ticket-summarizer prompt",
            "--out", plan_file, "--json")
    assert r.code == 0 and json.loads(r.out)["decision"] == "approved", r.out + r.err
    return plan_file, flags


def test_exit_code_3_when_another_apply_holds_the_flags(approved_plan: tuple[Path, Path]) -> None:
    plan_file, flags = approved_plan
    before = flags.read_bytes()
    args = ("apply", plan_file, "--state", flags, "--signals", WORLD / "signals" / "steady.yaml",
            "--step-wait", "0")
    with _held_apply_lock(flags):
        res = _jitplan(*args)
        as_json = _jitplan(*args, "--json")
    assert res.returncode == 3, res.stdout + res.stderr
    assert res.stderr == (f"jitplan: run failed: another jitplan apply is changing {flags} right now; "
                          "try again when it is done\n")
    assert "Traceback" not in res.stderr and res.stdout == ""
    # --json: the documented error object with exit_code 3 on stdout, the message on stderr
    assert as_json.returncode == 3
    doc = json.loads(as_json.stdout)
    assert doc["exit_code"] == 3
    assert doc["error"]["message"] == (f"another jitplan apply is changing {flags} right now; "
                                       "try again when it is done")
    assert flags.read_bytes() == before  # nothing was applied
    # the control: with the lock free the same plan gets past it (a dry run: nothing changes)
    free = _jitplan("apply", plan_file, "--state", flags, "--dry-run")
    assert free.returncode == 0, free.stdout + free.stderr




# ---- the input size cap -----------------------------------------------------------------------


def _padded(src: Path, dest: Path, size: int) -> Path:
    """``src`` followed by a YAML comment so that the file is exactly ``size`` bytes."""
    body = src.read_bytes()
    assert body.endswith(b"\n")
    pad = size - len(body) - 2  # "#" ... "\n"
    assert pad >= 0
    dest.write_bytes(body + b"#" + b"x" * pad + b"\n")
    assert dest.stat().st_size == size
    return dest


def _check(cli: Any, snapshot: Path) -> Any:
    return cli("signals", "check", snapshot, "--contracts", WORLD / "contracts.yaml",
               "--catalog", WORLD / "catalog.yaml", "--now", "2026-11-26T12:00:00Z")


def _too_big(path: Path, size: int, limit: int) -> str:
    return (f"jitplan: error: {path}: file is {size:,} bytes, larger than the {limit:,}-byte limit "
            "(set JITPLAN_MAX_INPUT_BYTES to raise it)\n")


def test_a_file_of_exactly_5_mib_is_read_and_one_byte_more_is_refused(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JITPLAN_MAX_INPUT_BYTES", raising=False)
    steady = WORLD / "signals" / "steady.yaml"
    at = _padded(steady, tmp_path / "at-limit.yaml", FIVE_MIB)
    over = _padded(steady, tmp_path / "over-limit.yaml", FIVE_MIB + 1)
    ok = _check(cli, at)
    assert ok.code == 0, ok.err
    bad = _check(cli, over)
    assert bad.code == 2
    assert bad.err == _too_big(over, FIVE_MIB + 1, FIVE_MIB)  # one line, names the file
    assert bad.out == ""


def test_jitplan_max_input_bytes_changes_the_limit(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steady = WORLD / "signals" / "steady.yaml"
    over = _padded(steady, tmp_path / "over-limit.yaml", FIVE_MIB + 1)
    monkeypatch.setenv("JITPLAN_MAX_INPUT_BYTES", str(FIVE_MIB + 1))
    raised = _check(cli, over)
    assert raised.code == 0, raised.err
    size = steady.stat().st_size
    monkeypatch.setenv("JITPLAN_MAX_INPUT_BYTES", str(size - 1))
    lowered = _check(cli, steady)
    assert lowered.code == 2
    assert lowered.err == _too_big(steady, size, size - 1)
    # a bad value of the variable itself is bad input (exit 2), never a traceback
    monkeypatch.setenv("JITPLAN_MAX_INPUT_BYTES", "lots")
    junk = _check(cli, steady)
    assert junk.code == 2, junk.err
    assert "JITPLAN_MAX_INPUT_BYTES" in junk.err and "Traceback" not in junk.err
    assert len(junk.err.strip().splitlines()) == 1, junk.err
