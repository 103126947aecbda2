"""Which compiled kernels the fast engine calls in this process: built ahead of time, or JIT.

``kernels()`` answers once per process (and setting): with ``JITPLAN_KERNELS=auto`` (the
default) the module built ahead of time (``simulator.aot``), building it on first use when a C
compiler is there; else, or with ``JITPLAN_KERNELS=jit``, numba's JIT (``simulator.jit``).
``JITPLAN_KERNELS=aot`` insists on the former and fails the run when it cannot be built
(trying again even where an earlier build failed). Both compile the same numba code and give
the same bytes for a seed; the built module's functions are called through argument checks
(``aot_exports.checked``).
"""

from __future__ import annotations

__all__ = ["Kernels", "kernels"]

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from jitplan.contracts.errors import RunError
from jitplan.contracts.settings import get_settings
from jitplan.simulator import aot, arrivals, jit, kernel
from jitplan.simulator.aot_exports import checked
from jitplan.simulator.numba_cache import folder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kernels:
    """The kernels the fast engine calls from Python, and where they came from."""

    origin: Literal["aot", "jit"]
    run_batch: Callable[..., int]
    gaps_to_times: Callable[[NDArray[np.float64], float, float], None]
    why_jit: str = ""
    """With ``auto``, why the JIT is used (empty when chosen or ahead of time)."""


_CHOSEN: dict[tuple[str, str], Kernels] = {}
_CHOOSING = threading.Lock()


def kernels() -> Kernels:
    """The kernels for this process (chosen, loaded or built once per setting)."""
    mode = get_settings().kernels
    where = folder()
    chosen = _CHOSEN.get((mode, str(where)))
    if chosen is None:
        with _CHOOSING:
            chosen = _CHOSEN.get((mode, str(where)))
            if chosen is None:
                chosen = _choose(mode, where)
                _CHOSEN[(mode, str(where))] = chosen
    return chosen


def _building() -> None:
    if sys.stderr.isatty():
        print("jitplan: compiling the simulator's kernels once, ahead of time (about 10 s)...", file=sys.stderr)


def _choose(mode: str, where: Path) -> Kernels:
    why = ""
    if mode != "jit":
        try:
            module = aot.obtain(where, retry=mode == "aot", building=_building)
        except aot.AotUnavailable as exc:
            if mode == "aot":
                raise RunError(f"JITPLAN_KERNELS=aot: the simulator's kernels cannot be built ahead of time "
                               f"in {where}: {exc}") from None
            why = str(exc)
            log.warning("simulator kernels: numba's JIT (not built ahead of time: %s)", why)
        else:
            exports = checked(module)
            return Kernels("aot", exports["run_batch"], exports["gaps_to_times"])
    jit.compile_all()  # kernel.run_batch and arrivals._gaps_to_times are numba dispatchers now
    return Kernels("jit", kernel.run_batch, arrivals._gaps_to_times, why)
