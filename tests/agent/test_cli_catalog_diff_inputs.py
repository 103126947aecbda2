"""`catalog diff` / `catalog validate` agree on bad prompt files: a missing one and a binary
(non-UTF-8) one are bad input, exit 2, one line naming the catalog file, the field and the file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WORLD

PIN = re.compile(r"prompt: \{path: prompts/ticket-summarizer\.v1\.0\.0\.md, sha256: [0-9a-f]{64}\}")


def world_copy(tmp: Path, name: str = "new") -> Path:
    d = tmp / name
    shutil.copytree(WORLD / "prompts", d / "prompts")
    shutil.copy(WORLD / "catalog.yaml", d / "catalog.yaml")
    return d / "catalog.yaml"


def point_prompt_at(catalog: Path, rel: str) -> None:
    text = catalog.read_text()
    assert PIN.search(text)
    catalog.write_text(PIN.sub(f"prompt: {{path: {rel}}}", text, count=1))


def test_missing_prompt_file_in_new_is_exit_2_like_validate(cli: Any, tmp_path: Path) -> None:
    new = world_copy(tmp_path)
    point_prompt_at(new, "missing.md")
    v = cli("catalog", "validate", new)
    assert v.code == 2 and "prompt file not found: missing.md" in v.err
    r = cli("catalog", "diff", WORLD / "catalog.yaml", new)
    assert r.code == 2 and r.out == "" and "Traceback" not in r.err and r.err.count("\n") == 1
    assert r.err.startswith(f"jitplan: error: {new}: features[")
    assert ".prompt.path: prompt file not found: missing.md" in r.err
    assert "prompt_changed_in_place" not in r.err
    j = cli("catalog", "diff", WORLD / "catalog.yaml", new, "--json")
    assert j.code == 2 and json.loads(j.out)["exit_code"] == 2


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"Summarize.\nOutput JSON.\n\xff\xfe bad\n"])
def test_binary_prompt_file_is_an_error_in_validate_and_diff(cli: Any, tmp_path: Path, content: bytes) -> None:
    new = world_copy(tmp_path)
    point_prompt_at(new, "prompts/blob.md")  # unpinned: only the hygiene check can catch it
    blob = new.parent / "prompts" / "blob.md"
    blob.write_bytes(content)
    v = cli("catalog", "validate", new)
    assert v.code == 2 and "Traceback" not in v.err
    assert f"{blob}:" in v.err and "prompt_not_text" in v.err and "is not UTF-8 text" in v.err
    doc = json.loads(cli("catalog", "validate", new, "--json").out)
    assert doc["valid"] is False and doc["exit_code"] == 2
    assert any(p.get("code") == "prompt_not_text" and p["file"] == str(blob) for p in doc["problems"])
    r = cli("catalog", "diff", WORLD / "catalog.yaml", new)
    assert r.code == 2 and r.out == "" and r.err.count("\n") == 1 and "Traceback" not in r.err
    assert r.err.startswith(f"jitplan: error: {new}: features[")
    assert "prompts/blob.md is not UTF-8 text" in r.err
