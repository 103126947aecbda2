"""Signal sources: the ``SignalSource`` extension point and one module per implementation.

- ``files``: a snapshot file, a watched folder of snapshots, a snapshot in memory;
- ``prometheus``: the PromQL queries of a ``sources.yaml`` (``contracts.sources``), over the
  Prometheus HTTP API (``promql_http``).
"""

from __future__ import annotations

__all__ = ["SignalReading", "SignalSource", "open_source"]

import os
from typing import TYPE_CHECKING, Literal

from jitplan.tools.signal_source import SignalReading, SignalSource

if TYPE_CHECKING:
    from jitplan.contracts.signals import ContractSet


def open_source(
    *,
    sources: str | os.PathLike[str] | None = None,
    signals: str | os.PathLike[str] | None = None,
    signals_dir: str | os.PathLike[str] | None = None,
    contracts: ContractSet | None = None,
    state: str | os.PathLike[str] | None = None,
    mode: Literal["range", "instant"] = "range",
) -> SignalSource:
    """The source named by exactly one of ``sources`` (sources.yaml), ``signals`` (a snapshot
    file, re-read each time) or ``signals_dir`` (a watched folder)."""
    from jitplan.contracts.errors import UserError

    given = [x for x in (sources, signals, signals_dir) if x is not None]
    if len(given) != 1:
        raise UserError("give exactly one of --sources, --signals, --signals-dir", source="signals")
    if sources is not None:
        from jitplan.tools.signal_sources.prometheus import PrometheusSource

        return PrometheusSource.from_file(sources, contracts=contracts, state=state, mode=mode)
    from jitplan.tools.signal_sources.files import FolderSource, SnapshotFileSource

    if signals is not None:
        return SnapshotFileSource(signals, contracts=contracts, live=True)
    assert signals_dir is not None
    return FolderSource(signals_dir, contracts=contracts)
