"""The evidence file contract: the issue's example parses; bad files fail naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from jitplan.contracts.errors import UserError
from jitplan.contracts.evidence import MAX_EVIDENCE_RECORDS, EvidenceFile, load_evidence

EXAMPLE = """\
evidence:
  - feature: ticket-summarizer
    version: 1.1.0
    source: shadow            # shadow | canary | offline_eval | load_test | production
    observed_at: 2026-11-26T11:00:00Z
    requests: 1200            # sample size behind the figures
    latency_ms: {p50: 800, p95: 1400, p99: 2100}   # or samples_ms: [...] (empirical)
    error_rate: 0.004
    quality: 0.86             # mean eval score in [0, 1]
    cost_per_request_usd: 0.00045
    capacity: {max_concurrency: 64, rpm_limit: 3000}   # optional: provider limits
"""


def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def test_issue_example_parses(tmp_path: Path) -> None:
    ev = load_evidence([_write(tmp_path, "e.yaml", EXAMPLE)])
    (rec,) = ev.records
    assert rec.key == "ticket-summarizer@1.1.0"
    assert rec.latency_ms is not None and rec.latency_ms.p95 == 1400
    assert rec.capacity is not None and rec.capacity.rpm_limit == 3000
    assert ev.sources == (str(tmp_path / "e.yaml"),)


def test_json_and_directories(tmp_path: Path) -> None:
    d = tmp_path / "ev"
    d.mkdir()
    _write(d, "b.json", '{"evidence": [{"feature": "f", "version": "2.0.0", "source": "canary",'
           ' "observed_at": "2026-11-26T11:00:00Z", "requests": 40, "samples_ms": [10, 12, 30]}]}')
    _write(d, "a.yml", EXAMPLE)
    _write(d, "notes.txt", "not evidence")
    ev = load_evidence([d])
    assert [r.feature for r in ev.records] == ["ticket-summarizer", "f"]  # sorted by file name
    assert ev.records[1].samples_ms == [10, 12, 30]


@pytest.mark.parametrize(
    ("patch", "field", "expect"),
    [
        ("source: shadow", "evidence[0].source", "shadow"),
        ("requests: 1200", "evidence[0].requests", "greater than or equal to 1"),
        ("error_rate: 0.004", "evidence[0].error_rate", "less than or equal to 1"),
        ("latency_ms: {p50: 800, p95: 1400, p99: 2100}", "evidence[0].latency_ms", "p95"),
        ("observed_at: 2026-11-26T11:00:00Z", "evidence[0].observed_at", "timezone"),
        ("quality: 0.86", "evidence[0].surprise", "unknown field"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, patch: str, field: str, expect: str) -> None:
    bad = {
        "source: shadow": "source: rumour",
        "requests: 1200": "requests: 0",
        "error_rate: 0.004": "error_rate: 1.5",
        "latency_ms: {p50: 800, p95: 1400, p99: 2100}": "latency_ms: {p50: 800, p95: 700}",
        "observed_at: 2026-11-26T11:00:00Z": "observed_at: 2026-11-26T11:00:00",
        "quality: 0.86": "quality: 0.86\n    surprise: 1",
    }[patch]
    path = _write(tmp_path, "bad.yaml", EXAMPLE.replace(patch, bad))
    with pytest.raises(UserError) as exc:
        load_evidence([path])
    msg = str(exc.value)
    assert str(path) in msg and field in msg and expect in msg
    assert exc.value.exit_code == 2


def test_negative_samples_and_missing_paths(tmp_path: Path) -> None:
    path = _write(tmp_path, "s.yaml", EXAMPLE.replace(
        "latency_ms: {p50: 800, p95: 1400, p99: 2100}", "samples_ms: [1, -2]"))
    with pytest.raises(UserError, match=r"samples_ms.*non-negative"):
        load_evidence([path])
    with pytest.raises(UserError, match="evidence path not found"):
        load_evidence([tmp_path / "nope.yaml"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=r"no \.yaml"):
        load_evidence([empty])


def test_size_and_count_caps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JITPLAN_MAX_INPUT_BYTES", "100")
    with pytest.raises(UserError, match="larger than the 100-byte limit"):
        load_evidence([_write(tmp_path, "e.yaml", EXAMPLE)])
    monkeypatch.delenv("JITPLAN_MAX_INPUT_BYTES")
    rec = {"feature": "f", "version": "1.0.0", "source": "shadow",
           "observed_at": "2026-11-26T11:00:00Z", "requests": 1}
    with pytest.raises(UserError, match="evidence"):
        EvidenceFile.from_data({"evidence": [rec] * (MAX_EVIDENCE_RECORDS + 1)}, source="x.yaml")
