"""Output paths checked before a long run (``regress --junit``, ``sweep --out``): a path that
cannot be written is bad input (exit 2, one line naming the option), not a traceback at the end."""

from __future__ import annotations

__all__ = ["check_output_dir", "check_output_file", "write_failed"]

import os
import tempfile
from pathlib import Path

from jitplan.contracts.errors import UserError


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_output_file(path: str, option: str) -> None:
    """Raise ``UserError`` naming ``option`` unless ``path`` can be written as a file (an
    existing file is left as it is; a probe file is created and removed)."""
    p = Path(path)
    if p.is_dir():
        raise UserError(f"{path} is a directory, expected a file path", source=option)
    if not p.parent.is_dir():
        raise UserError(f"cannot write {path}: no such directory {p.parent}", source=option)
    try:
        if p.exists():
            with open(p, "ab"):
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=p.parent, prefix=f".{p.name}.", delete=True):
                pass
    except OSError as exc:
        raise UserError(f"cannot write {path}: {_why(exc)}", source=option) from None


def check_output_dir(path: str, option: str) -> None:
    """Raise ``UserError`` naming ``option`` unless the folder ``path`` exists and takes files, or
    can be created (its nearest existing ancestor is a folder that takes files; nothing is
    created: a later bad ``--param`` leaves no empty folder behind)."""
    d = Path(path)
    probe_in = d
    while not probe_in.exists() and probe_in != probe_in.parent:
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        what = path if probe_in == d else f"{probe_in} (in {path})"
        raise UserError(f"{what} exists and is not a directory", source=option)
    try:
        with tempfile.NamedTemporaryFile(dir=probe_in, prefix=".probe.", delete=True):
            pass
    except OSError as exc:
        raise UserError(f"cannot write to {path}: {_why(exc)}", source=option) from None


def write_failed(path: str | os.PathLike[str], option: str, exc: OSError) -> UserError:
    """A write that failed after the run (the disk filled, the folder went away)."""
    return UserError(f"cannot write {path}: {_why(exc)}", source=option)
