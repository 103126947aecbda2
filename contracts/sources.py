"""``sources.yaml``: where live signals come from (a PromQL query per signal).

Like Argo Rollouts' AnalysisTemplate or Flagger's MetricTemplate, each entry maps one signal
(name, kind, feature, unit, cohort) to a query. The query text may use ``{{feature}}``,
``{{version}}`` and ``{{cohort}}``; ``{{version}}`` is the entry's ``version`` when given, else
the version the flags state runs for that cohort (canary -> the canary's, shadow -> the
shadow's, baseline or none -> the serving one)::

    prometheus: {url: "http://127.0.0.1:9090", timeout_s: 5}
    window_s: 300      # range queries look back this far (gates use samples after a stage began)
    step_s: 1          # range query resolution
    signals:
      - name: ticket-summarizer.latency_p95.canary
        kind: latency
        feature: ticket-summarizer
        unit: ms
        cohort: canary
        query: 'jitplan_latency_ms{feature="{{feature}}",cohort="{{cohort}}"}'
"""

from __future__ import annotations

__all__ = ["PLACEHOLDERS", "PrometheusServer", "SignalQuery", "SourcesFile"]

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jitplan.contracts.loading import FromFile
from jitplan.contracts.signals import SignalKind

PLACEHOLDERS: tuple[str, ...] = ("feature", "version", "cohort")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class PrometheusServer(BaseModel):
    """A Prometheus HTTP API endpoint (``/api/v1/query`` and ``/api/v1/query_range``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=1, max_length=2000)
    timeout_s: float = Field(default=5.0, gt=0, le=300)

    @model_validator(mode="before")
    @classmethod
    def _plain_address(cls, v: object) -> object:
        """``prometheus: http://host:9090`` is short for ``prometheus: {url: http://host:9090}``."""
        return {"url": v} if isinstance(v, str) else v

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("expected an http:// or https:// URL such as http://127.0.0.1:9090")
        return v.rstrip("/")


class SignalQuery(BaseModel):
    """One signal and the PromQL query that measures it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    kind: SignalKind
    feature: str = Field(min_length=1, max_length=128)
    unit: str = Field(max_length=64)
    cohort: Literal["canary", "baseline", "shadow"] | None = None
    query: str = Field(min_length=1, max_length=10_000)
    version: str | None = Field(default=None, max_length=64)
    """Fixes ``{{version}}``; default: the version the flags state runs for the cohort."""
    prometheus: PrometheusServer | None = None
    """This query's server; default: the file's ``prometheus``."""

    @field_validator("query")
    @classmethod
    def _known_placeholders(cls, v: str) -> str:
        for m in _PLACEHOLDER.finditer(v):
            if m.group(1) not in PLACEHOLDERS:
                raise ValueError(f"unknown placeholder {{{{{m.group(1)}}}}}; expected one of "
                                 + ", ".join(f"{{{{{p}}}}}" for p in PLACEHOLDERS))
        return v

    @model_validator(mode="after")
    def _unit_of_kind(self) -> SignalQuery:
        # a built-in or registered kind knows its units; a kind registered later is checked
        # when its signals are (contract check)
        from jitplan.contracts.signal_kinds import get_kind

        spec = get_kind(self.kind)
        if spec is not None and spec.conversion(self.unit) is None:
            raise ValueError(f"unit {self.unit!r} is not a unit of kind {self.kind!r}; use one of "
                             f"{', '.join(spec.unit_names)}")
        return self

    def uses(self, placeholder: str) -> bool:
        return any(m.group(1) == placeholder for m in _PLACEHOLDER.finditer(self.query))

    def render(self, version: str | None) -> str:
        """The query with its placeholders filled in (``version`` must be given when used)."""
        values = {"feature": self.feature, "cohort": self.cohort or "", "version": version or ""}
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.query)


class SourcesFile(FromFile):
    """The ``sources.yaml`` document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prometheus: PrometheusServer | None = None
    window_s: float = Field(default=300.0, gt=0, le=7 * 86400)
    step_s: float = Field(default=1.0, gt=0, le=3600)
    signals: list[SignalQuery] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _server_and_names(self) -> SourcesFile:
        seen: set[tuple[str, str | None]] = set()
        for i, q in enumerate(self.signals):
            if q.prometheus is None and self.prometheus is None:
                raise ValueError(f"signals[{i}] ({q.name}): no Prometheus server; give prometheus.url "
                                 "at the top level or in the entry")
            key = (q.name, q.cohort)
            if key in seen:
                raise ValueError(f"signals[{i}]: two entries named {q.name!r}"
                                 f"{f' for cohort {q.cohort}' if q.cohort else ''}")
            seen.add(key)
        return self

    def check_features(self, known: list[str], source: str) -> None:
        """``UserError`` for the first entry whose feature the catalog does not have."""
        import difflib

        from jitplan.contracts.errors import UserError

        for i, q in enumerate(self.signals):
            if q.feature not in known:
                close = difflib.get_close_matches(q.feature, known, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise UserError(f"unknown feature {q.feature!r}: the catalog has no such feature{hint}",
                                source=source, field=f"signals[{i}].feature")

    def server(self, q: SignalQuery) -> PrometheusServer:
        srv = q.prometheus or self.prometheus
        assert srv is not None  # checked by the validator
        return srv
