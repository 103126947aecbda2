"""Where numba keeps the compiled kernels (``cache=True``), so a cold process loads, not compiles.

Compiling the fast engine's kernels takes seconds; loading them from the on-disk cache takes
milliseconds. numba caches next to the source (``simulator/__pycache__``) when that folder is
writable, else in the user's cache folder (``~/.cache/numba``); an installed wheel in a
read-only site-packages therefore uses the latter. When neither is writable (a locked-down
container), numba would refuse to decorate the kernels at import, so ``configure`` then points
it at a folder under the system temp dir. ``JITPLAN_NUMBA_CACHE_DIR`` (``Settings.numba_cache_dir``)
names the folder outright; numba's own ``NUMBA_CACHE_DIR`` wins over both.

Every module defining cached kernels calls ``configure()`` before its first ``@njit``.

numba builds some 100,000 long-lived objects while it is imported and while its CPU target is
set up (the first call of any kernel); the cyclic GC would scan them over and over (~20% of
that time), so both run with it paused: ``njit`` is imported from here, and ``ready()`` sets the
target up before a replication's first kernel call.

``configure`` also spares the first dispatch scipy.linalg's import (about 0.1 s of CPU, a third
of numba's first dispatch): numba's array registry asks ``ensure_blas()`` whether a BLAS is
there, which imports ``scipy.linalg.cython_blas`` and so all of ``scipy.linalg``. The answer
(the extension module can be found, and scipy's BLAS integer width matches numba's build) is
the same when looked up without importing it; numba's own linear algebra still imports it
when a kernel uses it (``_defer_blas_probe``).
"""

from __future__ import annotations

__all__ = ["configure", "njit", "ready"]

import gc
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from jitplan.contracts.settings import get_settings


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic GC off inside (back to its previous state after): for loading code only."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


with _gc_paused():
    from numba import njit

_DONE: list[str] = []
_READY: list[bool] = []


def ready() -> None:
    """Set numba's CPU target up now (typing and lowering registries, the runtime), with the GC
    paused: what the first call of any kernel would otherwise do. Once per process."""
    if _READY:
        return
    from numba.core.registry import cpu_target

    with _gc_paused():
        cpu_target.target_context.refresh()
    _READY.append(True)


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def configure() -> str | None:
    """Set numba's cache folder when jitplan must choose it; returns the folder set, if any."""
    from numba.core import config

    if _DONE:
        return _DONE[0] or None
    chosen = ""
    explicit = get_settings().numba_cache_dir
    if getattr(config, "CACHE_DIR", ""):  # NUMBA_CACHE_DIR: the user's choice
        pass
    elif explicit is not None:
        chosen = str(explicit.expanduser())
    elif not _writable(Path(__file__).resolve().parent / "__pycache__"):
        from numba.misc.appdirs import AppDirs

        user_dir = AppDirs(appname="numba", appauthor=False).user_cache_dir  # type: ignore[no-untyped-call]
        if not _writable(Path(user_dir)):
            uid = os.getuid() if hasattr(os, "getuid") else 0
            chosen = str(Path(tempfile.gettempdir()) / f"jitplan-numba-{uid}")
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        config.CACHE_DIR = chosen  # type: ignore[attr-defined]  # read when a kernel is decorated
    _DONE.append(chosen)
    _defer_blas_probe()
    return chosen or None


def _blas_found() -> bool:
    """Whether ``import scipy.linalg.cython_blas`` would succeed, without importing scipy.linalg."""
    try:
        spec = importlib.util.find_spec("scipy.linalg")  # imports scipy (numba already did), not scipy.linalg
    except (ImportError, ValueError):
        return False
    places = None if spec is None else spec.submodule_search_locations
    return bool(places) and importlib.machinery.PathFinder.find_spec("cython_blas", list(places or ())) is not None


def _defer_blas_probe() -> None:
    """Answer numba's import-time BLAS probe (``numba.np.arraymath._check_blas``) by looking up
    scipy's BLAS module instead of importing it. Only that one call is answered this way: the
    stand-in puts numba's ``ensure_blas`` back at its first call, and answers any other caller
    with the real one. Left alone when numba's internals are not the expected ones."""
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    try:
        from numba.np import linalg
    except ImportError:
        return
    real: Callable[[], None] | None = getattr(linalg, "ensure_blas", None)
    check: Callable[[], None] | None = getattr(linalg, "_check_lapack_int_width", None)
    if real is None or check is None:
        return

    def probe() -> None:
        linalg.ensure_blas = real  # type: ignore[attr-defined]  # one call only
        if "numba.np.arraymath" not in sys.modules:  # not the registry's probe: the real thing
            real()
            return
        if not _blas_found():
            raise ImportError("scipy 0.16+ is required for linear algebra")  # numba's message
        check()  # the integer-width check ensure_blas() makes (reads scipy.__config__)

    linalg.ensure_blas = probe  # type: ignore[attr-defined]
