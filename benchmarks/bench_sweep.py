"""Sweep throughput (replications/s), local vs Ray, on the same sweep.

One scenario (M/M/c, ``--requests`` requests per replication) swept over ``traffic.rate_rps``
(``--points`` points × ``--replications`` replications). Times, best of ``--repeats``:

- ``local`` in-process (``workers=1``) and ``local`` with ``--workers`` worker processes;
- ``ray`` with ``--workers`` CPUs: a fresh local Ray instance (``ray.init``) whose start-up is
  timed separately, then the sweep on it (tasks and their results; workers warm after the first
  repeat).

Also checks the Ray numbers equal the local ones (the CSV text). Prints a table and, with
``--json``, one JSON object. Exit 0 unless the results differ (1).

    .venv/bin/python benchmarks/bench_sweep.py [--points 20] [--replications 10] [--requests N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic  # noqa: E402
from jitplan.simulator.sweep import SweepResult, parse_axis, sweep  # noqa: E402
from jitplan.simulator.sweep_output import csv_text  # noqa: E402


def _timed(fn: object, repeats: int) -> tuple[float, SweepResult]:
    best, res = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    assert isinstance(res, SweepResult)
    return best, res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--replications", type=int, default=10)
    ap.add_argument("--requests", type=int, default=20_000, help="per replication")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    sc = Scenario(
        name="bench-sweep", seed=1, requests=a.requests, warmup_requests=a.requests // 20,
        traffic=Traffic(rate_rps=5), service=Service(concurrency=10, latency=Latency(mean_s=1.0)),
    )
    axes = [parse_axis(f"traffic.rate_rps=1:9.5:{a.points}")]
    n = a.points * a.replications

    def run(backend: str, workers: int) -> SweepResult:
        return sweep(sc, axes, replications=a.replications, seed=7, backend=backend,
                     workers=workers)

    sweep(sc, axes[:1], replications=1)  # warm the compiled kernel before timing
    t_local, local = _timed(lambda: run("local", 1), a.repeats)
    t_workers, workers = _timed(lambda: run("local", a.workers), a.repeats)

    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    t0 = time.perf_counter()
    ray.init(num_cpus=a.workers, include_dashboard=False, log_to_driver=False)
    t_ray_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    first = run("ray", a.workers)
    t_ray_first = time.perf_counter() - t0
    t_ray, on_ray = _timed(lambda: run("ray", a.workers), a.repeats)
    ray.shutdown()

    same = csv_text(local) == csv_text(workers) == csv_text(on_ray) == csv_text(first)
    doc = {
        "sweep": f"{a.points} points x {a.replications} replications x {a.requests} requests",
        "cpus": os.cpu_count(),
        "local_1_s": round(t_local, 3),
        "local_1_reps_per_s": round(n / t_local, 1),
        f"local_{a.workers}_workers_s": round(t_workers, 3),
        f"local_{a.workers}_workers_reps_per_s": round(n / t_workers, 1),
        "ray_start_s": round(t_ray_start, 3),
        "ray_first_sweep_s": round(t_ray_first, 3),
        "ray_s": round(t_ray, 3),
        "ray_reps_per_s": round(n / t_ray, 1),
        "identical_results": same,
    }
    if a.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"sweep: {doc['sweep']} ({n} replications), {os.cpu_count()} CPUs, best of {a.repeats}")
        print(f"  local, in-process      {t_local:7.3f} s  {n / t_local:8.1f} replications/s")
        print(f"  local, {a.workers} workers       {t_workers:7.3f} s  {n / t_workers:8.1f} replications/s")
        print(f"  ray, {a.workers} CPUs (warm)     {t_ray:7.3f} s  {n / t_ray:8.1f} replications/s"
              f"  (ray.init {t_ray_start:.2f} s, first sweep {t_ray_first:.2f} s)")
        print(f"  identical results: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
