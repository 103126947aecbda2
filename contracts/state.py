"""Deployment state: which version of each feature serves, canaries, shadows and budgets.

On disk the state is a flagd flag-definitions file (OpenFeature flagd format): one flag per
feature id, one string variant per version plus ``off``, the serving version as
``defaultVariant`` and a canary split as ``fractional`` targeting. jitplan-only facts (shadow
version, budget, pin) live in the flag's ``metadata``. This module is the pure mapping both ways;
``tools.flags`` does the atomic file I/O.

``DeploymentState.apply(step)`` is the one definition of what each plan action does; the
validator, the executor, the simulator and the planners all use it:

- ``enable``: the step's version (else the serving one) serves; a canary or shadow of that
  version ends (it now serves everything);
- ``disable``: no serving version, canary or shadow (budget and pin are kept);
- ``canary``: the step's version gets ``params.weight`` percent of the traffic;
- ``promote``: the step's version (else the running canary's) serves; the canary ends;
- ``shadow``: the step's version receives mirrored traffic;
- ``rollback``: canary and shadow end; ``params.to_version`` serves when given (``None``: off),
  else the serving version stays;
- ``refresh_prompt``: three phases, each skipped when the feature is already past it
  (``REFRESH_PHASES``): shadow, canary at ``params.canary_weight``, promote;
- ``set_budget``: the daily cap becomes ``params.usd_per_day`` (``None``: no cap);
- ``pin_version``: the step's version (else the serving one) serves and is pinned;
- ``escalate``, ``noop``: nothing changes.

A step that cannot apply (no version to act on, a canary of the serving version) raises
``StepError``.
"""

from __future__ import annotations

__all__ = ["FLAGD_SCHEMA", "REFRESH_PHASES", "DeploymentState", "FeatureState", "RefreshPhase",
           "StepError", "refresh_phase_applies"]

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jitplan.contracts.digest import model_digest
from jitplan.contracts.errors import UserError
from jitplan.contracts.loading import format_validation_error

if TYPE_CHECKING:
    from jitplan.contracts.plan import Step

FLAGD_SCHEMA = "https://flagd.dev/schema/v0/flags.json"
OFF = "off"

RefreshPhase = Literal["shadow", "canary", "promote"]
REFRESH_PHASES: tuple[RefreshPhase, ...] = ("shadow", "canary", "promote")
"""The phases of a ``refresh_prompt`` step, in order (the executor gates each one)."""


class StepError(ValueError):
    """A step cannot be applied to the current state (no version to act on, ...).

    ``code`` is the validator's violation code for it (``missing_version`` or ``bad_params``).
    """

    def __init__(self, message: str, code: str = "bad_params") -> None:
        super().__init__(message)
        self.code = code


