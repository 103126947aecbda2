"""JITPLAN_NUMBA_CACHE_DIR: the compiled kernels are cached (and found again) in the folder named.

numba's JIT cache here (``JITPLAN_KERNELS=jit``); the kernels built ahead of time use the same
folder (``test_aot.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RUN = (
    "import numba, jitplan.simulator as s\n"
    "from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic\n"
    "sc = Scenario(name='t', seed=1, requests=2000, traffic=Traffic(rate_rps=5.0),\n"
    "              service=Service(concurrency=2, latency=Latency(mean_s=0.2)))\n"
    "print(s.run(sc, replications=1).metrics['requests'], numba.config.CACHE_DIR)\n"
)


def test_kernels_are_cached_in_the_named_folder(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["JITPLAN_NUMBA_CACHE_DIR"] = str(cache)
    env["JITPLAN_KERNELS"] = "jit"
    first = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, check=True)
    assert first.stdout.split()[-1] == str(cache)
    index = sorted(p.name for p in cache.rglob("*.nbi"))
    assert any(n.startswith("kernel.run_batch") for n in index), index
    assert any(n.startswith("arrivals._gaps_to_times") for n in index), index
    stamps = {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")}
    second = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, check=True)
    assert second.stdout == first.stdout
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")} == stamps  # loaded, not rebuilt


def test_numba_s_own_variable_wins(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-own"),
           "JITPLAN_NUMBA_CACHE_DIR": str(tmp_path / "ours"), "JITPLAN_KERNELS": "jit"}
    out = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == str(tmp_path / "numba-own")
    assert not (tmp_path / "ours").exists()
