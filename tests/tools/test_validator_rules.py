"""Validator rules users rely on, each pinned so that a small change to the rule fails a test.

Issue 17 found these mutations of ``tools/validation_steps.py`` unnoticed by the suite:
a refresh to the version already serving accepted (``<=`` loosened to ``<``), the "a
compensation must not disable a serving feature" check dropped, canary monotonicity checked only
within the plan (not against a canary already running), and the observed per-request cost taken
as the ``min`` of its samples instead of the ``max``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.signals import Signal, SignalStatus
from jitplan.contracts.state import DeploymentState, FeatureState
from jitplan.tools.validator import validate

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
ERR = {"metric": "error_rate", "comparator": "<=", "threshold": 0.01}
NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_file(WORLD / "catalog.yaml")


@pytest.fixture(scope="module")
def state() -> DeploymentState:
    """The sample world: ticket-summarizer serves 1.1.0, tone-rewriter 1.0.0."""
    st = DeploymentState.from_flagd(json.loads((WORLD / "flags.json").read_text()))
    assert st.get("ticket-summarizer").version == "1.1.0"
    assert st.get("tone-rewriter").version == "1.0.0"
    return st


def _plan(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"id": "p1", "goal": "test", "steps": list(steps)}


def _codes(report: Any) -> list[tuple[str, str | None]]:
    return [(v.code, v.step) for v in report.violations]


# ---- refresh_prompt must target a NEWER prompt version ------------------------------------


def _refresh(version: str) -> dict[str, Any]:
    return _plan({"id": "s1", "action": "refresh_prompt", "feature": "ticket-summarizer",
                  "version": version, "tolerances": [ERR],
                  "compensation": {"id": "u", "action": "pin_version",
                                   "feature": "ticket-summarizer", "version": "1.1.0"}})


def test_refresh_to_the_version_already_serving_is_rejected(catalog: Catalog,
                                                           state: DeploymentState) -> None:
    report = validate(_refresh("1.1.0"), catalog, [], state, None)
    assert _codes(report) == [("refresh_prompt_target", "s1")], report.feedback()
    assert ("refreshes ticket-summarizer to 1.1.0, which is not newer than the serving 1.1.0; "
            "newer prompt versions: 1.2.0") in report.violations[0].message


def test_refresh_to_the_next_version_is_accepted(catalog: Catalog, state: DeploymentState) -> None:
    # the boundary from the other side: one version newer passes
    assert validate(_refresh("1.2.0"), catalog, [], state, None).ok


# ---- a compensation must not switch off a feature that was serving ------------------------


@pytest.mark.parametrize("action", ["canary", "shadow"])
def test_a_compensation_that_disables_a_serving_feature_is_rejected(
    action: str, catalog: Catalog, state: DeploymentState
) -> None:
    s: dict[str, Any] = {"id": "s1", "action": action, "feature": "ticket-summarizer",
                         "version": "1.2.0", "tolerances": [ERR],
                         "compensation": {"id": "u", "action": "disable",
                                          "feature": "ticket-summarizer"}}
    if action == "canary":
        s["params"] = {"weight": 10}
    report = validate(_plan(s), catalog, [], state, None)
    assert _codes(report) == [("compensation_mismatch", "s1")], report.feedback()
    # the message names the rule and the fix (the planner revises from it)
    assert report.violations[0].message == (
        "step s1 compensation u disables ticket-summarizer, which was serving 1.1.0 before the "
        "step; use rollback")


def test_disable_as_compensation_is_fine_for_a_feature_that_was_off(
    catalog: Catalog, state: DeploymentState
) -> None:
    assert state.get("answer-synthesizer").version is None
    s = {"id": "s1", "action": "canary", "feature": "answer-synthesizer", "version": "1.0.0",
         "params": {"weight": 10}, "tolerances": [ERR],
         "compensation": {"id": "u", "action": "disable", "feature": "answer-synthesizer"}}
    assert validate(_plan(s), catalog, [], state, None).ok


# ---- canary weights never decrease, counting the canary already running -----------------


def _running_canary(state: DeploymentState, weight: float) -> DeploymentState:
    fs = FeatureState(version="1.1.0", known_versions=["1.0.0", "1.1.0", "1.2.0"],
                      canary_version="1.2.0", canary_weight=weight)
    return state.with_feature("ticket-summarizer", fs)


def _canary(weight: float) -> dict[str, Any]:
    return _plan({"id": "s1", "action": "canary", "feature": "ticket-summarizer",
                  "version": "1.2.0", "params": {"weight": weight}, "tolerances": [ERR],
                  "compensation": {"id": "u", "action": "rollback", "feature": "ticket-summarizer"}})


def test_lowering_a_running_canary_is_rejected(catalog: Catalog, state: DeploymentState) -> None:
    running = _running_canary(state, 25)
    report = validate(_canary(5), catalog, [], running, None)
    assert _codes(report) == [("canary_weight_decreasing", "s1")], report.feedback()
    assert "canary weight 5 for ticket-summarizer is lower than the previous 25" in (
        report.violations[0].message)
    # raising it (or holding it) is fine
    assert validate(_canary(50), catalog, [], running, None).ok
    assert validate(_canary(25), catalog, [], running, None).ok


def test_lowering_a_running_canary_is_rejected_by_the_cli(
    cli: Any, tmp_path: Path, catalog: Catalog, state: DeploymentState
) -> None:
    """End to end: the running canary comes from the user's flags file (flagd fractional)."""
    flags = tmp_path / "flags.json"
    flags.write_text(json.dumps(_running_canary(state, 25).to_flagd()))
    doc = json.loads(flags.read_text())
    assert doc["flags"]["ticket-summarizer"]["targeting"] == {
        "fractional": [["1.1.0", 750], ["1.2.0", 250]]}
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(_canary(5)))
    r = cli("validate", plan_file, "--catalog", WORLD / "catalog.yaml", "--state", flags,
            "--no-policy", "--json")
    assert r.code == 1, r.out + r.err
    out = json.loads(r.out)
    assert [(v["code"], v["step"]) for v in out["violations"]] == [("canary_weight_decreasing", "s1")]
    plan_file.write_text(json.dumps(_canary(50)))
    r = cli("validate", plan_file, "--catalog", WORLD / "catalog.yaml", "--state", flags,
            "--no-policy", "--json")
    assert r.code == 0, r.out + r.err


