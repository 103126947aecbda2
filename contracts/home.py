"""Where jitplan keeps its local state (checkpoints, audit log, traces, flags history)."""

from __future__ import annotations

__all__ = ["jitplan_home"]

from pathlib import Path

from jitplan.contracts.settings import get_settings


def jitplan_home(create: bool = True) -> Path:
    """``$JITPLAN_HOME`` or ``./.jitplan``; created on first use."""
    home = get_settings().home
    if create:
        home.mkdir(parents=True, exist_ok=True)
    return home
