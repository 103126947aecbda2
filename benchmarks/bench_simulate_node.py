"""The planning cycle's simulate node, warm: its time and the per-replication fixed cost.

Targets (issue 18; medians, process warm):
- the simulate node (``simulate_plan``: 3 scenarios x 10 replications for one feature): <= 250 ms
- per-replication fixed cost (a replication's time outside the compiled queue kernel): <= 5 ms

    .venv/bin/python benchmarks/bench_simulate_node.py [--runs 7] [--features 200] [--cold 5]

``--cold N`` also runs the node cold, in N fresh processes (the first simulate node of a
process: importing the simulator, numba's first dispatch of the cached kernels, the 30
replications), against the issue's 500 ms.

The input is the one ``bench_planning.py`` measures: one offline cycle on the generated
200-feature catalog with evidence for every version is run once, and the arguments its simulate
node received are replayed. ``before`` is the per-tick statistics code as it was before issue 18
(a dense cumulative sum over every bin of every tick for the tick p95, and a copy of each chunk
to merge the open tick), kept below as a reference and patched in; ``after`` is the code in the
tree. The two alternate in the same process (A B A B ...), so the ratio holds while the shared
machine's speed drifts, and their results are checked byte-identical first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scenarios"), str(ROOT / "benchmarks")]


# ---- the code before issue 18 (reference for the same-process comparison) ----------------

def _legacy_percentile_rows(hists: Any, q: float) -> Any:
    from jitplan.simulator.histogram import NBINS, _interpolate

    totals = hists.sum(axis=1)
    cums = np.cumsum(hists, axis=1)
    ranks = np.maximum(1, np.ceil(q / 100.0 * totals)).astype(np.int64)
    idx = np.minimum((cums < ranks[:, None]).sum(axis=1), NBINS - 1)
    rows = np.arange(hists.shape[0])
    before = np.where(idx > 0, cums[rows, np.maximum(idx - 1, 0)], 0)
    out = _interpolate(idx, before, hists[rows, idx], ranks)
    out[totals == 0] = np.nan
    return np.asarray(out, dtype=np.float64)


def _legacy_absorb(self: Any, ch: Any, canary_weight: float) -> None:
    self.tot += ch.tick_tot.sum(axis=0)
    self.hist += ch.hist_tick.sum(axis=0)
    ver = ch.tick_ver.sum(axis=0)
    self.ver_tot += ver
    self.ver_hist += ch.hist_ver
    for w in self.windows:
        w.tot += ver[w.v]
        w.hist += ch.hist_ver[w.v]
    tot, hist = ch.tick_tot, ch.hist_tick
    if self._open is not None:
        k, otot, ohist, _ = self._open
        if k == ch.k0:
            tot = tot.copy()
            hist = hist.copy()
            tot[0] += otot
            hist[0] += ohist
        else:
            self._emit(k, otot[None, :], ohist[None, :], self._open[3])
    nt = tot.shape[0]
    if nt > 1:
        self._emit(ch.k0, tot[:-1], hist[:-1], canary_weight)
    self._open = (ch.k0 + nt - 1, tot[-1].copy(), hist[-1].copy(), canary_weight)


@contextmanager
def _before() -> Iterator[None]:
    from jitplan.simulator import stats

    saved = stats.percentile_rows, stats.Recorder.absorb  # type: ignore[attr-defined,method-assign,assignment]
    empty = stats.Chunk.__dict__["empty"]

    def per_tick(cls: Any, k0: int, nt: int, nver: int, *, tick_hists: bool = True) -> Any:
        return empty.__func__(cls, k0, nt, nver)  # before: a histogram row per tick, always

    stats.percentile_rows = _legacy_percentile_rows  # type: ignore[attr-defined,method-assign,assignment]
    stats.Recorder.absorb = _legacy_absorb  # type: ignore[attr-defined,method-assign,assignment]
    stats.Chunk.empty = classmethod(per_tick)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        stats.percentile_rows = saved[0]  # type: ignore[attr-defined,method-assign,assignment]
        stats.Recorder.absorb = saved[1]  # type: ignore[attr-defined,method-assign,assignment]
        stats.Chunk.empty = empty  # type: ignore[method-assign]


@contextmanager
def _after() -> Iterator[None]:
    yield


# ---- the simulate node's input ---------------------------------------------------------

def _captured_call(features: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Run one offline cycle of ``bench_planning`` and keep what its simulate node received."""
    import bench_planning as bp

    tmp = Path(tempfile.mkdtemp(prefix="jitplan-bench-sim-"))
    os.environ["JITPLAN_HOME"] = str(tmp / "home")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    bp._world(tmp, features)
    import jitplan.tools.plan_simulation as ps
    from jitplan.agent.runtime import new_thread_id, run_cycle
    from jitplan.contracts.agent import PlanRequest

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    original = ps.simulate_plan

    def spy(*a: Any, **k: Any) -> Any:
        calls.append((a, k))
        w, c = time.perf_counter(), time.process_time()
        try:
            return original(*a, **k)
        finally:
            FIRST_CALL.setdefault("wall", time.perf_counter() - w)
            FIRST_CALL.setdefault("cpu", time.process_time() - c)

    ps.simulate_plan = spy  # type: ignore[attr-defined,method-assign,assignment]
    try:
        run_cycle(PlanRequest(
            catalog=str(tmp / "catalog.json"), signals=str(tmp / "rise.json"),
            contracts=str(ROOT / "scenarios" / "world" / "contracts.yaml"), state=str(tmp / "flags.json"),
            policy=str(ROOT / "tools" / "policy_bundle"), replications=10, use_cache=False,
            role="operator", region="eu", evidence=[str(tmp / "evidence.json")],
        ), thread_id=new_thread_id())
    finally:
        ps.simulate_plan = original  # type: ignore[attr-defined,method-assign,assignment]
    if not calls:
        raise SystemExit("the cycle did not reach the simulate node")
    return calls[0]


