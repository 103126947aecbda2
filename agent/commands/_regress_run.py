"""Running and reporting the cases of a regression suite (``jitplan regress``)."""

from __future__ import annotations

__all__ = ["CaseOutcome", "Replay", "check_metric_names", "check_planning", "run_case", "run_cycle_for", "select",
           "table", "to_junit"]

import fnmatch
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from jitplan.contracts.errors import UserError
from jitplan.contracts.suite import PlanningCase, SimulationCase, Suite

Status = Literal["pass", "fail", "error"]
Replay = Callable[[PlanningCase], tuple[list[str], dict[str, Any]]]
"""Runs one recorded planning case: unmet expectations and what was observed."""


@dataclass(frozen=True)
class CaseOutcome:
    """One case's result: ``failures`` lists every unmet expectation (or the error)."""

    name: str
    kind: str
    status: Status
    seconds: float
    failures: tuple[str, ...] = ()
    observed: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "status": self.status,
                "seconds": round(self.seconds, 3), "failures": list(self.failures),
                "observed": self.observed}


def check_metric_names(suite: Suite) -> None:
    """Every simulation expectation names a simulator metric (else a user error naming the field)."""
    from jitplan.simulator.result import METRIC_NAMES

    for i, case in enumerate(suite.cases):
        if isinstance(case, SimulationCase):
            for j, m in enumerate(case.expect.metrics):
                if m.metric not in METRIC_NAMES:
                    raise UserError(f"unknown metric {m.metric!r}, expected one of {', '.join(METRIC_NAMES)}",
                                    source=suite.source, field=f"cases[{i}].expect.metrics[{j}]")


def select(suite: Suite, pattern: str | None) -> list[PlanningCase | SimulationCase]:
    """The cases whose name contains ``pattern`` or matches it as a glob (all without one)."""
    if not pattern:
        return list(suite.cases)
    return [c for c in suite.cases if pattern in c.name or fnmatch.fnmatchcase(c.name, pattern)]


def _actions(plan: dict[str, Any] | None) -> list[str]:
    steps = (plan or {}).get("steps", [])
    return [f"{s['action']}:{s['feature']}" if s.get("feature") else str(s["action"]) for s in steps]


def check_planning(case: PlanningCase, result: Any) -> tuple[list[str], dict[str, Any]]:
    """Unmet expectations of one cycle result (a ``CycleResult``) and what was observed."""
    exp = case.expect
    actions = _actions(result.plan)
    tokens = set(actions) | {a.split(":", 1)[0] for a in actions}
    touched = sorted({a.split(":", 1)[1] for a in actions if ":" in a and not a.startswith("noop:")})
    sim = result.simulation or {}
    costs = [float(s.get("cost_usd", 0.0)) for s in (sim.get("scenarios") or {}).values()]
    codes = sorted({v["code"] for v in (result.validation or {}).get("violations", [])})
    observed: dict[str, Any] = {
        "decision": result.decision, "actions": actions, "features_touched": touched,
        "simulation_verdict": sim.get("verdict"), "violation_codes": codes,
        "max_projected_cost_usd": max(costs) if costs else 0.0, "planner": result.planner,
    }
    shown = ", ".join(actions) or "no steps"
    bad: list[str] = []
    if exp.decision is not None and result.decision != exp.decision:
        why = "; ".join(result.reasons[:2])
        bad.append(f"decision: expected {exp.decision}, got {result.decision}" + (f" ({why})" if why else ""))
    for a in exp.actions_include:
        if a not in tokens:
            bad.append(f"actions_include: expected {a} in the plan, got [{shown}]")
    for a in exp.actions_exclude:
        if a in tokens:
            bad.append(f"actions_exclude: {a} must not appear, got [{shown}]")
    if exp.features_touched is not None and sorted(set(exp.features_touched)) != touched:
        bad.append(f"features_touched: expected {sorted(set(exp.features_touched))}, got {touched}")
    if exp.max_projected_cost_usd is not None and observed["max_projected_cost_usd"] > exp.max_projected_cost_usd:
        bad.append(f"max_projected_cost_usd: expected <= {exp.max_projected_cost_usd:g}, "
                   f"got {observed['max_projected_cost_usd']:g}")
    if exp.simulation_verdict is not None and sim.get("verdict") != exp.simulation_verdict:
        bad.append(f"simulation_verdict: expected {exp.simulation_verdict}, got {sim.get('verdict')}")
    if exp.violation_codes is not None and sorted(set(exp.violation_codes)) != codes:
        bad.append(f"violation_codes: expected {sorted(set(exp.violation_codes))}, got {codes}")
    return bad, observed


