"""Where the orchestrator reads the latest signals: a snapshot file or a watched folder.

``SignalSource`` is the extension point (a Protocol); ``SnapshotFileSource`` re-reads one file
each time, ``FolderSource`` picks the newest ``*.yaml|*.yml|*.json`` file in a folder (by
modification time, then name), ``StaticSource`` serves a snapshot held in memory. With a
``ContractSet``, signals breaking their data contract are marked quarantined; the gate counts
them as errored measurements and never uses them.

A source is *live* when re-reading it can bring newer samples (a watched folder; a snapshot file
that some process rewrites, when constructed with ``live=True``). While a stage has no fresh
samples yet, the orchestrator keeps re-reading a live source up to the step's timeout; a source
that is not live is judged once (its samples cannot change), so a stale stage pauses at once.
"""

from __future__ import annotations

__all__ = [
    "FolderSource",
    "SignalReading",
    "SignalSource",
    "SnapshotFileSource",
    "StaticSource",
]

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from jitplan.contracts.errors import UserError
from jitplan.contracts.signals import ContractSet, SignalSnapshot

_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class SignalReading:
    """One read of the latest signals."""

    snapshot: SignalSnapshot | None
    source: str
    quarantined: frozenset[int] = frozenset()
    reasons: tuple[str, ...] = ()

    @property
    def sha256(self) -> str | None:
        return self.snapshot.digest() if self.snapshot else None


class SignalSource(Protocol):
    """Anything that can give the latest signals (optionally with ``live: bool``, default False)."""

    def latest(self) -> SignalReading: ...


def _quarantine(snapshot: SignalSnapshot, contracts: ContractSet | None) -> tuple[frozenset[int], tuple[str, ...]]:
    if contracts is None:
        return frozenset(), ()
    from jitplan.tools.signal_check import check_signals

    statuses = check_signals(snapshot, contracts)
    bad = [i for i, st in enumerate(statuses) if not st.ok]
    reasons = tuple(f"{statuses[i].signal.name}: {'; '.join(statuses[i].reasons)}" for i in bad)
    return frozenset(bad), reasons


class StaticSource:
    """A snapshot held in memory (tests, the agent's in-process execute node); never live."""

    live = False

    def __init__(self, snapshot: SignalSnapshot | None, *, contracts: ContractSet | None = None, name: str = "<memory>") -> None:
        self.snapshot = snapshot
        self.contracts = contracts
        self.name = name

    def latest(self) -> SignalReading:
        if self.snapshot is None:
            return SignalReading(None, self.name)
        q, r = _quarantine(self.snapshot, self.contracts)
        return SignalReading(self.snapshot, self.name, q, r)


class SnapshotFileSource:
    """Re-read one snapshot file on every call (it may be rewritten between steps); ``live``
    when a process keeps rewriting it (``jitplan apply --signals``)."""

    def __init__(self, path: str | os.PathLike[str], *, contracts: ContractSet | None = None, live: bool = False) -> None:
        self.path = Path(path)
        self.contracts = contracts
        self.live = live

    def latest(self) -> SignalReading:
        snap = SignalSnapshot.from_file(self.path)
        q, r = _quarantine(snap, self.contracts)
        return SignalReading(snap, str(self.path), q, r)


class FolderSource:
    """The newest snapshot file in a watched folder (None when the folder has none); live."""

    def __init__(self, directory: str | os.PathLike[str], *, contracts: ContractSet | None = None, live: bool = True) -> None:
        self.directory = Path(directory)
        self.contracts = contracts
        self.live = live
        if not self.directory.is_dir():
            raise UserError("expected a directory of signal snapshots", source=str(self.directory))

    def newest(self) -> Path | None:
        files = [
            p for p in self.directory.iterdir()
            if p.is_file() and p.suffix in _SUFFIXES and not p.name.startswith(".")
        ]
        if not files:
            return None
        return max(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def latest(self) -> SignalReading:
        path = self.newest()
        if path is None:
            return SignalReading(None, str(self.directory))
        snap = SignalSnapshot.from_file(path)
        q, r = _quarantine(snap, self.contracts)
        return SignalReading(snap, str(path), q, r)
