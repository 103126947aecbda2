"""Where numba keeps the compiled kernels (``cache=True``), so a cold process loads, not compiles.

Compiling the fast engine's kernels takes seconds; loading them from the on-disk cache takes
milliseconds. numba caches next to the source (``simulator/__pycache__``) when that folder is
writable, else in the user's cache folder (``~/.cache/numba``); an installed wheel in a
read-only site-packages therefore uses the latter. When neither is writable (a locked-down
container), numba would refuse to decorate the kernels at import, so ``configure`` then points
it at a folder under the system temp dir. ``JITPLAN_NUMBA_CACHE_DIR`` (``Settings.numba_cache_dir``)
names the folder outright; numba's own ``NUMBA_CACHE_DIR`` wins over both.

Every module defining cached kernels calls ``configure()`` before its first ``@njit``.
"""

from __future__ import annotations

__all__ = ["configure"]

import os
import tempfile
from pathlib import Path

from jitplan.contracts.settings import get_settings

_DONE: list[str] = []


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
    return chosen or None
