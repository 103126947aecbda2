"""Mutation testing of the safety-critical modules with mutmut 3 (``make mutation``).

mutmut copies the package into ``mutants/`` and imports it from there, which does not work on
the repository itself: ``jitplan/`` is a folder of symlinks to the top-level packages. So each
module runs in its own scratch tree (``.jitplan/mutation/<module>/``) where ``jitplan/`` is a
real directory, with the module's selected tests (``MODULES`` below) and a ``[tool.mutmut]``
section written into the copied pyproject.toml. Runs are one module at a time, 2 workers.

``simulator/kernel.py`` is numba-jitted; mutmut skips decorated functions, so the scratch copy
drops its ``@njit`` lines and the run sets ``NUMBA_DISABLE_JIT=1`` (the same code, run as
Python: what ``@njit`` compiles is exactly this source).

A survivor that no test can kill (the mutant behaves like the original) is listed in
``mutation/equivalent.toml`` under its identity ``<module>:<function>:<hash of the changed
lines>`` (stable across runs and across edits elsewhere in the file) with a reason; it leaves
the denominator. Score = killed / (mutants - equivalent); killed includes timeouts and mutants
``mypy --strict`` rejects (mutmut's type check; CI runs mypy, so such a mutant cannot land).
``mutation/floors.toml`` may hold a lower bar for a module still below the goal (a ratchet).

Usage: ``python scripts/mutation.py [MODULE ...] [--changed BASE] [--budget-s N] [--fail-under P]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".jitplan" / "mutation"
EQUIVALENT = ROOT / "mutation" / "equivalent.toml"
FLOORS = ROOT / "mutation" / "floors.toml"
PACKAGES = ("agent", "contracts", "tools", "simulator", "scenarios")


@dataclass(frozen=True)
class Module:
    """One module to mutate and the tests that judge it."""

    path: str
    tests: tuple[str, ...]
    jit: bool = False
    needs_env: str = ""
    """An environment variable without which the module's tests skip (the module is not run)."""
    deselect: tuple[str, ...] = ()
    """Slow tests of the selected files that judge nothing in this module (subprocess start-up)."""
    typecheck: bool = True
    """Let mypy reject mutants first (off for the kernel: its one 250-line function makes a
    mutated file mypy needs minutes for, and its tests take seconds)."""


MODULES: tuple[Module, ...] = (
    Module("tools/validation_steps.py", (
        "tests/tools/test_validation_steps_rules.py", "tests/tools/test_validator.py",
    )),
    Module("tools/validator.py", (
        "tests/tools/test_validator_inputs.py", "tests/tools/test_validator.py",
    )),
    Module("tools/policy.py", (
        "tests/tools/test_policy.py", "tests/tools/test_policy_governance.py",
        "tests/policies/test_default_bundle.py", "tests/tools/test_policy_rules.py",
    ), deselect=(
        "tests/tools/test_policy.py::test_a_process_with_abandoned_evaluations_still_exits",
    )),
    Module("tools/audit.py", ("tests/tools/test_audit.py", "tests/tools/test_audit_rules.py")),
    Module("tools/audit_chain.py", ("tests/tools/test_audit.py", "tests/tools/test_audit_rules.py")),
    Module("tools/audit_sqlite.py", ("tests/tools/test_audit.py", "tests/tools/test_audit_rules.py")),
    Module("tools/audit_postgres.py", ("tests/tools/test_audit_postgres.py",),
           needs_env="JITPLAN_TEST_POSTGRES_URL"),
    Module("tools/gate.py", (
        "tests/tools/test_gate.py", "tests/tools/test_gate_kayenta.py",
        "tests/tools/test_gate_rules.py",
    )),
    Module("simulator/kernel.py", ("tests/simulator/test_kernel_rules.py",), jit=True, typecheck=False),
    Module("agent/planners/offline.py", (
        "tests/agent/test_offline_planner.py", "tests/agent/test_offline_planner_evidence.py",
        "tests/agent/test_offline_planner_rules.py",
    )),
)
BY_PATH = {m.path: m for m in MODULES}

DETECTED = {"killed", "timeout", "segfault", "caught by type check"}


