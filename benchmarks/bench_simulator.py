"""Simulator speed and accuracy on one M/M/10 workload (λ = 9, μ = 1, ρ = 0.9), plus a day.

Prints, from one run (best of ``--repeats`` interleaved timings): requests/s of the fast engine (≥ 20M requests, numba compile and
start-up excluded), the exact engine, a naive SimPy model (a process per request on a
``simpy.Resource`` of capacity c) and ciw; their ratios to naive SimPy; and each one's error
in mean wait (Wq) against Erlang C. Then 24 h at 1,000 rps (86.4M requests) with a canary
and a fault, in a child process so its peak memory (max RSS) is measured on its own.

Targets: fast ≥ 200× naive SimPy with Wq within 2 %; exact ≥ 0.7× naive SimPy; the day in
≤ 15 s and ≤ 1 GiB. Exit 0 always unless ``--strict`` (then 1 when a target is missed).

    .venv/bin/python benchmarks/bench_simulator.py [--fast-requests N] [--strict]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections.abc import Generator
from pathlib import Path

import simpy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAM, MU, C = 9.0, 1.0, 10


def naive_simpy(n: int, seed: int = 1) -> tuple[float, float]:
    """The textbook SimPy model: returns (seconds, mean wait)."""

    rnd = random.Random(seed)
    env = simpy.Environment()
    res = simpy.Resource(env, capacity=C)
    waits: list[float] = []

    def customer() -> Generator[simpy.Event, None, None]:
        t = env.now
        with res.request() as req:
            yield req
            waits.append(env.now - t)
            yield env.timeout(rnd.expovariate(MU))

    def source() -> Generator[simpy.Event, None, None]:
        for _ in range(n):
            yield env.timeout(rnd.expovariate(LAM))
            env.process(customer())

    t0 = time.perf_counter()
    env.process(source())
    env.run()
    el = time.perf_counter() - t0
    warm = n // 20
    return el, sum(waits[warm:]) / len(waits[warm:])


def ciw_model(n: int, seed: int = 1) -> tuple[float, float]:
    """ciw's M/M/c: simulate until ``n`` arrivals (approximately), returns (s, mean wait)."""
    import ciw

    net = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=LAM)],
        service_distributions=[ciw.dists.Exponential(rate=MU)],
        number_of_servers=[C],
    )
    ciw.seed(seed)
    t0 = time.perf_counter()
    sim = ciw.Simulation(net)
    sim.simulate_until_max_time(n / LAM)
    el = time.perf_counter() - t0
    recs = sim.get_all_records()
    recs.sort(key=lambda r: r.arrival_date)
    warm = len(recs) // 20
    waits = [r.waiting_time for r in recs[warm:]]
    return el, sum(waits) / len(waits)


def engine(name: str, n: int, seed: int = 1) -> tuple[float, float, int]:
    from jitplan import simulator
    from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic

    sc = Scenario(
        name="mm10",
        seed=seed,
        requests=n,
        warmup_requests=n // 20,
        traffic=Traffic(rate_rps=LAM),
        service=Service(concurrency=C, latency=Latency(mean_s=1 / MU)),
    )
    t0 = time.perf_counter()
    res = simulator.run(sc, engine=name)
    el = time.perf_counter() - t0
    return el, res.metrics["wait_mean_s"], n


DAY_CHILD = """
import json, resource, time, sys
sys.path.insert(0, {root!r})
from jitplan import simulator
simulator.run({mm10!r})  # load the compiled kernel (start-up excluded)
t0 = time.perf_counter()
res = simulator.run({day!r})
el = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"seconds": el, "requests": res.metrics["requests"], "rss": rss,
                  "verdict": res.verdict["status"], "p95": res.metrics["latency_p95_s"],
                  "events": [e.kind for e in res.timeline]}}))
"""


def day() -> dict[str, object]:
    code = DAY_CHILD.format(
        root=str(ROOT),
        mm10=str(ROOT / "scenarios/sim/mm10.yaml"),
        day=str(ROOT / "scenarios/sim/day_1000rps.yaml"),
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fast-requests", type=int, default=20_000_000)
    ap.add_argument("--exact-requests", type=int, default=300_000)
    ap.add_argument("--naive-requests", type=int, default=300_000)
    ap.add_argument("--ciw-requests", type=int, default=60_000)
    ap.add_argument("--repeats", type=int, default=3, help="best-of-N timing (interleaved)")
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()

    from jitplan import simulator

    wq = simulator.mmc_wait_mean(LAM, MU, C)
    engine("fast", 50_000)  # compile / load the numba kernel: start-up excluded
    # Interleaved repeats, best time of each (the machine may be shared: the minimum is the
    # least disturbed run); results are identical across repeats (same seed).
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeats):
        for name in ("fast", "exact", "naive"):
            if name == "naive":
                el, w = naive_simpy(args.naive_requests)
            else:
                n = args.fast_requests if name == "fast" else args.exact_requests
                el, w, _ = engine(name, n)
            if name not in best or el < best[name][0]:
                best[name] = (el, w)
    rows: list[tuple[str, int, float, float]] = [
        ("fast engine (numba)", args.fast_requests, *best["fast"]),
        ("exact engine (SimPy)", args.exact_requests, *best["exact"]),
        ("naive SimPy", args.naive_requests, *best["naive"]),
    ]
    el, w = ciw_model(args.ciw_requests)
    rows.append(("ciw", args.ciw_requests, el, w))

    naive_rate = rows[2][1] / rows[2][2]
    print(f"M/M/{C}: lambda={LAM:g}, mu={MU:g}, rho={LAM / (C * MU):.2f}; Erlang-C Wq = {wq:.4f} s")
    print(
        f"| {'model':<22} | {'requests':>11} | {'seconds':>8} | {'requests/s':>12} | "
        f"{'vs naive SimPy':>14} | {'Wq (s)':>8} | {'Wq error':>8} |"
    )
    print(f"|{'-' * 24}|{'-' * 13}:|{'-' * 9}:|{'-' * 13}:|{'-' * 15}:|{'-' * 9}:|{'-' * 9}:|")
    for name, n, el, w in rows:
        rate = n / el
        print(
            f"| {name:<22} | {n:>11,} | {el:>8.2f} | {rate:>12,.0f} | {rate / naive_rate:>13.1f}x | "
            f"{w:>8.4f} | {100 * (w / wq - 1):>+7.2f}% |"
        )

    d = day()
    secs = float(str(d["seconds"]))
    rss = int(str(d["rss"]))
    print()
    print(
        f"24 h at 1,000 rps with a canary and a fault (scenarios/sim/day_1000rps.yaml): "
        f"{int(float(str(d['requests']))):,} requests in {secs:.2f} s "
        f"({float(str(d['requests'])) / secs / 1e6:.1f}M req/s), peak RSS {rss / 2**20:.0f} MiB, "
        f"verdict {d['verdict']}"
    )

    fast_ratio = (rows[0][1] / rows[0][2]) / naive_rate
    exact_ratio = (rows[1][1] / rows[1][2]) / naive_rate
    fast_err = abs(rows[0][3] / wq - 1)
    checks = [
        ("fast >= 200x naive SimPy", fast_ratio >= 200),
        ("fast Wq within 2% of Erlang C", fast_err <= 0.02),
        ("exact >= 0.7x naive SimPy", exact_ratio >= 0.7),
        ("day <= 15 s", secs <= 15),
        ("day peak memory <= 1 GiB", rss <= 2**30),
    ]
    print()
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")
    return 1 if args.strict and not all(ok for _, ok in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
