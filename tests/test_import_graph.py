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


# ---- heavy third-party packages stay lazy (issue 18: CLI start-up and the noop cycle) ----------

LAZY = ("litellm", "langchain_litellm", "langgraph", "langchain_core", "scipy", "matplotlib", "pandas",
        "numba", "networkx", "regopy", "ray")
"""Imported inside the functions that need them, never when a module outside the simulator loads."""
TOP_LEVEL_OK = {
    "jitplan.agent.planners.scripted": {"langchain_core"},  # only for --model scripted:FILE
    "jitplan.agent.studio": {"langchain_core"},  # LangGraph Studio's entry point
}
LITELLM_IMPORTERS = {"jitplan.agent.planners.factory", "jitplan.agent.planners.llm", "jitplan.agent.cassette_server"}
"""The only modules that import litellm at all: the LLM planner's path (and the test cassettes)."""


def _top_level_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        body = node.body if isinstance(node, ast.Try) else [node]  # `if TYPE_CHECKING:` is skipped
        for n in body:
            if isinstance(n, ast.Import):
                found |= {a.name.split(".")[0] for a in n.names}
            elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                found.add(n.module.split(".")[0])
    return found


def _all_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(n, ast.Import):
            found |= {a.name.split(".")[0] for a in n.names}
        elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
            found.add(n.module.split(".")[0])
    return found


def test_heavy_packages_are_imported_lazily() -> None:
    eager = {
        name: sorted(found)
        for name, path in _modules().items()
        if not name.startswith("jitplan.simulator.")
        and (found := (_top_level_packages(path) & set(LAZY)) - TOP_LEVEL_OK.get(name, set()))
    }
    assert eager == {}, f"module-level imports of heavy packages: {eager}"


def test_only_the_llm_path_imports_litellm() -> None:
    importers = {name for name, path in _modules().items()
                 if _all_packages(path) & {"litellm", "langchain_litellm"}}
    assert importers and importers <= LITELLM_IMPORTERS, importers
