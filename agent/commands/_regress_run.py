"""Running and reporting the cases of a regression suite (``jitplan regress``)."""

from __future__ import annotations

__all__ = ["CaseOutcome", "Replay", "check_metric_names", "check_planning", "check_suite", "plan_request", "run_case",
           "run_cycle_for", "select", "table", "to_junit"]

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


def check_suite(suite: Suite) -> None:
    """A bad suite is a ``UserError`` (exit 2) before any case runs: every simulation expectation
    names a simulator metric, and every file a case references parses and passes its schema with
    the loaders the run uses (the error names the suite file, the case field and the file's own
    problem)."""
    from jitplan.simulator.result import METRIC_NAMES

    for i, case in enumerate(suite.cases):
        if isinstance(case, SimulationCase):
            for j, m in enumerate(case.expect.metrics):
                if m.metric not in METRIC_NAMES:
                    raise UserError(f"unknown metric {m.metric!r}, expected one of {', '.join(METRIC_NAMES)}",
                                    source=suite.source, field=f"cases[{i}].expect.metrics[{j}]")
            _check_simulation(suite, i, case)
        else:
            _check_planning_inputs(suite, i, case)


check_metric_names = check_suite
"""The former name of ``check_suite`` (it now checks the referenced files too)."""


def _referenced(suite: Suite, field: str, exc: UserError) -> UserError:
    """``exc`` (a referenced file's error) as one line naming the suite file and the case field."""
    problems = getattr(exc, "problems", None) or [exc]
    first = problems[0]
    src = str(getattr(first, "source", ""))
    where = ": ".join(x for x in (src if not src.startswith("-") else "", getattr(first, "field", "")) if x)
    detail = getattr(first, "detail", None) or getattr(first, "message", str(first))
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return UserError(f"{where}: {detail}{more}" if where else f"{detail}{more}", source=suite.source, field=field)


def _check_simulation(suite: Suite, i: int, case: SimulationCase) -> None:
    from jitplan.contracts.plan import Plan
    from jitplan.simulator import load_scenario
    from jitplan.simulator.arrivals import load_trace

    try:
        sc = load_scenario(case.scenario)
        if sc.traffic.arrival == "trace" and sc.traffic.path:
            load_trace(sc.traffic.path)
    except UserError as exc:
        raise _referenced(suite, f"cases[{i}].scenario", exc) from None
    try:
        plan = Plan.from_file(case.plan) if case.plan else None
    except UserError as exc:
        raise _referenced(suite, f"cases[{i}].plan", exc) from None
    if case.expect.verdict is not None and plan is None and sc.plan is None:
        raise UserError("a verdict needs a plan under test: give the case a plan (or use a scenario with one)",
                        source=suite.source, field=f"cases[{i}].expect.verdict")


def _planning_loaders() -> dict[str, Callable[[str], Any]]:
    """Each planning-case file field and the loader the run (``agent.nodes.common``) uses for it."""
    from jitplan.contracts.catalog import Catalog
    from jitplan.contracts.evidence import load_evidence
    from jitplan.contracts.loading import load_document
    from jitplan.contracts.signals import ContractSet, SignalSnapshot
    from jitplan.contracts.state import DeploymentState
    from jitplan.tools.policy import PolicyBundle

    return {"catalog": Catalog.from_file, "signals": SignalSnapshot.from_file, "contracts": ContractSet.from_file,
            "state": lambda p: DeploymentState.from_flagd(load_document(p), source=p),
            "policy": PolicyBundle.load, "evidence": lambda p: load_evidence((p,))}


def _check_planning_inputs(suite: Suite, i: int, case: PlanningCase) -> None:
    from jitplan.agent.nodes.common import load_inputs

    loaders = _planning_loaders()
    files = [(f"cases[{i}].{name}", name, getattr(case, name)) for name in ("catalog", "signals", "contracts",
                                                                             "state", "policy")]
    files += [(f"cases[{i}].evidence[{j}]", "evidence", ev) for j, ev in enumerate(case.evidence)]
    for where, name, value in files:
        if value:
            try:
                loaders[name](value)
            except UserError as exc:
                raise _referenced(suite, where, exc) from None
    if case.planner.startswith("scripted:"):
        from jitplan.agent.planners.scripted import load_script

        try:
            load_script(case.planner.removeprefix("scripted:"))
        except UserError as exc:
            raise _referenced(suite, f"cases[{i}].planner", exc) from None
    try:  # what only the files together can break (signals without contracts, ...)
        load_inputs(plan_request(case, None).model_dump(mode="json"))
    except UserError as exc:
        where = f"cases[{i}].contracts" if getattr(exc, "source", "") == "--contracts" else f"cases[{i}]"
        raise _referenced(suite, where, exc) from None


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

    return run_cycle(plan_request(case, model), thread_id=new_thread_id())


def plan_request(case: PlanningCase, model: str | None) -> Any:
    """The ``PlanRequest`` of one planning case (plan cache off)."""
    from jitplan.contracts.agent import PlanRequest

    return PlanRequest(
        catalog=case.catalog, signals=case.signals, contracts=case.contracts, state=case.state,
        policy=case.policy, evidence=case.evidence, request=case.request, role=case.role,
        region=case.region, model=model,
        replications=case.replications, max_revisions=case.max_revisions, now=case.now,
        max_llm_calls=case.max_llm_calls, max_tool_calls=case.max_tool_calls,
        use_cache=False,
    )


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
