"""Deeply nested input is refused before parsing: exit 2 and one message naming the file.

JSON and YAML nested 50,000+ levels deep used to end in a ``RecursionError`` traceback (exit 1)
in every loader (signals, plan, flags...), because ``json.loads`` and PyYAML's composer
recurse once per level.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.errors import UserError
from jitplan.contracts.loading import MAX_NESTING, load_document
from jitplan.contracts.plan import Plan
from jitplan.tools.flags import FlagStore

DEEP = 60_000


def _deep_json(key: str) -> str:
    return json.dumps(key).join(('{', ': ')) + '{"a": ' * DEEP + "1" + "}" * DEEP + "}"


def _deep_yaml_flow(key: str) -> str:
    return f"{key}: " + "[" * DEEP + "]" * DEEP + "\n"


def _deep_yaml_block(key: str) -> str:
    return f"{key}:\n" + "- " * DEEP + "x\n"  # compact nested block sequences, 2 bytes a level


SHAPES = {"json": (".json", _deep_json), "yaml-flow": (".yaml", _deep_yaml_flow),
          "yaml-block": (".yaml", _deep_yaml_block)}


def _write(tmp_path: Path, shape: str, key: str) -> Path:
    suffix, make = SHAPES[shape]
    path = tmp_path / f"deep-{shape}{suffix}"
    path.write_text(make(key))
    return path


def _assert_refused(res: Any, path: Path) -> None:
    assert res.code == 2, (res.code, res.err[-500:])
    assert "Traceback" not in res.err and "RecursionError" not in res.err
    assert str(path) in res.err and "nested more than" in res.err
    assert len(res.err.strip().splitlines()) == 1


@pytest.mark.parametrize("shape", list(SHAPES))
def test_deep_signals_exit_2(cli: Any, world: Path, tmp_path: Path, shape: str) -> None:
    path = _write(tmp_path, shape, "signals")
    res = cli("signals", "check", path, "--contracts", world / "contracts.yaml")
    _assert_refused(res, path)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_deep_plan_exit_2(cli: Any, tmp_path: Path, shape: str) -> None:
    path = _write(tmp_path, shape, "steps")
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "sim" / "mm10.yaml"
    res = cli("simulate", scenario, "--plan", path, "--replications", "1")
    _assert_refused(res, path)
    with pytest.raises(UserError, match="nested more than"):
        Plan.from_file(path)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_deep_flags_refused(tmp_path: Path, shape: str) -> None:
    path = _write(tmp_path, shape, "flags")
    with pytest.raises(UserError, match="nested more than") as exc:
        load_document(path)  # how `validate --state` and the planning cycle read the flags
    assert exc.value.source == str(path)
    if shape == "json":
        with pytest.raises(UserError, match="nested more than"):
            FlagStore(path).read()  # the flag store's own JSON reader


def test_deep_flags_exit_2_on_the_command_line(cli: Any, world: Path, tmp_path: Path) -> None:
    path = _write(tmp_path, "json", "flags")
    res = cli("policy", "eval", "--catalog", world / "catalog.yaml", "--feature", "reply-drafter",
              "--state", path)
    _assert_refused(res, path)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_the_bound_is_exact_and_wide_shallow_documents_load(tmp_path: Path, suffix: str) -> None:
    ok = {"k": 1}
    for _ in range(MAX_NESTING - 1):
        ok = {"k": ok}
    at_limit = tmp_path / f"limit{suffix}"
    at_limit.write_text(json.dumps(ok))
    assert load_document(at_limit)["k"]["k"]["k"]
    over = tmp_path / f"over{suffix}"
    over.write_text(json.dumps({"k": ok}))
    with pytest.raises(UserError, match=f"more than {MAX_NESTING} levels"):
        load_document(over)
    # many brackets, little depth: 5,000 list items, and brackets inside strings
    wide = {"items": [{"id": i, "tags": ["a", "b"]} for i in range(5_000)], "text": "[" * 500}
    path = tmp_path / f"wide{suffix}"
    path.write_text(json.dumps(wide))
    assert len(load_document(path)["items"]) == 5_000
