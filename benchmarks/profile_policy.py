"""Where a policy bundle spends its time: each rule of ``package jitplan`` evaluated on its own.

For every rule the bundle defines, the time to evaluate it alone (with whatever rules it
references) on the 50-step, 200-feature benchmark input of ``bench_validate.py``: the minimum of
``--runs`` evaluations, so the machine's noise mostly drops out. A rule's time includes the
rules it depends on; the expensive ones show up as a jump over their dependencies. See
``scenarios/policies/README.md`` ("Cost model") for what makes rego-cpp slow.

    .venv/bin/python benchmarks/profile_policy.py [--bundle scenarios/policies] [--runs 15]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "scenarios")]

from bench_validate import world  # noqa: E402

from jitplan.contracts.policy import PolicyRequest  # noqa: E402
from jitplan.tools.policy import PolicyBundle, policy_input  # noqa: E402
from jitplan.tools.rego_input import set_input  # noqa: E402

_RULE = re.compile(r"^([a-z_][a-z0-9_]*)\s*(?::=|contains\b|\[)", re.M)


def rule_names(bundle: PolicyBundle) -> list[str]:
    """Names of the rules (not functions) defined at the top level of the bundle's files."""
    return sorted({m.group(1) for _, text in bundle.files for m in _RULE.finditer(text)}
                  - {"package", "import", "default"})


def time_rule(bundle: PolicyBundle, doc: dict[str, Any], name: str, runs: int) -> float | None:
    """Minimum seconds to evaluate ``data.jitplan.<name>`` alone; None if it does not evaluate."""
    from regopy import Interpreter, LogLevel

    rego = Interpreter()
    rego.log_level = LogLevel.NONE
    rego.strict_built_in_errors = True
    for file_name, text in bundle.files:
        rego.add_module(file_name, text)
    # count() keeps the output small, so serialising the result is not what gets measured
    for query in (f"x := count(data.jitplan.{name})", f"x := data.jitplan.{name}"):
        compiled = rego.build(query, [])
        set_input(rego, doc)
        if rego.query_bundle(compiled).ok():
            best = float("inf")
            for _ in range(runs):
                t = time.perf_counter()
                rego.query_bundle(compiled)
                best = min(best, time.perf_counter() - t)
            return best
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--bundle", default=str(ROOT / "tools" / "policy_bundle"))
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--features", type=int, default=200)
    args = ap.parse_args(argv)

    catalog, state, signals, plan = world(args.features, args.steps)
    bundle = PolicyBundle.load(args.bundle)
    doc = policy_input(PolicyRequest(role="operator", region="eu"), catalog, [], signals, plan,
                       state)
    rows = [(name, time_rule(bundle, doc, name, args.runs)) for name in rule_names(bundle)]
    print(f"{len(plan.steps)}-step plan, {len(doc['features'])} feature specs; "
          f"min of {args.runs} runs; a rule's time includes the rules it references")
    for name, seconds in sorted(rows, key=lambda r: -(r[1] or 0.0)):
        shown = "   (does not evaluate alone)" if seconds is None else f"{seconds * 1000:8.2f} ms"
        print(f"{shown}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
