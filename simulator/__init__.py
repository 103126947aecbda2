"""jitplan simulator: replay load, drift and failure scenarios against a plan (SimPy).

Two engines over one scenario model: ``exact`` (a SimPy process per request) and ``fast``
(SimPy control plane + a compiled batch data plane). Start with :func:`run`.
"""

from __future__ import annotations

__all__ = [
    "ENGINES",
    "ReplicationResult",
    "SimResult",
    "erlang_c",
    "load_scenario",
    "mm1_sojourn_quantile",
    "mmc_utilization",
    "mmc_wait_mean",
    "run",
]

from simulator.erlang import erlang_c, mm1_sojourn_quantile, mmc_utilization, mmc_wait_mean
from simulator.replication import ENGINES
from simulator.result import ReplicationResult, SimResult
from simulator.runner import load_scenario, run
