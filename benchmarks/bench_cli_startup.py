"""How fast does the CLI start, and how long does a cold planning cycle take?

Targets (medians of N fresh processes): `jitplan --help` < 0.5 s; the noop fast path (`jitplan
plan` on the sample world's steady snapshot) <= 1.0 s cold; the offline cycle (the demand rise
with evidence, 3 scenarios x 10 replications) <= 1.5 s cold (issue 18).

Baseline in the same run: a bare `python -c pass` from the same interpreter, so the ratio shows
what jitplan itself adds on top of interpreter start-up. Wall and CPU seconds (the children's
rusage) per run; the machine may be shared, so compare CPU and ratios. Also checks that `--help`
imports none of the heavy modules (langgraph, litellm, numpy, simpy, pydantic).

    .venv/bin/python benchmarks/bench_cli_startup.py [--runs 15] [--cycle-runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("langgraph", "litellm", "numpy", "simpy", "pydantic", "langchain_core", "numba")


ROOT = Path(__file__).resolve().parents[1]
WORLD = ROOT / "scenarios" / "world"


def timed(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> list[float]:
    return [w for w, _ in timed_cpu(cmd, runs, env)]


def timed_cpu(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each run of ``cmd`` as a fresh process."""
    out = []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.append((wall, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime))
    return out


def cycles(exe: str, runs: int) -> None:
    """Cold `jitplan plan` runs: the noop fast path and the offline cycle."""
    env = {**os.environ, "JITPLAN_HOME": tempfile.mkdtemp(prefix="jitplan-bench-cli-"),
           "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    plan = [exe, "plan", "--catalog", str(WORLD / "catalog.yaml"), "--contracts", str(WORLD / "contracts.yaml"),
            "--state", str(WORLD / "flags.json"), "--as", "operator", "--region", "eu", "--no-cache", "--json"]
    base = timed_cpu([sys.executable, "-c", "pass"], runs, env)
    rows = {
        "noop fast path (steady)": ([*plan, "--signals", str(WORLD / "signals" / "steady.yaml")], 1.0),
        "offline cycle (demand rise)": ([*plan, "--signals", str(WORLD / "signals" / "demand-rise.yaml"),
                                                "--evidence", str(WORLD / "evidence")], 1.5),
    }
    b_wall = statistics.median(w for w, _ in base)
    print(f"{'cold jitplan plan':<30}{'wall s':>8}{'CPU s':>8}{'x bare':>8}  target")
    for label, (cmd, target) in rows.items():
        timed_cpu(cmd, 1, env)  # warm-up: OS file cache, numba's disk cache
        runs_ = timed_cpu(cmd, runs, env)
        wall = statistics.median(w for w, _ in runs_)
        cpu = statistics.median(c for _, c in runs_)
        print(f"{label:<30}{wall:>8.2f}{cpu:>8.2f}{wall / b_wall:>8.1f}  <= {target} s: "
              f"{'MET' if wall <= target else 'MISSED'} (wall), {'MET' if cpu <= target else 'MISSED'} (CPU)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--cycle-runs", type=int, default=5, help="cold plan runs per path (0: skip)")
    args = parser.parse_args()
    exe = shutil.which("jitplan", path=str(Path(sys.executable).parent)) or "jitplan"
    base = timed([sys.executable, "-c", "pass"], args.runs)
    help_ = timed([exe, "--help"], args.runs)
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys, agent.cli as c\n"
         "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
         f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"],
        capture_output=True, text=True, check=True,
    )
    heavy_loaded = probe.stdout.rsplit("HEAVY=", 1)[-1].strip()
    b, h = statistics.median(base), statistics.median(help_)
    print(f"{'what':<28}{'median s':>10}{'max s':>10}")
    print(f"{'python -c pass (baseline)':<28}{b:>10.3f}{max(base):>10.3f}")
    print(f"{'jitplan --help':<28}{h:>10.3f}{max(help_):>10.3f}")
    print(f"ratio jitplan/baseline: {h / b:.2f}x; heavy modules imported by --help: {heavy_loaded or 'none'}")
    ok = h < 0.5 and not heavy_loaded
    print("target < 0.5 s and no heavy imports:", "MET" if ok else "MISSED")
    if args.cycle_runs:
        print()
        cycles(exe, args.cycle_runs)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
