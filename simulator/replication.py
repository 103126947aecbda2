"""One replication: wire the world, arrivals, control plane and a data plane into SimPy."""

from __future__ import annotations

__all__ = ["ENGINES", "effective_tick_s", "run_replication"]

import math
from collections.abc import Callable

import numpy as np
import simpy

from jitplan.contracts.plan import Plan
from jitplan.contracts.scenario import Scenario
from jitplan.simulator import jit
from jitplan.simulator import layout as L
from jitplan.simulator.arrivals import ArrivalStream
from jitplan.simulator.compiled import kernels
from jitplan.simulator.control import PlanRun, dq_process, fault_process
from jitplan.simulator.exact import ExactPlane
from jitplan.simulator.fast import FastPlane
from jitplan.simulator.histogram import percentile
from jitplan.simulator.result import ReplicationResult
from jitplan.simulator.stats import Recorder, window_metrics
from jitplan.simulator.variates import UnitVariates
from jitplan.simulator.world import World

ENGINES = ("fast", "exact")


_NICE_TICKS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
MAX_AUTO_TICKS = 2000


def effective_tick_s(sc: Scenario, mean_rate: float) -> float:
    """The scenario's ``tick_s``, or the smallest nice tick giving at most ~2000 ticks."""
    if sc.tick_s is not None:
        return sc.tick_s
    horizon = sc.duration_s if sc.duration_s is not None else (sc.requests or 0) / mean_rate
    want = horizon / MAX_AUTO_TICKS
    return float(next((t for t in _NICE_TICKS if t >= want), _NICE_TICKS[-1]))


def _plan_start(sc: Scenario, stream: ArrivalStream) -> float:
    if sc.plan_start_s is not None:
        return sc.plan_start_s
    if sc.warmup_requests:
        return max(sc.warmup_s, sc.warmup_requests / max(stream.mean_rate(), 1e-9))
    return sc.warmup_s


def run_replication(
    sc: Scenario,
    plan: Plan | None,
    engine: str,
    seed_seq: np.random.SeedSequence,
    index: int = 0,
    progress: Callable[[float], None] | None = None,
    *,
    series: bool = True,
) -> ReplicationResult:
    """Simulate one replication of ``sc`` (with ``plan`` under test) on ``engine``.

    ``series=False`` skips the per-tick time series (``ReplicationResult.series`` has no
    rows); every metric, gate and timeline event is the same."""
    if engine == "fast":
        gaps_to_times = kernels().gaps_to_times  # built ahead of time (loaded or built now), or JIT
    else:
        jit.compile_all()  # the exact engine's helpers: numba's JIT, set up with the GC paused
        gaps_to_times = None
    arrivals_ss, variates_ss, control_ss = seed_seq.spawn(3)
    rng = np.random.default_rng(control_ss)
    env = simpy.Environment()
    stream = ArrivalStream(sc.traffic, np.random.default_rng(arrivals_ss), 1.0, gaps_to_times)
    tick_s = effective_tick_s(sc, max(stream.mean_rate(), 1e-9))
    sc = sc.model_copy(update={"tick_s": tick_s})
    stream.tick_s = tick_s
    world = World(sc)
    dists = {sc.service.profile(k).latency.dist for k in world.keys}
    variates = UnitVariates(
        np.random.default_rng(variates_ss), "exponential" in dists, "lognormal" in dists
    )
    recorder = Recorder(len(world.keys), tick_s, sc.service.concurrency, series=series)
    end_s = sc.duration_s if sc.duration_s is not None else math.inf
    warm = (sc.warmup_s, sc.warmup_requests)
    cls = FastPlane if engine == "fast" else ExactPlane
    plane = cls(env, world, stream, variates, recorder, rng, end_s, sc.requests, warm, progress)
    for fault in sc.faults:
        env.process(fault_process(env, world, fault))
    for drop in sc.data_quality:
        env.process(dq_process(env, world, drop))
    plan_run = None
    if plan is not None:
        plan_run = PlanRun(
            env, world, plan, recorder, plane.flush, _plan_start(sc, stream), sc.step_interval_s
        )
        env.process(plan_run.process())
    done = env.event()
    env.process(plane.process(done))
    env.run(until=done)
    t_end = env.now
    status, reason = None, ""
    if plan_run is not None:
        if plan_run.finished:
            status = "pass"
        elif plan_run.aborted:
            status = "fail"
        else:
            status, reason = "fail", "the run ended before the plan finished"
            world.log(t_end, "plan_incomplete", plan=plan.id if plan else "")
    first, last = plane.first_last
    if sc.duration_s is not None:
        span = sc.duration_s - sc.warmup_s
    else:
        n = recorder.tot[L.F_N]
        span = (last - first) * n / (n - 1) if n > 1 and last > first else math.nan
    return ReplicationResult(
        index=index,
        metrics=_metrics(recorder, span, sc.service.concurrency),
        versions={
            key: window_metrics(recorder.ver_tot[v], recorder.ver_hist[v], span)
            for v, key in enumerate(world.keys)
        },
        timeline=tuple(sorted(world.timeline, key=lambda e: e.t)),
        gates=tuple(plan_run.gates) if plan_run else (),
        plan_status=status,
        plan_reason=reason,
        series=recorder.series(),
    )


def _metrics(rec: Recorder, span: float, c: int) -> dict[str, float]:
    tot = [float(x) for x in rec.tot]
    n = tot[L.F_N]
    nan = math.nan
    return {
        "requests": n,
        "throughput_rps": n / span if span > 0 else nan,
        "utilization": tot[L.F_BUSY] / (c * span) if span > 0 else nan,
        "wait_mean_s": tot[L.F_WAIT] / n if n else nan,
        "latency_mean_s": tot[L.F_LAT] / n if n else nan,
        "latency_p50_s": percentile(rec.hist, 50),
        "latency_p95_s": percentile(rec.hist, 95),
        "latency_p99_s": percentile(rec.hist, 99),
        "error_rate": tot[L.F_ERR] / n if n else nan,
        "cost_usd": tot[L.F_COST],
        "quality_mean": tot[L.F_QUAL] / tot[L.F_QN] if tot[L.F_QN] else nan,
        "retries": float(tot[L.F_RETRY]),
    }
