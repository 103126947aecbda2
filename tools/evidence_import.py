"""Turn other tools' measurements into evidence records.

- ``from_promptfoo(doc)``: the file ``promptfoo eval -o results.json`` writes (its
  ``OutputFile``: ``{evalId, results: {version, timestamp, results: [EvaluateResult...],
  prompts, stats}, config, shareableUrl, metadata}``). Results are grouped per provider and
  prompt; each group becomes one ``offline_eval`` record: its rows are the requests,
  ``latencyMs`` the latency samples, ``failureReason == 2`` (ERROR) the errors; over the other
  rows, the mean ``score`` (or the pass rate) is the quality, the mean ``cost`` the cost and
  ``tokenUsage`` the tokens.
- ``from_spans(spans)``: jitplan's OpenTelemetry JSONL spans (``tools.telemetry``): spans with
  ``jitplan.feature`` and ``jitplan.version`` attributes (or all, when a feature and version are
  given) become one record per version: ``duration_ms`` the latency, status ``ERROR`` the
  errors, ``jitplan.cost_usd``, ``jitplan.quality`` and the GenAI token counts.

A group is named ``feature@version`` by ``mapping`` (provider id or label, or prompt label ->
``feature@version``), by a label that already reads ``feature@version``, or by the single
``feature``/``version`` given for a file holding one group. Anything unmapped is an error
naming the groups found, never a guess.
"""

from __future__ import annotations

__all__ = ["from_promptfoo", "from_spans", "parse_target"]

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from jitplan.contracts.errors import UserError
from jitplan.contracts.evidence import EvidenceRecord, EvidenceSource, TokenUsage
from jitplan.contracts.loading import format_validation_error

_TARGET = re.compile(r"^([a-z0-9][a-z0-9_-]{0,127})@(\S{1,64})$")
_ERROR = 2  # promptfoo ResultFailureReason.ERROR


def parse_target(text: str) -> tuple[str, str] | None:
    """``"feature@version"`` -> ``(feature, version)``; ``None`` if it does not read so."""
    m = _TARGET.match(text.strip())
    return (m.group(1), m.group(2)) if m else None


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _PfProvider(_Loose):
    id: str = ""
    label: str | None = None


class _PfPrompt(_Loose):
    label: str | None = None
    raw: str | None = None


class _PfTokens(_Loose):
    prompt: float | None = None
    completion: float | None = None


class _PfResult(_Loose):
    provider: _PfProvider = Field(default_factory=_PfProvider)
    prompt: _PfPrompt = Field(default_factory=_PfPrompt)
    success: bool = False
    score: float = 0.0
    latencyMs: float | None = Field(default=None, ge=0)
    cost: float | None = Field(default=None, ge=0)
    failureReason: int = 0
    error: str | None = None
    tokenUsage: _PfTokens | None = None


class _PfSummary(_Loose):
    version: int | None = None
    timestamp: str | None = None
    results: list[_PfResult] = Field(max_length=1_000_000)


class _PfMetadata(_Loose):
    evaluationCreatedAt: str | None = None
    exportedAt: str | None = None


class _PfOutput(_Loose):
    evalId: str | None = None
    results: _PfSummary
    metadata: _PfMetadata | None = None


def _when(texts: Sequence[str | None], source: str) -> datetime:
    aware = TypeAdapter(AwareDatetime)
    for t in texts:
        if t:
            try:
                return aware.validate_python(t)
            except ValidationError:
                continue
    raise UserError("no timestamp with a timezone found (results.timestamp or "
                    "metadata.evaluationCreatedAt); give one with --observed-at", source=source)


