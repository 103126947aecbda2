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


def test_exported_names_are_the_objects_their_modules_define(tmp_path: Any) -> None:
    """As httpx's exported-members test: every public name is the very object of the module that
    defines it, on first access, on second access, and after every submodule is imported (a name
    that equals a submodule's name flipped to the module on second access)."""
    script = tmp_path / "identity.py"
    script.write_text(
        "import importlib, pkgutil\n"
        "bad = []\n"
        "for sub in ('contracts', 'tools', 'agent'):\n"
        "    name = 'jitplan.' + sub\n"
        "    pkg = importlib.import_module(name)\n"
        "    first = {a: getattr(pkg, a) for a in pkg.__all__}\n"
        "    second = {a: getattr(pkg, a) for a in pkg.__all__}\n"
        "    for mod in pkgutil.walk_packages(pkg.__path__, name + '.'):\n"
        "        importlib.import_module(mod.name)\n"
        "    for a in pkg.__all__:\n"
        "        home = importlib.import_module(f'{name}.{pkg._EXPORTS[a]}')\n"
        "        want = getattr(home, a)\n"
        "        for when, got in (('first', first[a]), ('second', second[a]),\n"
        "                          ('after imports', getattr(pkg, a))):\n"
        "            if got is not want:\n"
        "                bad.append(f'{name}.{a} ({when}): {got!r}')\n"
        "print('\\n'.join(bad) or 'ok')\n"
    )
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok", proc.stdout
