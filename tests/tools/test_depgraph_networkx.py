"""DependencyGraph without networkx gives networkx's answers (order, descendants, cycles)."""

from __future__ import annotations

import random
from typing import Any

import networkx as nx

from jitplan.contracts.catalog import Catalog
from jitplan.tools.depgraph import DependencyGraph


def _feature(fid: str, deps: list[str]) -> dict[str, Any]:
    return {"id": fid, "version": "1.0.0", "kind": "prompt", "description": "d", "owner": "o",
            "cost": {"per_request_usd": 0.001, "daily_budget_usd": 1}, "risk": {"tier": "low"},
            "slo": {"latency_p95_ms": 100, "error_rate_max": 0.01, "quality_min": 0.5},
            "depends_on": [{"id": d} for d in deps]}


def _nx_order(g: nx.DiGraph, fids: list[str]) -> list[str] | str:
    wanted: set[str] = set()
    for f in fids:
        if f in g:
            wanted |= {f} | nx.descendants(g, f)
    try:
        return list(nx.lexicographical_topological_sort(g.subgraph(wanted).reverse(copy=True)))
    except nx.NetworkXUnfeasible:
        return "cycle"


def test_same_answers_as_networkx_on_random_catalogs() -> None:
    rng = random.Random(18)
    for _ in range(150):
        ids = [f"f{i:02d}" for i in range(rng.randint(1, 12))]
        rng.shuffle(ids)
        feats = []
        for i, fid in enumerate(ids):
            pool = ids[:i] if rng.random() < 0.8 else ids  # mostly acyclic, some cycles
            deps = [d for d in rng.sample(pool, min(len(pool), rng.randint(0, 3))) if d != fid]
            feats.append(_feature(fid, deps + (["not-in-catalog"] if rng.random() < 0.1 else [])))
        dg = DependencyGraph(Catalog.from_data({"catalog": "c", "version": "1", "features": feats}))
        ref = dg.graph
        cycles = sorted(c[c.index(min(c)):] + c[:c.index(min(c))] for c in nx.simple_cycles(ref))
        assert dg.cycles() == cycles
        for fid in [*ids, "not-in-catalog", "unknown"]:
            try:
                ours: list[str] | str = dg.order([fid])
            except nx.NetworkXUnfeasible:
                ours = "cycle"
            assert ours == _nx_order(ref, [fid])
