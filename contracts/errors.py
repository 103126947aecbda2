"""One error hierarchy for jitplan.

``UserError`` and its subclasses mean *bad input*: the CLI prints one clear message naming the
file, the field path and what was expected, and exits with code 2 (never a traceback).
``RunError`` and its subclasses mean the run itself failed (a bug, a crashed dependency, a cap
hit mid-run); the CLI exits with code 3 for those.
"""

from __future__ import annotations

__all__ = [
    "BudgetExceeded",
    "FieldProblem",
    "InputError",
    "JitplanError",
    "RunError",
    "UserError",
]

from dataclasses import dataclass


class JitplanError(Exception):
    """Base of every error jitplan raises on purpose."""

    exit_code: int = 3


@dataclass(frozen=True)
class FieldProblem:
    """One problem in one input: where (file + field path) and what was expected."""

    source: str
    field: str
    message: str

    def render(self) -> str:
        where = self.source if not self.field else f"{self.source}: {self.field}"
        return f"{where}: {self.message}"


class UserError(JitplanError):
    """Bad input from the user: exit code 2, one message, no traceback."""

    exit_code = 2

    def __init__(self, message: str, *, source: str = "", field: str = "") -> None:
        self.source = source
        self.field = field
        self.detail = message
        super().__init__(FieldProblem(source, field, message).render() if source else message)


class InputError(UserError):
    """A file's content breaks its schema; carries every problem found, not just the first."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        if not problems:
            raise ValueError("InputError needs at least one problem")
        self.problems = problems
        first = problems[0]
        super().__init__(first.message, source=first.source, field=first.field)
        if len(problems) > 1:
            lines = "\n".join(f"  - {p.render()}" for p in problems)
            self.args = (f"{len(problems)} problems:\n{lines}",)


class RunError(JitplanError):
    """The run failed for a reason other than bad input (exit code 3)."""


class BudgetExceeded(RunError):
    """A bounded-work cap (LLM calls, revisions, steps, simulated requests) was hit."""

    exit_code = 3
