"""The catalog's dependency graph (networkx): cycles, order, what an activation pulls in."""

from __future__ import annotations

__all__ = ["DependencyGraph"]

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

    from jitplan.contracts.catalog import Catalog, FeatureSpec


class DependencyGraph:
    """Directed graph over feature ids: an edge ``a -> b`` means *a depends on b*."""

    def __init__(self, catalog: Catalog) -> None:
        import networkx as nx

        self.catalog = catalog
        self.graph: nx.DiGraph = nx.DiGraph()
        for f in catalog.features:
            self.graph.add_node(f.id)
            for dep in f.depends_on:
                self.graph.add_edge(f.id, dep.id)

    def cycles(self) -> list[list[str]]:
        """Every elementary cycle, each rotated to start at its smallest id, sorted."""
        import networkx as nx

        found = []
        for cyc in nx.simple_cycles(self.graph):
            i = cyc.index(min(cyc))
            found.append(cyc[i:] + cyc[:i])
        return sorted(found)

    def dependencies(self, feature_id: str) -> list[str]:
        """Transitive dependencies of a feature, dependencies first (deterministic)."""
        return [f for f in self.order([feature_id]) if f != feature_id]

    def order(self, feature_ids: list[str]) -> list[str]:
        """The given features plus everything they pull in, dependencies first."""
        import networkx as nx

        wanted: set[str] = set()
        for fid in feature_ids:
            if fid in self.graph:
                wanted.add(fid)
                wanted |= nx.descendants(self.graph, fid)
        sub = self.graph.subgraph(wanted).reverse(copy=True)
        return list(nx.lexicographical_topological_sort(sub))

    def resolve(self, spec: FeatureSpec) -> list[FeatureSpec]:
        """For each direct dependency, the newest catalog version admitted by its range."""
        out: list[FeatureSpec] = []
        for dep in spec.depends_on:
            candidates = [f for f in self.catalog.versions(dep.id) if dep.admits(f.version)]
            if candidates:
                out.append(candidates[-1])
        return out
