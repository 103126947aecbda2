"""DeploymentState <-> flagd flag definitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jitplan.contracts.errors import UserError
from jitplan.contracts.state import DeploymentState, FeatureState


def test_sample_flags_file_reads(world: Path) -> None:
    state = DeploymentState.from_flagd(json.loads((world / "flags.json").read_text()))
    assert state.get("ticket-summarizer").version == "1.1.0"
    assert not state.get("answer-synthesizer").enabled
    assert state.is_active("kb-retriever", "2.1.0")
    assert not state.is_active("refund-advisor")  # not in the file at all


def test_sample_flags_file_is_in_canonical_form(world: Path) -> None:
    raw = (world / "flags.json").read_text()
    state = DeploymentState.from_flagd(json.loads(raw))
    assert json.dumps(state.to_flagd(), indent=2, sort_keys=True) + "\n" == raw


@pytest.mark.parametrize("weight", [0.5, 5, 25, 50, 99.9, 100])
def test_canary_round_trip(weight: float) -> None:
    s = DeploymentState(features={"a": FeatureState(version="1.0.0", known_versions=["1.0.0", "1.1.0"],
                                                    canary_version="1.1.0", canary_weight=weight)})
    back = DeploymentState.from_flagd(s.to_flagd())
    assert back == s
    assert back.is_active("a", "1.1.0")


def test_shadow_budget_pin_round_trip() -> None:
    s = DeploymentState(features={"a": FeatureState(version="1.0.0", known_versions=["1.0.0", "2.0.0"],
                                                    shadow_version="2.0.0", budget_usd_per_day=12.5, pinned=True)})
    assert DeploymentState.from_flagd(s.to_flagd()) == s


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({}, "flags"),
        ({"flags": {"a": 3}}, "flags.a"),
        ({"flags": {"a": {"variants": {}}}}, "flags.a.variants"),
        ({"flags": {"a": {"variants": {"off": "off"}, "defaultVariant": "9.9.9"}}}, "flags.a.defaultVariant"),
    ],
)
def test_malformed_flags_name_the_field(doc: dict[str, object], field: str) -> None:
    with pytest.raises(UserError) as info:
        DeploymentState.from_flagd(doc, source="flags.json")
    assert info.value.field == field and "flags.json" in str(info.value)
