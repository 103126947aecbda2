"""The import graph of the ``jitplan`` packages: no module cycles, and the layers point one way.

Every ``import`` is counted, including the ones inside functions (lazy imports still form a cycle
when two modules need each other). Package ``__init__`` modules are left out: they only re-export
names lazily.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

import jitplan

ROOT = Path(jitplan.__file__).resolve().parent
LAYERS = {"contracts": 0, "simulator": 1, "tools": 2, "agent": 3}
"""A module may import its own layer and the layers below it (DESIGN.md, "Layout")."""


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            if path.name == "__init__.py":
                continue
            rel = path.relative_to(ROOT).with_suffix("")
            out["jitplan." + ".".join(rel.parts)] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found.update(n for n in names if n in modules)
    return found


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    modules = _modules()
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for name, path in modules.items():
        g.add_edges_from((name, dep) for dep in _imports(path, modules) if dep != name)
    return g


def test_the_graph_sees_the_known_edges(graph: nx.DiGraph) -> None:
    # Guards the parser itself: an empty graph would pass every check below.
    assert graph.number_of_nodes() > 80
    assert graph.has_edge("jitplan.tools.audit_sqlite", "jitplan.tools.audit_chain")
    assert graph.has_edge("jitplan.tools.audit", "jitplan.tools.audit_sqlite")  # lazy, in a method


def test_no_module_import_cycles(graph: nx.DiGraph) -> None:
    cycles = sorted(sorted(c) for c in nx.simple_cycles(graph))
    assert cycles == [], f"import cycles: {cycles}"


def test_audit_backends_do_not_import_the_facade(graph: nx.DiGraph) -> None:
    for backend in ("jitplan.tools.audit_sqlite", "jitplan.tools.audit_postgres"):
        assert "jitplan.tools.audit" not in nx.descendants(graph, backend), backend


def test_layers_point_down(graph: nx.DiGraph) -> None:
    upward = [
        (a, b) for a, b in graph.edges
        if LAYERS[b.split(".")[1]] > LAYERS[a.split(".")[1]]
    ]
    assert upward == [], f"imports into a higher layer: {upward}"
