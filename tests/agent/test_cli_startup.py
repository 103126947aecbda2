"""`jitplan --help` must stay light: no heavy dependency is imported to print help."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("langgraph", "litellm", "numpy", "simpy", "pydantic", "langchain_core", "numba", "regopy")


def test_help_imports_no_heavy_module() -> None:
    code = (
        "import sys, agent.cli as c\n"
        "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.rsplit("HEAVY=", 1)[-1].strip() == ""
    assert "catalog" in out and "signals" in out


def test_litellm_cost_map_is_local_by_default() -> None:
    code = "import os, agent.cli as c\nc.main(['catalog', 'validate', '/nonexistent'])\nprint(os.environ['LITELLM_LOCAL_MODEL_COST_MAP'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False).stdout
    assert out.strip().endswith("True")
