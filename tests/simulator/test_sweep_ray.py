"""A 20-point × 10-replication sweep on a real local Ray head equals the local run.

``make test-ray`` (``.ci/run`` calls it; opt in with ``JITPLAN_RAY_TESTS=1``) starts a Ray head
on 127.0.0.1 with ``ray start --head``, runs the sweep through ``RAY_ADDRESS`` in a separate
``jitplan sweep`` process, and stops the head afterwards (``ray stop``, then the head's PIDs). A
machine that cannot start a head is reported as a skip with the reason, not a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(
        not os.environ.get("JITPLAN_RAY_TESTS"),
        reason="starts a Ray head: set JITPLAN_RAY_TESTS=1 (make test-ray)",
    ),
]

TINY = """\
name: tiny
seed: 3
requests: 300
traffic: {arrival: poisson, rate_rps: 5}
service: {concurrency: 4, latency: {dist: exponential, mean_s: 0.5}}
"""
SWEEP = ["--param", "traffic.rate_rps=1:10:20", "--replications", "10", "--seed", "11"]
RANDOM = ["--design", "random", "--points", "8", "--param", "traffic.rate_rps=1:10",
          "--param", "service.concurrency=2:6", "--replications", "4", "--seed", "12"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_bin() -> str:
    exe = Path(sys.executable).parent / "ray"
    return str(exe) if exe.exists() else (shutil.which("ray") or "ray")


def _head_pids(temp_dir: Path) -> list[int]:
    """PIDs of processes whose command line names this head's temp dir (ours alone)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(temp_dir) in cmd and int(proc.name) != os.getpid():
            pids.append(int(proc.name))
    return pids


def _ray_env(temp_dir: Path) -> dict[str, str]:
    """A HOME of the test's own: Ray turns on token auth when it finds ``~/.ray/auth_token``
    (written by an earlier ``ray.init``), which a head started here must not depend on."""
    home = temp_dir / "home"
    home.mkdir(parents=True, exist_ok=True)
    return dict(os.environ, HOME=str(home), RAY_USAGE_STATS_ENABLED="0")


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    pytest.importorskip("ray", reason="the 'ray' extra is not installed (make test-ray)")
    # Ray's socket paths must stay short: a short temp dir of its own under /tmp.
    temp_dir = Path(f"/tmp/jr{os.getpid()}")
    port = _free_port()
    env = _ray_env(temp_dir)
    cmd = [
        _ray_bin(), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
        "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
    ]
    try:
        started = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"could not start a Ray head: {exc}")
    try:
        if started.returncode != 0:
            pytest.skip(f"could not start a Ray head: {started.stderr.strip()[-800:]}")
        yield f"127.0.0.1:{port}", env["HOME"]
    finally:
        # Not `ray stop`: it stops every Ray process of this user. Ours are found by PID.
        for pid in _head_pids(temp_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _head_pids(temp_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in _head_pids(temp_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _sweep(tmp: Path, backend: str, env_extra: dict[str, str],
           args: list[str] = SWEEP) -> tuple[bytes, dict[str, object]]:
    scenario = tmp / "tiny.yaml"
    scenario.write_text(TINY, encoding="utf-8")
    out = tmp / f"{backend}-{len(args)}"
    env = dict(os.environ, MPLBACKEND="Agg", RAY_USAGE_STATS_ENABLED="0", **env_extra)
    if "RAY_HOME" in env_extra:
        env["HOME"] = env.pop("RAY_HOME")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "jitplan"), "sweep", str(scenario), *args,
         "--backend", backend, "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return (out / "sweep.csv").read_bytes(), json.loads(proc.stdout)


def test_ray_sweep_equals_local(ray_head: tuple[str, str], tmp_path: Path) -> None:
    address, home = ray_head
    ray_csv, ray_doc = _sweep(tmp_path, "ray", {"RAY_ADDRESS": address, "RAY_HOME": home})
    local_csv, local_doc = _sweep(tmp_path, "local", {})
    assert ray_doc["backend"] == "ray" and local_doc["backend"] == "local"
    points = ray_doc["points"]
    assert isinstance(points, list) and len(points) == 20
    assert ray_doc["replications"] == 10
    assert ray_csv == local_csv
    assert ray_doc["points"] == local_doc["points"]
    # The random design too: the same drawn points and the same numbers on Ray.
    ray_csv, ray_doc = _sweep(tmp_path, "ray", {"RAY_ADDRESS": address, "RAY_HOME": home}, RANDOM)
    local_csv, local_doc = _sweep(tmp_path, "local", {}, RANDOM)
    assert ray_doc["design"] == "random" and len(ray_doc["points"]) == 8  # type: ignore[arg-type]
    assert ray_csv == local_csv and ray_doc["points"] == local_doc["points"]
