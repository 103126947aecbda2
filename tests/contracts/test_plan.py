"""The Plan contract rejects out-of-shape input at the boundary."""

from __future__ import annotations

from pathlib import Path

import pytest

from jitplan.contracts.errors import InputError, UserError
from jitplan.contracts.plan import MAX_PLAN_STEPS, Plan


def plan_doc(**step: object) -> dict[str, object]:
    return {"id": "p1", "goal": "g", "steps": [{"id": "s1", "action": "canary", "feature": "a", **step}]}


def test_round_trip_and_digest_are_stable() -> None:
    p = Plan.from_data(plan_doc(version="1.0.0", params={"weight": 5},
                                tolerances=[{"metric": "error_rate", "comparator": "<=", "threshold": 0.01}]))
    again = Plan.model_validate_json(p.canonical_json())
    assert again == p and again.digest() == p.digest()
    assert p.steps[0].weight == 5.0 and p.steps[0].mutating


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ({"action": "launch_missiles"}, "steps[0].action"),
        ({"feature": "../etc"}, "steps[0].feature"),
        ({"surprise": 1}, "steps[0].surprise"),
        ({"timeout_s": -1}, "steps[0].timeout_s"),
        ({"tolerances": [{"metric": "x", "comparator": "==", "threshold": 1}]}, "steps[0].tolerances[0].comparator"),
    ],
)
def test_schema_errors_name_the_field(step: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as info:
        Plan.from_data(plan_doc(**step), source="plan.json")
    assert any(p.field == field for p in info.value.problems), info.value.problems


def test_step_cap() -> None:
    doc = {"id": "p", "goal": "g", "steps": [{"id": f"s{i}", "action": "noop"} for i in range(MAX_PLAN_STEPS + 1)]}
    with pytest.raises(InputError) as info:
        Plan.from_data(doc)
    assert info.value.problems[0].field == "steps"


def test_from_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text('{"id": "p", "goal": ')
    with pytest.raises(UserError) as info:
        Plan.from_file(bad)
    assert "malformed JSON" in str(info.value) and str(bad) in str(info.value)
