"""Every name a package lists in ``__all__`` resolves; unknown names raise AttributeError."""

from __future__ import annotations

import importlib
import subprocess
import sys
from typing import Any

import pytest

PACKAGES = ["jitplan.contracts", "jitplan.simulator", "jitplan.tools", "jitplan.agent"]


@pytest.mark.parametrize("name", PACKAGES)
def test_public_names_resolve(name: str) -> None:
    pkg = importlib.import_module(name)
    assert pkg.__all__, name
    for attr in pkg.__all__:
        assert getattr(pkg, attr) is not None, f"{name}.{attr}"


@pytest.mark.parametrize("name", ["jitplan.contracts", "jitplan.tools", "jitplan.agent"])
def test_unknown_name_is_an_attribute_error(name: str) -> None:
    pkg = importlib.import_module(name)
    with pytest.raises(AttributeError):
        pkg.no_such_thing  # noqa: B018


def test_a_user_project_with_its_own_contracts_and_tools_does_not_shadow_jitplan(tmp_path: Any) -> None:
    """The old wheel installed top-level ``contracts``/``tools``/``simulator``/``agent``: a
    script next to its own ``contracts/`` package broke ``import simulator``."""
    for name in ("contracts", "tools", "simulator", "agent"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('user {name} imported')\n")
    script = tmp_path / "use_jitplan.py"
    script.write_text(
        "import importlib, pkgutil, sys\n"
        "import jitplan\n"
        "for sub in ('contracts', 'simulator', 'tools', 'agent'):\n"
        "    pkg = importlib.import_module('jitplan.' + sub)\n"
        "    for mod in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(f'jitplan.{sub}.{mod.name}')\n"
        "assert not {'contracts', 'tools', 'simulator', 'agent'} & set(sys.modules), sys.modules\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"
