"""Validator, second pass: walk the steps in order over a simulated deployment state.

The walk changes the state with ``DeploymentState.apply``, the transition the executor and the
simulator use, so the state the validator predicts is the state the executor writes. Per step: feature and version exist, the step's parameters make sense, dependencies are active
(or enabled earlier), canary weights never decrease before a promote, mutating steps carry
tolerances no looser than the feature's SLO and a compensation that undoes them, projected cost
stays inside the envelopes, refresh_prompt targets a newer prompt version, and no step acts on a
feature whose triggering signal is quarantined.
"""

from __future__ import annotations

__all__ = ["COMPENSATIONS", "StepChecker"]

import difflib
import math
from pathlib import Path

from jitplan.contracts.catalog import FeatureSpec
from jitplan.contracts.plan import Plan, Step, Tolerance
from jitplan.contracts.signal_kinds import metric_directions, metric_kind
from jitplan.contracts.signals import SignalStatus
from jitplan.contracts.state import DeploymentState, FeatureState, StepError
from jitplan.contracts.validation import Violation
from jitplan.tools.catalog_store import CatalogStore
from jitplan.tools.cost import estimate_cost

COMPENSATIONS: dict[str, frozenset[str]] = {
    "enable": frozenset({"disable", "rollback"}),
    "disable": frozenset({"enable", "rollback"}),
    "canary": frozenset({"canary", "rollback", "disable"}),
    "promote": frozenset({"rollback", "pin_version"}),
    "shadow": frozenset({"rollback", "disable"}),
    "refresh_prompt": frozenset({"rollback", "refresh_prompt", "pin_version"}),
    "set_budget": frozenset({"set_budget"}),
    "pin_version": frozenset({"pin_version", "rollback"}),
}
"""Which actions may undo each mutating action (same feature)."""

SWITCH_ON = frozenset({"enable", "canary", "promote"})
NEEDS_DEPENDENCIES = frozenset({"enable", "canary", "promote", "shadow", "pin_version", "refresh_prompt"})
NEEDS_VERSION = frozenset({"canary", "shadow", "pin_version", "refresh_prompt"})


