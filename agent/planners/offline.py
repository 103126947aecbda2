"""The offline planner: deterministic rules, no model (the embedded default).

Rules, per feature (one action per feature; the most urgent finding wins):

- latency / error rate over SLO -> roll an in-flight canary back, else escalate to a human;
- cost over its envelope -> ``set_budget`` (up to ``COST_FALLBACK_RATIO`` x), beyond that fall
  back to the catalog fallback and disable the feature (or disable it when it has none);
- drift over ``triggers.drift_max`` -> ``refresh_prompt`` to the newest newer prompt version,
  via shadow then canary (escalate when there is no candidate);
- demand over ``triggers.demand_min_rpm`` for a feature that is off -> staged canary
  5 -> 25 -> 50 -> 100 then promote, dependencies enabled first; the rollout stops at the
  largest stage whose projected daily cost (demand x cost per request) fits the daily budget,
  and escalates when none does (a refresh that does not fit escalates too);
- quarantined signals -> no activation, reported in the notes;
- which rule a finding takes, and the order, come from its kind's registry entry
  (``contracts.signal_kinds``); a kind with no rule the planner knows escalates;
- nothing actionable -> a single ``noop`` step;
- a version without enough evidence (``ctx.evidence``; ``tools.evidence_matrix.is_proven``)
  is never exposed to users: instead of its canary (or enable, or prompt swap) the plan
  ``shadow``s it, which gathers evidence; a later cycle canaries it once the evidence exists.

Every mutating step carries SLO tolerances and a compensation restoring the previous state.
"""

from __future__ import annotations

__all__ = ["COST_FALLBACK_RATIO", "OfflinePlanner", "build_offline_plan"]

import functools
import hashlib
from typing import TYPE_CHECKING, Any

from jitplan.agent.planners.base import PlanDraft, PlanningContext
from jitplan.agent.planners.findings import Finding, serving_spec
from jitplan.agent.planners.requests import Intent, parse_request
from jitplan.agent.planners.steps import StepBuilder, slo_tolerances

if TYPE_CHECKING:
    from jitplan.contracts.catalog import Catalog, FeatureSpec
    from jitplan.contracts.state import DeploymentState
    from jitplan.tools.depgraph import DependencyGraph

COST_FALLBACK_RATIO = 2.0
"""Cost over this multiple of the envelope means fall back / disable instead of a budget cap."""

CANARY_STAGES = (5.0, 25.0, 50.0, 100.0)
REFRESH_STAGES = (10.0, 50.0)
_UNREGISTERED_PRIORITY = 1_000


def _priority(kind: str) -> int:
    """Planner order of a finding's kind, from its registry entry (``contracts.signal_kinds``)."""
    from jitplan.contracts.signal_kinds import get_kind

    spec = get_kind(kind)
    return spec.priority if spec is not None else _UNREGISTERED_PRIORITY


def _affordable_pct(spec: FeatureSpec, demand_rpm: float | None) -> float:
    """Largest traffic share (percent) whose projected daily cost fits the daily budget."""
    if not demand_rpm or spec.cost.per_request_usd <= 0:
        return 100.0
    full = demand_rpm * 1440.0 * spec.cost.per_request_usd
    return 100.0 if full <= spec.cost.daily_budget_usd else 100.0 * spec.cost.daily_budget_usd / full


