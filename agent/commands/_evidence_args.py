"""``--evidence PATH`` (repeatable) shared by plan, chat, simulate, validate and apply.

``add_evidence_argument(parser)`` declares it; ``evidence_paths(args)`` gives the paths as a
tuple (what a ``PlanRequest`` keeps); ``evidence_index(args, catalog, signals)`` loads the
files and matches them to ``catalog`` (problems are exit-2 ``UserError``s naming file and
field; unknown versions and stale evidence are warned about on stderr). Stdlib only at import.
"""

from __future__ import annotations

__all__ = [
    "add_evidence_argument",
    "evidence_index",
    "evidence_paths",
    "exposure_summary",
    "record_observations",
    "warn_notes",
]

import argparse
import sys
from collections.abc import Iterable, Sequence
from typing import Any

HELP = ("evidence file or directory of measured version behaviour (repeatable); a version "
        "without evidence is 'unproven' and plans shadow it first")


APPLY_HELP = ("directory where the shadow and canary steps' observations are written as an "
              "evidence file (observed-<plan id>.yaml) for the next cycle's --evidence")


def add_evidence_argument(parser: Any, *, help: str = HELP) -> None:
    parser.add_argument("--evidence", action="append", default=[], metavar="PATH", help=help)


def record_observations(args: argparse.Namespace, result: Any, plan: Any) -> None:
    """``jitplan apply --evidence DIR``: write what the shadow/canary gates observed to DIR."""
    paths = evidence_paths(args)
    if not paths or getattr(args, "dry_run", False):
        return
    from jitplan.tools.evidence_observed import records_from_execution, write_observed

    written = write_observed(records_from_execution(result, plan), paths[-1], plan.id)
    if written is not None:
        sys.stderr.write(f"jitplan: observations written as evidence to {written}\n")


def evidence_paths(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(getattr(args, "evidence", None) or ())


def warn_notes(notes: Iterable[str]) -> None:
    """Print evidence notes (unknown versions, stale evidence) as warnings on stderr."""
    from jitplan.agent.commands._output import clean

    for note in notes:
        sys.stderr.write(f"jitplan: warning: {clean(note, 400)}\n")


def evidence_index(args: argparse.Namespace | Sequence[str], catalog: Any,
                   signals: Sequence[Any] = (), *, warn: bool = True) -> Any:
    """The ``EvidenceIndex`` of ``--evidence`` against ``catalog`` (empty without paths)."""
    from jitplan.contracts.evidence import EvidenceSet, load_evidence
    from jitplan.tools.evidence import index_evidence
    from jitplan.tools.evidence_matrix import evidence_now

    paths = evidence_paths(args) if isinstance(args, argparse.Namespace) else tuple(args)
    evidence = load_evidence(paths) if paths else EvidenceSet()
    index = index_evidence(catalog, evidence, now=evidence_now(signals))
    if warn:
        warn_notes(index.notes)
    return index


def exposure_summary(plan: Any, index: Any) -> dict[str, Any]:
    """For ``jitplan validate``: what each version the plan serves users from rests on
    (``provenance``) and which of them are ``unproven`` (the simulation will not pass them)."""
    from jitplan.tools.evidence_matrix import EXPOSING_ACTIONS, is_proven

    steps = plan.get("steps") if isinstance(plan, dict) else None
    keys: list[str] = []
    for st in steps if isinstance(steps, list) else []:
        if (isinstance(st, dict) and st.get("action") in EXPOSING_ACTIONS
                and isinstance(st.get("feature"), str) and isinstance(st.get("version"), str)):
            key = f"{st['feature']}@{st['version']}"
            if key not in keys:
                keys.append(key)
    prov = {k: (p.provenance() if (p := index.get(k)) is not None else "nominal") for k in keys}
    return {"provenance": prov, "unproven": [k for k in keys if not is_proven(index.get(k))]}