def _resolve(groups: Mapping[str, Any], names: Mapping[str, tuple[str, ...]],
             mapping: Mapping[str, str], single: tuple[str, str] | None,
             source: str) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for g in groups:
        target: tuple[str, str] | None = None
        for n in names[g]:
            if n in mapping:
                target = parse_target(mapping[n])
                if target is None:
                    raise UserError(f"--map {n}={mapping[n]}: expected feature@version")
                break
        if target is None:
            target = next((t for t in (parse_target(n) for n in names[g]) if t), None)
        if target is None and single is not None and len(groups) == 1:
            target = single
        if target is None:
            found = "; ".join(" / ".join(names[k]) for k in groups)
            raise UserError(
                f"cannot tell which feature version the group '{' / '.join(names[g])}' measures; "
                f"groups found: {found}. Give --feature and --version (one group), or "
                "--map LABEL=feature@version", source=source)
        out[g] = target
    return out


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def from_promptfoo(
    doc: Mapping[str, Any], *, source: str = "<promptfoo>", feature: str | None = None,
    version: str | None = None, mapping: Mapping[str, str] | None = None,
    quality: Literal["score", "pass_rate"] = "score", observed_at: datetime | None = None,
) -> list[EvidenceRecord]:
    """``offline_eval`` records from a promptfoo ``-o results.json`` document."""
    try:
        out = _PfOutput.model_validate(doc)
    except ValidationError as exc:
        raise format_validation_error(exc, source) from None
    rows = out.results.results
    if not rows:
        raise UserError("results.results is empty: the eval produced no result", source=source)
    groups: dict[str, list[_PfResult]] = {}
    names: dict[str, tuple[str, ...]] = {}
    for r in rows:
        plabel = r.prompt.label or ""
        key = f"{r.provider.id}\x00{plabel}"
        groups.setdefault(key, []).append(r)
        names[key] = tuple(n for n in (r.provider.id, r.provider.label, plabel) if n)
    meta = out.metadata or _PfMetadata()
    when = observed_at or _when([out.results.timestamp, meta.evaluationCreatedAt, meta.exportedAt], source)
    single = (feature, version) if feature and version else None
    targets = _resolve(groups, names, mapping or {}, single, source)
    records = []
    for g, rs in groups.items():
        feat, ver = targets[g]
        ok = [r for r in rs if r.failureReason != _ERROR]
        lat = [float(r.latencyMs) for r in ok if r.latencyMs is not None]
        if quality == "pass_rate":
            q = _mean([1.0 if r.success else 0.0 for r in ok])
        else:
            q = _mean([min(max(r.score, 0.0), 1.0) for r in ok])
        costs = [r.cost for r in ok if r.cost is not None]  # errored calls report no cost
        tin = [r.tokenUsage.prompt for r in ok if r.tokenUsage and r.tokenUsage.prompt is not None]
        tout = [r.tokenUsage.completion for r in ok
                if r.tokenUsage and r.tokenUsage.completion is not None]
        records.append(_record(
            feat, ver, "offline_eval", when, len(rs), source,
            samples_ms=lat or None, error_rate=(len(rs) - len(ok)) / len(rs), quality=q,
            cost_per_request_usd=_mean(costs),
            tokens=TokenUsage(input=_mean(tin) or 0.0, output=_mean(tout) or 0.0)
            if (tin or tout) else None,
        ))
    return records


def _record(feature: str, version: str, src: EvidenceSource, when: datetime, n: int,
            source: str, **figures: Any) -> EvidenceRecord:
    try:
        return EvidenceRecord(feature=feature, version=version, source=src, observed_at=when,
                              requests=n, **figures)
    except ValidationError as exc:
        raise format_validation_error(exc, source) from None


def from_spans(
    spans: Sequence[Mapping[str, Any]], *, source: str = "<spans>", feature: str | None = None,
    version: str | None = None, name: str | None = None, kind: EvidenceSource = "production",
) -> list[EvidenceRecord]:
    """Records (one per feature version) from jitplan's JSONL spans."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for s in spans:
        attrs = s.get("attributes")
        if not isinstance(attrs, Mapping) or (name is not None and s.get("name") != name):
            continue
        f, v = attrs.get("jitplan.feature", feature), attrs.get("jitplan.version", version)
        if feature and version:
            f, v = feature, version
        if isinstance(f, str) and isinstance(v, str) and isinstance(s.get("duration_ms"), int | float):
            groups.setdefault((f, v), []).append(s)
    if not groups:
        raise UserError("no span carries jitplan.feature and jitplan.version attributes with a "
                        "duration; give --feature and --version to attribute them", source=source)
    records = []
    for (f, v), ss in sorted(groups.items()):
        def num(key: str, group: Sequence[Mapping[str, Any]] = ss) -> list[float]:
            return [float(x["attributes"][key]) for x in group
                    if isinstance(x["attributes"].get(key), int | float)]

        ends = [str(x.get("end") or x.get("start") or "") for x in ss]
        when = _when(sorted(ends, reverse=True), source)
        ok = [x for x in ss if x.get("status") != "ERROR"]
        tin, tout = num("gen_ai.usage.input_tokens"), num("gen_ai.usage.output_tokens")
        records.append(_record(
            f, v, kind, when, len(ss), source,
            samples_ms=[max(float(x["duration_ms"]), 0.0) for x in ok] or None,
            error_rate=(len(ss) - len(ok)) / len(ss),
            quality=_mean([min(max(q, 0.0), 1.0) for q in num("jitplan.quality", ok)]),
            cost_per_request_usd=_mean(num("jitplan.cost_usd")),
            tokens=TokenUsage(input=_mean(tin) or 0.0, output=_mean(tout) or 0.0)
            if (tin or tout) else None,
        ))
    return records
