"""`jitplan --help` must stay light: no heavy dependency is imported to print help."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("langgraph", "litellm", "numpy", "simpy", "pydantic", "langchain_core", "numba", "regopy")


def test_help_imports_no_heavy_module() -> None:
    code = (
        "import sys, jitplan.agent.cli as c\n"
        "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.rsplit("HEAVY=", 1)[-1].strip() == ""
    assert "catalog" in out and "signals" in out


def test_litellm_cost_map_is_local_by_default() -> None:
    """The CLI makes litellm use its bundled cost map (no fetch from the internet at import).

    Runs in a subprocess whose environment lacks LITELLM_LOCAL_MODEL_COST_MAP (the suite's autouse
    fixture sets it, so an in-process test could not fail); the remote URL points at a closed
    local port, so a fetch attempt fails fast instead of reaching out.
    """
    code = (
        "import os, sys\n"
        "from jitplan.agent.cli import main\n"
        f"main(['catalog', 'validate', {str(ROOT / 'scenarios' / 'world' / 'catalog.yaml')!r}])\n"
        "print('ENV=' + os.environ.get('LITELLM_LOCAL_MODEL_COST_MAP', '<unset>'))\n"
        "import litellm\n"
        "from litellm.litellm_core_utils.get_model_cost_map import get_model_cost_map_source_info\n"
        "info = get_model_cost_map_source_info()\n"
        "print('SOURCE=' + info['source'], 'FORCED=' + str(info['is_env_forced']), 'URL=' + str(info['url']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    env["LITELLM_MODEL_COST_MAP_URL"] = "http://127.0.0.1:9/model_prices.json"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                         env=env, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "ENV=True" in res.stdout, res.stdout
    assert "SOURCE=local FORCED=True URL=None" in res.stdout, res.stdout


def _after_cli(argv: list[str], modules: tuple[str, ...]) -> tuple[int, str, set[str]]:
    """Run ``jitplan ARGV`` in a fresh interpreter; its exit code, stdout and which of ``modules``
    it imported."""
    code = (
        "import sys, jitplan.agent.cli as c\n"
        f"rc = c.main({argv!r})\n"
        f"print('LOADED=' + ','.join(m for m in {modules!r} if m in sys.modules))\n"
        "sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    out, _, loaded = proc.stdout.rpartition("LOADED=")
    return proc.returncode, out, {m for m in loaded.strip().split(",") if m}


def _plan_args(world: object, signals: str, *extra: str) -> list[str]:
    return ["plan", "--catalog", f"{world}/catalog.yaml", "--signals", f"{world}/signals/{signals}",
            "--contracts", f"{world}/contracts.yaml", "--state", f"{world}/flags.json", "--no-cache",
            "--json", *extra]


def test_noop_cycle_imports_no_graph_model_or_simulator(world: object) -> None:
    # Import-graph assertion, not timing: a signal-driven offline cycle runs without LangGraph
    # (agent.direct), and a noop never simulates.
    modules = (*HEAVY, "scipy", "langsmith", "langchain_litellm")
    rc, out, loaded = _after_cli(_plan_args(world, "steady.yaml"), modules)
    assert rc == 0 and '"decision": "noop"' in out
    assert loaded <= {"pydantic"}, loaded


def test_offline_cycle_imports_neither_litellm_nor_langgraph(world: object) -> None:
    modules = ("litellm", "langchain_litellm", "langgraph", "langchain_core", "langsmith", "numba",
               "matplotlib", "pandas", "networkx")
    rc, out, loaded = _after_cli(_plan_args(world, "demand-rise.yaml", "--evidence", f"{world}/evidence"), modules)
    assert rc == 0 and '"decision": "approved"' in out
    # it simulated, without the graph (agent.direct) or a model; with the kernels built ahead of
    # time (simulator.aot), without numba too
    from jitplan.simulator.compiled import kernels

    assert loaded == (set() if kernels().origin == "aot" else {"numba"}), loaded


def test_offline_cycle_on_the_jit_kernels_imports_numba(world: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JITPLAN_KERNELS", "jit")
    rc, out, loaded = _after_cli(_plan_args(world, "demand-rise.yaml", "--evidence", f"{world}/evidence"),
                                 ("numba", "langgraph"))
    assert rc == 0 and '"decision": "approved"' in out
    assert loaded == {"numba"}, loaded


def test_an_escalated_offline_cycle_hands_over_to_langgraph(world: object) -> None:
    rc, out, loaded = _after_cli(_plan_args(world, "hostile.yaml"), ("langgraph", "litellm"))
    assert rc == 0 and '"decision": "escalated"' in out
    assert loaded == {"langgraph"}, loaded  # the graph checkpoints the interrupt