def slug(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def load_equivalent() -> dict[str, str]:
    """identity -> reason, from mutation/equivalent.toml."""
    if not EQUIVALENT.is_file():
        return {}
    data = tomllib.loads(EQUIVALENT.read_text("utf-8"))
    out: dict[str, str] = {}
    for entry in data.get("equivalent", []):
        if not str(entry.get("reason", "")).strip():
            raise SystemExit(f"{EQUIVALENT}: {entry.get('id')!r} has no reason")
        out[str(entry["id"])] = str(entry["reason"])
    return out


def load_floors() -> dict[str, float]:
    """module -> the lowest score CI accepts below the goal (mutation/floors.toml, a ratchet)."""
    if not FLOORS.is_file():
        return {}
    return {str(k): float(v) for k, v in tomllib.loads(FLOORS.read_text("utf-8")).get("floors", {}).items()}


def _ignore(_dir: str, names: list[str]) -> set[str]:
    return {n for n in names if n in ("__pycache__", ".hypothesis", ".pytest_cache")}


def build_tree(mod: Module, dest: Path) -> None:
    """A copy of the repository in which ``jitplan/`` is a real package directory."""
    if dest.exists():
        shutil.rmtree(dest)
    pkg = dest / "jitplan"
    pkg.mkdir(parents=True)
    for f in (ROOT / "jitplan").iterdir():
        if f.is_file():
            shutil.copy2(f, pkg / f.name)
    for name in PACKAGES:
        shutil.copytree(ROOT / name, pkg / name, ignore=_ignore)
    for name in PACKAGES:  # tests read data files (policy bundle, prompts) from the top level
        shutil.copytree(ROOT / name, dest / name, ignore=_ignore)
    shutil.copytree(ROOT / "tests", dest / "tests", ignore=_ignore)
    target = pkg / mod.path
    if mod.jit:  # mutmut skips decorated functions; NUMBA_DISABLE_JIT=1 makes @njit the identity
        src = target.read_text("utf-8")
        target.write_text(re.sub(r"^@njit\(.*\)\n", "", src, flags=re.M), "utf-8")
        shutil.copystat(ROOT / mod.path, target)
    tests = [t for t in mod.tests if (ROOT / t).is_file()]
    pytest_args = ["-p", "no:xdist", "-p", "no:cacheprovider", "-W", "ignore"]
    for node in mod.deselect:
        pytest_args += ["--deselect", node]
    conf = (
        "\n[tool.mutmut]\n"
        'source_paths = ["jitplan/"]\n'
        f'only_mutate = ["jitplan/{mod.path}"]\n'
        f"also_copy = {json.dumps([f'{p}/' for p in PACKAGES])}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        f"pytest_add_cli_args = {json.dumps(pytest_args)}\n"
        "use_git_change_detection = false\n"
    )
    if mod.typecheck:  # mypy --strict (what CI runs) rejects many mutants before a test runs: killed
        conf += ("type_check_command = " + json.dumps(
            [sys.executable, str(Path(__file__).resolve()), "--typecheck", f"jitplan/{mod.path}", "mypy"]) + "\n")
    (dest / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text("utf-8") + conf, "utf-8")


def run_mutmut(mod: Module, dest: Path, timeout_s: float, jobs: int) -> tuple[int, float]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", LITELLM_LOCAL_MODEL_COST_MAP="True")
    env.pop("PYTHONPATH", None)
    env["MYPY_CACHE_DIR"] = str(WORK / ".mypy_cache")  # shared: only the mutated file is re-checked
    if mod.jit:
        env["NUMBA_DISABLE_JIT"] = "1"
        env["JITPLAN_KERNELS"] = "jit"  # the mutated Python, not a module built ahead of time from it
    mutmut = Path(sys.executable).with_name("mutmut")
    log = dest / "mutmut.log"
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen([str(mutmut), "run", "--max-children", str(jobs)], cwd=dest, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=max(timeout_s, 1.0))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            rc = -1
    return rc, time.monotonic() - start


ANALYZE = r"""
import json, sys
from pathlib import Path
from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
path = Path(sys.argv[1])
m = SourceFileMutationData(path=path)
m.load()
out = []
for name, code in m.exit_code_by_key.items():
    status = status_by_exit_code[code]
    diff = get_diff_for_mutant(name, path=path) if status not in ("killed", "timeout") else ""
    out.append({"name": name, "status": status, "diff": diff})
print(json.dumps(out))
"""


def identity(mod: Module, name: str, diff: str) -> str:
    """``<module>:<function>:<hash>``: the hash covers only the changed lines (not line numbers)."""
    func = name.rpartition(".")[2].partition("__mutmut_")[0]
    func = func.removeprefix("x_").replace("xǁ", "").replace("ǁ", ".")
    changed = [ln[0] + ln[1:].strip() for ln in diff.splitlines()
               if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    digest = hashlib.sha256("\n".join(changed).encode()).hexdigest()[:10]
    return f"{mod.path}:{func}:{digest}"


def analyze(mod: Module, dest: Path) -> list[dict[str, str]]:
    proc = subprocess.run([sys.executable, "-c", ANALYZE, f"jitplan/{mod.path}"], cwd=dest,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"reading mutmut's results for {mod.path} failed:\n{proc.stderr[-2000:]}")
    rows: list[dict[str, str]] = json.loads(proc.stdout)
    for r in rows:
        r["id"] = identity(mod, r["name"], r["diff"]) if r["diff"] else ""
    return rows


def changed_lines(diff: str) -> str:
    return "\n".join("      " + ln for ln in diff.splitlines()
                     if ln[:1] in "+-" and not ln.startswith(("+++", "---")))


def report(mod: Module, rows: list[dict[str, str]], equivalent: dict[str, str],
           seconds: float) -> dict[str, Any]:
    killed = sum(r["status"] in DETECTED for r in rows)
    by_mypy = sum(r["status"] == "caught by type check" for r in rows)
    equiv = [r for r in rows if r["status"] not in DETECTED and r["id"] in equivalent]
    survivors = [r for r in rows if r["status"] not in DETECTED and r["id"] not in equivalent]
    denominator = len(rows) - len(equiv)
    score = 100.0 * killed / denominator if denominator else 100.0
    for r in sorted(survivors, key=lambda r: r["id"]):
        print(f"  SURVIVED ({r['status']}) {r['id']}  [{r['name'].rpartition('.')[2]}]")
        print(changed_lines(r["diff"]))
    return {"module": mod.path, "status": "ok", "mutants": len(rows), "killed": killed, "by_mypy": by_mypy,
            "equivalent": len(equiv),
            "survived": len(survivors), "score": round(score, 1), "seconds": round(seconds)}


def changed_modules(base: str) -> list[Module] | None:
    proc = subprocess.run(["git", "diff", "--name-only", base, "--"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        print(f"mutation: cannot diff against {base!r} ({proc.stderr.strip()}); nothing run")
        return None
    files = set(proc.stdout.split())
    return [m for m in MODULES if m.path in files or any(t in files for t in m.tests)]


def typecheck(path: str) -> int:
    """mypy --strict over the mutated package, as JSON lines for mutmut, only for ``path``: an
    error elsewhere (someone's work in progress) must not stop the run."""
    proc = subprocess.run([sys.executable, "-m", "mypy", "-p", "jitplan", "--output", "json"],
                          capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("{") and json.loads(line).get("file", "").endswith(path):
            print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--typecheck"]:
        return typecheck(argv[1])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", help="module paths, e.g. tools/gate.py (default: all)")
    ap.add_argument("--changed", metavar="BASE",
                    help="only the modules whose source or selected tests changed since BASE")
    ap.add_argument("--budget-s", type=float, default=1500.0,
                    help="stop starting modules after this many seconds (a running one is cut off)")
    ap.add_argument("--fail-under", type=float, default=0.0, help="exit 1 if a module scores below")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--report", action="store_true",
                    help="only report the last run's results (e.g. after marking equivalents)")
    args = ap.parse_args(argv)
    unknown = [p for p in args.modules if p not in BY_PATH]
    if unknown:
        print(f"mutation: unknown module(s) {', '.join(unknown)}; known: "
              f"{', '.join(BY_PATH)}", file=sys.stderr)
        return 2
    if args.changed:
        found = changed_modules(args.changed)
        if found is None:
            return 0
        mods = [m for m in found if not args.modules or m.path in args.modules]
        if not mods:
            print(f"mutation: no mutation-tested module or its tests changed since {args.changed}; nothing to run")
            return 0
    else:
        mods = [BY_PATH[p] for p in args.modules] if args.modules else list(MODULES)
    load_equivalent()  # a malformed file fails before any work
    start = time.monotonic()
    results: list[dict[str, Any]] = []
    for mod in mods:
        left = args.budget_s - (time.monotonic() - start)
        if mod.needs_env and not os.environ.get(mod.needs_env):
            print(f"== {mod.path}: NOT RUN ({mod.needs_env} is not set: its tests need that server)")
            continue
        if left <= 30:
            print(f"== {mod.path}: NOT RUN (the {args.budget_s:g}s time budget is spent)")
            results.append({"module": mod.path, "status": "over budget"})
            continue
        if not any((ROOT / t).is_file() for t in mod.tests):
            print(f"== {mod.path}: NOT RUN (none of its tests exist: {' '.join(mod.tests)})")
            results.append({"module": mod.path, "status": "no tests"})
            continue
        dest = WORK / slug(mod.path)
        if args.report:
            if not (dest / "mutants").is_dir():
                print(f"== {mod.path}: no results in {dest}")
                continue
            print(f"== {mod.path}: results of the last run in {dest}")
            r = report(mod, analyze(mod, dest), load_equivalent(), 0.0)
            results.append(r)
            print(f"  {r['killed']}/{r['mutants'] - r['equivalent']} killed = {r['score']}%")
            continue
        print(f"== {mod.path}: mutating, tests: {' '.join(mod.tests)}", flush=True)
        build_tree(mod, dest)
        rc, seconds = run_mutmut(mod, dest, left, args.jobs)
        if rc != 0:
            status = "over budget" if rc == -1 else f"mutmut exited {rc}"
            print(f"  {status}; last lines of {dest / 'mutmut.log'}:")
            tail = (dest / "mutmut.log").read_text("utf-8", "replace").splitlines()[-15:]
            print("\n".join("    " + ln[-200:] for ln in tail))
            results.append({"module": mod.path, "status": status, "seconds": round(seconds)})
            continue
        r = report(mod, analyze(mod, dest), load_equivalent(), seconds)  # re-read: marked while it ran
        results.append(r)
        print(f"  {r['killed']}/{r['mutants'] - r['equivalent']} killed = {r['score']}% ({r['by_mypy']} of them "
              f"by mypy; {r['equivalent']} equivalent, {r['survived']} survived) in {r['seconds']}s", flush=True)
    total = time.monotonic() - start
    print("\nmodule                          killed / non-equivalent    score  equivalent  by mypy    time")
    for r in results:
        if r["status"] != "ok":
            print(f"{r['module']:<32}{r['status']:>25}")
            continue
        den = r["mutants"] - r["equivalent"]
        print(f"{r['module']:<32}{r['killed']:>12} / {den:<12}{r['score']:>6}%{r['equivalent']:>11}"
              f"{r['by_mypy']:>9}{r['seconds']:>7}s")
    print(f"total {total:.0f}s")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "summary.json").write_text(json.dumps({"seconds": round(total), "modules": results}, indent=1), "utf-8")
    floors = load_floors()
    bad = [f"{r['module']} ({r.get('score', r['status'])})" for r in results
           if r["status"] not in ("ok", "over budget")
           or (r["status"] == "ok" and r["score"] < min(args.fail_under, floors.get(r["module"], 100.0)))]
    if bad:
        print(f"mutation: FAILED (below {args.fail_under:g}%, or below the module's floor in {FLOORS.name}, "
              f"or not run): {', '.join(bad)}", file=sys.stderr)
    if any(r["status"] == "over budget" for r in results):
        print("mutation: WARNING: some modules were not finished within the time budget", file=sys.stderr)
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
