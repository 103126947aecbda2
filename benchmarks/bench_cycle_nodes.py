"""Where a cold `jitplan plan` offline cycle spends its time: per node, and outside the nodes.

Runs the sample world's demand rise (`--evidence`, 3 scenarios x 10 replications, cache off) as
fresh processes, and reads each run's node spans back with `jitplan report THREAD --json`
(`nodes.<name>.duration_ms`). "outside the nodes" is the process's wall time minus its nodes:
interpreter start-up, imports before the first node, LangGraph (when the cycle runs under it),
checkpoints, printing. With `--before DIR` (another checkout, e.g. `git archive REV | tar -x -C
DIR`), its tree runs in turn with this one (A B A B ...), each from its own folder with its own
`JITPLAN_HOME`, so their ratio holds while the shared machine's speed drifts; both use this
interpreter and its packages. Medians over `--runs` runs after one warm-up each (the OS file
cache, numba's on-disk kernels).

    .venv/bin/python benchmarks/bench_cycle_nodes.py [--runs 7] [--before /tmp/before]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODES = ("perceive", "triage", "govern", "plan", "validate", "simulate", "decide", "record")


def _cli(tree: Path, home: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JITPLAN_HOME": home, "PYTHONPATH": str(tree), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run([sys.executable, "-m", "jitplan.agent.cli", *args], cwd=tree, env=env,
                          capture_output=True, text=True, check=False)


def _one(tree: Path, home: str) -> dict[str, float]:
    """One cold cycle: process wall and CPU seconds, and each node's milliseconds."""
    w = ROOT / "scenarios" / "world"
    args = ["plan", "--catalog", f"{w}/catalog.yaml", "--signals", f"{w}/signals/demand-rise.yaml",
            "--contracts", f"{w}/contracts.yaml", "--state", f"{w}/flags.json", "--evidence", f"{w}/evidence",
            "--as", "operator", "--region", "eu", "--no-cache", "--json"]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = _cli(tree, home, *args)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: jitplan plan exited {done.returncode}: {done.stderr.strip()[-500:]}")
    tid = json.loads(done.stdout)["thread_id"]
    rep = _cli(tree, home, "report", tid, "--json")
    if rep.returncode != 0:
        raise SystemExit(f"{tree}: jitplan report exited {rep.returncode}: {rep.stderr.strip()[-500:]}")
    nodes = json.loads(rep.stdout)["nodes"]
    out = {n: float(nodes.get(n, {}).get("duration_ms", 0.0)) for n in NODES}
    out["wall"] = wall * 1000
    out["cpu"] = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000
    out["outside the nodes"] = out["wall"] - sum(out[n] for n in NODES)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--before", type=Path, help="another checkout to run in turn (the baseline)")
    args = ap.parse_args(argv)
    trees = {"after": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    homes = {k: tempfile.mkdtemp(prefix=f"jitplan-bench-nodes-{k}-") for k in trees}
    for k, tree in trees.items():
        _one(tree, homes[k])  # warm-up
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    for i in range(args.runs):
        for k, tree in trees.items():
            runs[k].append(_one(tree, homes[k]))
        print(f"run {i + 1}/{args.runs}", file=sys.stderr)
    rows = [*NODES, "outside the nodes", "wall", "cpu"]
    med = {k: {r: statistics.median(x[r] for x in v) for r in rows} for k, v in runs.items()}
    print(f"cold `jitplan plan` offline cycle (demand rise, evidence), medians of {args.runs} fresh processes, ms")
    if "before" in med:
        ratio = [a["wall"] / b["wall"] for a, b in zip(runs["after"], runs["before"], strict=True)]
        print("| part | before ms | after ms |\n|---|---:|---:|")
        for r in rows:
            print(f"| {r} | {med['before'][r]:.0f} | {med['after'][r]:.0f} |")
        print(f"after/before wall, pair by pair: median {statistics.median(ratio):.2f} "
              f"(min {min(ratio):.2f}, max {max(ratio):.2f})")
    else:
        print("| part | ms |\n|---|---:|")
        for r in rows:
            print(f"| {r} | {med['after'][r]:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