class FeatureState(BaseModel):
    """How one feature is deployed right now."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str | None = None
    """Serving (baseline) version; None when the feature is off."""
    known_versions: list[str] = Field(default_factory=list)
    canary_version: str | None = None
    canary_weight: float = Field(default=0.0, ge=0, le=100)
    shadow_version: str | None = None
    budget_usd_per_day: float | None = Field(default=None, ge=0)
    pinned: bool = False

    @property
    def enabled(self) -> bool:
        return self.version is not None or (self.canary_version is not None and self.canary_weight > 0)

    def active_versions(self) -> list[str]:
        out = [v for v in (self.version, self.canary_version) if v]
        if self.canary_weight >= 100 and self.canary_version:
            out = [self.canary_version]
        return out


_ABSENT = FeatureState()
"""A feature the state does not list: off, no versions known (frozen, so shared)."""


class DeploymentState(BaseModel):
    """Every feature's deployment, keyed by feature id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    features: dict[str, FeatureState] = Field(default_factory=dict)

    def get(self, feature_id: str) -> FeatureState:
        fs = self.features.get(feature_id)
        return fs if fs is not None else _ABSENT

    def is_active(self, feature_id: str, version: str | None = None) -> bool:
        fs = self.get(feature_id)
        if version is None:
            return fs.enabled
        return version in fs.active_versions()

    def with_feature(self, feature_id: str, fs: FeatureState) -> DeploymentState:
        features = dict(self.features)
        new = feature_id not in features
        features[feature_id] = FeatureState.model_validate(fs)
        if new:
            features = dict(sorted(features.items()))
        # Every value is a validated FeatureState: no need to validate the others again.
        return DeploymentState.model_construct(features=features)

    def digest(self) -> str:
        """sha256 of the state's canonical JSON."""
        return model_digest(self)

    # ---- transitions: what each plan action does ----------------------------------------

    def apply(self, step: Step, phase: RefreshPhase | None = None) -> DeploymentState:
        """The state after ``step`` (pure and idempotent); ``StepError`` when it cannot apply.

        ``phase`` applies one phase of a ``refresh_prompt`` step (the executor gates each);
        without it the step applies whole, phase after phase.
        """
        if step.action in ("noop", "escalate"):
            return self
        fid = step.feature
        if fid is None:
            raise StepError(f"step {step.id}: action {step.action!r} needs a feature",
                            "missing_feature")
        if step.action == "refresh_prompt":
            state = self
            for ph in (phase,) if phase is not None else REFRESH_PHASES:
                if refresh_phase_applies(step, ph, state.get(fid)):
                    state = state.with_feature(fid, _refresh_phase(step, ph, state.get(fid)))
            return state
        try:
            return self.with_feature(fid, _transition(step, self.get(fid)))
        except ValidationError as exc:
            raise StepError(f"step {step.id}: invalid resulting state for {fid}: "
                            f"{exc.errors()[0]['msg']}") from None

    # ---- flagd mapping -------------------------------------------------------------------

    def to_flagd(self) -> dict[str, Any]:
        """The flagd flag-definitions document for this state (deterministic)."""
        flags: dict[str, Any] = {}
        for fid in sorted(self.features):
            fs = self.features[fid]
            versions = sorted(
                {*fs.known_versions, *(v for v in (fs.version, fs.canary_version, fs.shadow_version) if v)}
            )
            variants = {OFF: OFF, **{v: v for v in versions}}
            flag: dict[str, Any] = {
                "state": "ENABLED",
                "variants": variants,
                "defaultVariant": fs.version or OFF,
            }
            if fs.canary_version and fs.canary_weight > 0:
                canary = round(fs.canary_weight, 3)
                base = fs.version or OFF
                if canary >= 100:
                    flag["targeting"] = {"fractional": [[fs.canary_version, 100]]}
                else:
                    # flagd weights are relative integers; keep 0.1% resolution.
                    cw = round(canary * 10)
                    flag["targeting"] = {
                        "fractional": [[base, 1000 - cw], [fs.canary_version, cw]]
                    }
            meta: dict[str, Any] = {}
            if fs.shadow_version:
                meta["jitplan_shadow"] = fs.shadow_version
            if fs.budget_usd_per_day is not None:
                meta["jitplan_budget_usd_per_day"] = fs.budget_usd_per_day
            if fs.pinned:
                meta["jitplan_pinned"] = True
            if meta:
                flag["metadata"] = meta
            flags[fid] = flag
        return {"$schema": FLAGD_SCHEMA, "flags": flags}

    @classmethod
    def from_flagd(cls, doc: dict[str, Any], *, source: str = "<state>") -> DeploymentState:
        """Read a flagd flag-definitions document; anything malformed is a ``UserError``."""
        flags = doc.get("flags")
        if not isinstance(flags, dict):
            raise UserError("expected an object of flags", source=source, field="flags")
        features: dict[str, FeatureState] = {}
        for fid, flag in flags.items():
            where = f"flags.{fid}"
            if not isinstance(flag, dict):
                raise UserError("expected a flag object", source=source, field=where)
            variants = flag.get("variants")
            if not isinstance(variants, dict) or not variants:
                raise UserError("expected a non-empty object of variants", source=source, field=f"{where}.variants")
            default = flag.get("defaultVariant", OFF)
            if default not in variants:
                raise UserError(
                    f"defaultVariant {default!r} is not one of the variants", source=source,
                    field=f"{where}.defaultVariant",
                )
            disabled = flag.get("state", "ENABLED") == "DISABLED"
            base = None if disabled or default == OFF else str(variants[default])
            canary_version, canary_weight = None, 0.0
            targeting = flag.get("targeting") or {}
            frac = targeting.get("fractional") if isinstance(targeting, dict) else None
            if frac is not None:
                buckets = [b for b in frac if isinstance(b, list)]
                try:
                    total = sum(float(b[1]) for b in buckets)
                except (TypeError, ValueError, IndexError):
                    raise UserError("expected [variant, weight] pairs", source=source, field=f"{where}.targeting.fractional") from None
                others = [b for b in buckets if b[0] != default]
                if others and total > 0 and not disabled:
                    name = str(others[0][0])
                    if name not in variants:
                        raise UserError(f"unknown variant {name!r}", source=source, field=f"{where}.targeting.fractional")
                    canary_version = None if name == OFF else str(variants[name])
                    canary_weight = round(100.0 * float(others[0][1]) / total, 3)
            meta = flag.get("metadata") or {}
            try:
                features[fid] = FeatureState(
                    version=base,
                    known_versions=sorted(str(v) for k, v in variants.items() if k != OFF),
                    canary_version=canary_version,
                    canary_weight=canary_weight if canary_version else 0.0,
                    shadow_version=meta.get("jitplan_shadow"),
                    budget_usd_per_day=meta.get("jitplan_budget_usd_per_day"),
                    pinned=bool(meta.get("jitplan_pinned", False)),
                )
            except ValidationError as exc:
                raise format_validation_error(exc, f"{source}: {where}") from None
        return cls(features=dict(sorted(features.items())))


