"""Every ```python block of README.md and docs/simulator.md runs as a plain script, and the
README's simulator shell commands run, from a folder outside the repository where
``python -m jitplan.examples`` copied the shipped examples (as a user of the wheel would).

The README snippet used to crash as a script (``workers=2`` without a main guard:
"bootstrapping" error, then ``BrokenProcessPool``), and the docs snippet used an undefined
``plan``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "docs" / "simulator.md"]
SHELL_COMMANDS = ("examples", "simulate", "catalog", "signals")
"""Shell examples run here: the stateless commands (plan/apply/approve need a cycle's state and
are covered by the demo and their own tests)."""

_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _blocks(lang: str) -> list[tuple[str, int, str]]:
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in _BLOCK.finditer(text):
            if m.group(1) == lang:
                line = text.count("\n", 0, m.start()) + 1
                out.append((doc.name, line, m.group(2)))
    return out


def _shell_commands() -> list[tuple[str, int, str]]:
    cmds = []
    for name, line, body in _blocks("bash"):
        joined = body.replace("\\\n", " ")
        for cmd in joined.splitlines():
            cmd = cmd.split("  #")[0].strip()
            words = shlex.split(cmd) if cmd else []
            if len(words) > 1 and words[0] == "jitplan" and words[1] in SHELL_COMMANDS:
                cmds.append((name, line, cmd))
    return cmds


@pytest.fixture(scope="module")
def examples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("readme")
    subprocess.run([sys.executable, "-m", "jitplan.examples", str(where)], check=True,
                   capture_output=True, timeout=120)
    return where


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def test_the_docs_have_python_snippets_and_shell_examples() -> None:
    assert len(_blocks("python")) >= 2
    assert any("simulate" in c for _, _, c in _shell_commands())


@pytest.mark.parametrize(("doc", "line", "code"),
                         [pytest.param(*b, id=f"{b[0]}:{b[1]}") for b in _blocks("python")])
def test_python_snippet_runs_as_a_script(examples_dir: Path, doc: str, line: int, code: str) -> None:
    script = examples_dir / f"snippet_{doc.replace('.', '_')}_{line}.py"
    script.write_text(code, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=examples_dir, capture_output=True,
                          text=True, timeout=600, env=_env())
    assert proc.returncode == 0, f"{doc}:{line}\n{proc.stderr[-3000:]}"


@pytest.mark.parametrize(("doc", "line", "cmd"),
                         [pytest.param(*c, id=f"{c[0]}:{c[1]}:{' '.join(shlex.split(c[2])[1:3])}")
                          for c in _shell_commands()])
def test_shell_example_runs(examples_dir: Path, doc: str, line: int, cmd: str) -> None:
    words = shlex.split(cmd)
    if words[1] == "examples":
        words.append("--force")  # the fixture already copied them here
    proc = subprocess.run(words, cwd=examples_dir, capture_output=True, text=True, timeout=600,
                          env=_env())
    # 1 is a documented outcome (a plan under test failing its gates), never 2 or 3
    assert proc.returncode in (0, 1), f"{doc}:{line}: {cmd}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr
