"""numba's JIT on demand: ``@njit`` kernels that import numba only when first used.

The simulator's kernels are written once, as numba functions (``kernel``, ``records``,
``arrivals``). ``njit`` here returns a :class:`LazyKernel` instead of a numba dispatcher, so
importing those modules costs nothing: a process that runs the ahead-of-time built kernels
(``simulator.aot``) never imports numba at all. The first call of any lazy kernel (or
:func:`compile_all`) imports numba, points its cache at jitplan's folder, makes the real
dispatchers (``cache=True`` loads them from disk) and puts each one in place of its stand-in in
every ``jitplan`` module's globals, so kernels calling kernels are typed against dispatchers and
later Python calls skip the stand-in.
"""

from __future__ import annotations

__all__ = ["LazyKernel", "compile_all", "njit"]

import importlib
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from jitplan.simulator.numba_cache import gc_paused

F = TypeVar("F", bound=Callable[..., Any])

_PENDING: list[LazyKernel] = []
_COMPILED: list[bool] = []
_COMPILING = threading.Lock()


class LazyKernel:
    """Stands in for ``numba.njit(**options)(py_func)`` until numba is needed."""

    def __init__(self, py_func: Callable[..., Any], options: dict[str, Any]) -> None:
        self.py_func = py_func
        self.options = options
        self.dispatcher: Any = None
        self.__name__ = py_func.__name__
        self.__qualname__ = py_func.__qualname__
        self.__module__ = py_func.__module__
        self.__doc__ = py_func.__doc__
        self.__wrapped__ = py_func  # inspect.signature() and help() read the function, not numba

    def __call__(self, *args: Any) -> Any:
        if self.dispatcher is None:
            compile_all()
        return self.dispatcher(*args)

    def __getattr__(self, name: str) -> Any:  # signatures, inspect_types(), ...: the dispatcher's
        if name.startswith("__"):
            raise AttributeError(name)
        if self.dispatcher is None:
            compile_all()
        return getattr(self.dispatcher, name)

    def __reduce__(self) -> tuple[Callable[[str, str], Any], tuple[str, str]]:
        return _by_name, (self.__module__, self.__qualname__)  # as numba's dispatchers pickle

    def __repr__(self) -> str:
        state = "compiled" if self.dispatcher is not None else "not compiled yet"
        return f"<LazyKernel {self.__module__}.{self.__qualname__} ({state})>"


def njit(**options: Any) -> Callable[[F], F]:
    """``numba.njit(**options)``, deferred until the first call (see the module docstring)."""

    def wrap(fn: F) -> F:
        lazy = LazyKernel(fn, options)
        if _COMPILED:  # numba is loaded already: no reason to wait
            lazy.dispatcher = _dispatcher(lazy)
            return cast(F, lazy.dispatcher)
        _PENDING.append(lazy)
        return cast(F, lazy)

    return wrap


def compile_all() -> None:
    """Import numba, make every pending kernel a dispatcher, and set numba's CPU target up.
    Once per process; the GC is paused meanwhile (numba builds ~100,000 long-lived objects)."""
    if _COMPILED:
        return
    with _COMPILING:
        if not _COMPILED:
            _compile_pending()


def _compile_pending() -> None:
    from jitplan.simulator.numba_cache import configure, ready

    configure()
    with gc_paused():
        for lazy in _PENDING:
            lazy.dispatcher = _dispatcher(lazy)
        stand_ins = {id(lazy): lazy for lazy in _PENDING}
        for name, module in list(sys.modules.items()):
            if module is None or not name.startswith("jitplan."):
                continue
            space = vars(module)
            for key, value in list(space.items()):
                found = stand_ins.get(id(value))
                if found is not None and value is found:
                    space[key] = found.dispatcher
        _PENDING.clear()
        _COMPILED.append(True)
    ready()


def _by_name(module: str, qualname: str) -> Any:
    return getattr(importlib.import_module(module), qualname)


def _dispatcher(lazy: LazyKernel) -> Any:
    with gc_paused():
        from numba import njit as numba_njit

    return numba_njit(**lazy.options)(lazy.py_func)
