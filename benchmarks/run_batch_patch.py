"""Swap or wrap the queue kernel the fast engine calls, for the benchmarks that time it.

The fast engine takes its kernels from ``simulator.compiled.kernels()`` (built ahead of time,
or numba's JIT); ``with_run_batch(wrap)`` makes it call ``wrap(run_batch)`` instead while inside.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def with_run_batch(wrap: Callable[[Callable[..., int]], Callable[..., Any]]) -> Iterator[None]:
    """Inside, the fast engine calls ``wrap(run_batch)`` for its queue kernel."""
    from jitplan.simulator import fast

    before = fast.kernels  # type: ignore[attr-defined]  # compiled.kernels, or an outer swap (nested: wraps what it calls)
    current = before()
    swapped = dataclasses.replace(current, run_batch=wrap(current.run_batch))
    fast.kernels = lambda: swapped  # type: ignore[attr-defined]
    try:
        yield
    finally:
        fast.kernels = before  # type: ignore[attr-defined]
