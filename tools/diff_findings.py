"""The records every diff shares: one judged difference (``Finding``) and one loaded input file
(``DiffSide``); used by ``tools.catalog_diff`` and ``tools.contract_diff``."""

from __future__ import annotations

__all__ = ["DiffSide", "Finding"]

from dataclasses import asdict, dataclass
from typing import Any

from jitplan.tools.schema_compat import Severity
from jitplan.tools.yaml_lines import LineIndex, line_of, render_path


@dataclass(frozen=True)
class Finding:
    """One judged difference (the ``findings`` rows of ``--json``)."""

    severity: Severity
    code: str
    message: str
    path: str
    """Field path in ``file`` (``features[4].outputs.required``; ``contracts[1].max``)."""
    file: str
    line: int | None
    feature: str | None = None
    version: str | None = None
    signal_kind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)



@dataclass(frozen=True)
class DiffSide:
    """One loaded input file: its text, parsed document and line index."""

    source: str
    text: str
    data: dict[str, Any]
    index: LineIndex

    def where(self, *path: str | int) -> tuple[str, int | None]:
        return render_path(path), line_of(self.index, path)
