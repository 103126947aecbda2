"""The fast engine's kernels built ahead of time: one extension module, loaded without numba.

Importing numba and setting its CPU target up costs about half a second in every new process,
even when the JIT kernels come from numba's disk cache. ``obtain`` compiles the kernels the
fast engine calls from Python (``simulator.aot_exports``: ``kernel.run_batch`` and
``arrivals._gaps_to_times``, with every kernel they call) once, with numba's ahead-of-time
compiler (``numba.pycc``), into an extension module in the kernels' cache folder
(``numba_cache.folder()``), and then loads it with plain ``importlib``. It is the same numba
code, types and random generator; a seed gives the same bytes as the JIT
(``tests/simulator/test_aot.py``). It is compiled for a baseline CPU (x86-64-v2 on x86, else
LLVM's generic one), not this exact one, so a folder shared between machines stays usable.

The module's name carries a key over everything its code depends on: the sources compiled,
Python, numpy, numba, llvmlite, the target CPU and numba's ``NUMBA_*`` settings. A change to
any of them builds a new one. Building needs a C compiler, Python's headers and setuptools.
When it fails for a lasting reason, the reason is kept next to where the module would be
(``<name>.failed``, with a fingerprint of the toolchain: a new compiler tries again), so later
processes go straight to the JIT instead of failing again. A folder anyone else may write to
is never loaded from.
"""

from __future__ import annotations

__all__ = ["SOURCES", "AotUnavailable", "failure", "jit_required", "key", "module_path", "obtain"]

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import platform
import shutil
import sys
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

SOURCES = ("kernel", "records", "arrivals", "layout", "histogram", "aot_exports", "aot")
"""The ``jitplan.simulator`` modules the compiled code is made from (the kernels, the kernels
they call, the constants numba freezes into them, the exports) or built by."""
FORMAT = "2"
"""Bumped when the way a module is built changes outside the files above."""
PRUNE_AFTER_DAYS = 30
"""A build removes other keys' modules older than this (``_prune``)."""
LOCK_WAIT_S = 300.0
"""How long a process waits for another one building the same module before using the JIT."""

_HERE = Path(__file__).resolve().parent
_V2_FLAGS = {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}


class AotUnavailable(Exception):
    """The kernels built ahead of time cannot be used in this process; ``str()`` says why."""


def jit_required() -> str:
    """Why numba's own settings ask for the JIT (the kernels run as Python, or bounds-checked);
    empty when they do not. Read from the environment, without importing numba."""
    for var in ("NUMBA_DISABLE_JIT", "NUMBA_BOUNDSCHECK"):
        value = os.environ.get(var, "").strip()
        if value and value != "0":
            return f"{var}={value}"
    return ""


def _package_file(package: str, name: str) -> bytes:
    spec = importlib.util.find_spec(package)  # found, not imported
    places = [] if spec is None or spec.submodule_search_locations is None else list(spec.submodule_search_locations)
    for place in places:
        with contextlib.suppress(OSError):
            return (Path(place) / name).read_bytes()
    return b"missing"


