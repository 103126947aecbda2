"""Deployment state: which version of each feature serves, canaries, shadows and budgets.

On disk the state is a flagd flag-definitions file (OpenFeature flagd format): one flag per
feature id, one string variant per version plus ``off``, the serving version as
``defaultVariant`` and a canary split as ``fractional`` targeting. jitplan-only facts (shadow
version, budget, pin) live in the flag's ``metadata``. This module is the pure mapping both ways;
``tools.flags`` does the atomic file I/O.
"""

from __future__ import annotations

__all__ = ["FLAGD_SCHEMA", "DeploymentState", "FeatureState"]

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jitplan.contracts.digest import model_digest
from jitplan.contracts.errors import UserError
from jitplan.contracts.loading import format_validation_error

FLAGD_SCHEMA = "https://flagd.dev/schema/v0/flags.json"
OFF = "off"


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


class DeploymentState(BaseModel):
    """Every feature's deployment, keyed by feature id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    features: dict[str, FeatureState] = Field(default_factory=dict)

    def get(self, feature_id: str) -> FeatureState:
        return self.features.get(feature_id, FeatureState())

    def is_active(self, feature_id: str, version: str | None = None) -> bool:
        fs = self.get(feature_id)
        if version is None:
            return fs.enabled
        return version in fs.active_versions()

    def with_feature(self, feature_id: str, fs: FeatureState) -> DeploymentState:
        features = dict(self.features)
        features[feature_id] = fs
        return DeploymentState(features=dict(sorted(features.items())))

    def digest(self) -> str:
        """sha256 of the state's canonical JSON."""
        return model_digest(self)

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
