"""With ``--json`` a failed command prints ``{"error": {file, field, message}, "exit_code": N}``
on stdout (it used to print nothing there), and the human message still goes to stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ERROR_KEYS = {"file", "field", "message"}


def _error_doc(res: Any) -> dict[str, Any]:
    assert res.code == 2, (res.code, res.err)
    doc: dict[str, Any] = json.loads(res.out)
    assert doc["exit_code"] == 2
    assert set(doc["error"]) >= ERROR_KEYS, doc
    assert res.err.strip(), "the human-readable message still goes to stderr"
    return doc


@pytest.mark.parametrize(
    ("argv", "file", "needle"),
    [
        (["simulate", "{tmp}/missing.yaml"], "{tmp}/missing.yaml", "file not found"),
        (["apply", "{tmp}/missing.json", "--state", "{tmp}/flags.json"], "{tmp}/missing.json",
         "file not found"),
        (["validate", "{tmp}/missing.json", "--catalog", "{world}/catalog.yaml"],
         "{tmp}/missing.json", "file not found"),
        (["signals", "check", "{tmp}/missing.yaml", "--contracts", "{world}/contracts.yaml"],
         "{tmp}/missing.yaml", "file not found"),
        (["audit", "verify", "--head", "{tmp}/missing-head.json"], "{tmp}/missing-head.json",
         "file not found"),
        (["report", "no-such-thread"], "THREAD_ID", "no-such-thread"),
        (["simulate", "{world}/catalog.yaml", "--replications", "0"], "--replications",
         "at least 1"),
    ],
)
def test_json_error_document_for_user_errors(
    cli: Any, world: Path, tmp_path: Path, argv: list[str], file: str, needle: str
) -> None:
    fill = {"tmp": str(tmp_path), "world": str(world)}
    res = cli(*[a.format(**fill) for a in argv], "--json")
    doc = _error_doc(res)
    assert doc["error"]["file"] == file.format(**fill)
    assert needle in doc["error"]["message"]


def test_json_error_names_the_field_of_a_bad_document(cli: Any, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"id": "p", "goal": "g", "steps": [{"id": "s", "action": "warp"}]}))
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "sim" / "mm10.yaml"
    doc = _error_doc(cli("simulate", scenario, "--plan", plan, "--json"))
    assert doc["error"]["file"] == str(plan)
    assert doc["error"]["field"].startswith("steps[0]")


def test_catalog_validate_json_carries_the_error_shape_too(cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "catalog.yaml"
    bad.write_text("catalog: c\nversion: 1\nfeatures: [{id: x}]\n")
    doc = _error_doc(cli("catalog", "validate", bad, "--json"))
    assert doc["valid"] is False and doc["problems"]
    assert doc["error"]["file"] == str(bad) and doc["error"]["field"] == doc["problems"][0]["field"]


def test_usage_errors_print_the_json_error_too(cli: Any) -> None:
    doc = _error_doc(cli("simulate", "--json"))
    assert "SCENARIO.yaml" in doc["error"]["message"]


def test_no_json_flag_keeps_stdout_empty(cli: Any, tmp_path: Path) -> None:
    res = cli("simulate", tmp_path / "missing.yaml")
    assert res.code == 2 and res.out == "" and "file not found" in res.err


def _raising(exc: BaseException) -> Any:
    def func(_args: Any) -> int:
        raise exc

    return func


@pytest.mark.parametrize("as_json", [False, True])
def test_an_os_error_on_a_file_is_one_line_naming_it_exit_2(
    as_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse
    import errno

    from jitplan.agent.cli import run_command

    exc = IsADirectoryError(errno.EISDIR, "Is a directory", "/tmp/out-dir")
    code = run_command(_raising(exc), argparse.Namespace(json=as_json))
    out, err = capsys.readouterr()
    assert code == 2
    assert err == "jitplan: error: /tmp/out-dir: Is a directory\n"
    if as_json:
        doc = json.loads(out)
        assert doc == {"error": {"file": "/tmp/out-dir", "field": "", "message": "Is a directory"},
                       "exit_code": 2}
    else:
        assert out == ""


def test_an_os_error_without_a_file_is_a_run_failure_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from jitplan.agent.cli import run_command

    code = run_command(_raising(ConnectionResetError("peer reset")), argparse.Namespace(json=False))
    assert code == 3 and capsys.readouterr().err == "jitplan: run failed: peer reset\n"
