"""``jitplan examples [--list] [--force] [--json] [DEST]``: copy the shipped examples.

The installed package carries the repository's ``scenarios/`` folder (the sample world, the
simulation scenarios with their sample plans, the Azure trace with its CC-BY licence and the
policy README) as package data. This copies it to ``DEST/scenarios/`` (``DEST`` defaults to
the working directory), so the README's commands (``jitplan simulate scenarios/sim/mm10.yaml``)
work from anywhere. Existing files are never overwritten without ``--force`` (exit 2).
Also runnable as ``python -m jitplan.examples``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

EXAMPLES_DIR = "scenarios"
"""The folder (inside the ``jitplan`` package and under ``DEST``) holding the examples."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "examples",
        help="copy the sample world, simulation scenarios and sample plans to DEST/scenarios",
        description="Copies the examples shipped in the package to DEST/scenarios/ (DEST "
        "defaults to the working directory) so the README's commands work there. Exit 0 ok, "
        "2 when a file exists (use --force) or DEST is unusable.",
    )
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dest", nargs="?", default=".", metavar="DEST",
                   help="folder to copy into (default: the working directory)")
    p.add_argument("--list", action="store_true", help="list the shipped files, copy nothing")
    p.add_argument("--force", action="store_true", help="overwrite files that already exist")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def shipped_files() -> list[tuple[str, Any]]:
    """``(relative path under scenarios/, Traversable)`` for every shipped example file."""
    from importlib.resources import files

    from jitplan.contracts.errors import RunError

    root = files("jitplan") / EXAMPLES_DIR
    if not root.is_dir():
        raise RunError("the examples are missing from this installation (jitplan/scenarios)")
    out: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [("", root)]
    while stack:
        prefix, node = stack.pop()
        for child in node.iterdir():
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                if child.name != "__pycache__":
                    stack.append((rel + "/", child))
            elif not child.name.endswith((".py", ".pyc")):
                out.append((rel, child))
    return sorted(out, key=lambda t: t[0])


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from jitplan.agent.commands._output import dump_json
    from jitplan.contracts.errors import UserError

    items = shipped_files()
    names = [f"{EXAMPLES_DIR}/{rel}" for rel, _ in items]
    if args.list:
        if args.json:
            dump_json({"files": names})
        else:
            sys.stdout.write("".join(n + "\n" for n in names))
        return 0
    dest = Path(args.dest)
    if dest.exists() and not dest.is_dir():
        raise UserError("exists and is not a folder", source=str(args.dest))
    clashes = [n for n in names if (dest / n).exists()]
    if clashes and not args.force:
        raise UserError(
            f"{len(clashes)} example file(s) already exist, e.g. {dest / clashes[0]} "
            "(use --force to overwrite)",
            source=str(args.dest),
        )
    try:
        for (_, src), name in zip(items, names, strict=True):
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src.read_bytes())
    except OSError as exc:
        raise UserError(f"cannot write: {exc.strerror}", source=str(exc.filename or dest)) from None
    if args.json:
        dump_json({"dest": str(dest), "files": names})
    else:
        cd = "" if str(dest) == "." else f"cd {dest} && "
        sys.stdout.write(
            f"copied {len(names)} files to {dest / EXAMPLES_DIR}/; try:\n"
            f"  {cd}jitplan catalog validate scenarios/world/catalog.yaml\n"
            "  jitplan simulate scenarios/sim/mm10.yaml\n"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jitplan.examples``: the same as ``jitplan examples``."""
    parser = argparse.ArgumentParser(prog="python -m jitplan.examples",
                                     description=(__doc__ or "").splitlines()[0])
    add_arguments(parser)
    from jitplan.agent.cli import run_command

    return run_command(run, parser.parse_args(argv))