def run_cycle_for(case: PlanningCase, model: str | None) -> Any:
    """One planning cycle of ``case`` with the planner ``model`` (None: offline), cache off."""
    from jitplan.agent.runtime import new_thread_id, run_cycle
    from jitplan.contracts.agent import PlanRequest

    req = PlanRequest(
        catalog=case.catalog, signals=case.signals, contracts=case.contracts, state=case.state,
        policy=case.policy, evidence=case.evidence, request=case.request, role=case.role,
        region=case.region, model=model,
        replications=case.replications, max_revisions=case.max_revisions, now=case.now,
        max_llm_calls=case.max_llm_calls, max_tool_calls=case.max_tool_calls,
        use_cache=False,
    )
    return run_cycle(req, thread_id=new_thread_id())


def _run_planning(case: PlanningCase, replay: Replay | None) -> tuple[list[str], dict[str, Any]]:
    if case.planner.startswith("recorded:"):
        if replay is None:
            raise RuntimeError(f"case {case.name} is recorded, but no recording was loaded")
        return replay(case)
    return check_planning(case, run_cycle_for(case, None if case.planner == "offline" else case.planner))


def _run_simulation(case: SimulationCase) -> tuple[list[str], dict[str, Any]]:
    from jitplan.contracts.plan import Plan
    from jitplan.simulator import run

    plan = Plan.from_file(case.plan) if case.plan else None
    res = run(case.scenario, plan, replications=case.replications, seed=case.seed)
    metrics = res.metrics
    verdict = res.verdict
    status = None if verdict is None else verdict["status"]
    bad: list[str] = []
    for m in case.expect.metrics:
        if not m.holds(metrics[m.metric]):
            bad.append(f"{m.render()}: observed {metrics[m.metric]:.6g}")
    if case.expect.verdict is not None and status != case.expect.verdict:
        got = status or "none (no plan under test)"
        reasons = "; ".join((verdict or {}).get("reasons", [])[:2])
        bad.append(f"verdict: expected {case.expect.verdict}, got {got}" + (f" ({reasons})" if reasons else ""))
    observed = {"metrics": {m.metric: metrics[m.metric] for m in case.expect.metrics},
                "verdict": status, "replications": len(res.replications)}
    return bad, observed


def run_case(case: PlanningCase | SimulationCase, replay: Replay | None = None) -> CaseOutcome:
    """Run one case; an exception becomes an ``error`` outcome carrying its message. ``replay``
    runs the recorded planning cases (``_regress_recorded``)."""
    t0 = time.perf_counter()
    try:
        bad, observed = _run_planning(case, replay) if isinstance(case, PlanningCase) else _run_simulation(case)
    except Exception as exc:  # one broken case must not stop the suite
        return CaseOutcome(case.name, case.kind, "error", time.perf_counter() - t0,
                           (f"{type(exc).__name__}: {exc}",))
    status: Status = "fail" if bad else "pass"
    return CaseOutcome(case.name, case.kind, status, time.perf_counter() - t0, tuple(bad), observed)


def table(outcomes: list[CaseOutcome]) -> str:
    """A plain-text table: case, kind, result, seconds, first unmet expectation."""
    rows = [("case", "kind", "result", "time", "detail")]
    rows += [(o.name, o.kind, o.status.upper(), f"{o.seconds:.1f}s",
              (o.failures[0] + (f" (+{len(o.failures) - 1} more)" if len(o.failures) > 1 else ""))
              if o.failures else "") for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows).rstrip()


def to_junit(suite_name: str, outcomes: list[CaseOutcome]) -> ET.ElementTree:
    """JUnit XML: one ``testcase`` per case; unmet expectations are the failure message."""
    failures = sum(o.status == "fail" for o in outcomes)
    errors = sum(o.status == "error" for o in outcomes)
    total = f"{sum(o.seconds for o in outcomes):.3f}"
    root = ET.Element("testsuites", name=suite_name, tests=str(len(outcomes)), failures=str(failures),
                      errors=str(errors), time=total)
    ts = ET.SubElement(root, "testsuite", name=suite_name, tests=str(len(outcomes)),
                       failures=str(failures), errors=str(errors), skipped="0", time=total)
    for o in outcomes:
        tc = ET.SubElement(ts, "testcase", name=o.name, classname=f"{suite_name}.{o.kind}",
                           time=f"{o.seconds:.3f}")
        if o.status != "pass":
            el = ET.SubElement(tc, "failure" if o.status == "fail" else "error",
                               message="; ".join(o.failures), type=o.status)
            el.text = "\n".join(o.failures)
    ET.indent(root)
    return ET.ElementTree(root)
