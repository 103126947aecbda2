"""``jitplan plan`` on the demand rise with a dependency switched off (issue 11 reproduction).

The offline planner enables ``kb-retriever`` first, then canaries ``answer-synthesizer``. Before
the fix the simulator judged the enable on "observed None" (no traffic reached the new
version), so this dependencies-first plan failed its own simulation and was rejected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"


def test_dependencies_first_plan_passes_its_own_simulation(cli: Any, tmp_path: Path) -> None:
    flags = json.loads((WORLD / "flags.json").read_text())
    flags["flags"]["kb-retriever"]["defaultVariant"] = "off"
    state = tmp_path / "flags.json"
    state.write_text(json.dumps(flags, indent=2))
    r = cli("plan", "--catalog", str(WORLD / "catalog.yaml"),
            "--signals", str(WORLD / "signals" / "demand-rise.yaml"),
            "--contracts", str(WORLD / "contracts.yaml"), "--state", str(state),
            "--policy", str(ROOT / "tools" / "policy_bundle"),
            "--evidence", str(WORLD / "evidence"), "--replications", "3", "--json")
    doc = json.loads(r.out)
    steps = [(s["action"], s["feature"]) for s in doc["plan"]["steps"]]
    assert steps[0] == ("enable", "kb-retriever") and ("canary", "answer-synthesizer") in steps
    assert doc["simulation"]["passed"] is True, doc["simulation"]["failures"]
    assert doc["decision"] == "approved" and r.code == 0, doc["reasons"]
