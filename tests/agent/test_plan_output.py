"""Reading the text output (issues 11 and 16): simulation failures explained, ``contained`` in its
own column, escalation reasons once each with their sources, and a noop never "passes" a
simulation it did not run."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from jitplan.agent.commands.plan import render
from jitplan.contracts.agent import CycleResult

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
POLICY = ROOT / "tools" / "policy_bundle"


def _text(result: CycleResult) -> str:
    out = io.StringIO()
    render(result, out=out)
    return out.getvalue()


def _world(signals: str, *extra: str) -> list[str]:
    return ["plan", "--catalog", str(WORLD / "catalog.yaml"), "--signals", str(WORLD / "signals" / f"{signals}.yaml"),
            "--contracts", str(WORLD / "contracts.yaml"), "--state", str(WORLD / "flags.json"),
            "--policy", str(POLICY), "--as", "operator", "--region", "eu", "--replications", "2", *extra]


FAILED_SIM = {
    "passed": False, "replications": 3,
    "failures": ["kb-retriever in scenario baseline: gates held in 33% of 3 replications (need 90%); "
                 "breached: s1 latency_p95_ms <= 300 (observed 412)"],
    "scenarios": {
        "kb-retriever:baseline": {"ok": False, "pass_rate": 1 / 3, "latency_p95_s": 0.41, "error_rate": 0.0,
                                  "quality_mean": 0.9, "cost_usd": 1.0, "rolled_back": False},
        "kb-retriever:provider_outage": {"ok": True, "contained": True, "pass_rate": 0.0, "latency_p95_s": 0.01,
                                         "error_rate": 0.3, "quality_mean": 0.9, "cost_usd": 0.1,
                                         "rolled_back": True},
    },
}


def test_simulation_failures_are_printed_and_contained_is_its_own_column() -> None:
    res = CycleResult(thread_id="cycle-x", decision="rejected", plan={"id": "p", "goal": "g", "steps": []},
                      validation={"ok": True, "violations": []}, simulation=FAILED_SIM,
                      reasons=["rejected: simulation failed"])
    text = _text(res)
    header = next(line for line in text.splitlines() if "scenario" in line and "gates held" in line)
    assert "contained" in header and " ok " not in header
    outage = next(line for line in text.splitlines() if "provider_outage" in line)
    assert "0%" in outage and "yes" in outage  # gates held 0%, but contained: yes (rolled back)
    baseline = next(line for line in text.splitlines() if "kb-retriever:baseline" in line)
    assert "failed" in baseline and "33%" in baseline and "n/a" in baseline
    assert "failed: kb-retriever in scenario baseline: gates held in 33%" in text
    assert "latency_p95_ms <= 300 (observed 412)" in text


def test_escalation_reasons_print_once_with_their_sources(cli: Any) -> None:
    shop = ROOT / "tests" / "fixtures" / "shop"
    r = cli("plan", "--catalog", shop / "catalog.yaml", "--signals", shop / "signals.yaml",
            "--contracts", shop / "contracts.yaml", "--state", shop / "flags.json", "--policy", POLICY,
            "--as", "operator", "--region", "eu", "--replications", "2", "--request", "enable refund-bot")
    assert r.code == 0 and "decision escalated" in r.out, r.out + r.err
    human = [line for line in r.out.splitlines() if "needs a human" in line]
    high = [line for line in human if "is high risk" in line]
    assert len(high) == 1, human  # was three times: plan / policy / validator
    assert "plan, policy, validator: refund-bot@1.0.0 is high risk" in high[0]
    approval = [line for line in human if "human approval" in line]
    assert len(approval) == 1 and "plan, policy, validator:" in approval[0]


def test_merge_reasons_keeps_distinct_claims_and_the_longer_wording() -> None:
    from jitplan.agent.reasons import merge_reasons

    merged = merge_reasons([
        "plan: a@1 is high risk", "policy: a@1 is high risk: a human must approve",
        "validator: a@1 is high risk: a human must approve", "validator: b@2 is critical risk",
        "plan: a@1 is high", "step s1 asks for a human: over budget", "step s1 asks for a human: over budget",
    ])
    assert merged == [
        "plan, policy, validator: a@1 is high risk: a human must approve",
        "plan: a@1 is high",  # not the same claim: no ": " or " (" elaboration
        "step s1 asks for a human: over budget",
        "validator: b@2 is critical risk",
    ]


def test_a_noop_never_prints_simulation_passed(cli: Any) -> None:
    r = cli(*_world("steady"))  # fast path: nothing actionable
    assert r.code == 0 and "decision noop" in r.out
    assert "simulation passed" not in r.out and "simulation not run" in r.out
    assert "validation not run" in r.out
    r = cli(*_world("steady", "--request", "enable translation-adapter"))  # already serves: a noop plan
    assert r.code == 0 and "decision noop" in r.out
    assert "simulation passed" not in r.out and "simulation not run" in r.out


def test_each_simulated_version_says_where_its_behaviour_came_from() -> None:
    sim = {**FAILED_SIM, "provenance": {
        "kb-retriever@1.1.0": {"source": "shadow", "requests": 1200, "age_s": 7200.0},
        "kb-retriever@1.2.0": "nominal"}}
    res = CycleResult(thread_id="cycle-x", decision="rejected", plan={"id": "p", "goal": "g", "steps": []},
                      validation={"ok": True, "violations": []}, simulation=sim,
                      reasons=["rejected: simulation failed"])
    text = _text(res)
    assert "evidence kb-retriever@1.1.0: shadow, 1200 requests, 2.0 h old" in text
    assert "evidence kb-retriever@1.2.0: no evidence: nominal catalog profile, unproven" in text
