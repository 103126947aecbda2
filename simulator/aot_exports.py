"""What the module built ahead of time exports, with which types, and the checks on each call.

numba compiles each export for one signature (C-contiguous float64 and int64 arrays here).
Its generated wrappers check little of what they are given: a strided view, another dtype or
another number of dimensions would be read (and written) as if it matched, where the JIT would
compile another specialisation or refuse. ``checked`` therefore wraps each export in a check of
every array argument (dtype, dimensions, C order, and writable where the kernel writes): a
``TypeError`` naming the argument instead of silently different numbers. It costs microseconds
per call, and the engine calls once per chunk of thousands of requests.
"""

from __future__ import annotations

__all__ = ["EXPORTS", "Export", "checked"]

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from jitplan.simulator import arrivals as _arrivals
from jitplan.simulator import kernel as _kernel


def _run_batch(
    a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, a6: Any, a7: Any, a8: Any, a9: Any, a10: Any, a11: Any,
    a12: Any, a13: Any, a14: Any, a15: Any, a16: Any, a17: Any, a18: Any, a19: Any, a20: Any, a21: Any,
    a22: Any, a23: Any,
) -> Any:  # compiled by numba: calls the kernel, compiled with its own options (error_model="numpy")
    return _kernel.run_batch(
        a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23
    )


def _gaps_to_times(gaps: Any, scale: Any, t0: Any) -> None:
    _arrivals._gaps_to_times(gaps, scale, t0)


@dataclass(frozen=True)
class Arg:
    """One argument: its name, numba type, and whether the kernel writes it."""

    name: str
    numba_type: str
    written: bool = False

    @property
    def ndim(self) -> int:
        """0 for a scalar; else the number of dimensions in ``float64[:, ::1]`` and the like."""
        return self.numba_type.count(",") + 1 if "[" in self.numba_type else 0

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(self.numba_type.split("[", 1)[0])


@dataclass(frozen=True)
class Export:
    """One exported function: its name in the module, what numba compiles, its arguments."""

    name: str
    function: Callable[..., Any]
    returns: str
    args: tuple[Arg, ...]

    @property
    def signature(self) -> str:
        return f"{self.returns}({', '.join(a.numba_type for a in self.args)})"


_F1, _F2, _F3 = "float64[::1]", "float64[:, ::1]", "float64[:, :, ::1]"
_I1, _I2 = "int64[::1]", "int64[:, ::1]"
RUN_BATCH = Export("run_batch", _run_batch, "int64", (
    Arg("arr_t", _F1), Arg("arr_tin", _F1), Arg("arr_tout", _F1), Arg("t_end", "float64"),
    Arg("free", _F1, True), Arg("rt", _F1, True), Arg("rinfo", _F2, True), Arg("n_retry", "int64"),
    Arg("params", _F2), Arg("emp", _F2), Arg("emp_len", _I1), Arg("ue", _F1), Arg("un", _F1),
    Arg("route", _F1), Arg("cfg", _F1), Arg("state", _F1, True), Arg("vcap", _F2, True),
    Arg("tick0", "float64"), Arg("tick_s", "float64"), Arg("tick_tot", _F2, True), Arg("tick_ver", _F3, True),
    Arg("hist_tick", _I2, True), Arg("hist_ver", _I2, True), Arg("seed", "int64"),
))
GAPS_TO_TIMES = Export("gaps_to_times", _gaps_to_times, "void", (
    Arg("gaps", _F1, True), Arg("scale", "float64"), Arg("t0", "float64"),
))
EXPORTS = (RUN_BATCH, GAPS_TO_TIMES)


def _checker(export: Export, compiled: Callable[..., Any]) -> Callable[..., Any]:
    arrays = [(i, a, a.dtype, a.ndim) for i, a in enumerate(export.args) if a.ndim]

    def call(*args: Any) -> Any:
        if len(args) != len(export.args):
            raise TypeError(f"{export.name}() takes {len(export.args)} arguments ({len(args)} given)")
        for i, arg, dtype, ndim in arrays:
            value = args[i]
            if (
                not isinstance(value, np.ndarray)
                or value.dtype != dtype
                or value.ndim != ndim
                or not value.flags.c_contiguous
                or (arg.written and not value.flags.writeable)
            ):
                got = (f"{value.dtype}, {value.ndim}-D, C order {value.flags.c_contiguous}, writable "
                       f"{value.flags.writeable}" if isinstance(value, np.ndarray) else type(value).__name__)
                raise TypeError(f"{export.name}(): argument {arg.name} must be a C-contiguous{' writable' if arg.written else ''} "
                                f"{dtype} array of {ndim} dimension(s) (got {got})")
        return compiled(*args)

    call.__name__ = export.name
    return call


def checked(module: ModuleType) -> dict[str, Callable[..., Any]]:
    """The module's exports by name, each behind the argument check."""
    return {e.name: _checker(e, getattr(module, e.name)) for e in EXPORTS}