class StepChecker:
    """Checks one parsed plan's steps against a catalog, signals and a starting state."""

    def __init__(
        self,
        store: CatalogStore,
        signals: list[SignalStatus],
        state: DeploymentState | None,
    ) -> None:
        self.store = store
        self.state = state
        self.initial = state if state is not None else DeploymentState()
        self.sim = self.initial
        """The deployment state predicted after the steps walked so far."""
        self.signals = signals
        self.dependents: dict[str, list[FeatureSpec]] = {}
        for fid in store.ids:
            for spec in store.versions(fid):
                for dep in spec.depends_on:
                    self.dependents.setdefault(dep.id, []).append(spec)
        self.out: list[Violation] = []

    # ---- helpers -------------------------------------------------------------------------

    def _v(self, code: str, message: str, step: str | None) -> None:
        self.out.append(Violation(code=code, message=message, step=step))

    def _get(self, fid: str) -> FeatureState:
        return self.sim.get(fid)

    def _usable(self, fid: str, kind: str) -> list[float]:
        return [s.signal.value for s in self.signals
                if s.ok and s.signal.feature == fid and s.signal.kind == kind]

    def _unknown_feature(self, step: Step, fid: str) -> None:
        close = difflib.get_close_matches(fid, self.store.ids, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        in_state = self.state is not None and fid in self.state.features
        where = "in the deployment state but not in the catalog" if in_state else (
            "not in the catalog or the deployment state (unknown flag key)")
        self._v("unknown_feature", f"step {step.id} acts on feature {fid!r}, which is {where}{hint}",
                step.id)

    # ---- the walk ------------------------------------------------------------------------

    def run(self, plan: Plan) -> list[Violation]:
        quarantined = self._quarantined_features(plan)
        for step in plan.steps:
            self._step(step, quarantined)
        return self.out

    def _quarantined_features(self, plan: Plan) -> dict[str, list[SignalStatus]]:
        """Features whose triggering signal is quarantined.

        Triggering signals are those named in ``plan.trigger``; a plan with no trigger list is
        judged against every signal of the features it touches.
        """
        named = {t.signal for t in plan.trigger}
        out: dict[str, list[SignalStatus]] = {}
        for s in self.signals:
            if s.ok or (named and s.signal.name not in named):
                continue
            out.setdefault(s.signal.feature, []).append(s)
        return out

    def _step(self, step: Step, quarantined: dict[str, list[SignalStatus]]) -> None:
        action = step.action
        fid = step.feature
        if not step.mutating:
            # Mutating steps get the full check (with the SLO) below; a tolerance on any other
            # step must still name a known metric with a sane threshold, or it is garbage.
            for t in step.tolerances:
                self._tolerance(step, None, t)
        if fid is None:
            if action not in ("noop", "escalate"):
                self._v("missing_feature", f"step {step.id} ({action}) names no feature; set "
                        "'feature' to a catalog feature id", step.id)
            return
        if fid not in self.store:
            self._unknown_feature(step, fid)
            return
        if action in ("noop", "escalate"):
            return
        if fid in quarantined:
            s = quarantined[fid][0]
            self._v("quarantined_signal",
                    f"step {step.id} acts on {fid}, whose triggering signal {s.signal.name} is "
                    f"quarantined ({'; '.join(s.reasons)}); do not act on broken signals — use a "
                    "noop or escalate step instead", step.id)
        spec = self._resolve(step)
        before = self._get(fid)
        self._params(step, spec, before)
        if step.mutating:
            self._tolerances(step, self._gated_spec(step, spec))
            self._compensation(step, before)
        if spec is not None and action in NEEDS_DEPENDENCIES:
            self._dependencies(step, spec)
        if action in ("disable", "rollback"):
            self._dependents(step, fid)
        if spec is not None and action in NEEDS_DEPENDENCIES:
            self._budget(step, spec, before)
        self._apply(step)

    def _resolve(self, step: Step) -> FeatureSpec | None:
        fid = step.feature
        assert fid is not None
        versions = [f.version for f in self.store.versions(fid)]
        if step.version is not None:
            spec = self.store.get(fid, step.version)
            if spec is None:
                self._v("unknown_version",
                        f"step {step.id} asks for {fid}@{step.version}, which is not in the catalog;"
                        f" known versions: {', '.join(versions)}", step.id)
            return spec
        if step.action in NEEDS_VERSION:
            self._v("missing_version", f"step {step.id} ({step.action}) on {fid} names no version;"
                    f" set 'version' to one of {', '.join(versions)}", step.id)
            return None
        sim = self._get(fid)
        if step.action == "promote":
            if sim.canary_version is None:
                self._v("missing_version", f"step {step.id} promotes {fid} but names no version "
                        "and no canary is in progress; set 'version'", step.id)
                return None
            return self.store.get(fid, sim.canary_version)
        # enable, disable, rollback, set_budget: the serving version, else the newest
        return (self.store.get(fid, sim.version) if sim.version else None) or self.store.get(fid)

    # ---- parameters ----------------------------------------------------------------------

    def _params(self, step: Step, spec: FeatureSpec | None, before: FeatureState) -> None:
        """What the schema cannot see: weights against the state, budgets against the catalog.

        The parameters' shape and ranges (``contracts.step_params``) were checked when the
        plan was parsed.
        """
        p = step.typed_params
        if p.action == "canary":
            w = p.weight
            if (before.canary_weight > 0 and before.canary_version == (step.version or
                    before.canary_version) and w < before.canary_weight):
                self._v("canary_weight_decreasing",
                        f"step {step.id} canary weight {w:g} for {step.feature} is lower than the "
                        f"previous {before.canary_weight:g}; weights must not decrease before "
                        "promote (use rollback to back out)", step.id)
        elif p.action == "set_budget":
            usd = p.usd_per_day
            if usd is not None and spec is not None and usd > spec.cost.daily_budget_usd:
                self._v("over_budget",
                        f"step {step.id} sets {spec.id}'s budget to {usd:g} USD/day, above its "
                        f"catalog ceiling of {spec.cost.daily_budget_usd:g} USD/day", step.id)
        elif p.action == "rollback" and p.target_set:
            served = {before.version, self.initial.get(step.feature or "").version}
            if p.to_version not in served:
                shown = ", ".join(sorted(v or "off" for v in served))
                self._v("bad_params",
                        f"step {step.id} rolls {step.feature} back to {p.to_version or 'off'}, "
                        f"which was not serving before (serving: {shown}); a rollback returns "
                        "to a version that served — use canary and promote to move to another",
                        step.id)
        elif p.action == "refresh_prompt" and spec is not None:
            self._refresh_target(step, spec, before)

    def _refresh_target(self, step: Step, spec: FeatureSpec, before: FeatureState) -> None:
        if spec.prompt is None:
            self._v("refresh_prompt_target",
                    f"step {step.id} refreshes the prompt of {spec.key}, which has no prompt "
                    f"(kind {spec.kind}); refresh_prompt needs a prompt version", step.id)
            return
        if before.version is None and self.state is not None:
            self._v("refresh_prompt_target",
                    f"step {step.id} refreshes the prompt of {spec.id}, which is not serving; "
                    "enable it instead", step.id)
        elif before.version is not None:
            current = self.store.get(spec.id, before.version)
            if current is not None and spec.parsed_version <= current.parsed_version:
                newer = [f.version for f in self.store.versions(spec.id)
                         if f.parsed_version > current.parsed_version and f.prompt is not None]
                hint = f"newer prompt versions: {', '.join(newer)}" if newer else (
                    "there is no newer prompt version in the catalog")
                self._v("refresh_prompt_target",
                        f"step {step.id} refreshes {spec.id} to {spec.version}, which is not newer "
                        f"than the serving {before.version}; {hint}", step.id)
        base = self.store.catalog.source_dir
        if base is not None and not (Path(base) / spec.prompt.path).is_file():
            self._v("refresh_prompt_target",
                    f"step {step.id}: prompt file {spec.prompt.path} of {spec.key} does not exist",
                    step.id)

    # ---- tolerances ----------------------------------------------------------------------

    def _gated_spec(self, step: Step, spec: FeatureSpec | None) -> FeatureSpec | None:
        """Whose SLO a step's tolerances answer to: the feature's own, except a ``disable``
        handing the feature's traffic to its fallback, that is ``params.fallback`` naming the
        fallback the catalog declares, serving by this step (an earlier step enabled it). Its
        gate then watches the fallback at work, held to the fallback's SLO: the fallback is a
        governed choice made in the catalog, not in the plan."""
        fb = step.params.get("fallback") if step.action == "disable" else None
        if spec is None or not fb or fb != spec.fallback:
            return spec
        serving = self._get(fb).version
        return (self.store.get(fb, serving) if serving else None) or spec

    def _tolerances(self, step: Step, spec: FeatureSpec | None) -> None:
        if not step.tolerances:
            self._v("missing_tolerance",
                    f"step {step.id} ({step.action} {step.feature}) changes deployment state but "
                    "has no tolerances; add at least one, e.g. error_rate <= the SLO's "
                    "error_rate_max", step.id)
        for t in step.tolerances:
            self._tolerance(step, spec, t)

    def _tolerance(self, step: Step, spec: FeatureSpec | None, t: Tolerance) -> None:
        sid = step.id
        # Known metrics and their direction come from the signal-kind registry, so a registered
        # kind's metric (say a ``toxicity`` guardrail) is a valid tolerance like a built-in one.
        directions = metric_directions()
        if t.metric not in directions:
            self._v("unknown_metric", f"step {sid} tolerance metric {t.metric!r} is unknown; use "
                    f"one of {', '.join(directions)}", sid)
            return
        upper = directions[t.metric]
        kind = metric_kind(t.metric)
        is_ratio = kind is not None and kind.canonical_unit == "ratio"
        if upper != (t.comparator in ("<", "<=")):
            want = "an upper bound (< or <=)" if upper else "a lower bound (> or >=)"
            self._v("tolerance_direction",
                    f"step {sid} tolerance '{t.metric} {t.comparator} {t.threshold:g}' must be "
                    f"{want}", sid)
            return
        if not math.isfinite(t.threshold) or t.threshold < 0 or (is_ratio and t.threshold > 1):
            rng = "between 0 and 1" if is_ratio else ">= 0"
            self._v("tolerance_threshold", f"step {sid} tolerance {t.metric} threshold "
                    f"{t.threshold:g} must be {rng}", sid)
            return
        if spec is None:
            return
        limit: float | None = None
        name = ""
        if t.metric == "latency_p95_ms":
            limit, name = spec.slo.latency_p95_ms, "SLO latency_p95_ms"
        elif t.metric == "error_rate":
            limit, name = spec.slo.error_rate_max, "SLO error_rate_max"
        elif t.metric == "cost_per_request_usd":
            limit, name = spec.cost.per_request_usd, "per-request cost envelope"
        elif t.metric == "cost_usd_per_day":
            limit, name = spec.cost.daily_budget_usd, "daily budget"
        if limit is not None and t.threshold > limit:
            self._v("tolerance_looser_than_slo",
                    f"step {sid} tolerance {t.metric} {t.comparator} {t.threshold:g} is looser than "
                    f"{spec.key}'s {name} of {limit:g}; use a threshold <= {limit:g}", sid)
        if t.metric == "quality" and t.threshold < spec.slo.quality_min:
            self._v("tolerance_looser_than_slo",
                    f"step {sid} tolerance quality {t.comparator} {t.threshold:g} is looser than "
                    f"{spec.key}'s SLO quality_min of {spec.slo.quality_min:g}; use a threshold "
                    f">= {spec.slo.quality_min:g}", sid)

    # ---- compensation --------------------------------------------------------------------

    def _compensation(self, step: Step, before: FeatureState) -> None:
        comp = step.compensation
        sid = step.id
        allowed = COMPENSATIONS.get(step.action, frozenset())
        if comp is None:
            self._v("missing_compensation",
                    f"step {sid} ({step.action} {step.feature}) has no compensation; add one that "
                    f"undoes it ({' or '.join(sorted(allowed))} on {step.feature})", sid)
            return
        problem = ""
        if comp.feature != step.feature:
            problem = f"acts on {comp.feature!r} instead of {step.feature!r}"
        elif comp.action not in allowed:
            problem = (f"is a {comp.action}, which does not undo a {step.action} "
                       f"(use {' or '.join(sorted(allowed))})")
        elif step.action == "canary" and comp.action == "canary":
            cw, sw = comp.weight, step.weight
            if cw is None or sw is None or cw >= sw:
                problem = (f"sets canary weight {comp.params.get('weight')!r}, which does not "
                           f"lower the step's {step.params.get('weight')!r}")
        elif comp.action == "disable" and step.action in ("canary", "shadow") and before.version:
            problem = (f"disables {step.feature}, which was serving {before.version} before the "
                       "step; use rollback")
        elif comp.compensation is not None:
            problem = "has a compensation of its own; compensations must be single steps"
        else:
            problem = self._restores(step, comp, before)
        if comp.version is not None and comp.feature and comp.feature in self.store and \
                self.store.get(comp.feature, comp.version) is None:
            problem = problem or f"names {comp.feature}@{comp.version}, which is not in the catalog"
        if problem:
            self._v("compensation_mismatch", f"step {sid} compensation {comp.id} {problem}", sid)

    def _restores(self, step: Step, comp: Step, before: FeatureState) -> str:
        """Why applying ``comp`` after ``step`` does not put the serving version back ("" if it does)."""
        fid = step.feature
        assert fid is not None
        start = self.sim.with_feature(fid, before)
        try:
            restored = start.apply(step).apply(comp).get(fid)
        except StepError as exc:
            return f"cannot undo the step: {exc}"
        if restored.version != before.version:
            return (f"restores {restored.version or 'off'}, but {before.version or 'off'} was "
                    "serving before the step")
        return ""

    # ---- dependencies --------------------------------------------------------------------

    def _dependencies(self, step: Step, spec: FeatureSpec) -> None:
        for dep in spec.depends_on:
            sim = self._get(dep.id)
            active = sim.active_versions()
            if step.action == "shadow" and sim.shadow_version and dep.admits(sim.shadow_version):
                continue  # mirrored traffic may flow through a dependency's shadow (no user sees it)
            if not active:
                self._v("dependency_order",
                        f"step {step.id} {step.action}s {spec.key}, which depends on {dep.id} "
                        f"{dep.version}; {dep.id} is not active and no earlier step enables it — "
                        f"add an enable or canary step for {dep.id} before {step.id}", step.id)
            elif not any(dep.admits(v) for v in active):
                self._v("dependency_order",
                        f"step {step.id} {step.action}s {spec.key}, which needs {dep.id} "
                        f"{dep.version}, but {dep.id} serves {', '.join(active)}", step.id)

    def _dependents(self, step: Step, fid: str) -> None:
        """Active features left without an admitted version of ``fid`` by this step."""
        try:
            left = self.sim.apply(step).get(fid).active_versions()
        except StepError:
            left = []
        for spec in self.dependents.get(fid, []):
            if spec.id == fid or spec.version not in self._get(spec.id).active_versions():
                continue
            if any(d.id == fid and any(d.admits(v) for v in left) for d in spec.depends_on):
                continue  # e.g. a rollback that keeps an admitted version serving
            self._v("dependency_order",
                    f"step {step.id} {step.action}s {fid} while {spec.key}, which depends on it, "
                    f"is still active; disable {spec.id} in an earlier step first", step.id)

    # ---- cost ----------------------------------------------------------------------------

    def _budget(self, step: Step, spec: FeatureSpec, before: FeatureState) -> None:
        demand = self._usable(spec.id, "demand")
        if not demand:
            return
        observed = self._usable(spec.id, "cost")
        serving_same = before.version is None or before.version == spec.version
        per_request = max(observed) if (observed and serving_same) else None
        share = 1.0
        if step.weight is not None:
            share = step.weight / 100
        est = estimate_cost(spec, max(demand), per_request_usd=per_request, share=share,
                            daily_limit_usd=before.budget_usd_per_day)
        if not est.within_daily:
            self._v("over_budget", f"step {step.id}: {est.describe()}; lower the traffic share or "
                    "raise the budget", step.id)
        elif not est.within_per_request:
            self._v("over_budget", f"step {step.id}: {est.describe()}; the observed per-request "
                    "cost breaks the envelope", step.id)

    # ---- state transition ----------------------------------------------------------------

    def _apply(self, step: Step) -> None:
        """Advance the predicted state by ``DeploymentState.apply`` (what the executor does)."""
        try:
            self.sim = self.sim.apply(step)
        except StepError as exc:
            if not any(v.step == step.id and v.code == exc.code for v in self.out):
                self._v(exc.code, f"{exc}; the executor would stop here", step.id)

    @property
    def predicted(self) -> DeploymentState:
        """The deployment state after the steps walked (the executor's state for a valid plan)."""
        return self.sim
