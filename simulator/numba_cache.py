"""Where numba keeps the compiled kernels (``cache=True``), so a cold process loads, not compiles.

Compiling the fast engine's kernels takes seconds; loading them from the on-disk cache takes
milliseconds. numba caches next to the source (``simulator/__pycache__``) when that folder is
writable, else in the user's cache folder (``~/.cache/numba``); an installed wheel in a
read-only site-packages therefore uses the latter. When neither is writable (a locked-down
container), numba would refuse to decorate the kernels at import, so ``configure`` then points
it at a folder under the system temp dir. ``JITPLAN_NUMBA_CACHE_DIR`` (``Settings.numba_cache_dir``)
names the folder outright; numba's own ``NUMBA_CACHE_DIR`` wins over both.

``folder()`` makes the same choice without importing numba: the kernels built ahead of time
(``simulator.aot``) live there too. ``simulator.jit`` calls ``configure()`` before it makes the
first dispatcher.

numba builds some 100,000 long-lived objects while it is imported and while its CPU target is
set up (the first call of any kernel); the cyclic GC would scan them over and over (~20% of
that time), so both run with it paused (``gc_paused``): ``simulator.jit`` imports numba so, and
``ready()`` sets the target up.

``configure`` also spares the first dispatch scipy.linalg's import (about 0.1 s of CPU, a third
of numba's first dispatch): numba's array registry asks ``ensure_blas()`` whether a BLAS is
there, which imports ``scipy.linalg.cython_blas`` and so all of ``scipy.linalg``. The answer
(the extension module can be found, and scipy's BLAS integer width matches numba's build) is
the same when looked up without importing it; numba's own linear algebra still imports it
when a kernel uses it (``_defer_blas_probe``).
"""

from __future__ import annotations

__all__ = ["configure", "folder", "gc_paused", "ready"]

import contextlib
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
def gc_paused() -> Iterator[None]:
    """The cyclic GC off inside (back to its previous state after): for loading code only."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


BESIDE = Path(__file__).resolve().parent / "__pycache__"
"""numba's default cache folder for these kernels: next to their source."""
_DONE: list[str] = []
_FOLDERS: dict[tuple[str, str], Path] = {}
_READY: list[bool] = []


def ready() -> None:
    """Set numba's CPU target up now (typing and lowering registries, the runtime), with the GC
    paused: what the first call of any kernel would otherwise do. Once per process."""
    if _READY:
        return
    from numba.core.registry import cpu_target

    with gc_paused():
        cpu_target.target_context.refresh()
    _READY.append(True)


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _user_cache() -> Path | None:
    try:
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba"
    except RuntimeError:  # no home directory to be found
        return None


def folder() -> Path:
    """The folder jitplan's compiled kernels live in, chosen without importing numba:
    ``NUMBA_CACHE_DIR``, else ``JITPLAN_NUMBA_CACHE_DIR``, else next to the code when writable,
    else the user's cache folder (``$XDG_CACHE_HOME/numba``), else one under the temp dir."""
    own = os.environ.get("NUMBA_CACHE_DIR", "").strip()
    explicit = get_settings().numba_cache_dir
    key = (own, str(explicit))
    found = _FOLDERS.get(key)
    if found is None:
        if own:
            found = Path(own).expanduser()
        elif explicit is not None:
            found = explicit.expanduser()
        elif _writable(BESIDE):
            found = BESIDE
        else:
            found = _user_cache()
            if found is None or not _writable(found):
                uid = os.getuid() if hasattr(os, "getuid") else 0
                found = Path(tempfile.gettempdir()) / f"jitplan-numba-{uid}"
                with contextlib.suppress(OSError):
                    found.mkdir(mode=0o700, exist_ok=True)  # private: compiled code is loaded from it
        _FOLDERS[key] = found
    return found


def configure() -> str | None:
    """Set numba's cache folder when jitplan must choose it (``folder()``, unless that is
    numba's own choice); returns the folder set, if any. Imports numba's configuration."""
    from numba.core import config

    if _DONE:
        return _DONE[0] or None
    chosen = ""
    if not getattr(config, "CACHE_DIR", ""):  # NUMBA_CACHE_DIR: the user's choice
        where = folder()
        if where != BESIDE:
            chosen = str(where)
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
