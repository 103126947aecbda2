"""DependencyGraph over the catalog (networkx): order, transitive dependencies, cycles, ranges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jitplan.contracts.catalog import Catalog
from jitplan.tools.depgraph import DependencyGraph

ROOT = Path(__file__).resolve().parents[2]


def world() -> Catalog:
    return Catalog.from_file(ROOT / "scenarios" / "world" / "catalog.yaml")


def test_order_puts_dependencies_first() -> None:
    g = DependencyGraph(world())
    order = g.order(["reply-drafter"])
    assert set(order) == {"reply-drafter", "pii-redactor", "ticket-summarizer"}
    assert order[-1] == "reply-drafter"
    assert g.dependencies("reply-drafter") == ["pii-redactor", "ticket-summarizer"]
    assert g.dependencies("kb-retriever") == []
    assert g.order(["voice-bot"]) == []


def test_world_has_no_cycles() -> None:
    assert DependencyGraph(world()).cycles() == []


def _feature(fid: str, deps: list[str]) -> dict[str, Any]:
    return {"id": fid, "version": "1.0.0", "kind": "prompt", "description": "d", "owner": "o",
            "cost": {"per_request_usd": 0.001, "daily_budget_usd": 1}, "risk": {"tier": "low"},
            "slo": {"latency_p95_ms": 100, "error_rate_max": 0.01, "quality_min": 0.5},
            "depends_on": [{"id": d} for d in deps]}


def test_cycles_are_found_and_normalised() -> None:
    cat = Catalog.from_data({"catalog": "c", "version": "1", "features": [
        _feature("c", ["a"]), _feature("a", ["b"]), _feature("b", ["c"]), _feature("d", [])]})
    assert DependencyGraph(cat).cycles() == [["a", "b", "c"]]


def test_resolve_picks_the_newest_admitted_version() -> None:
    cat = world()
    g = DependencyGraph(cat)
    refund = cat.get("refund-advisor")
    assert refund is not None
    assert [f.key for f in g.resolve(refund)] == ["pii-redactor@1.1.0"]
    drafter = cat.get("reply-drafter")
    assert drafter is not None
    assert [f.key for f in g.resolve(drafter)] == ["pii-redactor@1.1.0", "ticket-summarizer@1.2.0"]
