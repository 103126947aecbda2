"""The ``jitplan`` command line.

Start-up must stay fast (``jitplan --help`` < 0.5 s): this module and the command modules it
registers import only the standard library at module level; each command imports what it
needs inside its ``run`` function.

Exit codes: 0 ok, 1 checked and the check failed, 2 bad input (``UserError``), 3 run failure,
130 interrupted.
"""

from __future__ import annotations

__all__ = ["main"]

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Each entry is a module under agent.commands exposing ``register(subparsers)``; the
# registered parser sets ``func`` to a callable taking the parsed args and returning an exit code.
COMMANDS: tuple[str, ...] = (
    # planning cycle
    "plan",
    "approve",
    "chat",
    # inputs
    "catalog",
    "signals",
    # governance and checks
    "validate",
    "policy",
    "simulate",
    # execution and evidence
    "apply",
    "audit",
    "report",
    "evidence",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jitplan",
        description="Just-in-time planning for GenAI features.",
    )
    parser.add_argument("--version", action="version", version="jitplan 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"jitplan.agent.commands.{name}").register(sub)
    return parser


def _report_user_error(exc: Exception) -> None:
    lines = str(exc).splitlines() or [type(exc).__name__]
    sys.stderr.write("jitplan: error: " + lines[0] + "\n")
    for line in lines[1:]:
        sys.stderr.write(line + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    from jitplan.contracts.errors import JitplanError, UserError

    try:
        code = func(args)
    except UserError as exc:
        _report_user_error(exc)
        return 2
    except JitplanError as exc:
        sys.stderr.write(f"jitplan: run failed: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("jitplan: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
