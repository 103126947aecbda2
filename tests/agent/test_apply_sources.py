"""``jitplan apply --sources`` in the default suite, against a scripted Prometheus API that
answers range queries with fresh canary and baseline points (the real server: make
test-prometheus): a healthy canary is applied, a regressed one compensated byte for byte, a
server gone mid-run leaves the stage inconclusive and paused."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
F = "ticket-summarizer"
PLAN = {"id": "plan-src-canary", "goal": "canary on live metrics", "steps": [
    {"id": "c5", "action": "canary", "feature": F, "version": "1.2.0", "params": {"weight": 5},
     "tolerances": [{"metric": "latency_p95_ms", "comparator": "<", "threshold": 2500}], "timeout_s": 3}]}


@pytest.fixture
def prom(json_api: Any) -> tuple[dict[str, Any], str]:
    """``state["canary_ms"]`` sets the canary's level; ``state["down"]`` answers 503."""
    state: dict[str, Any] = {"canary_ms": 800.0, "down": False}
    rng = random.Random(7)

    def answer(path: str, q: dict[str, str]) -> tuple[int, Any]:
        if state["down"]:
            return 503, {"status": "error", "errorType": "unavailable", "error": "shutting down"}
        level = state["canary_ms"] if 'cohort="canary"' in q["query"] else 800.0
        start, end, step = float(q["start"]), float(q["end"]), float(q["step"])
        # points every step up to 6 s past the query's end: fresh samples at once
        n = int((end + 6 - start) / step)
        pts = [[start + i * step, str(rng.gauss(level, 25))] for i in range(n)]
        return 200, {"status": "success", "data": {"resultType": "matrix",
                                                   "result": [{"metric": {}, "values": pts}]}}

    return state, json_api(answer)


@pytest.fixture
def ws(tmp_path: Path, world: Path, prom: tuple[dict[str, Any], str]) -> dict[str, Path]:
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.plan import Plan
    from jitplan.tools.audit import AuditLog
    from jitplan.tools.flags import FlagStore
    from jitplan.tools.policy import PolicyBundle

    flags = tmp_path / "flags.json"
    shutil.copyfile(world / "flags.json", flags)
    policy = tmp_path / "policies"
    shutil.copytree(ROOT / "tools" / "policy_bundle", policy)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    inputs = {"catalog_path": str(world / "catalog.yaml"), "catalog_sha256": Catalog.from_file(world / "catalog.yaml").digest(),
              "policy_dir": str(policy), "policy_sha256": PolicyBundle.load(policy).sha256,
              "state_path": str(flags), "state_sha256": FlagStore(flags).read().digest()}
    with AuditLog.open() as log:
        log.append("approval", {"plan_sha256": Plan.from_file(plan).digest(), "decision": "approved",
                                "by": "operator", "comment": "ok", "auto": False, "inputs": inputs}, thread_id="c-1")
    q = 'lat{feature="{{feature}}",cohort="{{cohort}}",version="{{version}}"}'
    sources = tmp_path / "sources.yaml"
    sources.write_text(json.dumps({"prometheus": {"url": prom[1], "timeout_s": 2}, "window_s": 60, "step_s": 1,
                                   "signals": [{"name": f"{F}.latency_p95.{c}", "kind": "latency", "feature": F,
                                                "unit": "ms", "cohort": c, "query": q}
                                               for c in ("canary", "baseline")]}))
    return {"flags": flags, "plan": plan, "sources": sources, "contracts": world / "contracts.yaml"}


def apply(cli: Any, ws: dict[str, Path]) -> tuple[int, dict[str, Any]]:
    r = cli("apply", ws["plan"], "--state", ws["flags"], "--sources", ws["sources"], "--contracts",
            ws["contracts"], "--poll", "0.2", "--json")
    return r.code, json.loads(r.out)


def test_healthy_canary_applied(cli: Any, ws: dict[str, Path]) -> None:
    code, doc = apply(cli, ws)
    assert code == 0 and doc["status"] == "applied", doc
    comp = doc["steps"][0]["gate"]["comparisons"][0]
    assert comp["canary_n"] >= 4 and comp["baseline_n"] >= 4


def test_regressed_canary_compensated_byte_for_byte(cli: Any, ws: dict[str, Path], prom: tuple[dict[str, Any], str]) -> None:
    prom[0]["canary_ms"] = 2000.0
    before = ws["flags"].read_bytes()
    code, doc = apply(cli, ws)
    assert code == 1 and doc["status"] == "compensated", doc
    assert doc["steps"][0]["gate"]["verdict"] == "fail"
    assert ws["flags"].read_bytes() == before


def test_server_down_mid_run_is_inconclusive_and_pauses(cli: Any, ws: dict[str, Path],
                                                        prom: tuple[dict[str, Any], str], monkeypatch: pytest.MonkeyPatch) -> None:
    from jitplan.tools.flags import FlagStore

    real_write = FlagStore.write

    def write_then_go_down(self: FlagStore, state: Any) -> None:  # the server fails once the canary is set
        real_write(self, state)
        prom[0]["down"] = True

    monkeypatch.setattr(FlagStore, "write", write_then_go_down)
    code, doc = apply(cli, ws)
    assert code == 1 and doc["status"] == "paused", doc
    gate = doc["steps"][0]["gate"]
    assert gate["verdict"] == "inconclusive"
    assert "signals unreadable" in gate["reason"] and "HTTP 503" in gate["reason"] and "shutting down" in gate["reason"]
