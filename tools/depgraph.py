"""The catalog's dependency graph: cycles, order, what an activation pulls in.

Kept as plain adjacency lists: a planning cycle only needs descendants and a lexicographic
topological order, and importing networkx costs more than the whole graph work. networkx is
imported when a cycle has to be listed (``cycles`` on a cyclic catalog) or ``graph`` is asked for.
"""

from __future__ import annotations

__all__ = ["DependencyGraph"]

import heapq
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

    from jitplan.contracts.catalog import Catalog, FeatureSpec


class DependencyGraph:
    """Directed graph over feature ids: an edge ``a -> b`` means *a depends on b*."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._deps: dict[str, list[str]] = {}  # node -> what it depends on (networkx's order)
        for f in catalog.features:
            self._deps.setdefault(f.id, [])
            for dep in f.depends_on:
                if dep.id not in self._deps[f.id]:
                    self._deps[f.id].append(dep.id)
                self._deps.setdefault(dep.id, [])

    @property
    def graph(self) -> nx.DiGraph:
        """The graph as a networkx ``DiGraph`` (built on demand)."""
        import networkx as nx

        g: nx.DiGraph = nx.DiGraph()
        for node, deps in self._deps.items():
            g.add_node(node)
            for dep in deps:
                g.add_edge(node, dep)
        return g

    def cycles(self) -> list[list[str]]:
        """Every elementary cycle, each rotated to start at its smallest id, sorted."""
        if self._topological(set(self._deps), reverse=False) is not None:
            return []  # acyclic: nothing to list, no networkx needed
        import networkx as nx

        found = []
        for cyc in nx.simple_cycles(self.graph):
            i = cyc.index(min(cyc))
            found.append(cyc[i:] + cyc[:i])
        return sorted(found)

    def dependencies(self, feature_id: str) -> list[str]:
        """Transitive dependencies of a feature, dependencies first (deterministic)."""
        return [f for f in self.order([feature_id]) if f != feature_id]

    def _descendants(self, node: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self._deps[node])
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(self._deps[n])
        return seen

    def _topological(self, nodes: set[str], *, reverse: bool) -> list[str] | None:
        """Lexicographic topological order of ``nodes`` (dependencies first when ``reverse``, as
        ``nx.lexicographical_topological_sort`` of the reversed subgraph); None if cyclic."""
        out_edges: dict[str, list[str]] = {n: [] for n in nodes}
        indegree = dict.fromkeys(nodes, 0)
        for n in nodes:
            for dep in self._deps[n]:
                if dep in nodes:
                    a, b = (dep, n) if reverse else (n, dep)
                    out_edges[a].append(b)
                    indegree[b] += 1
        ready = [n for n, d in indegree.items() if d == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            n = heapq.heappop(ready)
            order.append(n)
            for child in out_edges[n]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, child)
        return order if len(order) == len(nodes) else None

    def order(self, feature_ids: list[str]) -> list[str]:
        """The given features plus everything they pull in, dependencies first."""
        wanted: set[str] = set()
        for fid in feature_ids:
            if fid in self._deps:
                wanted.add(fid)
                wanted |= self._descendants(fid)
        order = self._topological(wanted, reverse=True)
        if order is None:  # a dependency cycle: networkx raises its NetworkXUnfeasible, as before
            import networkx as nx

            sub = self.graph.subgraph(wanted).reverse(copy=True)
            return list(nx.lexicographical_topological_sort(sub))
        return order

    def resolve(self, spec: FeatureSpec) -> list[FeatureSpec]:
        """For each direct dependency, the newest catalog version admitted by its range."""
        out: list[FeatureSpec] = []
        for dep in spec.depends_on:
            candidates = [f for f in self.catalog.versions(dep.id) if dep.admits(f.version)]
            if candidates:
                out.append(candidates[-1])
        return out
