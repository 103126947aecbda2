"""Regression suites in-process: ``run_suite`` is what ``jitplan regress`` runs, for notebooks and
scripts.

>>> from jitplan.agent.regress import run_suite                          # doctest: +SKIP
>>> from jitplan.contracts.suite import load_suite
>>> outcomes = run_suite(load_suite("scenarios/suites/smoke.yaml"), workers=2)
>>> [(o.name, o.status) for o in outcomes]

Every run gets a private ``JITPLAN_HOME`` (checkpoints, audit log), removed afterwards; recorded
cases replay their cassettes through a local HTTP server (or, with ``record_model``, are recorded
from that model). Outcomes come back in the suite's order.
"""

from __future__ import annotations

__all__ = ["CaseOutcome", "run_suite"]

import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from typing import Any
from unittest.mock import patch

from jitplan.agent.commands._regress_run import CaseOutcome, Replay, check_suite, run_case
from jitplan.contracts.errors import UserError
from jitplan.contracts.suite import PlanningCase, SimulationCase, Suite


def _recorded_runner(stack: ExitStack, suite: Suite, cases: Sequence[PlanningCase | SimulationCase],
                     record_model: str | None, note: str, env: dict[str, str]) -> Replay | None:
    """The replayer (or recorder) of the recorded cases, on a local cassette server that ``env``
    points the planner at; None when no case is recorded."""
    from jitplan.agent.cassette_server import CassetteServer, Upstream
    from jitplan.agent.commands._regress_recorded import (
        Recorder,
        Replayer,
        is_recorded,
        load_cassettes,
    )
    from jitplan.agent.planners.factory import NO_KEY

    recorded = [c for c in cases if isinstance(c, PlanningCase) and is_recorded(c)]
    if not recorded:
        return None
    # Read the real model's settings before the environment points the planner at the server.
    upstream = Upstream.from_settings(record_model) if record_model else None
    cassettes = {} if upstream is not None else load_cassettes(suite, recorded)
    server = stack.enter_context(CassetteServer())
    env.update({"JITPLAN_LLM_API_BASE": server.base_url, "JITPLAN_LLM_API_KEY": NO_KEY})
    if upstream is not None:
        return Recorder(suite, upstream, server, note)
    return Replayer(suite, cassettes, server)


def run_suite(
    suite: Suite,
    cases: Sequence[PlanningCase | SimulationCase] | None = None,
    *,
    workers: int = 1,
    record_model: str | None = None,
    note: str = "",
    progress: Callable[[int, int, CaseOutcome], None] | None = None,
) -> list[CaseOutcome]:
    """Run ``cases`` (default: every case of ``suite``) on ``workers`` threads; ``record_model``
    records the recorded cases from that model instead of replaying them. A missing or malformed
    recording raises ``UserError``; ``progress(done, total, outcome)`` follows completion."""
    if workers < 1:
        raise UserError("must be at least 1", source="--workers")
    check_suite(suite)
    todo = list(suite.cases if cases is None else cases)
    outcomes: list[CaseOutcome] = []
    with ExitStack() as stack:
        env = {"JITPLAN_HOME": stack.enter_context(
            tempfile.TemporaryDirectory(prefix="jitplan-regress-", ignore_cleanup_errors=True))}
        replay = _recorded_runner(stack, suite, todo, record_model, note, env)
        stack.enter_context(patch.dict(os.environ, env))  # restored on exit
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=workers))
        futures = [pool.submit(run_case, c, replay) for c in todo]
        for done, fut in enumerate(as_completed(futures), 1):
            out = fut.result()
            outcomes.append(out)
            if progress is not None:
                progress(done, len(todo), out)
    order: dict[str, Any] = {c.name: i for i, c in enumerate(todo)}
    return sorted(outcomes, key=lambda o: order[o.name])
