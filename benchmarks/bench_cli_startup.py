"""How fast does `jitplan --help` start? Target: < 0.5 s (median of N runs).

Baseline in the same run: a bare `python -c pass` from the same interpreter, so the ratio shows
what jitplan itself adds on top of interpreter start-up. Also checks that `--help` imports none
of the heavy modules (langgraph, litellm, numpy, simpy, pydantic).

    .venv/bin/python benchmarks/bench_cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("langgraph", "litellm", "numpy", "simpy", "pydantic", "langchain_core", "numba")


def timed(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
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
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
