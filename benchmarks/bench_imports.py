"""What each import group costs a cold process, and which groups each CLI path loads.

Each group is imported in a fresh interpreter, after its prerequisites (so the figure is the
group's own cost): CPU seconds (``time.process_time``, less disturbed by other processes than
wall time) and resident memory added (``/proc/self/statm``), medians over ``--runs``
interpreters. "First simulation" is the first run of the fast engine: with the kernels built
ahead of time (``simulator.aot``: one extension module loaded) or on numba's JIT
(``JITPLAN_KERNELS=jit``: numba's import and target set-up, BLAS check included; the kernels
themselves load from numba's disk cache).
``litellm`` is paid once per process, on the LLM planner's path only.

Then each CLI path runs once in a fresh interpreter and the groups it imported are listed:
``jitplan --help``, the noop fast path (steady snapshot) and the offline cycle (demand rise
with evidence). ``--root DIR`` probes another checkout (e.g. an older commit's tree, extracted
with ``git archive``), so before/after lists come from the same script.

    .venv/bin/python benchmarks/bench_imports.py [--runs 5] [--root DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_SIM_SETUP = (
    "import jitplan.simulator as s\n"
    "from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic\n"
    "sc = Scenario(name='t', seed=1, requests=200, traffic=Traffic(rate_rps=5.0), "
    "service=Service(concurrency=2, latency=Latency(mean_s=0.2)))"
)
# (group, prerequisites imported first, the statement timed, module that marks it in sys.modules)
GROUPS: tuple[tuple[str, str, str, str], ...] = (
    ("pydantic + jitplan contracts", "", "import jitplan.contracts.catalog, jitplan.contracts.plan, "
     "jitplan.contracts.signals", "jitplan.contracts.catalog"),
    ("opentelemetry SDK (node spans)", "import pydantic", "import jitplan.tools.telemetry",
     "opentelemetry.sdk"),
    ("langgraph SQLite checkpointer", "import pydantic", "import langgraph.checkpoint.sqlite",
     "langgraph.checkpoint.sqlite"),
    ("langgraph graph (langchain-core, langsmith)", "import pydantic, langgraph.checkpoint.sqlite",
     "import langgraph.graph", "langgraph.graph"),
    ("numpy", "", "import numpy", "numpy"),
    ("simulator (its kernels lazy)", "import numpy, pydantic", "import jitplan.simulator", "jitplan.simulator.aot"),
    ("first simulation, kernels built ahead of time (load)", _SIM_SETUP, "s.run(sc, replications=1)",
     "jitplan.simulator.compiled"),
    ("numba", "import numpy", "import numba", "numba"),
    ("first simulation on numba's JIT (import, cached kernels, target set-up)",
     "import os; os.environ['JITPLAN_KERNELS'] = 'jit'\n" + _SIM_SETUP, "s.run(sc, replications=1)",
     "numba.np.arraymath"),
    ("scipy.stats", "import numpy", "import scipy.stats", "scipy.stats"),
    ("regopy (Rego engine)", "", "import regopy", "regopy"),
    ("networkx", "", "import networkx", "networkx"),
    ("litellm", "import pydantic", "import litellm", "litellm"),
    ("langchain-litellm chat model", "import pydantic, litellm, langgraph.graph",
     "import langchain_litellm", "langchain_litellm"),
)

_CHILD = """
import time, os
def rss():
    with open('/proc/self/statm') as fh:
        return int(fh.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
{setup}
r0, t0 = rss(), time.process_time()
{stmt}
t1, r1 = time.process_time(), rss()
print('RESULT', t1 - t0, r1 - r0)
"""

_PROBE = """
import sys, agent.cli as c
try:
    c.main({argv!r})
except SystemExit:
    pass
print('MODULES=' + ','.join(sorted(m for m in {marks!r} if m in sys.modules)), file=sys.stderr)
"""


def _env(root: Path, home: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(root), "JITPLAN_HOME": home, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "JITPLAN_ROLE": "operator", "JITPLAN_REGION": "eu"}


def _measure(root: Path, setup: str, stmt: str, home: str) -> tuple[float, float]:
    code = _CHILD.format(setup=setup, stmt=stmt)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=root, env=_env(root, home)).stdout
    secs, mem = out.rsplit("RESULT", 1)[1].split()
    return float(secs), float(mem)


def _paths(root: Path) -> dict[str, list[str]]:
    world = root / "scenarios" / "world"
    plan = ["plan", "--catalog", f"{world}/catalog.yaml", "--contracts", f"{world}/contracts.yaml",
            "--state", f"{world}/flags.json", "--no-cache", "--json"]
    return {
        "jitplan --help": ["--help"],
        "noop fast path (steady)": [*plan, "--signals", f"{world}/signals/steady.yaml"],
        "offline cycle (demand rise, evidence)": [*plan, "--signals", f"{world}/signals/demand-rise.yaml",
                                                  "--evidence", f"{world}/evidence"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout to probe (default: this one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    root = args.root.resolve()
    home = tempfile.mkdtemp(prefix="jitplan-bench-imports-")

    rows = []
    for name, setup, stmt, _ in GROUPS:
        _measure(root, setup, stmt, home)  # warm the OS file cache and numba's disk cache
        samples = [_measure(root, setup, stmt, home) for _ in range(args.runs)]
        rows.append({"group": name, "cpu_ms": 1000 * statistics.median(s for s, _ in samples),
                     "rss_mib": statistics.median(m for _, m in samples) / 2**20})
    marks = {g[3]: g[0] for g in GROUPS}
    loaded = {}
    for label, cli_args in _paths(root).items():
        proc = subprocess.run([sys.executable, "-c", _PROBE.format(argv=cli_args, marks=tuple(marks))],
                              capture_output=True, text=True, check=False, cwd=root, env=_env(root, home))
        mods = proc.stderr.rsplit("MODULES=", 1)[-1].strip()
        loaded[label] = [marks[m] for m in mods.split(",") if m]
    if args.json:
        print(json.dumps({"root": str(root), "groups": rows, "loaded": loaded}, indent=2))
        return 0
    print(f"import groups, fresh interpreter each, median of {args.runs} (CPU ms, resident MiB added); "
          f"tree {root}")
    print("| group | CPU ms | RSS MiB |")
    print("|---|---:|---:|")
    for r in rows:
        print(f"| {r['group']} | {r['cpu_ms']:.0f} | {r['rss_mib']:.1f} |")
    print()
    for label, groups in loaded.items():
        print(f"{label}: {', '.join(groups) or 'none of these'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