FIRST_CALL: dict[str, float] = {}
"""Wall and CPU seconds of the first (cold) simulate node call in this process."""


def _cold(n: int, features: int) -> None:
    """The simulate node cold: the first call in each of ``n`` fresh processes."""
    code = (f"import sys, json; sys.argv = ['x']; sys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
            f"import bench_simulate_node as b; b._captured_call({features}); "
            "print('COLD', json.dumps(b.FIRST_CALL))")
    samples = []
    for _ in range(n):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        samples.append(json.loads(out.rsplit("COLD", 1)[1]))
    wall = statistics.median(x["wall"] for x in samples) * 1000
    cpu = statistics.median(x["cpu"] for x in samples) * 1000
    print(f"  cold (first node of a process, median of {n}): wall {wall:7.1f} ms   CPU {cpu:7.1f} ms   "
          f"target <= 500 ms: {'OK' if cpu <= 500 else 'MISSED'} (CPU), {'OK' if wall <= 500 else 'MISSED'} (wall)")


def _timed(fn: Callable[[], Any]) -> tuple[float, float, int, Any]:
    """(seconds, seconds inside the compiled kernel, kernel calls, result) of ``fn()``."""
    from run_batch_patch import with_run_batch

    inside = [0.0, 0]

    def counting(kern: Callable[..., int]) -> Callable[..., int]:
        def counted(*a: Any) -> int:
            t = time.perf_counter()
            try:
                return kern(*a)
            finally:
                inside[0] += time.perf_counter() - t
                inside[1] += 1
        return counted

    with with_run_batch(counting):
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, float(inside[0]), int(inside[1]), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--features", type=int, default=200)
    ap.add_argument("--cold", type=int, default=0, metavar="N", help="also N cold runs (fresh processes)")
    args = ap.parse_args(argv)

    from jitplan.tools.plan_simulation import simulate_plan

    a, k = _captured_call(args.features)

    def node() -> Any:
        res = simulate_plan(*a, **k)
        res.pop("provenance", None)  # age_s follows the wall clock
        return json.dumps(res, sort_keys=True)

    modes = {"before": _before, "after": _after}
    docs = {}
    for name, ctx in modes.items():
        with ctx():
            docs[name] = node()
    if docs["before"] != docs["after"]:
        raise SystemExit("before and after disagree: the speed-up changed the results")
    reps = int(json.loads(docs["after"])["replications"]) * len(json.loads(docs["after"])["scenarios"])
    wall: dict[str, list[float]] = {m: [] for m in modes}
    fixed: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.runs):
        for name, ctx in modes.items():
            with ctx():
                secs, kernel, _, _ = _timed(node)
            wall[name].append(secs)
            fixed[name].append((secs - kernel) / reps)
    med = {m: statistics.median(wall[m]) * 1000 for m in modes}
    fix = {m: statistics.median(fixed[m]) * 1000 for m in modes}
    ratios = [b / a_ for b, a_ in zip(wall["before"], wall["after"], strict=True)]
    print(f"simulate node: {reps} replications ({len(json.loads(docs['after'])['scenarios'])} scenario rows); "
          f"results byte-identical before/after; {args.runs} alternating runs")
    print(f"  median warm        before {med['before']:7.1f} ms   after {med['after']:7.1f} ms   "
          f"target <= 250 ms  {'OK' if med['after'] <= 250 else 'MISSED'}")
    print(f"  speed-up before/after, pair by pair: median {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")
    print(f"  per replication    before {med['before'] / reps:7.2f} ms   after {med['after'] / reps:7.2f} ms")
    print(f"  fixed cost / rep   before {fix['before']:7.2f} ms   after {fix['after']:7.2f} ms   "
          f"(outside the compiled kernel)  target <= 5 ms  {'OK' if fix['after'] <= 5 else 'MISSED'}")
    if args.cold:
        _cold(args.cold, args.features)
    return 0


if __name__ == "__main__":
    sys.exit(main())
