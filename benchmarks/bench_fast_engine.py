"""Where the fast engine's time goes on M/M/10 (λ = 9, μ = 1), before and after issue 18.

One process runs, in turn (A B A B ...), the fast engine as it was before issue 18's engine
changes ("before": the kernel binning latencies with ``log10`` and recording every request in
both the per-version and the total rows, arrivals cumulated by numpy in three passes and then
concatenated with the ones carried from the previous chunk), the tree's
fast engine ("after"), and the textbook SimPy model of ``bench_simulator.py`` (the baseline of
the "× naive SimPy" ratio). Each part of a fast run is timed by wrapping it: arrival times
(``ArrivalStream.between``), service variates (``UnitVariates.take``), the compiled queue kernel
(``kernel.run_batch``), folding each chunk's statistics (``Recorder.absorb``), and the rest
(SimPy control plane, chunk set-up, results). Times are CPU seconds of this process
(``time.process_time``), so other processes on a shared machine disturb them less than wall
time; medians over ``--runs`` pairs. Before timing, the two engines' metrics and per-tick series
are checked identical.

    .venv/bin/python benchmarks/bench_fast_engine.py [--requests 20000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

PARTS = ("arrivals", "variates", "kernel", "absorb")

_LEGACY_BIN = '''

@njit(inline="always", error_model="numpy")
def _legacy_bin_of(lat):
    if lat < 1e-5:
        return 0
    b = int((math.log10(lat) - _LEGACY_LOG_LO) * 128) + 1
    if b > 1281:
        return 1281
    return b


_LEGACY_LOG_LO = math.log10(1e-5)
'''


def _legacy_kernel() -> ModuleType:
    """The tree's kernel with issue 18's two kernel changes undone (compiled, not cached)."""
    from jitplan.simulator import histogram, jit, kernel

    jit.compile_all()  # the tree's kernels as dispatchers first: the old kernel calls them
    assert (histogram.LO_S, histogram.BINS_PER_DECADE, histogram.NBINS) == (1e-5, 128, 1282)
    src = Path(kernel.__file__).read_text(encoding="utf-8").replace("cache=True", "cache=False")
    for old, new in (
        ("b = bin_of(lat)", "b = _legacy_bin_of(lat)"),
        ("single = _one_version(route, rinfo, n_retry, n_arr, nh, hist_tick.shape[1])",
         "single = False"),
    ):
        if old not in src:
            raise SystemExit(f"simulator/kernel.py changed: cannot rebuild the old kernel ({old!r})")
        src = src.replace(old, new)
    path = Path(tempfile.mkdtemp(prefix="jitplan-bench-kernel-")) / "legacy_kernel.py"
    path.write_text(src + _LEGACY_BIN, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("legacy_kernel", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _legacy_homogeneous(self: Any, t0: float, t1: float, rate: float, carry: bool = True) -> Any:
    """``ArrivalStream._homogeneous`` before issue 18: numpy's three passes, then a concatenation."""
    import math

    pending = self._carry if carry else None
    if carry:
        self._carry = None
    if rate <= 0:
        return np.empty(0)
    parts: list[Any] = []
    t = t0
    if pending is not None and pending[0] == t0 and pending[1] == rate:
        left = pending[2]
        k = int(np.searchsorted(left, t1))
        if k < left.shape[0]:
            self._carry = (t1, rate, left[k:])
            return left[:k]
        parts.append(left)
        t = float(left[-1])
    mean = rate * (t1 - t)
    while True:
        n = int(mean + 6 * math.sqrt(mean) + 16)
        times = self.rng.standard_exponential(n)
        np.cumsum(times, out=times)
        times *= 1.0 / rate
        times += t
        if times[-1] >= t1:
            k = int(np.searchsorted(times, t1))
            parts.append(times[:k])
            if carry:
                self._carry = (t1, rate, times[k:])
            break
        parts.append(times)
        t = float(times[-1])
        mean = rate * (t1 - t)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


@contextmanager
def _patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, saved)


@contextmanager
def _mode(name: str, legacy: ModuleType) -> Iterator[None]:
    from run_batch_patch import with_run_batch

    from jitplan.simulator import arrivals

    if name == "after":
        yield
        return
    with with_run_batch(lambda _: legacy.run_batch), \
            _patched(arrivals.ArrivalStream, "_homogeneous", _legacy_homogeneous):
        yield


