"""Where jitplan keeps its local state (checkpoints, audit log, traces, flags history)."""

from __future__ import annotations

__all__ = ["jitplan_home"]

import os
from pathlib import Path


def jitplan_home(create: bool = True) -> Path:
    """``$JITPLAN_HOME`` or ``./.jitplan``; created on first use."""
    home = Path(os.environ.get("JITPLAN_HOME") or ".jitplan")
    if create:
        home.mkdir(parents=True, exist_ok=True)
    return home
