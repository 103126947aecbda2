"""``python -m jitplan.examples [--list] [--force] [--json] [DEST]``: copy the shipped examples
(the sample world, simulation scenarios and sample plans) to ``DEST/scenarios/``; the same as
``jitplan examples``."""

from __future__ import annotations

__all__ = ["main"]

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jitplan examples`` with ``argv``; returns the exit code."""
    from jitplan.agent.commands.examples import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
