"""The fast engine's kernels built ahead of time: one extension module, loaded without numba.

Importing numba and setting its CPU target up costs about half a second in every new process,
even when the JIT kernels come from numba's disk cache. ``build`` compiles the kernels the fast
engine calls from Python (``kernel.run_batch`` and ``arrivals._gaps_to_times``, with every
kernel they call) once, with numba's ahead-of-time compiler (``numba.pycc``), into an extension
module in the kernels' cache folder (``numba_cache.folder()``); ``load`` imports it with plain
``importlib``. It is the same numba code, types and random generator, compiled for this CPU,
so a seed gives the same bytes as the JIT (``tests/simulator/test_aot.py``).

The module's name carries a key over everything its code depends on: the kernels' source
files, Python, numpy, numba and llvmlite, and the CPU. A change to any of them builds a new
one. Building needs a C compiler and Python's headers; when it fails, the reason is kept next
to where the module would be (``<name>.failed``) so later processes go straight to the JIT
(``simulator.compiled``) instead of failing again.
"""

from __future__ import annotations

__all__ = ["SOURCES", "AotUnavailable", "build", "failure", "key", "load", "module_path", "record_failure"]

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from jitplan.simulator import arrivals as _arrivals
from jitplan.simulator import kernel as _kernel

SOURCES = ("kernel", "records", "arrivals", "layout", "histogram")
"""The ``jitplan.simulator`` modules whose text the compiled code is made from (the kernels,
the kernels they call, and the constants numba freezes into them)."""
FORMAT = "1"
"""Bumped when the way a module is built changes outside this file (its own text is in the key)."""

_HERE = Path(__file__).resolve().parent


class AotUnavailable(Exception):
    """The kernels could not be built ahead of time here (no numba.pycc, no C compiler, ...)."""


def _package_file(package: str, name: str) -> bytes:
    spec = importlib.util.find_spec(package)  # found, not imported
    places = [] if spec is None or spec.submodule_search_locations is None else list(spec.submodule_search_locations)
    for place in places:
        with contextlib.suppress(OSError):
            return (Path(place) / name).read_bytes()
    return b"missing"


def _cpu() -> bytes:
    """What identifies this CPU's instruction set (the module is compiled for this CPU)."""
    try:
        text = Path("/proc/cpuinfo").read_bytes()
    except OSError:
        return f"{platform.machine()} {platform.processor()}".encode()
    lines = text.splitlines()
    wanted = (b"model name", b"flags", b"vendor_id", b"Features", b"CPU part")
    return b"\n".join(sorted({ln for ln in lines if ln.split(b":")[0].strip() in wanted}))


_KEYS: list[str] = []


def key() -> str:
    """A short hash of everything the compiled module depends on (see the module docstring)."""
    if not _KEYS:
        digest = hashlib.sha256(FORMAT.encode())
        for part in (
            sys.version.encode(),
            sys.platform.encode(),
            platform.machine().encode(),
            np.__version__.encode(),
            _package_file("numba", "_version.py"),
            _package_file("llvmlite", "_version.py"),
            _cpu(),
            *((_HERE / f"{name}.py").read_bytes() for name in (*SOURCES, "aot")),  # this file: the exports
        ):
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
        _KEYS.append(digest.hexdigest()[:16])
    return _KEYS[0]


def _name() -> str:
    return f"jitplan_kernels_{key()}"


def module_path(folder: Path) -> Path:
    """Where the module for this key lives in ``folder``."""
    return folder / (_name() + importlib.machinery.EXTENSION_SUFFIXES[0])


def _trusted(path: Path) -> bool:
    """Only load a module this user (or root) wrote and nobody else may change."""
    try:
        st = path.stat()
    except OSError:
        return False
    uid = os.getuid() if hasattr(os, "getuid") else st.st_uid
    return st.st_uid in (uid, 0) and not st.st_mode & 0o022


