"""The fast engine's kernels built ahead of time (``simulator.aot``, chosen by ``simulator.compiled``).

They must give the same bytes as numba's JIT for every seed, load in a new process without
importing numba, and fall back to the JIT, once and for all, where they cannot be built."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from jitplan import simulator
from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic
from jitplan.simulator import aot, compiled

ROOT = Path(__file__).resolve().parents[2]
SIM = ROOT / "scenarios" / "sim"
_CC = (sysconfig.get_config_var("CC") or "cc").split()[0]
needs_compiler = pytest.mark.skipif(shutil.which(_CC) is None, reason=f"no C compiler ({_CC}) to build the kernels")

SCENARIOS = ("mm10", "baseline", "load_spike", "provider_outage_canary", "azure_trace_replay",
             "drift_during_rollout", "cost_explosion", "slow_degradation")
"""Canary and shadow routing, retries and timeouts, outages, a recorded trace with tokens, drift."""


def _run_all(monkeypatch: pytest.MonkeyPatch, mode: str) -> list[str]:
    monkeypatch.setenv("JITPLAN_KERNELS", mode)
    assert compiled.kernels().origin == mode
    out = []
    for name in SCENARIOS:
        sc = simulator.load_scenario(SIM / f"{name}.yaml")
        sc = sc.model_copy(update={"requests": min(sc.requests or 60_000, 60_000)}) if sc.requests else sc
        out.append(simulator.run(sc, replications=2).to_json())
    many = Scenario(name="heap", seed=3, requests=30_000, traffic=Traffic(rate_rps=38.0),  # > LINEAR_MAX servers
                    service=Service(concurrency=40, latency=Latency(mean_s=1.0), timeout_s=3.0, max_retries=2))
    out.append(simulator.run(many, replications=2).to_json())
    return out


@needs_compiler
def test_ahead_of_time_kernels_give_the_jit_s_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    built = _run_all(monkeypatch, "aot")
    jitted = _run_all(monkeypatch, "jit")
    assert len(built) == len(SCENARIOS) + 1
    for name, a, j in zip((*SCENARIOS, "heap"), built, jitted, strict=True):
        assert a == j, name


RUN = (
    "import sys, json, jitplan.simulator as s\n"
    "from jitplan.simulator import compiled\n"
    "from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic\n"
    "sc = Scenario(name='t', seed=1, requests=3000, traffic=Traffic(rate_rps=5.0),\n"
    "              service=Service(concurrency=2, latency=Latency(mean_s=0.2)))\n"
    "r = s.run(sc, replications=1)\n"
    "k = compiled.kernels()\n"
    "print(json.dumps({'origin': k.origin, 'why': k.why_jit, 'numba': 'numba' in sys.modules,\n"
    "                  'requests': r.metrics['requests'], 'json': r.to_json()}))\n"
)


def _fresh(tmp_path: Path, **env: str) -> dict[str, object]:
    import json

    full = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "JITPLAN_KERNELS")}
    full.update(env)
    done = subprocess.run([sys.executable, "-c", RUN], env=full, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@needs_compiler
def test_built_once_then_loaded_without_numba(tmp_path: Path) -> None:
    cache = tmp_path / "kernels"
    first = _fresh(tmp_path, JITPLAN_NUMBA_CACHE_DIR=str(cache))
    assert first["origin"] == "aot"
    built = sorted(cache.glob("jitplan_kernels_*.so")) + sorted(cache.glob("jitplan_kernels_*.pyd"))
    assert len(built) == 1, sorted(p.name for p in cache.iterdir())
    stamp = built[0].stat().st_mtime_ns
    second = _fresh(tmp_path, JITPLAN_NUMBA_CACHE_DIR=str(cache))
    assert second["origin"] == "aot" and second["numba"] is False  # numba never imported
    assert second["json"] == first["json"]
    assert built[0].stat().st_mtime_ns == stamp  # loaded, not built again
    jitted = _fresh(tmp_path, JITPLAN_NUMBA_CACHE_DIR=str(cache), JITPLAN_KERNELS="jit")
    assert jitted["origin"] == "jit" and jitted["numba"] is True and jitted["json"] == first["json"]


def test_without_a_compiler_the_jit_runs_and_the_reason_is_kept(tmp_path: Path) -> None:
    cache = tmp_path / "kernels"
    broken = {"JITPLAN_NUMBA_CACHE_DIR": str(cache), "CC": str(tmp_path / "no-such-cc")}
    first = _fresh(tmp_path, **broken)
    assert first["origin"] == "jit" and first["requests"] == 3000.0
    assert "no-such-cc" in str(first["why"]) or "Error" in str(first["why"])
    failed = sorted(cache.glob("jitplan_kernels_*.failed"))
    assert len(failed) == 1 and not list(cache.glob("jitplan_kernels_*.so"))
    stamp = failed[0].stat().st_mtime_ns
    again = _fresh(tmp_path, **broken)  # not tried again: straight to the JIT
    assert again["origin"] == "jit" and again["why"] == first["why"] and again["json"] == first["json"]
    assert failed[0].stat().st_mtime_ns == stamp


def test_insisting_on_ahead_of_time_without_a_compiler_fails_the_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(JITPLAN_NUMBA_CACHE_DIR=str(tmp_path / "kernels"), CC=str(tmp_path / "no-such-cc"),
               JITPLAN_KERNELS="aot")
    done = subprocess.run([sys.executable, "-m", "jitplan.agent.cli", "simulate", str(SIM / "mm10.yaml"),
                           "--replications", "1", "--no-progress"], env=env, cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert "JITPLAN_KERNELS=aot" in done.stderr and "Traceback" not in done.stderr


def test_the_key_covers_the_kernel_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = Path(aot.__file__).resolve().parent
    for name in aot.SOURCES:
        shutil.copy(here / f"{name}.py", tmp_path / f"{name}.py")
    monkeypatch.setattr(aot, "_KEYS", [])
    monkeypatch.setattr(aot, "_HERE", tmp_path)
    same = aot.key()
    monkeypatch.setattr(aot, "_KEYS", [])
    with open(tmp_path / "layout.py", "a", encoding="utf-8") as f:
        f.write("\n# a constant changed\n")
    changed = aot.key()
    assert changed != same
    monkeypatch.setattr(aot, "_KEYS", [])
    monkeypatch.setenv("NUMBA_OPT", "1")  # numba's settings change the code
    assert aot.key() not in (same, changed)


def test_the_key_names_every_simulator_module_the_kernels_import() -> None:
    import ast

    here = Path(aot.__file__).resolve().parent
    for name in aot.SOURCES:
        tree = ast.parse((here / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            found: list[str] = []
            if isinstance(node, ast.ImportFrom) and (node.module or "") == "jitplan.simulator":
                found = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jitplan.simulator."):
                found = [(node.module or "").split(".")[2]]
            elif isinstance(node, ast.Import):
                found = [a.name.split(".")[2] for a in node.names if a.name.startswith("jitplan.simulator.")]
            for imported in found:
                assert imported in (*aot.SOURCES, "jit", "numba_cache"), f"{name}.py imports {imported}: add it to aot.SOURCES"


@needs_compiler
def test_a_module_anyone_may_rewrite_is_not_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JITPLAN_KERNELS", "aot")
    assert compiled.kernels().origin == "aot"
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    target = aot.module_path(private)
    shutil.copy(aot.module_path(compiled.folder()), target)
    target.chmod(0o755)
    assert aot._others_may_write(target) == ""
    target.chmod(0o777)  # group and others may write it: someone else could have
    module, why = aot._load(private)
    assert module is None and "writable by group or others" in why


def test_a_folder_others_may_write_is_neither_loaded_from_nor_built_into(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setattr(aot, "_compile", _must_not_build)
    with pytest.raises(aot.AotUnavailable, match="folder others can change"):
        aot.obtain(shared)
    assert not list(shared.iterdir())


def _must_not_build(folder: Path) -> None:
    raise AssertionError("built")


def _private(tmp_path: Path) -> Path:
    folder = tmp_path / "kernels"
    folder.mkdir(mode=0o700)
    return folder


def test_a_module_that_will_not_load_is_none_not_a_crash(tmp_path: Path) -> None:
    folder = _private(tmp_path)
    target = aot.module_path(folder)
    target.write_bytes(b"not an extension module")
    target.chmod(0o644)
    module, why = aot._load(folder)
    assert module is None and "does not load" in why


def test_a_build_that_will_not_load_is_kept_as_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _private(tmp_path)

    def garbage(folder: Path) -> None:  # "builds", but nothing loadable (a noexec mount, say)
        aot.module_path(folder).write_bytes(b"\x7fELF but not really")
        aot.module_path(folder).chmod(0o755)

    monkeypatch.setattr(aot, "_compile", garbage)
    with pytest.raises(aot.AotUnavailable, match="not usable"):
        aot.obtain(folder)
    assert "not usable" in (aot.failure(folder) or "")
    monkeypatch.setattr(aot, "_compile", _must_not_build)  # the next process does not build again
    with pytest.raises(aot.AotUnavailable, match="not usable"):
        aot.obtain(folder)


def test_a_failure_is_kept_for_its_toolchain_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _private(tmp_path)
    monkeypatch.setattr(aot, "_compile", lambda folder: (_ for _ in ()).throw(RuntimeError("no compiler")))
    with pytest.raises(aot.AotUnavailable, match="no compiler"):
        aot.obtain(folder)
    assert aot.failure(folder) == "RuntimeError: no compiler"
    monkeypatch.setenv("CC", str(tmp_path / "a-new-compiler"))  # another toolchain: worth a try
    assert aot.failure(folder) is None


def test_a_full_disk_is_not_kept_as_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _private(tmp_path)
    monkeypatch.setattr(aot, "_compile", lambda folder: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(aot.AotUnavailable, match="No space"):
        aot.obtain(folder)
    assert aot.failure(folder) is None


def test_numba_s_disable_jit_runs_the_kernels_as_python_and_keeps_no_failure(tmp_path: Path) -> None:
    cache = tmp_path / "kernels"
    out = _fresh(tmp_path, JITPLAN_NUMBA_CACHE_DIR=str(cache), NUMBA_DISABLE_JIT="1")
    assert out["origin"] == "jit" and "NUMBA_DISABLE_JIT" in str(out["why"])
    assert not list(cache.glob("jitplan_kernels_*"))


@needs_compiler
def test_the_built_functions_refuse_arrays_they_would_misread(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    monkeypatch.setenv("JITPLAN_KERNELS", "aot")
    gaps_to_times = compiled.kernels().gaps_to_times
    base = np.ones(8)
    with pytest.raises(TypeError, match="gaps must be a C-contiguous writable float64"):
        gaps_to_times(base[::2], 1.0, 0.0)  # a strided view: the neighbours would be overwritten
    assert (base == 1.0).all()
    with pytest.raises(TypeError, match="int64"):
        gaps_to_times(np.ones(4, dtype=np.int64), 1.0, 0.0)
    frozen = np.ones(4)
    frozen.flags.writeable = False
    with pytest.raises(TypeError, match="writable"):
        gaps_to_times(frozen, 1.0, 0.0)
    fine = np.ones(4)
    gaps_to_times(fine, 0.5, 10.0)
    assert fine.tolist() == [10.5, 11.0, 11.5, 12.0]


def test_a_lazy_kernel_pickles_by_name() -> None:
    import pickle

    from jitplan.simulator import records

    assert pickle.loads(pickle.dumps(records.record_batch)) is records.record_batch


@needs_compiler
def test_a_build_prunes_other_keys_modules_left_for_a_month(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JITPLAN_KERNELS", "aot")
    built = aot.module_path(compiled.folder())
    assert compiled.kernels().origin == "aot" and built.is_file()
    folder = _private(tmp_path)
    suffix = built.name.split(".", 1)[1]
    stale, recent = folder / f"jitplan_kernels_0123456789abcdef.{suffix}", folder / f"jitplan_kernels_fedcba9876543210.{suffix}"
    for path in (stale, recent, stale.with_suffix(".lock")):
        path.write_bytes(b"old")
    month = time.time() - 31 * 86400
    os.utime(stale, (month, month))
    os.utime(stale.with_suffix(".lock"), (month, month))
    unrelated = folder / "kernel.run_batch-171.py311.nbi"  # numba's own cache: not ours to prune
    unrelated.write_bytes(b"numba")
    os.utime(unrelated, (month, month))
    monkeypatch.setattr(aot, "_compile", lambda folder: shutil.copy(built, aot.module_path(folder)))
    aot.obtain(folder)
    assert not stale.exists() and not stale.with_suffix(".lock").exists()
    assert recent.exists() and unrelated.exists() and aot.module_path(folder).exists()