class _Rules:
    def __init__(self, catalog: Catalog, state: DeploymentState,
                 demand: dict[str, float] | None = None, evidence: Any = None) -> None:
        self.catalog = catalog
        self.evidence = evidence
        self.state = state
        self.demand = demand or {}
        self.b = StepBuilder()
        self.goals: list[str] = []
        self.notes: list[str] = []
        self.handled: set[str] = set()
        self.enabled: dict[str, str] = {}  # feature -> step id that activates it in this plan

    @functools.cached_property
    def graph(self) -> DependencyGraph:
        from jitplan.tools.depgraph import DependencyGraph

        return DependencyGraph(self.catalog)

    # ---- helpers ---------------------------------------------------------------------------

    def _unproven(self, spec: FeatureSpec) -> bool:
        """No (or too little) evidence for ``spec``: it may be shadowed, not served."""
        if self.evidence is None:
            return False
        from jitplan.tools.evidence_matrix import is_proven

        return not is_proven(self.evidence.get(spec.key))

    def _shadow_first(self, spec: FeatureSpec, prev: str | None, after: list[str]) -> str:
        sid = self.b.add(
            "shadow", spec.id, spec.version,
            tolerances=slo_tolerances(spec), depends_on=after,
            compensation={"action": "rollback", "params": {"to_version": prev}},
            rationale=f"{spec.key} has no evidence yet: shadow it (no user sees it) to gather "
                      "evidence; a later cycle canaries it",
        )
        self.goals.append(f"shadow {spec.key} to gather evidence")
        return sid

    def _required(self, dep_id: str, chain: list[FeatureSpec]) -> FeatureSpec | None:
        ranges = [d for spec in chain for d in spec.depends_on if d.id == dep_id]
        ok = [v for v in self.catalog.versions(dep_id) if all(r.admits(v.version) for r in ranges)]
        return ok[-1] if ok else None

    def _prereqs(self, spec: FeatureSpec) -> list[str]:
        """Steps making every (transitive) dependency of ``spec`` serve an admitted version."""
        ids: list[str] = []
        chain = [spec]
        for dep_id in reversed(self.graph.dependencies(spec.id)):
            d = self.catalog.get(dep_id)
            if d is not None:
                chain.append(d)
        for dep_id in self.graph.dependencies(spec.id):
            if dep_id in self.enabled:
                ids.append(self.enabled[dep_id])
                continue
            need = self._required(dep_id, chain)
            if need is None:
                self.notes.append(f"{spec.id}: no catalog version of dependency {dep_id} fits its range")
                continue
            fs = self.state.get(dep_id)
            if fs.version and all(
                r.admits(fs.version) for s in chain for r in s.depends_on if r.id == dep_id
            ):
                continue
            if need.risk.tier != "low" or fs.version or self._unproven(need):
                # A version change, or anything but a low-risk feature, goes through a canary.
                sid = self._staged(need, fs.version, 100.0, list(ids),
                                   f"dependency of {spec.id}" + (f": {fs.version} is outside its range" if fs.version else ""))
            else:
                sid = self.b.add(
                    "enable", dep_id, need.version,
                    tolerances=slo_tolerances(need),
                    depends_on=list(ids),
                    compensation={"action": "disable", "params": {}},
                    rationale=f"dependency of {spec.id}, enabled first",
                )
            self.enabled[dep_id] = sid
            ids.append(sid)
        return ids

    # ---- rules -----------------------------------------------------------------------------

    def rollout(self, feature: str, weight: float = 100.0, version: str | None = None, why: str = "") -> None:
        spec = self.catalog.get(feature, version)
        if spec is None:
            self.notes.append(f"unknown feature {feature}{'@' + version if version else ''}: not in the catalog")
            return
        fs = self.state.get(feature)
        if fs.version == spec.version and (fs.canary_version in (None, spec.version)):
            self.notes.append(f"{spec.key} already serves: nothing to roll out")
            return
        cap = _affordable_pct(spec, self.demand.get(feature))
        if cap < weight:
            fitting = [w for w in CANARY_STAGES if w <= cap]
            rpm = self.demand.get(feature, 0.0)
            cost_note = (f"{spec.key} at {weight:g}% of {rpm:g} rpm would cost "
                         f"{rpm * 1440 * spec.cost.per_request_usd * weight / 100:.2f} USD/day, over its "
                         f"{spec.cost.daily_budget_usd:g} USD/day budget")
            if not fitting:
                self.b.add("escalate", feature, spec.version, params={"reason": cost_note},
                           rationale="even the smallest canary stage is over budget; a human decides")
                self.goals.append(f"escalate {feature}: over budget")
                return
            self.notes.append(f"{cost_note}: stopping the canary at {fitting[-1]:g}%")
            weight = fitting[-1]
        deps = self._prereqs(spec)
        if self._unproven(spec):
            self._shadow_first(spec, fs.version, deps)
            return
        self.enabled[feature] = self._staged(spec, fs.version, weight, deps, why)
        self.goals.append(f"roll out {spec.key} to {weight:g}%")

    def _staged(self, spec: FeatureSpec, prev: str | None, weight: float, after: list[str], why: str) -> str:
        """Canary stages up to ``weight`` (then promote at 100 %); returns the last step id.
        An unproven version gets one shadow step instead."""
        if self._unproven(spec):
            return self._shadow_first(spec, prev, after)
        sid = ""
        for w in [w for w in CANARY_STAGES if w < weight] + [weight]:
            sid = self.b.add(
                "canary", spec.id, spec.version,
                params={"weight": w},
                tolerances=slo_tolerances(spec),
                depends_on=after,
                compensation={"action": "rollback", "params": {"to_version": prev}},
                rationale=f"canary {spec.key} at {w:g}%" + (f": {why}" if why else ""),
            )
            after = [sid]
        if weight >= 100:
            sid = self.b.add(
                "promote", spec.id, spec.version,
                tolerances=slo_tolerances(spec),
                depends_on=after,
                compensation={"action": "rollback", "params": {"to_version": prev}},
                rationale=f"make {spec.key} the serving version",
            )
        return sid

    def refresh(self, feature: str, why: str = "") -> None:
        cur = serving_spec(self.catalog, self.state, feature)
        if cur is None:
            self.notes.append(f"unknown feature {feature}: not in the catalog")
            return
        newer = [v for v in self.catalog.versions(feature) if v.parsed_version > cur.parsed_version and v.prompt]
        if not newer:
            self.b.add("escalate", feature, cur.version, params={"reason": f"no newer prompt version of {feature} to refresh to"},
                       rationale=why or "refresh requested")
            self.goals.append(f"escalate {feature}: no candidate prompt")
            return
        new = newer[-1]
        prev = self.state.get(feature).version
        if _affordable_pct(new, self.demand.get(feature)) < 100.0:
            rpm = self.demand.get(feature, 0.0)
            reason = (f"refreshing {feature} to {new.version} would cost "
                      f"{rpm * 1440 * new.cost.per_request_usd:.2f} USD/day at {rpm:g} rpm, over its "
                      f"{new.cost.daily_budget_usd:g} USD/day budget")
            self.b.add("escalate", feature, new.version, params={"reason": reason},
                       rationale=why or "refresh requested")
            self.goals.append(f"escalate {feature}: refresh over budget")
            return
        if self._unproven(new):
            self._shadow_first(new, prev, [])
            return
        after: list[str] = [self.b.add(
            "shadow", feature, new.version,
            tolerances=slo_tolerances(new),
            compensation={"action": "rollback", "params": {"to_version": prev}},
            rationale=f"shadow {new.key} next to {prev}" + (f": {why}" if why else ""),
        )]
        for w in REFRESH_STAGES:
            after = [self.b.add(
                "canary", feature, new.version,
                params={"weight": w},
                tolerances=slo_tolerances(new),
                depends_on=after,
                compensation={"action": "rollback", "params": {"to_version": prev}},
                rationale=f"canary {new.key} at {w:g}%",
            )]
        self.b.add(
            "refresh_prompt", feature, new.version,
            tolerances=slo_tolerances(new),
            depends_on=after,
            compensation={"action": "rollback", "params": {"to_version": prev}},
            rationale=f"swap the prompt of {feature} to {new.version}",
        )
        self.goals.append(f"refresh the prompt of {feature} {prev} -> {new.version}")

    def cost(self, f: Finding) -> None:
        spec = serving_spec(self.catalog, self.state, f.feature)
        if spec is None:
            return
        fs = self.state.get(f.feature)
        ratio = f.value / f.threshold if f.threshold > 0 else float("inf")
        dependents = sorted(
            x for x in self.catalog.ids
            if x != f.feature and self.state.is_active(x) and f.feature in self.graph.dependencies(x)
        )
        if ratio <= COST_FALLBACK_RATIO or dependents:
            if dependents and ratio > COST_FALLBACK_RATIO:
                self.notes.append(f"{f.feature} is needed by {', '.join(dependents)}: capping its budget instead of disabling it")
            # The cap itself is enforced by the flag store; gates check it does not hurt the SLO.
            tol = [t for t in slo_tolerances(spec) if t["metric"] != "cost_per_request_usd"]
            self.b.add(
                "set_budget", f.feature, spec.version,
                params={"usd_per_day": spec.cost.daily_budget_usd},
                tolerances=tol,
                compensation={"action": "set_budget", "params": {"usd_per_day": fs.budget_usd_per_day}},
                rationale=f"{f.detail} ({ratio:.2f}x): cap spend at the {spec.cost.daily_budget_usd:g} USD/day envelope",
            )
            self.goals.append(f"cap the budget of {f.feature}")
            return
        after: list[str] = []
        fb = self.catalog.get(spec.fallback) if spec.fallback else None
        if fb is not None and not self.state.is_active(fb.id) and fb.id not in self.enabled:
            sid = self.b.add("enable", fb.id, fb.version, tolerances=slo_tolerances(fb),
                             compensation={"action": "disable", "params": {}},
                             rationale=f"fallback for {f.feature}")
            self.enabled[fb.id] = sid
            after = [sid]
        self.b.add(
            "disable", f.feature, spec.version,
            params={"fallback": fb.id if fb else None},
            tolerances=slo_tolerances(fb) if fb else [
                {"metric": "error_rate", "comparator": "<=", "threshold": spec.slo.error_rate_max, "window_s": 300.0}],
            depends_on=after,
            compensation={"action": "enable", "version": fs.version or spec.version, "params": {}},
            rationale=f"{f.detail} ({ratio:.2f}x the envelope)" + (f": fall back to {fb.id}" if fb else ": no fallback, disable"),
        )
        self.goals.append(f"fall back from {f.feature}" + (f" to {fb.id}" if fb else ""))

    def degrade(self, f: Finding) -> None:
        fs = self.state.get(f.feature)
        if fs.canary_version and fs.canary_weight > 0:
            self.b.add("rollback", f.feature, None,
                       params={"to_version": fs.version},
                       rationale=f"{f.detail}: roll the {fs.canary_version} canary back")
            self.goals.append(f"roll back the {f.feature} canary")
        else:
            self.b.add("escalate", f.feature, fs.version, params={"reason": f.detail},
                       rationale=f"{f.detail}: no canary to roll back; a human decides")
            self.goals.append(f"escalate {f.feature} ({f.kind} over SLO)")

    def disable(self, feature: str) -> None:
        spec = serving_spec(self.catalog, self.state, feature)
        if spec is None:
            self.notes.append(f"unknown feature {feature}: not in the catalog")
            return
        fs = self.state.get(feature)
        if not fs.enabled:
            self.notes.append(f"{feature} is already off")
            return
        self.b.add("disable", feature, fs.version,
                   tolerances=[{"metric": "error_rate", "comparator": "<=", "threshold": spec.slo.error_rate_max, "window_s": 300.0}],
                   compensation={"action": "enable", "version": fs.version, "params": {}},
                   rationale="requested")
        self.goals.append(f"disable {feature}")

    def rollback(self, feature: str) -> None:
        fs = self.state.get(feature)
        if not fs.canary_version:
            self.notes.append(f"{feature} has no canary in flight to roll back")
            return
        self.b.add("rollback", feature, None, params={"to_version": fs.version},
                   rationale="requested")
        self.goals.append(f"roll back the {feature} canary")

    def apply_intent(self, intent: Intent) -> None:
        self.handled.add(intent.feature)
        if intent.action == "rollout":
            self.rollout(intent.feature, intent.weight, intent.version, why="requested")
        elif intent.action == "disable":
            self.disable(intent.feature)
        elif intent.action == "refresh":
            self.refresh(intent.feature, why="requested")
        else:
            self.rollback(intent.feature)

    def apply_finding(self, f: Finding) -> None:
        if f.feature in self.handled:
            self.notes.append(f"{f.feature}: {f.detail} (already handled by an earlier step)")
            return
        self.handled.add(f.feature)
        from jitplan.contracts.signal_kinds import get_kind

        spec = get_kind(f.kind)
        rule = spec.rule if spec is not None else None
        if rule == "degrade":
            self.degrade(f)
        elif rule == "cost":
            self.cost(f)
        elif rule == "refresh":
            self.refresh(f.feature, why=f.detail)
        elif rule == "activate":
            self.rollout(f.feature, 100.0, why=f.detail)
        else:  # "escalate", or a kind/rule the planner does not know: never an activation
            why = ("its kind's rule is to escalate" if rule == "escalate" else
                   f"no planner rule for signal kind {f.kind!r}" + (f" (rule {rule!r})" if rule else ""))
            self.notes.append(f"{f.feature}: {f.detail}: {why}; escalated to a human")
            self.b.add("escalate", f.feature, self.state.get(f.feature).version,
                       params={"reason": f"{f.detail} ({why})"}, rationale=f"{f.detail}: a human decides")
            self.goals.append(f"escalate {f.feature} ({f.kind})")


