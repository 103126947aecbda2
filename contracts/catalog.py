"""The feature catalog: versioned, governed GenAI features (``FeatureSpec``) in a ``Catalog``."""

from __future__ import annotations

__all__ = [
    "PII_REDACTION",
    "RISK_ORDER",
    "Catalog",
    "CostEnvelope",
    "Dependency",
    "FeatureKind",
    "FeatureSpec",
    "Governance",
    "PromptRef",
    "RiskProfile",
    "RiskTier",
    "Slo",
    "Triggers",
]

import re
from typing import Any, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, field_validator

from jitplan.contracts.digest import model_digest
from jitplan.contracts.loading import FromFile

FeatureKind = Literal["prompt", "reasoning", "adapter", "pipeline"]
RiskTier = Literal["low", "medium", "high", "critical"]
RISK_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}
PII_REDACTION = "pii_redaction"
"""The capability a feature handling ``pii`` (``risk.data_classes``) needs from a dependency."""

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")
_CAPABILITY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptRef(_Model):
    """A versioned prompt file, relative to the catalog file."""

    path: str = Field(min_length=1, max_length=512)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")

    @field_validator("path")
    @classmethod
    def _relative(cls, v: str) -> str:
        if v.startswith(("/", "\\")) or ".." in v.replace("\\", "/").split("/"):
            raise ValueError("prompt path must stay inside the catalog directory (no '/' or '..')")
        return v


class CostEnvelope(_Model):
    per_request_usd: float = Field(ge=0)
    daily_budget_usd: float = Field(ge=0)
    max_tokens: int | None = Field(default=None, gt=0)


class RiskProfile(_Model):
    tier: RiskTier
    data_classes: list[str] = Field(default_factory=list)
    harms: list[str] = Field(default_factory=list)

    @property
    def level(self) -> int:
        return RISK_ORDER[self.tier]


class Governance(_Model):
    regions: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    human_approval: bool = False


class Slo(_Model):
    latency_p95_ms: float = Field(gt=0)
    error_rate_max: float = Field(ge=0, le=1)
    quality_min: float = Field(ge=0, le=1)


class Triggers(_Model):
    """When signals should start a planning cycle for this feature."""

    demand_min_rpm: float = Field(default=60.0, ge=0)
    drift_max: float = Field(default=0.1, ge=0)


class Dependency(_Model):
    id: str
    version: str = Field(default=">=0")

    @field_validator("version")
    @classmethod
    def _range(cls, v: str) -> str:
        try:
            SpecifierSet(v)
        except InvalidSpecifier:
            raise ValueError(
                "expected a version range such as '>=2.0,<3' or '==1.2.0'"
            ) from None
        return v

    def admits(self, version: str) -> bool:
        try:
            return SpecifierSet(self.version).contains(Version(version), prereleases=True)
        except InvalidVersion:
            return False


class FeatureSpec(_Model):
    """One version of one GenAI feature."""

    id: str
    version: str
    kind: FeatureKind
    description: str = Field(max_length=4000)
    owner: str = Field(min_length=1, max_length=128)
    model: str | None = Field(default=None, max_length=200)
    prompt: PromptRef | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    cost: CostEnvelope
    risk: RiskProfile
    governance: Governance = Field(default_factory=Governance)
    slo: Slo
    triggers: Triggers = Field(default_factory=Triggers)
    depends_on: list[Dependency] = Field(default_factory=list)
    fallback: str | None = None
    provides: list[str] = Field(default_factory=list, max_length=32)
    """Capabilities this feature offers its dependants, e.g. ``pii_redaction``: a feature with
    ``pii`` in ``risk.data_classes`` must depend on one that provides ``pii_redaction``."""

    @field_validator("provides")
    @classmethod
    def _capabilities(cls, v: list[str]) -> list[str]:
        for name in v:
            if not _CAPABILITY.match(name):
                raise ValueError(f"expected capability names such as 'pii_redaction' (lowercase "
                                 f"letters, digits and '_'), got {name[:64]!r}")
        return v

    @property
    def handles_pii(self) -> bool:
        """Whether the feature sees personal data and is not itself the redactor."""
        return "pii" in self.risk.data_classes and PII_REDACTION not in self.provides

    @field_validator("id", "fallback")
    @classmethod
    def _slug(cls, v: str | None) -> str | None:
        if v is not None and not _SLUG.match(v):
            raise ValueError("expected a lowercase slug (a-z, 0-9, '_' and '-', at most 128 chars)")
        return v

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @field_validator("version")
    @classmethod
    def _semver(cls, v: str) -> str:
        if not _SEMVER.match(v):
            raise ValueError("expected a semantic version such as '1.2.0'")
        return v

    @property
    def key(self) -> str:
        """``id@version``."""
        return f"{self.id}@{self.version}"

    @property
    def parsed_version(self) -> Version:
        return Version(self.version)


class Catalog(FromFile):
    """A named, versioned set of features; several versions of one id may coexist."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    catalog: str = Field(min_length=1, max_length=200)
    version: str
    features: list[FeatureSpec] = Field(default_factory=list)
    source_dir: str | None = Field(default=None, exclude=True)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        return v

    @field_validator("version")
    @classmethod
    def _int_or_semver(cls, v: str) -> str:
        if not (v.isdigit() or _SEMVER.match(v)):
            raise ValueError("expected an integer or a semantic version such as '1.4.0'")
        return v

    @classmethod
    def from_data(cls, data: dict[str, Any], *, source: str = "<input>") -> Catalog:
        from pathlib import Path

        cat = super().from_data(data, source=source)
        if source != "<input>":
            cat = cat.model_copy(update={"source_dir": str(Path(source).resolve().parent)})
        return cat

    def versions(self, feature_id: str) -> list[FeatureSpec]:
        """All versions of one feature, oldest first."""
        return sorted(
            (f for f in self.features if f.id == feature_id), key=lambda f: f.parsed_version
        )

    def get(self, feature_id: str, version: str | None = None) -> FeatureSpec | None:
        """One version (or the newest when ``version`` is None)."""
        versions = self.versions(feature_id)
        if version is None:
            return versions[-1] if versions else None
        return next((f for f in versions if f.version == version), None)

    @property
    def ids(self) -> list[str]:
        return sorted({f.id for f in self.features})

    def digest(self) -> str:
        """sha256 of the catalog's canonical JSON (its content version)."""
        return model_digest(self)
