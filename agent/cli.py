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
import gc
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

# Each entry is a module under agent.commands exposing ``register(subparsers)``; the
# registered parser sets ``func`` to a callable taking the parsed args and returning an exit code.
COMMANDS: tuple[str, ...] = (
    # planning cycle
    "plan",
    "approve",
    "watch",
    "chat",
    "serve",
    # inputs
    "catalog",
    "signals",
    # governance and checks
    "validate",
    "policy",
    "simulate",
    "sweep",
    "regress",
    "sandbox",
    # execution and evidence
    "apply",
    "audit",
    "report",
    "evidence",
    # getting started
    "examples",
)


class _Parser(argparse.ArgumentParser):
    """``argparse`` whose usage errors (exit 2) also print the JSON error when ``--json`` is
    on the command line; sub-parsers inherit the class."""

    json_requested = False

    def error(self, message: str) -> NoReturn:
        if _Parser.json_requested:
            _write_json_error({"file": "", "field": "", "message": message}, 2)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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


def _write_json_error(error: dict[str, object], exit_code: int) -> None:
    import json

    doc = {"error": error, "exit_code": exit_code}
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def error_document(exc: Exception) -> dict[str, object]:
    """The ``error`` object of a failed command's ``--json`` output: ``file``, ``field`` and
    ``message`` (a ``UserError``'s source, field path and detail), plus ``problems`` when an
    input had several."""
    err: dict[str, object] = {
        "file": getattr(exc, "source", ""),
        "field": getattr(exc, "field", ""),
        "message": getattr(exc, "detail", None) or str(exc),
    }
    problems = getattr(exc, "problems", None)
    if problems:
        err["problems"] = [
            {"file": p.source, "field": p.field, "message": p.message} for p in problems
        ]
    return err


def run_command(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run one parsed command and map errors to exit codes (2 bad input, 3 run failure).

    With ``--json`` a failure also prints ``{"error": {"file", "field", "message"},
    "exit_code": N}`` on stdout; the human message still goes to stderr.
    """
    from jitplan.contracts.errors import JitplanError, UserError

    as_json = bool(getattr(args, "json", False))
    try:
        code = func(args)
    except UserError as exc:
        if as_json:
            _write_json_error(error_document(exc), 2)
        _report_user_error(exc)
        return 2
    except JitplanError as exc:
        if as_json:
            _write_json_error(error_document(exc), exc.exit_code)
        sys.stderr.write(f"jitplan: run failed: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("jitplan: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # A path the command was given (or writes to) that the system refused, not caught by
        # the command itself: one line naming the file (exit 2), never a traceback. An OSError
        # with no file (a socket, the disk) is a run failure (exit 3).
        if exc.filename is not None:
            err: dict[str, object] = {"file": str(exc.filename), "field": "",
                                      "message": exc.strerror or str(exc)}
            if as_json:
                _write_json_error(err, 2)
            sys.stderr.write(f"jitplan: error: {exc.filename}: {exc.strerror or exc}\n")
            return 2
        if as_json:
            _write_json_error({"file": "", "field": "", "message": str(exc)}, 3)
        sys.stderr.write(f"jitplan: run failed: {exc}\n")
        return 3
    return int(code or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    if argv is None:  # the process's own command line (not a caller's: leave its GC alone)
        # A command imports some 220,000 objects that live as long as the process
        # (LangGraph, numba, pydantic); at the default thresholds the cyclic GC runs ~500 times
        # over them, ~10% of a cold `jitplan plan`'s CPU. Young cycles are still collected, and
        # the older generations as often as before relative to the young one (long-running
        # commands: watch, serve).
        gc.set_threshold(50_000, 20, 10)
    argv = list(sys.argv[1:] if argv is None else argv)
    _Parser.json_requested = "--json" in argv
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return run_command(func, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