@contextmanager
def _timed_parts(acc: dict[str, float]) -> Iterator[None]:
    """Add each part's CPU seconds to ``acc`` while inside."""
    from run_batch_patch import with_run_batch

    from jitplan.simulator import arrivals, stats, variates

    targets = [(arrivals.ArrivalStream, "between", "arrivals"), (variates.UnitVariates, "take", "variates"),
               (stats.Recorder, "absorb", "absorb")]
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in targets]

    def wrap(fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed(*a: Any, **k: Any) -> Any:
            t = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                acc[label] += time.process_time() - t
        return timed

    for obj, attr, label in targets:
        setattr(obj, attr, wrap(getattr(obj, attr), label))
    try:
        with with_run_batch(lambda kern: wrap(kern, "kernel")):
            yield
    finally:
        for obj, attr, fn in saved:
            setattr(obj, attr, fn)


def _scenario(n: int) -> Any:
    from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic

    return Scenario(name="mm10", seed=1, requests=n, warmup_requests=n // 20,
                    traffic=Traffic(rate_rps=9.0), service=Service(concurrency=10, latency=Latency(mean_s=1.0)))


def _run(n: int) -> tuple[float, dict[str, float], Any]:
    from jitplan import simulator

    acc: dict[str, float] = defaultdict(float)
    with _timed_parts(acc):
        t0 = time.process_time()
        res = simulator.run(_scenario(n))
        total = time.process_time() - t0
    acc["rest"] = total - sum(acc[p] for p in PARTS)
    return total, dict(acc), res


def _same(a: Any, b: Any) -> bool:
    ra, rb = a.replications[0], b.replications[0]
    return bool(a.metrics == b.metrics and ra.versions == rb.versions
                and np.array_equal(ra.series, rb.series, equal_nan=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20_000_000)
    ap.add_argument("--naive-requests", type=int, default=300_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)

    from bench_simulator import naive_simpy

    legacy = _legacy_kernel()
    docs = {}
    for name in ("before", "after"):
        with _mode(name, legacy):
            _run(50_000)  # load / compile the kernels: start-up excluded
            docs[name] = _run(min(args.requests, 2_000_000))[2]
    if not _same(docs["before"], docs["after"]):
        raise SystemExit("before and after disagree: the engine changes altered the results")

    total: dict[str, list[float]] = {"before": [], "after": []}
    parts: dict[str, dict[str, list[float]]] = {m: defaultdict(list) for m in total}
    naive: list[float] = []
    results = {}
    for _ in range(args.runs):
        for name in ("before", "after"):
            with _mode(name, legacy):
                secs, acc, results[name] = _run(args.requests)
            total[name].append(secs)
            for p, v in acc.items():
                parts[name][p].append(v)
        t0 = time.process_time()
        naive_simpy(args.naive_requests)
        naive.append(time.process_time() - t0)
    if not _same(results["before"], results["after"]):
        raise SystemExit("before and after disagree at full size")

    n = args.requests
    naive_rate = [args.naive_requests / s for s in naive]
    print(f"fast engine, M/M/10 lambda=9 mu=1, {n:,} requests; CPU seconds, median of {args.runs} "
          f"alternating runs; results identical before/after")
    print("| part | before ns/request | after ns/request | after s | share of after |")
    print("|---|---:|---:|---:|---:|")
    med_after = statistics.median(total["after"])
    for p in (*PARTS, "rest"):
        b, a = statistics.median(parts["before"][p]), statistics.median(parts["after"][p])
        print(f"| {p} | {b / n * 1e9:.1f} | {a / n * 1e9:.1f} | {a:.3f} | {a / med_after:.0%} |")
    mb = statistics.median(total["before"])
    print(f"| **total** | {mb / n * 1e9:.1f} | {med_after / n * 1e9:.1f} | {med_after:.3f} | 100% |")
    for name in ("before", "after"):
        ratios = [n / t / r for t, r in zip(total[name], naive_rate, strict=True)]
        print(f"{name:>6}: {n / statistics.median(total[name]) / 1e6:5.1f}M requests/s, "
              f"{statistics.median(ratios):.0f}x naive SimPy (pair by pair: min {min(ratios):.0f}, "
              f"max {max(ratios):.0f}; naive SimPy {statistics.median(naive_rate):,.0f} requests/s)")
    speed = [b / a for b, a in zip(total["before"], total["after"], strict=True)]
    print(f"after vs before, pair by pair: median {statistics.median(speed):.2f}x faster "
          f"(min {min(speed):.2f}, max {max(speed):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
