"""Live signals from Prometheus: each ``sources.yaml`` entry's PromQL query becomes signals.

``PrometheusSource`` is a ``SignalSource``. ``latest()`` serves the orchestrator's gates: a
range query per entry over the last ``window_s`` (``mode="range"``), every point one sample of
its cohort, stamped with its own time, so a stage is judged on the points after it began. In
``mode="instant"`` (``jitplan watch``) each series gives its current value.

Every result is an ordinary ``Signal`` checked under its data contract, with ``source``
(``prometheus <url>``) and ``lineage`` naming the query (``query:<name>``, ``promql:<text>``,
``cohort:<c>``, ``series:{labels}``). A query without a usable answer never passes:

- empty result, only NaN/Inf values, or no version for ``{{version}}`` -> no samples from that
  query, and a reason in the reading (``<name> (<feature>): no samples: <why>``): a gate short
  of samples is inconclusive and names it, never passes;
- unreachable server, HTTP error, timeout or a malformed answer -> ``latest()`` raises a
  ``UserError`` naming the query and the cause (the gate: "signals unreadable", inconclusive).

``read()`` gives the per-query outcomes without raising (``jitplan watch`` reports each one).
"""

from __future__ import annotations

__all__ = ["PrometheusSource", "QueryOutcome"]

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from jitplan.contracts.errors import UserError
from jitplan.contracts.signals import ContractSet, Signal, SignalSnapshot
from jitplan.contracts.sources import SignalQuery, SourcesFile
from jitplan.tools.signal_source import SignalReading
from jitplan.tools.signal_sources.promql_http import (
    PromQueryError,
    Series,
    query_instant,
    query_range,
)

_MAX_SIGNALS = 10_000  # SignalSnapshot's limit: the newest are kept


@dataclass(frozen=True)
class QueryOutcome:
    """One entry's answer: its signals, or the problem that left it without any."""

    query: SignalQuery
    promql: str | None
    signals: tuple[Signal, ...]
    problem: str | None = None
    unreachable: bool = False
    """True when the server gave no answer at all (unreachable, HTTP error, timeout)."""

    @property
    def ok(self) -> bool:
        return self.problem is None


def _version(q: SignalQuery, state_path: Path | None) -> tuple[str | None, str | None]:
    """``{{version}}`` for the entry, or why there is none."""
    if q.version is not None or not q.uses("version"):
        return q.version, None
    if state_path is None:
        return None, "the query uses {{version}} but neither the entry nor a flags state (--state) gives one"
    from jitplan.tools.flags import FlagStore

    fs = FlagStore(state_path).read().get(q.feature)
    version = {"canary": fs.canary_version, "shadow": fs.shadow_version}.get(q.cohort or "", fs.version)
    if version is None:
        return None, f"no {q.cohort or 'serving'} version of {q.feature} in {state_path} for {{{{version}}}}"
    return version, None


class PrometheusSource:
    """Signals from the queries of a ``sources.yaml`` (see the module docstring); live."""

    live = True

    def __init__(
        self,
        spec: SourcesFile,
        *,
        contracts: ContractSet | None = None,
        state: str | os.PathLike[str] | None = None,
        mode: Literal["range", "instant"] = "range",
        name: str = "sources.yaml",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.contracts = contracts
        self.state = Path(state) if state is not None else None
        self.mode = mode
        self.name = name
        self.clock = clock

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kw: object) -> PrometheusSource:
        """Load ``sources.yaml`` (bad input: ``UserError`` naming the file and field)."""
        return cls(SourcesFile.from_file(path), name=str(path), **kw)  # type: ignore[arg-type]

    def _signals(self, q: SignalQuery, promql: str, url: str, series: list[Series]) -> QueryOutcome:
        lineage = [f"query:{q.name}", f"promql:{promql}", *([f"cohort:{q.cohort}"] if q.cohort else [])]
        out: list[Signal] = []
        bad = 0
        for s in series:
            extra = [f"series:{s.label_text()}"] if s.labels else []
            for p in s.samples:
                if not math.isfinite(p.value):
                    bad += 1
                    continue
                out.append(Signal(name=q.name, kind=q.kind, feature=q.feature, value=p.value, unit=q.unit,
                                  observed_at=datetime.fromtimestamp(p.t, UTC), source=f"prometheus {url}",
                                  lineage=[*lineage, *extra]))
        if out:
            return QueryOutcome(q, promql, tuple(out))
        why = f"every value was NaN or infinite ({bad})" if bad else "empty result (no series matched)"
        return QueryOutcome(q, promql, (), why)

    def query(self, q: SignalQuery, now: float) -> QueryOutcome:
        """Run one entry's query (never raises for a server or data problem)."""
        version, missing = _version(q, self.state)
        if missing:
            return QueryOutcome(q, None, (), missing)
        promql = q.render(version)
        srv = self.spec.server(q)
        try:
            if self.mode == "range":
                series = query_range(srv.url, promql, start=now - self.spec.window_s, end=now,
                                     step_s=self.spec.step_s, timeout_s=srv.timeout_s)
            else:
                series = query_instant(srv.url, promql, at=now, timeout_s=srv.timeout_s)
        except PromQueryError as exc:
            return QueryOutcome(q, promql, (), str(exc), unreachable=True)
        return self._signals(q, promql, srv.url, series)

    def read(self) -> tuple[datetime, list[QueryOutcome]]:
        """Every entry's outcome, and when they were asked."""
        now = self.clock()
        return datetime.fromtimestamp(now, UTC), [self.query(q, now) for q in self.spec.signals]

    def reading(self, at: datetime, outcomes: list[QueryOutcome]) -> SignalReading:
        """The outcomes as one checked reading; each failed query is a reason (and no sample)."""
        good = sorted((s for o in outcomes for s in o.signals), key=lambda s: s.observed_at)[-_MAX_SIGNALS:]
        snap = SignalSnapshot(observed_at=at, signals=good)
        reasons = [f"{o.query.name} ({o.query.feature}): no samples: {o.problem}" for o in outcomes if not o.ok]
        bad: set[int] = set()
        if self.contracts is not None:
            from jitplan.tools.signal_check import check_signals

            for i, st in enumerate(check_signals(snap, self.contracts)):
                if not st.ok:
                    bad.add(i)
                    reasons.append(f"{st.signal.name}: quarantined: {'; '.join(st.reasons)}")
        return SignalReading(snap, f"{self.name} (prometheus)", frozenset(bad), tuple(reasons))

    def latest(self) -> SignalReading:
        """The gate's read. A server that gave no answer is a ``UserError`` (never a pass)."""
        at, outcomes = self.read()
        down = [o for o in outcomes if o.unreachable]
        if down:
            o = down[0]
            more = f" (and {len(down) - 1} more queries)" if len(down) > 1 else ""
            raise UserError(f"query {o.query.name}: {o.problem}{more}", source=self.name)
        return self.reading(at, outcomes)