# ---- one feature's transitions -----------------------------------------------------------


def _need_version(step: Step, fallback: str | None = None, why: str = "") -> str:
    v = step.version or fallback
    if not v:
        raise StepError(f"step {step.id}: {step.action} {step.feature} needs a version{why}",
                        "missing_version")
    return v


def _with(fs: FeatureState, **update: Any) -> FeatureState:
    known = set(fs.known_versions)
    for key in ("version", "canary_version", "shadow_version"):
        v = update.get(key)
        if isinstance(v, str):
            known.add(v)
    return FeatureState.model_validate({**fs.__dict__, **update, "known_versions": sorted(known)})


def _serve(fs: FeatureState, version: str | None, **update: Any) -> FeatureState:
    """``version`` serves everything: a canary or shadow of it ends."""
    ends: dict[str, Any] = {}
    if fs.canary_version == version:
        ends.update(canary_version=None, canary_weight=0.0)
    if fs.shadow_version == version:
        ends.update(shadow_version=None)
    return _with(fs, **{**ends, "version": version, **update})


def _transition(step: Step, fs: FeatureState) -> FeatureState:
    p = step.typed_params
    match p.action:
        case "enable":
            return _serve(fs, _need_version(step, fs.version, " (the feature is off)"))
        case "disable":
            return _with(fs, version=None, canary_version=None, canary_weight=0.0,
                         shadow_version=None)
        case "canary":
            v = _need_version(step)
            if v == fs.version:
                raise StepError(f"step {step.id}: canary of {step.feature}@{v}, which already "
                                "serves all traffic")
            return _with(fs, canary_version=v, canary_weight=round(p.weight, 1))
        case "promote":
            v = _need_version(step, fs.canary_version, " (no canary is running)")
            return _serve(fs, v, canary_version=None, canary_weight=0.0)
        case "shadow":
            return _with(fs, shadow_version=_need_version(step))
        case "rollback":
            target = p.to_version if p.target_set else fs.version
            return _with(fs, version=target, canary_version=None, canary_weight=0.0,
                         shadow_version=None)
        case "set_budget":
            return _with(fs, budget_usd_per_day=p.usd_per_day)
        case "pin_version":
            return _serve(fs, _need_version(step, fs.version, " (the feature is off)"), pinned=True)
        case _:  # refresh_prompt is applied phase by phase; noop and escalate change nothing
            return fs


def refresh_phase_applies(step: Step, phase: RefreshPhase, fs: FeatureState) -> bool:
    """False when the feature is already past this phase of the ``refresh_prompt`` step.

    E.g. the plan ran explicit shadow and canary steps before the swap: the shadow and canary
    phases are then skipped instead of lowering the canary weight.
    """
    p = step.typed_params
    if phase == "promote" or p.action != "refresh_prompt":
        return True
    v = step.version
    if fs.version == v:
        return False
    if fs.canary_version == v and fs.canary_weight > 0:
        return phase == "canary" and fs.canary_weight < p.canary_weight
    return True


def _refresh_phase(step: Step, phase: RefreshPhase, fs: FeatureState) -> FeatureState:
    p = step.typed_params
    v = _need_version(step)
    if phase == "shadow":
        return _with(fs, shadow_version=v)
    if phase == "canary":
        w = p.canary_weight if p.action == "refresh_prompt" else 0.0
        return _with(fs, canary_version=v, canary_weight=round(w, 1))
    return _serve(fs, v, canary_version=None, canary_weight=0.0)
