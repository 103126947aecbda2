"""A prompt file that is not UTF-8 text cannot be scanned: it is a hygiene error, not a pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jitplan.contracts.catalog import Catalog
from jitplan.tools.prompt_hygiene import check_prompt_hygiene, not_text


@pytest.mark.parametrize(("data", "expected"), [
    (b"plain text\n\xc3\xa9t\xc3\xa9\n", None),
    (b"", None),
    (b"line one\nline two \xff\n", (2, "invalid UTF-8 byte 0xff")),
    (b"a\nb\nc\x00d", (3, "a NUL byte")),
    (b"\x00\xff", (1, "a NUL byte")),
])
def test_not_text(data: bytes, expected: tuple[int, str] | None) -> None:
    assert not_text(data) == expected


def test_binary_prompt_is_an_error_finding_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "p.md").write_bytes(b"Output JSON.\n\x89PNG\x00\x00")
    doc = {"catalog": "t", "version": 1, "features": [{
        "id": "a", "version": "1.0.0", "kind": "prompt", "description": "d", "owner": "o",
        "prompt": {"path": "p.md"}, "cost": {"per_request_usd": 0.001, "daily_budget_usd": 1},
        "risk": {"tier": "low", "data_classes": ["public"]},
        "slo": {"latency_p95_ms": 1000, "error_rate_max": 0.01, "quality_min": 0.8}}]}
    src = tmp_path / "catalog.yaml"
    src.write_text(yaml.safe_dump(doc, sort_keys=False))
    (h,) = check_prompt_hygiene(Catalog.from_file(str(src)), str(src))
    assert (h.code, h.severity, h.line, h.feature) == ("prompt_not_text", "error", 2, "a")
    assert h.file.endswith("p.md") and "not UTF-8 text (invalid UTF-8 byte 0x89)" in h.message
    assert h.field == "features[0].prompt.path"