def load(folder: Path) -> ModuleType | None:
    """The built module in ``folder``, imported; None when there is none (or it will not load)."""
    path = module_path(folder)
    loaded = sys.modules.get(_name())
    if loaded is not None and getattr(loaded, "__file__", None) == str(path):
        return loaded
    if not _trusted(path):
        return None
    loader = importlib.machinery.ExtensionFileLoader(_name(), str(path))
    spec = importlib.util.spec_from_file_location(_name(), str(path), loader=loader)
    if spec is None:
        return None
    try:
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except ImportError:
        return None
    sys.modules[_name()] = module
    return module


def failure(folder: Path) -> str | None:
    """Why building failed before for this key in ``folder``, if it did."""
    try:
        return module_path(folder).with_suffix(".failed").read_text(encoding="utf-8")
    except OSError:
        return None


def record_failure(folder: Path, reason: str) -> None:
    """Keep ``reason`` so later processes use the JIT without trying again."""
    with contextlib.suppress(OSError):
        module_path(folder).with_suffix(".failed").write_text(reason + "\n", encoding="utf-8")


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One builder per folder and key at a time, across processes."""
    try:
        import fcntl
    except ImportError:  # not POSIX: at worst two processes build the same file
        yield
        return
    with open(module_path(folder).with_suffix(".lock"), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_batch(
    a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, a6: Any, a7: Any, a8: Any, a9: Any, a10: Any, a11: Any,
    a12: Any, a13: Any, a14: Any, a15: Any, a16: Any, a17: Any, a18: Any, a19: Any, a20: Any, a21: Any,
    a22: Any, a23: Any,
) -> Any:  # compiled by numba: the kernel, with its own options (error_model="numpy")
    return _kernel.run_batch(
        a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23
    )


def _gaps_to_times(gaps: Any, scale: Any, t0: Any) -> None:
    _arrivals._gaps_to_times(gaps, scale, t0)


_A1, _A2, _A3 = "float64[::1]", "float64[:, ::1]", "float64[:, :, ::1]"
_I1, _I2 = "int64[::1]", "int64[:, ::1]"
RUN_BATCH_SIGNATURE = "int64({})".format(", ".join((
    _A1, _A1, _A1, "float64", _A1, _A1, _A2, "int64",  # arrivals, t_end, free, retries, n_retry
    _A2, _A2, _I1, _A1, _A1, _A1, _A1, _A1, _A2,  # params, empirical, variates, route, cfg, state, vcap
    "float64", "float64", _A2, _A3, _I2, _I2, "int64",  # ticks, statistics, histograms, seed
)))
GAPS_SIGNATURE = "void(float64[::1], float64, float64)"


def build(folder: Path) -> Path:
    """Compile the module into ``folder`` (atomically; one builder at a time) and return its
    path; a module already there that would not load is replaced. Raises ``AotUnavailable``
    with the reason when it cannot be built here."""
    target = module_path(folder)
    before = _identity(target)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder):
            if _identity(target) != before and _trusted(target):  # another process built it meanwhile
                return target
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numba.pycc's pending deprecation, distutils'
                _compile(folder, target)
    except Exception as exc:  # any failure here means: use the JIT
        raise AotUnavailable(f"{type(exc).__name__}: {exc}".strip()) from None
    return target


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _compile(folder: Path, target: Path) -> None:
    from jitplan.simulator import jit

    jit.compile_all()  # the kernels as numba dispatchers, for the wrappers to call
    from numba.pycc import CC  # type: ignore[attr-defined]

    with tempfile.TemporaryDirectory(prefix="jitplan-aot-", dir=folder) as scratch:
        cc: Any = CC(_name(), source_module=__name__)  # type: ignore[no-untyped-call]
        cc.output_dir = scratch
        cc.target_cpu = "host"
        cc.export("run_batch", RUN_BATCH_SIGNATURE)(_run_batch)
        cc.export("gaps_to_times", GAPS_SIGNATURE)(_gaps_to_times)
        cc.compile()
        built = Path(scratch) / cc.output_file
        built.chmod(0o755)
        os.replace(built, target)