def build_offline_plan(ctx: PlanningContext, *, planner: str = "offline") -> dict[str, Any]:
    """The rule-based plan for ``ctx`` as a ``Plan`` document (deterministic)."""
    demand = {s.signal.feature: s.signal.value for s in ctx.statuses
              if s.ok and s.signal.kind == "demand"}
    rules = _Rules(ctx.catalog, ctx.state, demand, ctx.evidence)
    rules.notes.extend(ctx.notes)
    if ctx.request.strip():
        intent = parse_request(ctx.request)
        if intent is None:
            rules.notes.append(f"request not understood by the offline planner: {ctx.request[:200]!r}")
        else:
            rules.apply_intent(intent)
    for f in sorted(ctx.findings, key=lambda x: (_priority(x.kind), x.feature, x.signal)):
        rules.apply_finding(f)
    steps = rules.b.steps
    if not steps:
        rules.b.add("noop", rationale="nothing actionable")
        steps = rules.b.steps
    trig = [{"signal": f.signal, "feature": f.feature, "kind": f.kind, "value": f.value}
            for f in ctx.findings]
    blob = f"{ctx.seed_id}|{planner}|{ctx.request}"
    return {
        "id": "plan-" + hashlib.sha256(blob.encode()).hexdigest()[:16],
        "goal": "; ".join(rules.goals) or "no change",
        "planner": planner,
        "trigger": trig,
        "steps": steps,
        "notes": rules.notes,
    }


class OfflinePlanner:
    """``Planner`` implementation over the rules above."""

    name = "offline"

    def draft(self, ctx: PlanningContext) -> PlanDraft:
        return PlanDraft(plan=build_offline_plan(ctx), planner=self.name)
