"""Evidence: measured behaviour of feature versions (the ``--evidence`` file format).

An evidence file is YAML or JSON, untrusted and size-capped like every other input::

    evidence:
      - feature: ticket-summarizer
        version: 1.1.0
        source: shadow            # shadow | canary | offline_eval | load_test | production
        observed_at: 2026-11-26T11:00:00Z
        requests: 1200            # sample size behind the figures
        latency_ms: {p50: 800, p95: 1400, p99: 2100}   # or samples_ms: [...] (empirical)
        error_rate: 0.004
        quality: 0.86             # mean eval score in [0, 1]
        cost_per_request_usd: 0.00045
        capacity: {max_concurrency: 64, rpm_limit: 3000}   # optional: provider limits
        tokens: {input: 900, output: 120}                  # optional: mean tokens per request

Every figure but ``feature``, ``version``, ``source``, ``observed_at`` and ``requests`` is
optional: records about one version are merged (an offline eval gives quality, a load test
capacity). When both ``latency_ms`` and ``samples_ms`` are given, the samples win.

``load_evidence(paths)`` reads files and directories (their ``*.yaml``, ``*.yml`` and
``*.json`` files, sorted) into one ``EvidenceSet``; every problem is a ``UserError`` naming the
file and the field.
"""

from __future__ import annotations

__all__ = [
    "EVIDENCE_SOURCES",
    "MAX_EVIDENCE_FILES",
    "MAX_EVIDENCE_RECORDS",
    "Capacity",
    "EvidenceFile",
    "EvidenceRecord",
    "EvidenceSet",
    "EvidenceSource",
    "LatencyQuantiles",
    "TokenUsage",
    "load_evidence",
]

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from jitplan.contracts.errors import UserError
from jitplan.contracts.loading import FromFile

EvidenceSource = Literal["shadow", "canary", "offline_eval", "load_test", "production"]
EVIDENCE_SOURCES: tuple[str, ...] = ("shadow", "canary", "offline_eval", "load_test", "production")
MAX_EVIDENCE_FILES = 1000
"""Most files read from the ``--evidence`` paths together (bounded work)."""
MAX_EVIDENCE_RECORDS = 10_000
"""Most records in one file and in one evidence set."""
_SUFFIXES = (".yaml", ".yml", ".json")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("expected a finite number")
    return v


class LatencyQuantiles(_Strict):
    """Observed latency percentiles in milliseconds (p50 <= p95 <= p99)."""

    p50: float = Field(gt=0, le=86_400_000)
    p95: float = Field(gt=0, le=86_400_000)
    p99: float | None = Field(default=None, gt=0, le=86_400_000)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.p95 < self.p50:
            raise ValueError(f"p95 ({self.p95:g}) must not be below p50 ({self.p50:g})")
        if self.p99 is not None and self.p99 < self.p95:
            raise ValueError(f"p99 ({self.p99:g}) must not be below p95 ({self.p95:g})")
        return self


class Capacity(_Strict):
    """Provider limits: concurrent requests in flight, requests per minute."""

    max_concurrency: int | None = Field(default=None, ge=1, le=100_000)
    rpm_limit: float | None = Field(default=None, gt=0, le=1e9)


class TokenUsage(_Strict):
    """Mean tokens per request (informational; a version's cost is ``cost_per_request_usd``)."""

    input: float = Field(default=0.0, ge=0, le=10_000_000)
    output: float = Field(default=0.0, ge=0, le=10_000_000)


class EvidenceRecord(_Strict):
    """What was observed about one feature version, from one source, at one time."""

    feature: str = Field(min_length=1, max_length=128)
    version: str = Field(min_length=1, max_length=64)
    source: EvidenceSource
    observed_at: AwareDatetime
    requests: int = Field(ge=1, le=10**12, description="sample size behind the figures")
    latency_ms: LatencyQuantiles | None = None
    samples_ms: list[float] | None = Field(default=None, min_length=1, max_length=100_000)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    quality: float | None = Field(default=None, ge=0, le=1)
    cost_per_request_usd: float | None = Field(default=None, ge=0, le=1000)
    capacity: Capacity | None = None
    tokens: TokenUsage | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @field_validator("samples_ms")
    @classmethod
    def _samples(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            for x in v:
                if not math.isfinite(x) or x < 0:
                    raise ValueError(f"samples must be finite and non-negative (got {x!r})")
        return v

    @field_validator("error_rate", "quality", "cost_per_request_usd")
    @classmethod
    def _finite_figure(cls, v: float | None) -> float | None:
        return None if v is None else _finite(v)

    @property
    def key(self) -> str:
        """``feature@version``, as in the catalog."""
        return f"{self.feature}@{self.version}"


class EvidenceFile(FromFile):
    """One evidence file: a top-level ``evidence`` list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    evidence: list[EvidenceRecord] = Field(max_length=MAX_EVIDENCE_RECORDS)


@dataclass(frozen=True)
class EvidenceSet:
    """Evidence records read from files, each with the file it came from."""

    records: tuple[EvidenceRecord, ...] = ()
    sources: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.records):  # built in code: name the records' origin
            object.__setattr__(self, "sources", ("<evidence>",) * len(self.records))

    def __len__(self) -> int:
        return len(self.records)

    def digest(self) -> str:
        """sha256 of the records' canonical JSON (what a plan was judged on)."""
        import hashlib
        import json

        blob = json.dumps([r.model_dump(mode="json") for r in self.records], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def with_records(self, records: Iterable[EvidenceRecord], source: str) -> EvidenceSet:
        """A new set with ``records`` (from ``source``) appended."""
        extra = tuple(records)
        return EvidenceSet(self.records + extra, self.sources + (source,) * len(extra), self.files)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES)
    return [path]


def load_evidence(paths: Iterable[str | os.PathLike[str]]) -> EvidenceSet:
    """Read every evidence file in ``paths`` (files, or directories of files)."""
    records: list[EvidenceRecord] = []
    sources: list[str] = []
    files: list[str] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise UserError("evidence path not found (expected a file or a directory)", source=str(raw))
        found = _files(p)
        if p.is_dir() and not found:
            raise UserError("directory holds no .yaml, .yml or .json evidence file", source=str(raw))
        for f in found:
            if len(files) >= MAX_EVIDENCE_FILES:
                raise UserError(
                    f"more than {MAX_EVIDENCE_FILES} evidence files; merge them or pass fewer paths",
                    source=str(raw),
                )
            doc = EvidenceFile.from_file(f)
            files.append(str(f))
            records.extend(doc.evidence)
            sources.extend([str(f)] * len(doc.evidence))
            if len(records) > MAX_EVIDENCE_RECORDS:
                raise UserError(
                    f"more than {MAX_EVIDENCE_RECORDS} evidence records in all", source=str(f)
                )
    return EvidenceSet(tuple(records), tuple(sources), tuple(files))
