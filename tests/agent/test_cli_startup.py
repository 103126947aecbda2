"""`jitplan --help` must stay light: no heavy dependency is imported to print help."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
