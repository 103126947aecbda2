"""The watched folder of ``jitplan watch``: which files are new, parsing them, rejecting them.

Polls the folder's listing (``*.yaml|*.yml|*.json``, dot files ignored). A file is new unless
its name and content sha256 are in the ledger; the (mtime, size) of files already judged are
remembered so unchanged files are not read again. New files come oldest first (mtime, then
name). A malformed file is moved to ``rejected/`` with ``<name>.reason`` beside it; a file the
ledger already rejected but that is still here (the watch was killed between the two) is moved
on the next listing.
"""

from __future__ import annotations

__all__ = ["NewFile", "SnapshotFolder", "parse_snapshot"]

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from jitplan.contracts.errors import UserError
from jitplan.contracts.signals import SignalSnapshot
from jitplan.tools.watch_ledger import Ledger

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class NewFile:
    path: Path
    data: bytes
    sha256: str
    mtime_ns: int
    size: int
    mtime: float


def parse_snapshot(path: Path, data: bytes) -> SignalSnapshot:
    """A snapshot from the bytes read (the file may change after); problems are ``UserError``s."""
    from jitplan.contracts.loading import parse_document
    from jitplan.contracts.settings import get_settings

    limit = get_settings().max_input_bytes
    if len(data) > limit:
        raise UserError(f"file is {len(data):,} bytes, larger than the {limit:,}-byte limit", source=str(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError("not UTF-8 text", source=str(path)) from None
    return SignalSnapshot.from_data(parse_document(text, str(path)), source=str(path))


class SnapshotFolder:
    """New snapshot files of one folder, against the ledger's record of processed ones."""

    def __init__(self, directory: Path, ledger: Ledger) -> None:
        if not directory.is_dir():
            raise UserError("expected a directory of signal snapshots", source=str(directory))
        self.dir = directory
        self.ledger = ledger
        self.known: dict[str, dict[str, str]] = {}  # name -> sha256 -> status
        for r in ledger.processed():
            self.known.setdefault(r.name, {})[r.sha256] = r.status
        self.seen: dict[str, tuple[int, int]] = {}

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.known.values())

    def remember(self, f: NewFile, status: str) -> None:
        self.known.setdefault(f.path.name, {})[f.sha256] = status
        self.seen[f.path.name] = (f.mtime_ns, f.size)

    def listing(self) -> list[os.DirEntry[str]]:
        with os.scandir(self.dir) as it:
            return [e for e in it if e.name.endswith(SUFFIXES) and not e.name.startswith(".") and e.is_file()]

    def new_files(self) -> list[NewFile]:
        out = []
        for e in self.listing():
            try:
                st = e.stat()
                if self.seen.get(e.name) == (st.st_mtime_ns, st.st_size):
                    continue
                data = Path(e.path).read_bytes()
            except FileNotFoundError:
                continue
            f = NewFile(Path(e.path), data, hashlib.sha256(data).hexdigest(), st.st_mtime_ns, st.st_size, st.st_mtime)
            status = self.known.get(e.name, {}).get(f.sha256)
            if status is None:
                out.append(f)
                continue
            self.seen[e.name] = (f.mtime_ns, f.size)
            if status == "rejected":  # recorded, not yet moved (killed in between)
                self.reject(f.path, self._reason(e.name, f.sha256))
        out.sort(key=lambda f: (f.mtime_ns, f.path.name))
        return out

    def _reason(self, name: str, sha: str) -> str:
        row = self.ledger.conn.execute("SELECT reason FROM processed WHERE scope = ? AND name = ? AND sha256 = ?",
                                       (self.ledger.scope, name, sha)).fetchone()
        return str(row[0]) if row else ""

    def reject(self, path: Path, reason: str) -> None:
        """Move ``path`` to ``rejected/`` (a free name) with its reason beside it."""
        rej = self.dir / "rejected"
        rej.mkdir(exist_ok=True)
        dest = rej / path.name
        n = 1
        while dest.exists():
            dest = rej / f"{path.stem}.{n}{path.suffix}"
            n += 1
        tmp = rej / f".{dest.name}.reason.tmp"
        tmp.write_text(reason.rstrip("\n") + "\n")
        os.replace(tmp, rej / f"{dest.name}.reason")
        try:
            os.replace(path, dest)
        except FileNotFoundError:
            return
        self.seen.pop(path.name, None)

    def unsettled(self) -> bool:
        """A file not judged yet (e.g. malformed but too young to reject)."""
        return any(e.name not in self.seen for e in self.listing())
