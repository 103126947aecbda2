"""Line numbers of the keys and items of a YAML (or JSON) document, from the parser's node marks.

``line_index(text)`` maps a path such as ``("features", 3, "outputs", "required")`` to the
1-based line where that key (or list item) starts; ``line_of(index, path)`` falls back to the
nearest ancestor the index knows. Aliases are walked once (the first path wins), so a document of
nested anchors ("billion laughs") costs no more than its text.
"""

from __future__ import annotations

__all__ = ["LineIndex", "Path_", "line_index", "line_of", "render_path"]

from collections.abc import Sequence
from typing import Any

Path_ = tuple[str | int, ...]
LineIndex = dict[Path_, int]


def _loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def line_index(text: str) -> LineIndex:
    """Every key and list item of ``text`` -> its 1-based line; ``{}`` when the text does not parse."""
    import yaml

    try:
        root = yaml.compose(text, Loader=_loader())
    except (yaml.YAMLError, RecursionError, ValueError):
        return {}
    index: LineIndex = {}
    if root is None:
        return index
    index[()] = root.start_mark.line + 1
    seen: set[int] = set()
    stack: list[tuple[Path_, Any]] = [((), root)]
    while stack:  # iterative: no recursion on deep documents
        path, node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else str(key.start_mark.line)
                child = (*path, str(name))
                index.setdefault(child, key.start_mark.line + 1)
                stack.append((child, value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                child = (*path, i)
                index.setdefault(child, item.start_mark.line + 1)
                stack.append((child, item))
    return index


def line_of(index: LineIndex, path: Sequence[str | int]) -> int | None:
    """The line of ``path``, else of its nearest known ancestor (None for an empty index)."""
    p = tuple(path)
    while True:
        if p in index:
            return index[p]
        if not p:
            return None
        p = p[:-1]


def render_path(path: Sequence[str | int]) -> str:
    """``("features", 3, "outputs")`` -> ``features[3].outputs`` (the style of validate's fields)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out
