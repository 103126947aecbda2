"""Recorded planning cases of ``jitplan regress`` (``planner: recorded``): replay their cassettes
offline, or record them from a real model (``--record --model M``).

Both go through ``jitplan.agent.cassette_server.CassetteServer``: the planner calls
``openai/<model>`` through litellm over HTTP, exactly as it calls a real OpenAI-compatible server.
A stale cassette (an input file, the system prompt, the tool schemas or the first user message
changed since it was recorded, or the conversation diverged) fails its case with a message naming
the case, the cassette and what changed, and how to re-record it. A missing or malformed cassette
is a bad suite (exit 2).
"""

from __future__ import annotations

__all__ = ["Recorder", "Replayer", "is_recorded", "load_cassettes"]

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jitplan.agent.cassette import (
    INPUT_PARTS,
    Cassette,
    changed,
    input_fingerprint,
    replay_model,
)
from jitplan.agent.commands._regress_run import check_planning, run_cycle_for
from jitplan.contracts.errors import UserError
from jitplan.contracts.suite import PlanningCase, SimulationCase, Suite

if TYPE_CHECKING:
    from jitplan.agent.cassette_server import CassetteServer, Upstream


def is_recorded(case: PlanningCase | SimulationCase) -> bool:
    """Whether ``case`` is a planning case replaying a recording."""
    return isinstance(case, PlanningCase) and case.planner.startswith("recorded:")


def _file(case: PlanningCase) -> Path:
    return Path(case.planner.removeprefix("recorded:"))


def _hint(suite: Suite, case: str, model: str) -> str:
    return f"re-record it: jitplan regress {suite.source} --record --model {model} -k {case}"


def load_cassettes(suite: Suite, cases: list[PlanningCase]) -> dict[str, Cassette]:
    """The cassette of each recorded case; a missing or malformed one is a ``UserError``."""
    index = {c.name: i for i, c in enumerate(suite.cases)}
    out: dict[str, Cassette] = {}
    for case in cases:
        path = _file(case)
        if not path.is_file():
            raise UserError(f"no recording for case {case.name!r} at {path}; record it with: jitplan regress "
                            f"{suite.source} --record --model MODEL -k {case.name}",
                            source=suite.source, field=f"cases[{index[case.name]}].planner")
        cas = Cassette.load(path)
        if cas.case != case.name:
            raise UserError(f"the recording is for case {cas.case!r}, not {case.name!r}", source=str(path),
                            field="case")
        out[case.name] = cas
    return out


class Replayer:
    """Runs recorded cases against their cassettes (a ``_regress_run.Replay``)."""

    def __init__(self, suite: Suite, cassettes: dict[str, Cassette], server: CassetteServer) -> None:
        self.suite, self.cassettes, self.server = suite, cassettes, server

    def __call__(self, case: PlanningCase) -> tuple[list[str], dict[str, Any]]:
        cas = self.cassettes[case.name]
        where = f"recording {_file(case).name} of case {case.name}"
        observed: dict[str, Any] = {"recording": str(_file(case)), "recorded_model": cas.model}
        diffs = changed({p: cas.fingerprint[p] for p in INPUT_PARTS}, input_fingerprint(case))
        if diffs:  # do not run: the answers belong to other inputs
            return [f"{where} is stale: {d}" for d in diffs] + [_hint(self.suite, case.name, cas.model)], observed
        with self.server.session(cassette=cas) as sess:
            result = run_cycle_for(case, cas.replay_model)
        bad, seen = check_planning(case, result)
        problems = [f"{where} is stale: {p}" for p in sess.problems]
        if not sess.stale and sess.unused:
            problems.append(f"{where}: {sess.unused} of {len(cas.exchanges)} recorded model answers were "
                            "never requested (the conversation ended early)")
        if not problems and result.planner != f"llm:{cas.replay_model}":
            problems.append(f"{where}: the cycle fell back to the {result.planner} planner")
        if problems:
            problems.append(_hint(self.suite, case.name, cas.model))
        return problems + bad, {**seen, **observed, "model_calls": len(sess.requests)}


class Recorder:
    """Runs recorded cases against a real model and writes their cassettes."""

    def __init__(self, suite: Suite, upstream: Upstream, server: CassetteServer, note: str = "") -> None:
        self.suite, self.upstream, self.server, self.note = suite, upstream, server, note

    def __call__(self, case: PlanningCase) -> tuple[list[str], dict[str, Any]]:
        import jitplan

        model = replay_model(self.upstream.model)
        inputs = input_fingerprint(case)
        with self.server.session(upstream=self.upstream) as sess:
            result = run_cycle_for(case, model)
        bad, seen = check_planning(case, result)
        if sess.problems or not sess.responses:
            why = "; ".join(sess.problems) or "the planner made no model call"
            return [f"not recorded: {why}", *bad], seen
        base = self.upstream.api_base or "(the provider's default)"
        cas = Cassette(
            case=case.name, suite=self.suite.name, model=self.upstream.model, replay_model=model,
            recorded_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            recorded_with={"jitplan": jitplan.__version__, "api_base": base.split("@")[-1].split("?")[0]},
            note=self.note, fingerprint={**inputs, **sess.prompt}, requests=tuple(sess.requests),
            exchanges=tuple({"response": r} for r in sess.responses),  # type: ignore[misc]
        )
        path = cas.save(_file(case))
        return bad, {**seen, "recording": str(path), "model_calls": len(sess.responses)}
