"""jitplan simulator: replay load, drift and failure scenarios against a plan (SimPy).

Two engines over one scenario model: ``exact`` (a SimPy process per request) and ``fast``
(SimPy control plane + a compiled batch data plane). Start with :func:`run`.
"""

from __future__ import annotations

__all__ = [
    "ENGINES",
    "METRIC_NAMES",
    "PERCENTILE_REL_ERROR",
    "Latency",
    "ReplicationResult",
    "Scenario",
    "Service",
    "SimResult",
    "SweepAxis",
    "SweepResult",
    "Traffic",
    "VersionProfile",
    "erlang_c",
    "estimated_requests",
    "load_scenario",
    "mm1_sojourn_quantile",
    "mmc_utilization",
    "mmc_wait_mean",
    "run",
    "summary_table",
    "sweep",
    "write_outputs",
]

from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic, VersionProfile
from jitplan.simulator.erlang import erlang_c, mm1_sojourn_quantile, mmc_utilization, mmc_wait_mean
from jitplan.simulator.histogram import REL_ERROR as PERCENTILE_REL_ERROR
from jitplan.simulator.output import summary_table, write_outputs
from jitplan.simulator.replication import ENGINES
from jitplan.simulator.result import METRIC_NAMES, ReplicationResult, SimResult
from jitplan.simulator.runner import estimated_requests, load_scenario, run
from jitplan.simulator.sweep import SweepAxis, SweepResult, sweep
