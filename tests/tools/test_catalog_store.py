"""CatalogStore: indexed lookups, versions, and search by text, kind, risk and data class."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from jitplan.contracts.catalog import Catalog
from jitplan.tools.catalog_store import CatalogStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def store() -> CatalogStore:
    return CatalogStore(Catalog.from_file(ROOT / "scenarios" / "world" / "catalog.yaml"))


def test_get_and_versions(store: CatalogStore) -> None:
    assert [f.version for f in store.versions("ticket-summarizer")] == ["1.0.0", "1.1.0", "1.2.0"]
    newest = store.get("ticket-summarizer")
    assert newest is not None and newest.version == "1.2.0"
    exact = store.get("pii-redactor", "1.0.0")
    assert exact is not None and exact.key == "pii-redactor@1.0.0"
    assert store.get("pii-redactor", "9.0.0") is None
    assert store.get("voice-bot") is None and store.versions("voice-bot") == []
    assert "kb-retriever" in store and "voice-bot" not in store


def test_versions_sort_semantically_not_lexically() -> None:
    base = {"kind": "prompt", "description": "d", "owner": "o",
            "cost": {"per_request_usd": 0.001, "daily_budget_usd": 1},
            "risk": {"tier": "low"}, "slo": {"latency_p95_ms": 100, "error_rate_max": 0.01,
                                             "quality_min": 0.5}}
    cat = Catalog.from_data({"catalog": "c", "version": "1", "features": [
        {**base, "id": "a", "version": v} for v in ("1.10.0", "1.2.0", "1.9.1")]})
    s = CatalogStore(cat)
    assert [f.version for f in s.versions("a")] == ["1.2.0", "1.9.1", "1.10.0"]
    assert s.get("a") is not None and s.get("a").version == "1.10.0"  # type: ignore[union-attr]


def test_lookups_agree_with_the_catalog(store: CatalogStore) -> None:
    cat = store.catalog
    assert store.ids == cat.ids
    for fid in cat.ids:
        assert store.versions(fid) == cat.versions(fid)
        assert store.get(fid) == cat.get(fid)


def test_search_by_text_ranks_id_matches_first(store: CatalogStore) -> None:
    hits = [f.id for f in store.search("summary")]
    assert hits[0] == "ticket-summarizer"
    assert store.search("redact")[0].id == "pii-redactor"
    # every word must match
    assert store.search("summary refund") == []
    assert [f.id for f in store.search("TICKET sentiment")] == ["sentiment-tagger", "ticket-summarizer"]


def test_search_filters(store: CatalogStore) -> None:
    assert {f.id for f in store.search(kind="pipeline")} == {"answer-synthesizer", "churn-predictor",
                                                             "kb-retriever"}
    assert {f.id for f in store.search(risk="critical")} == {"medical-triage"}
    assert all(f.risk.level <= 1 for f in store.search(max_risk="medium", limit=100))
    pii = {f.id for f in store.search(data_class="pii", limit=100)}
    assert {"reply-drafter", "pii-redactor", "refund-advisor"} <= pii
    assert "kb-retriever" not in pii
    assert len(store.search(limit=3)) == 3 and store.search(limit=0) == []
    # newest version only
    assert [f.version for f in store.search("ticket-summarizer")] == ["1.2.0"]


def test_search_is_deterministic_on_a_large_catalog() -> None:
    sys.path.insert(0, str(ROOT / "scenarios"))
    from generate_catalog import generate_catalog

    big = CatalogStore(Catalog.from_data(generate_catalog(200, seed=3)))
    first = [f.key for f in big.search("ticket", limit=50)]
    again = CatalogStore(Catalog.from_data(generate_catalog(200, seed=3)))
    assert [f.key for f in again.search("ticket", limit=50)] == first and first
