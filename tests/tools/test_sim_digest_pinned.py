"""Pinned digests: speed-ups of the simulate node must not change a single byte of its results.

The digests were taken from the code before the per-tick percentile and chunk-folding changes
(issue 18); a change to the simulator's numbers must update them deliberately.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from jitplan import simulator
from jitplan.agent.planners.steps import slo_tolerances
from jitplan.contracts.catalog import Catalog
from jitplan.contracts.evidence import load_evidence
from jitplan.contracts.plan import Plan
from jitplan.contracts.signals import ContractSet, SignalSnapshot
from jitplan.tools.evidence import index_evidence
from jitplan.tools.plan_simulation import simulate_plan
from jitplan.tools.signal_check import check_signals

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def test_simulate_plan_result_is_pinned() -> None:
    cat = Catalog.from_file(WORLD / "catalog.yaml")
    con = ContractSet.from_file(WORLD / "contracts.yaml")
    statuses = check_signals(SignalSnapshot.from_file(WORLD / "signals" / "demand-rise.yaml"), con, cat)
    spec = cat.get("answer-synthesizer")
    assert spec is not None
    steps = [{"id": f"s{i}", "action": "canary", "feature": spec.id, "version": spec.version,
              "params": {"weight": w}, "depends_on": [f"s{i - 1}"] if i > 1 else [],
              "tolerances": slo_tolerances(spec),
              "compensation": {"id": f"s{i}-undo", "action": "rollback", "feature": spec.id, "params": {}}}
             for i, w in enumerate([5, 25, 50, 100], 1)]
    plan = Plan.model_validate({"id": "p", "goal": "g", "steps": steps})
    res = simulate_plan(plan, cat, statuses, replications=4,
                        evidence=index_evidence(cat, load_evidence([WORLD / "evidence"])))
    assert len(res["scenarios"]) == 3 and res["replications"] == 4
    res.pop("provenance")  # its age_s follows the wall clock
    assert _sha(json.dumps(res, sort_keys=True)) == PLAN_DIGEST


def test_simulation_json_and_series_are_pinned() -> None:
    res = simulator.run(ROOT / "scenarios" / "sim" / "provider_outage_canary.yaml", replications=2)
    _, rows = res.series()
    assert _sha(res.to_json()) == SIM_JSON_DIGEST
    assert rows.shape[0] > 100 and not np.isnan(rows[:, 5]).all()  # p95 per tick
    assert _sha(np.ascontiguousarray(rows).tobytes()) == SERIES_DIGEST


PLAN_DIGEST = "2a4c13d860f38dd1a4883025ea3be03071b403061e418fb3eba6532605194b52"
SIM_JSON_DIGEST = "ab497e4eefb35dfc822de692572e6529dd259e302d202c95dc4b834fef14dd09"
SERIES_DIGEST = "fd3dcf3301d577cf5c98f5f6c0992dc851d632187323c42995aaf38e6147e3be"