def _target_cpu() -> str:
    """x86-64-v2 where /proc/cpuinfo shows its features; else LLVM's generic CPU."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return ""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), [])
    return "x86-64-v2" if set(flags) >= _V2_FLAGS else ""


_KEYS: list[str] = []


def key() -> str:
    """A short hash of everything the compiled module depends on (see the module docstring)."""
    if not _KEYS:
        digest = hashlib.sha256(FORMAT.encode())
        numba_env = sorted((k, v) for k, v in os.environ.items() if k.startswith("NUMBA_") and k != "NUMBA_CACHE_DIR")
        for part in (
            sys.version.encode(),
            sys.platform.encode(),
            platform.machine().encode(),
            np.__version__.encode(),
            _package_file("numba", "_version.py"),
            _package_file("llvmlite", "_version.py"),
            _target_cpu().encode(),
            json.dumps(numba_env).encode(),
            *((_HERE / f"{name}.py").read_bytes() for name in SOURCES),
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


def _others_may_write(path: Path) -> str:
    """Why a file or folder might hold someone else's code (empty when only this user or root
    can write it)."""
    try:
        st = path.stat()
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    if os.name == "nt":  # no POSIX owner or mode bits to go by
        return ""
    if st.st_uid not in (os.getuid(), 0):
        return f"{path} belongs to another user (uid {st.st_uid})"
    if st.st_mode & 0o022:
        return f"{path} is writable by group or others (mode {st.st_mode & 0o777:o})"
    return ""


def _load(folder: Path) -> tuple[ModuleType | None, str]:
    """(the module, "") when it is there and loads; else (None, why not; "" when absent)."""
    path = module_path(folder)
    loaded = sys.modules.get(_name())
    if loaded is not None and getattr(loaded, "__file__", None) == str(path):
        return loaded, ""
    if not path.exists():
        return None, ""
    doubt = _others_may_write(path)
    if doubt:
        return None, f"not loaded: {doubt}"
    loader = importlib.machinery.ExtensionFileLoader(_name(), str(path))
    spec = importlib.util.spec_from_file_location(_name(), str(path), loader=loader)
    if spec is None:
        return None, f"{path} is not an extension module"
    try:
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except ImportError as exc:
        return None, f"{path} does not load: {exc}"
    sys.modules[_name()] = module
    return module, ""


def _toolchain() -> str:
    """What a build depends on besides the key: a changed toolchain deserves another try."""
    cc = os.environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc")
    parts = [
        cc,
        str(shutil.which(cc.split()[0]) if cc.split() else None),
        str(importlib.util.find_spec("setuptools") is not None),
        str(Path(sysconfig.get_paths()["include"], "Python.h").exists()),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _marker(folder: Path) -> Path:
    return module_path(folder).with_suffix(".failed")


def failure(folder: Path) -> str | None:
    """Why building failed before for this key and toolchain in ``folder``, if it did."""
    try:
        kept = json.loads(_marker(folder).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("toolchain") != _toolchain():
        return None
    return str(kept.get("reason", "unknown"))


def _record_failure(folder: Path, reason: str) -> None:
    with contextlib.suppress(OSError):
        _marker(folder).write_text(json.dumps({"reason": reason, "toolchain": _toolchain()}) + "\n", encoding="utf-8")


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One builder per folder and key at a time, across processes; waits up to LOCK_WAIT_S.
    Where the folder cannot be locked, builders are not serialised (``os.replace`` is atomic)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        handle = open(module_path(folder).with_suffix(".lock"), "a+b")  # noqa: SIM115 (closed below)
    except OSError:
        yield
        return
    with handle:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AotUnavailable(f"another process has been building {module_path(folder).name} "
                                         f"for over {LOCK_WAIT_S:.0f} s") from None
                time.sleep(0.05)
            except OSError:  # the file system has no locks (ENOLCK, ENOSYS): build unserialised
                yield
                return
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def obtain(folder: Path, *, retry: bool = False, building: Callable[[], None] | None = None) -> ModuleType:
    """The module for this key from ``folder``: loaded, or built now (one builder at a time).

    Raises ``AotUnavailable`` when it cannot be used: the folder is not private to this user,
    numba's settings ask for the JIT, or the build failed (now, or before with the same
    toolchain unless ``retry``). ``building`` is called just before a build starts."""
    required = jit_required()
    if required:
        raise AotUnavailable(f"{required} asks for numba's JIT")
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
    doubt = _others_may_write(folder)
    if doubt:
        raise AotUnavailable(f"not loaded from or built into a folder others can change: {doubt}")
    module, _ = _load(folder)
    if module is not None:
        return module
    earlier = None if retry else failure(folder)
    if earlier is not None:
        raise AotUnavailable(earlier)
    with _locked(folder):
        module, _ = _load(folder)  # built by another process meanwhile?
        if module is not None:
            return module
        earlier = None if retry else failure(folder)
        if earlier is not None:
            raise AotUnavailable(earlier)
        if building is not None:
            building()
        try:
            _compile(folder)
        except OSError as exc:  # the disk, not the toolchain: not kept, the next process tries again
            raise AotUnavailable(f"{type(exc).__name__}: {exc}") from None
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}".strip()
            _record_failure(folder, reason)
            raise AotUnavailable(reason) from None
        module, why = _load(folder)
        if module is None:
            reason = f"built in {folder} but not usable: {why}"
            _record_failure(folder, reason)
            raise AotUnavailable(reason)
        _prune(folder)
        return module


def _prune(folder: Path) -> None:
    """Remove other keys' modules (and their lock and failure files) not built again for
    PRUNE_AFTER_DAYS: an upgrade or an edit leaves the old ones behind (~0.7 MB each)."""
    mine = _name()
    oldest = time.time() - PRUNE_AFTER_DAYS * 86400
    for path in folder.glob("jitplan_kernels_*"):
        if path.name.startswith(mine):
            continue
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_mtime < oldest:
                path.unlink()


def _compile(folder: Path) -> None:
    from jitplan.simulator import jit
    from jitplan.simulator.aot_exports import EXPORTS

    target = module_path(folder)
    for stale in folder.glob(f"jitplan-aot-{key()}-*"):  # a builder of this key that was killed
        shutil.rmtree(stale, ignore_errors=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba.pycc's pending deprecation, distutils'
            jit.compile_all()  # the kernels as numba dispatchers, for the exports to call
            from numba.pycc import CC  # type: ignore[attr-defined]

            with tempfile.TemporaryDirectory(prefix=f"jitplan-aot-{key()}-", dir=folder) as scratch:
                cc: Any = CC(_name(), source_module="jitplan.simulator.aot_exports")  # type: ignore[no-untyped-call]
                cc.output_dir = scratch
                cc.target_cpu = _target_cpu()
                for export in EXPORTS:
                    cc.export(export.name, export.signature)(export.function)
                cc.compile()
                built = Path(scratch) / cc.output_file
                built.chmod(0o755)
                os.replace(built, target)
    finally:  # numba.pycc's own build folder stays behind when the C step fails
        for leftover in Path(tempfile.gettempdir()).glob(f"pycc-build-{_name()}-*"):
            shutil.rmtree(leftover, ignore_errors=True)

