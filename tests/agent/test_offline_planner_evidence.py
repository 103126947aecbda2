"""The offline planner shadows a version the evidence does not prove, and canaries a proven one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jitplan.agent.planners.base import PlanningContext
from jitplan.agent.planners.offline import build_offline_plan
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.evidence import EvidenceSet, load_evidence
from jitplan.contracts.loading import load_document
from jitplan.contracts.state import DeploymentState
from jitplan.tools.evidence import index_evidence

WORLD = Path(__file__).resolve().parents[2] / "scenarios" / "world"
CAT = Catalog.from_file(WORLD / "catalog.yaml")
STATE = DeploymentState.from_flagd(load_document(WORLD / "flags.json"))
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def _plan(request: str, evidence: EvidenceSet | None) -> dict[str, object]:
    index = None if evidence is None else index_evidence(CAT, evidence, now=NOW)
    return build_offline_plan(PlanningContext(CAT, (), STATE, request=request, seed_id="t", evidence=index))


def _actions(plan: dict[str, object]) -> list[tuple[str, str]]:
    return [(s["action"], s["feature"]) for s in plan["steps"]]  # type: ignore[attr-defined, index]


def test_no_evidence_means_a_shadow_first_plan() -> None:
    plan = _plan("enable answer-synthesizer", EvidenceSet())
    assert _actions(plan) == [("shadow", "answer-synthesizer")]
    assert "shadow answer-synthesizer@1.0.0 to gather evidence" in str(plan["goal"])
    step = plan["steps"][0]  # type: ignore[index]
    assert step["compensation"]["action"] == "rollback"


def test_evidence_turns_it_into_a_staged_canary() -> None:
    plan = _plan("enable answer-synthesizer", load_evidence([WORLD / "evidence"]))
    assert [a for a, _ in _actions(plan)] == ["canary", "canary", "canary", "canary", "promote"]


def test_thin_evidence_is_not_enough() -> None:
    ev = load_evidence([WORLD / "evidence"])
    thin = EvidenceSet(tuple(r.model_copy(update={"requests": 40}) if r.feature == "answer-synthesizer" else r
                             for r in ev.records), ev.sources)
    assert _actions(_plan("enable answer-synthesizer", thin)) == [("shadow", "answer-synthesizer")]


def test_an_unproven_prompt_refresh_stops_at_its_shadow() -> None:
    ev = load_evidence([WORLD / "evidence"])
    without = EvidenceSet(tuple(r for r in ev.records if r.key != "ticket-summarizer@1.2.0"))
    assert _actions(_plan("refresh ticket-summarizer prompt", without)) == [("shadow", "ticket-summarizer")]
    full = [a for a, _ in _actions(_plan("refresh ticket-summarizer prompt", ev))]
    assert full[0] == "shadow" and full[-1] == "refresh_prompt" and "canary" in full


def test_library_callers_without_an_evidence_index_keep_the_old_rules() -> None:
    assert [a for a, _ in _actions(_plan("enable answer-synthesizer", None))][-1] == "promote"
