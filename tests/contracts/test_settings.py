"""contracts.settings: the JITPLAN_* variables read once, typed, and refused loudly when malformed."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import jitplan
from jitplan.contracts.errors import UserError
from jitplan.contracts.home import jitplan_home
from jitplan.contracts.settings import ENV_VARS, Settings, get_settings


def test_defaults_when_nothing_is_set() -> None:
    s = Settings.from_env({})
    assert s.home == Path(".jitplan")
    assert s.llm_timeout_s == 120.0
    assert s.checkpoint_sync == "normal"
    assert s.policy is None and s.role is None and s.region is None


def test_values_are_typed_and_blank_means_unset() -> None:
    s = Settings.from_env({"JITPLAN_LLM_TIMEOUT_S": "7.5", "JITPLAN_CHECKPOINT_SYNC": "FULL",
                           "JITPLAN_MAX_INPUT_BYTES": "1024", "JITPLAN_AUDIT_URL": "  "})
    assert s.llm_timeout_s == 7.5
    assert s.checkpoint_sync == "full"
    assert s.max_input_bytes == 1024
    assert s.audit_url is None


@pytest.mark.parametrize(
    ("var", "value"),
    [("JITPLAN_LLM_TIMEOUT_S", "abc"), ("JITPLAN_LLM_TIMEOUT_S", "-1"),
     ("JITPLAN_MAX_INPUT_BYTES", "5MB"), ("JITPLAN_CHECKPOINT_SYNC", "sometimes")],
)
def test_a_malformed_value_names_its_variable(var: str, value: str) -> None:
    with pytest.raises(UserError) as err:
        Settings.from_env({var: value})
    assert err.value.field == var
    assert value in str(err.value)


def test_secrets_never_appear_in_errors_or_reprs() -> None:
    s = Settings.from_env({"JITPLAN_LLM_API_KEY": "sk-very-secret"})
    assert "sk-very-secret" not in repr(s)
    assert s.llm_api_key is not None and s.llm_api_key.get_secret_value() == "sk-very-secret"


def test_every_field_has_one_variable() -> None:
    assert sorted(ENV_VARS.values()) == sorted(Settings.model_fields)


def test_the_environment_is_read_at_each_call(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JITPLAN_HOME", str(tmp_path / "a"))
    assert get_settings().home == tmp_path / "a"
    monkeypatch.setenv("JITPLAN_HOME", str(tmp_path / "b"))
    assert jitplan_home() == tmp_path / "b" and (tmp_path / "b").is_dir()
    monkeypatch.setenv("JITPLAN_HOME", str(tmp_path / "a"))  # back to a value read before
    assert get_settings().home == tmp_path / "a"


def test_a_malformed_value_raises_at_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JITPLAN_LLM_TIMEOUT_S", "soon")
    for _ in range(2):  # never remembered as good, nor as a default
        with pytest.raises(UserError, match="JITPLAN_LLM_TIMEOUT_S"):
            get_settings()
    monkeypatch.setenv("JITPLAN_LLM_TIMEOUT_S", "7")
    assert get_settings().llm_timeout_s == 7.0


def _environment_reads(tree: ast.AST) -> list[str]:
    """``os.environ.get(X)``, ``os.getenv(X)`` and ``os.environ[X]`` reads of a JITPLAN_* name."""
    found: list[str] = []
    for node in ast.walk(tree):
        arg: ast.expr | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            target = node.func
            if (target.attr == "get" and isinstance(target.value, ast.Attribute)
                    and target.value.attr == "environ") or target.attr == "getenv":
                arg = node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "environ" and isinstance(node.ctx, ast.Load):
            arg = node.slice
        if isinstance(arg, ast.Constant) and str(arg.value).startswith("JITPLAN_"):
            found.append(f"{arg.value} (line {node.lineno})")
        elif isinstance(arg, ast.Name) and arg.id.endswith("_ENV"):
            found.append(f"{arg.id} (line {node.lineno})")
    return found


def test_only_the_settings_module_reads_jitplan_variables() -> None:
    root = Path(jitplan.__file__).resolve().parent
    reads = {
        str(path.relative_to(root)): hits
        for layer in ("contracts", "simulator", "tools", "agent")
        for path in sorted((root / layer).rglob("*.py"))
        if path.name != "settings.py"
        and (hits := _environment_reads(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert reads == {}, f"read JITPLAN_* through contracts.settings.get_settings(): {reads}"


def test_the_scan_sees_a_direct_read() -> None:
    # Guards the scanner above: it must flag the pattern it is meant to forbid.
    code = 'import os\nA = os.environ.get("JITPLAN_HOME")\nB = os.getenv(CRASH_ENV)\nC = os.environ["JITPLAN_X"]\n'
    assert len(_environment_reads(ast.parse(code))) == 3


def test_a_malformed_variable_is_exit_2_naming_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JITPLAN_")}
    env["JITPLAN_MAX_INPUT_BYTES"] = "5MB"
    proc = subprocess.run([sys.executable, "-m", "jitplan.agent.cli", "catalog", "validate",
                           str(tmp_path / "missing.yaml")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "JITPLAN_MAX_INPUT_BYTES" in proc.stderr and "Traceback" not in proc.stderr
