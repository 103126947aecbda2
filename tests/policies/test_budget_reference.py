"""The default bundle's budget rule against a plain-Python reference, on seeded random inputs.

rego-cpp compares numbers inside max/min/sort as text (max([1e-05, 0.001]) is 1e-05), which made
the first bundle under-project costs; this pins the rule to ordinary arithmetic.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.catalog import Catalog
from jitplan.tools.policy import PolicyBundle, evaluate_policy

ROOT = Path(__file__).resolve().parents[2]
ACTIVATING = ("enable", "canary", "promote", "shadow", "pin_version", "refresh_prompt")


@pytest.fixture(scope="module")
def specs() -> list[dict[str, Any]]:
    catalog = Catalog.from_file(ROOT / "scenarios" / "world" / "catalog.yaml")
    return [f.model_dump(mode="json") for f in catalog.features]


def random_input(rng: random.Random, specs: list[dict[str, Any]]) -> dict[str, Any]:
    features = rng.sample(specs, rng.randint(1, 5))
    ids = [f["id"] for f in features]
    steps = []
    for i in range(rng.randint(0, 8)):
        fid = rng.choice(ids)
        versions = [s["version"] for s in specs if s["id"] == fid]
        step: dict[str, Any] = {"id": f"s{i}", "action": rng.choice((*ACTIVATING, "disable")),
                                "feature": fid, "version": rng.choice([*versions, None]),
                                "params": {}, "depends_on": []}
        if step["action"] == "canary":
            step["params"]["weight"] = rng.choice([0, 5, 50, 99, 100, 150])
        steps.append(step)
    signals = [
        {"name": f"{fid}.{kind}{n}", "kind": kind, "feature": fid, "value": rng.choice(values),
         "quarantined": rng.random() < 0.2, "reasons": []}
        for fid in ids
        for kind, values in (("demand", [1, 20, 40, 400, 10000]), ("cost", [1e-05, 0.0001, 0.001, 0.01]))
        for n in range(rng.choice([0, 1, 1, 2]))
    ]
    return {"request": {"role": "operator", "region": "eu", "purpose": ""}, "features": features,
            "signals": signals, "state": None,
            "plan": {"id": "p", "goal": "g", "planner": "t", "trigger": [], "steps": steps}
            if rng.random() < 0.8 else None}


def over_budget(doc: dict[str, Any]) -> set[str]:
    """Spec keys whose projected daily cost exceeds the budget, in plain Python."""
    demand: dict[str, float] = {}
    cost: dict[str, float] = {}
    for s in doc["signals"]:
        if not s["quarantined"]:
            seen = demand if s["kind"] == "demand" else cost
            seen[s["feature"]] = max(seen.get(s["feature"], s["value"]), s["value"])
    listed = {f"{f['id']}@{f['version']}": f for f in doc["features"]}
    steps = doc["plan"]["steps"] if doc["plan"] else [
        {"action": "enable", "feature": f["id"], "version": f["version"], "params": {}}
        for f in doc["features"]]
    out = set()
    for s in steps:
        if s["action"] not in ACTIVATING:
            continue
        keys = ([f"{s['feature']}@{s['version']}"] if isinstance(s["version"], str)
                else [k for k, f in listed.items() if f["id"] == s["feature"]])
        weight = s["params"].get("weight")
        share = min(weight, 100) / 100 if s["action"] == "canary" and weight is not None else 1
        for key in keys:
            spec = listed.get(key)
            if spec is None or spec["id"] not in demand:
                continue
            per_request = max(spec["cost"]["per_request_usd"], cost.get(spec["id"], 0))
            if demand[spec["id"]] * 1440 * per_request * share > spec["cost"]["daily_budget_usd"]:
                out.add(key)
    return out


def test_budget_denials_match_plain_arithmetic(specs: list[dict[str, Any]]) -> None:
    bundle = PolicyBundle.load(ROOT / "tools" / "policy_bundle")
    rng = random.Random(20261126)
    for _ in range(150):
        doc = random_input(rng, specs)
        decision = evaluate_policy(bundle, doc)
        assert decision.error is None, decision.error
        got = {m.split(" projected")[0] for m in decision.deny if "projected daily cost" in m}
        assert got == over_budget(doc), doc
