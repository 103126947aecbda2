"""Signals and their data contracts.

The kinds (demand, drift, data_quality, latency, cost, error_rate, risk, and any registered
ones) and their units live in ``contracts.signal_kinds``.
"""

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
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from jitplan.contracts.digest import model_digest
from jitplan.contracts.loading import FromFile
from jitplan.contracts.signal_kinds import get_kind, kind_names


def _known_kind(v: str) -> str:
    if get_kind(v) is None:
        raise ValueError(f"unknown signal kind {v!r}; expected one of {', '.join(kind_names())}")
    return v


SignalKind = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_kind)]
"""A registered signal kind (``contracts.signal_kinds``); validated against the registry."""


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
    """What a signal of one kind must satisfy to be used.

    ``min``/``max`` are in the contract's ``unit``: the kind's canonical unit or one convertible
    to it. Signals in any convertible unit are converted before the check.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SignalKind
    unit: str = Field(max_length=64)
    min: float | None = None
    max: float | None = None
    max_age_s: float | None = Field(default=None, gt=0)
    lineage_required: bool = False

    @field_validator("unit")
    @classmethod
    def _unit_known(cls, v: str, info: ValidationInfo) -> str:
        spec = get_kind(str(info.data.get("kind", "")))
        if spec is not None and spec.conversion(v) is None:
            raise ValueError(
                f"unit {v!r} is not a unit of kind {spec.name!r}; expected one of "
                f"{', '.join(spec.unit_names)}"
            )
        return v


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
    """A signal after its contract check: ok, or quarantined with reasons (kept, never dropped).

    ``signal`` carries the value in its kind's canonical unit whenever the unit could be
    converted; ``original_value``/``original_unit`` keep what was observed (set only when the
    conversion changed it) and ``conversion`` says how.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal: Signal
    ok: bool
    reasons: list[str] = Field(default_factory=list)
    original_value: float | None = None
    original_unit: str | None = None
    conversion: str = ""

    @property
    def quarantined(self) -> bool:
        return not self.ok
