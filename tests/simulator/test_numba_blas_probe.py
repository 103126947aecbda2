"""numba's first dispatch finds scipy's BLAS without importing scipy.linalg, and gets the same answer.

The kernels run on numba's JIT here (``JITPLAN_KERNELS=jit``): built ahead of time, they import
no numba at all (``test_aot.py``)."""

from __future__ import annotations

import os
import subprocess
import sys

RUN = (
    "import sys, numpy as np, jitplan.simulator as s\n"
    "from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic\n"
    "sc = Scenario(name='t', seed=1, requests=2000, traffic=Traffic(rate_rps=5.0),\n"
    "              service=Service(concurrency=2, latency=Latency(mean_s=0.2)))\n"
    "s.run(sc, replications=1)\n"
    "import numba.np.arraymath as am, numba.np.linalg as la\n"
    "print('scipy.linalg' in sys.modules, am._HAVE_BLAS, la.ensure_blas.__qualname__)\n"
    "from numba import njit\n"
    "dot = njit(lambda a, b: np.dot(a, b))\n"
    "print(dot(np.ones(3), np.arange(3.0)), 'scipy.linalg' in sys.modules)\n"
)


def _run(code: str) -> list[str]:
    env = {**os.environ, "JITPLAN_KERNELS": "jit"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()


def test_first_dispatch_skips_scipy_linalg_and_blas_still_works() -> None:
    assert _run(RUN) == ["False", "True", "ensure_blas", "3.0", "True"]


def test_probe_answers_like_numba_without_jitplan() -> None:
    """numba's own probe, imported without jitplan, reaches the same verdict."""
    own = _run("import numba.np.arraymath as am; print(am._HAVE_BLAS)")
    assert own == ["True"]


def test_other_callers_get_the_real_ensure_blas() -> None:
    code = ("import sys, jitplan.simulator.kernel, numba.np.linalg as la\n"
            "la.ensure_blas(); print('scipy.linalg.cython_blas' in sys.modules, la.ensure_blas.__qualname__)")
    assert _run(code) == ["True", "ensure_blas"]