# ---- the observed per-request cost is the worst (max) of its samples ----------------------


def _cost(value: float, name: str) -> SignalStatus:
    return SignalStatus(signal=Signal(name=name, kind="cost", feature="tone-rewriter", value=value,
                                      unit="usd_per_request", observed_at=NOW), ok=True)


def _demand(rpm: float) -> SignalStatus:
    return SignalStatus(signal=Signal(name="tone-rewriter.demand", kind="demand",
                                      feature="tone-rewriter", value=rpm, unit="rpm",
                                      observed_at=NOW, lineage=["gw"]), ok=True)


def test_the_worst_observed_per_request_cost_counts(catalog: Catalog, state: DeploymentState) -> None:
    spec = catalog.get("tone-rewriter", "1.0.0")
    assert spec is not None and spec.cost.per_request_usd == 0.0002
    doc = _plan({"id": "s1", "action": "pin_version", "feature": "tone-rewriter", "version": "1.0.0",
                 "tolerances": [ERR],
                 "compensation": {"id": "u", "action": "rollback", "feature": "tone-rewriter"}})
    cheap, dear = _cost(0.0001, "tone-rewriter.cost.eu"), _cost(0.0004, "tone-rewriter.cost.us")
    # either sample alone: the cheap one fits the 0.0002 envelope, the dear one breaks it
    assert validate(doc, catalog, [cheap, _demand(1)], state, None).ok
    for samples in ([cheap, dear], [dear, cheap]):
        report = validate(doc, catalog, [*samples, _demand(1)], state, None)
        assert _codes(report) == [("over_budget", "s1")], report.feedback()
        # 1 rpm x 1440 min x 0.0004 USD = 0.576 USD/day: the max sample, not the min
        assert "projected 0.58 USD/day" in report.violations[0].message
        assert "per request 0.0004 USD against 0.0002 USD" in report.violations[0].message
