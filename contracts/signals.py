"""Signals (demand, drift, quality, latency, cost, risk, errors) and their data contracts."""

from __future__ import annotations

__all__ = [
    "ContractSet",
    "DataContract",
    "Signal",
    "SignalKind",
    "SignalSnapshot",
    "SignalStatus",
]

import math
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from jitplan.contracts.digest import model_digest
from jitplan.contracts.loading import FromFile

SignalKind = Literal["demand", "drift", "data_quality", "latency", "cost", "error_rate", "risk"]


class Signal(BaseModel):
    """One observation. Text fields are data, never instructions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    kind: SignalKind
    feature: str = Field(min_length=1, max_length=128)
    value: float
    unit: str = Field(max_length=64)
    observed_at: AwareDatetime
    source: str = Field(default="", max_length=1000)
    lineage: list[str] = Field(default_factory=list, max_length=64)

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("expected a finite number")
        return v



class SignalSnapshot(FromFile):
    """A set of signals observed together."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    observed_at: AwareDatetime
    signals: list[Signal] = Field(default_factory=list, max_length=10_000)


    def digest(self) -> str:
        """sha256 of the snapshot's canonical JSON."""
        return model_digest(self)


class DataContract(BaseModel):
    """What a signal of one kind must satisfy to be used."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SignalKind
    unit: str
    min: float | None = None
    max: float | None = None
    max_age_s: float | None = Field(default=None, gt=0)
    lineage_required: bool = False


class ContractSet(FromFile):
    """The data contracts file: ``contracts: [...]``, at most one per signal kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contracts: list[DataContract] = Field(default_factory=list)

    @field_validator("contracts")
    @classmethod
    def _unique(cls, v: list[DataContract]) -> list[DataContract]:
        seen: set[str] = set()
        for c in v:
            if c.kind in seen:
                raise ValueError(f"two contracts for kind {c.kind!r}; expected one per kind")
            seen.add(c.kind)
        return v

    def for_kind(self, kind: str) -> DataContract | None:
        return next((c for c in self.contracts if c.kind == kind), None)


class SignalStatus(BaseModel):
    """A signal after its contract check: ok, or quarantined with reasons (kept, never dropped)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal: Signal
    ok: bool
    reasons: list[str] = Field(default_factory=list)

    @property
    def quarantined(self) -> bool:
        return not self.ok
