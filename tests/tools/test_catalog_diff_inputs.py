"""`catalog diff` review fixes: a dependency's "already unresolved" note judges the old feature's
own range; a missing or binary prompt file in NEW is bad input (exit 2), as in `catalog validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from jitplan.contracts.errors import UserError
from jitplan.tools.catalog_diff import DiffReport, Finding, diff_files

SLO = {"latency_p95_ms": 1000, "error_rate_max": 0.01, "quality_min": 0.8}
PROMPT = "Rewrite the text.\nOutput JSON: {\"text\": str}.\n"


def feature(fid: str, version: str, **extra: Any) -> dict[str, Any]:
    return {"id": fid, "version": version, "kind": "prompt", "description": "d", "owner": "o",
            "cost": {"per_request_usd": 0.001, "daily_budget_usd": 10},
            "risk": {"tier": "low", "data_classes": ["public"]}, "slo": SLO, **extra}


def write(tmp: Path, name: str, features: list[dict[str, Any]], prompt: bytes | None = PROMPT.encode()) -> Path:
    d = tmp / name
    (d / "prompts").mkdir(parents=True, exist_ok=True)
    if prompt is not None:
        (d / "prompts" / "p.md").write_bytes(prompt)
    path = d / "catalog.yaml"
    path.write_text(yaml.safe_dump({"catalog": "t", "version": 1, "features": features}, sort_keys=False))
    return path


def catalog(dep_range: str, *, base_versions: tuple[str, ...] = ("1.0.0", "1.1.0"),
            prompt_path: str = "prompts/p.md") -> list[dict[str, Any]]:
    return [*(feature("base", v) for v in base_versions),
            feature("app", "1.0.0", prompt={"path": prompt_path},
                    depends_on=[{"id": "base", "version": dep_range}])]


def unresolved(report: DiffReport) -> Finding:
    found = [f for f in report.findings if f.code == "dependency_unresolved"]
    assert len(found) == 1, report.findings
    return found[0]


def test_range_changed_to_unresolvable_is_not_called_already_unresolved(tmp_path: Path) -> None:
    old = write(tmp_path, "old", catalog(">=1.0,<2"))  # resolved by base 1.0.0 / 1.1.0
    new = write(tmp_path, "new", catalog(">=2"))
    f = unresolved(diff_files(str(old), str(new)))
    assert f.severity == "breaking" and f.path == "features[2].depends_on[0].version"
    assert "already unresolved" not in f.message
    assert "no version resolves" in f.message and "the old range >=1.0,<2 resolved" in f.message


def test_range_unresolved_in_both_catalogs_says_already_unresolved(tmp_path: Path) -> None:
    old = write(tmp_path, "old", catalog(">=2"))
    new = write(tmp_path, "new", catalog(">=2"))
    f = unresolved(diff_files(str(old), str(new)))
    assert f.message.endswith("(already unresolved in the old catalog)")


def test_old_range_unresolved_new_range_also_unresolved_but_different(tmp_path: Path) -> None:
    old = write(tmp_path, "old", catalog(">=3"))
    new = write(tmp_path, "new", catalog(">=2"))
    assert unresolved(diff_files(str(old), str(new))).message.endswith("(already unresolved in the old catalog)")


def test_successor_version_is_judged_against_its_predecessor_range(tmp_path: Path) -> None:
    old = write(tmp_path, "old", catalog(">=1.0,<2"))
    fs = catalog(">=1.0,<2")
    fs.append(feature("app", "1.1.0", prompt={"path": "prompts/p.md"}, depends_on=[{"id": "base", "version": ">=2"}]))
    new = write(tmp_path, "new", fs)
    f = unresolved(diff_files(str(old), str(new)))
    assert f.version == "1.1.0" and "already unresolved" not in f.message and ">=1.0,<2 resolved" in f.message


def test_a_new_dependency_gets_no_note_about_the_old_catalog(tmp_path: Path) -> None:
    old = write(tmp_path, "old", catalog(">=1.0,<2"))
    fs = catalog(">=1.0,<2")
    fs[2]["depends_on"].append({"id": "base2", "version": ">=1"})
    new = write(tmp_path, "new", fs)
    f = unresolved(diff_files(str(old), str(new)))
    assert "base2" in f.message and "old" not in f.message


def test_missing_prompt_file_in_new_is_bad_input_like_validate(tmp_path: Path) -> None:
    old = write(tmp_path, "old", catalog(">=1"))
    new = write(tmp_path, "new", catalog(">=1", prompt_path="missing.md"))
    with pytest.raises(UserError) as e:
        diff_files(str(old), str(new))
    msg = str(e.value)
    assert len(msg.splitlines()) == 1
    assert str(new) in msg and "features[2].prompt.path" in msg and "prompt file not found: missing.md" in msg


@pytest.mark.parametrize("content", [b"\xff\xfe\x00b\x00i\x00n", b"ok line\n\x89PNG\r\n\x1a\n\x00\x00", b"a\x00b\n"])
def test_binary_prompt_file_in_new_is_bad_input(tmp_path: Path, content: bytes) -> None:
    old = write(tmp_path, "old", catalog(">=1"))
    new = write(tmp_path, "new", catalog(">=1"), prompt=content)
    with pytest.raises(UserError) as e:
        diff_files(str(old), str(new))
    msg = str(e.value)
    assert len(msg.splitlines()) == 1
    assert str(new) in msg and "features[2].prompt.path" in msg and "prompts/p.md" in msg and "not UTF-8 text" in msg
