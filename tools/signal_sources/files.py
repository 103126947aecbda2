"""Snapshot files as a signal source: one file, a watched folder, or a snapshot in memory.

The implementations live in ``tools.signal_source`` (where the orchestrator has always found
them); this module is their place among the signal sources.
"""

from __future__ import annotations

__all__ = ["FolderSource", "SnapshotFileSource", "StaticSource"]

from jitplan.tools.signal_source import FolderSource, SnapshotFileSource, StaticSource
