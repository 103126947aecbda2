"""What ``jitplan apply`` observed on shadow and canary steps, as evidence for the next cycle.

``records_from_execution(result, plan)`` reads each judged ``shadow`` or ``canary`` step's gate
(the tolerance checks' observed latency p95, error rate, quality and cost per request, the
sample size ``n``, and the canary's median latency from the canary analysis) and makes one
evidence record per step, ``source`` = the step's action. ``write_observed(records, directory,
name)`` writes them as an evidence file, so a later ``--evidence DIRECTORY`` reads them: a
shadow's observations are what the next cycle canaries on.
"""

from __future__ import annotations

__all__ = ["records_from_execution", "write_observed"]

import math
from datetime import UTC, datetime
from pathlib import Path

from jitplan.contracts.evidence import EvidenceFile, EvidenceRecord, LatencyQuantiles
from jitplan.contracts.execution import ExecutionResult, GateVerdict
from jitplan.contracts.plan import Plan

_SIGMA = 0.5
"""Log-space spread assumed when only a p95 was observed (as for serving-version signals)."""


def _record(feature: str, version: str, source: str, gate: GateVerdict,
            now: datetime) -> EvidenceRecord | None:
    seen = {t.metric: t for t in gate.tolerances if t.observed is not None and math.isfinite(t.observed)}
    n = max((t.n for t in seen.values()), default=0)
    if n < 1 or not seen:
        return None
    lat = None
    if "latency_p95_ms" in seen and seen["latency_p95_ms"].observed:
        p95 = float(seen["latency_p95_ms"].observed)
        med = next((c.canary_median for c in gate.comparisons
                    if c.metric.startswith("latency") and c.canary_median), None)
        p50 = min(float(med), p95) if med else p95 / math.exp(1.6448536269514722 * _SIGMA)
        lat = LatencyQuantiles(p50=max(p50, 1e-3), p95=max(p95, 1e-3))

    def fig(metric: str, hi: float) -> float | None:
        t = seen.get(metric)
        return None if t is None or t.observed is None else min(max(float(t.observed), 0.0), hi)

    return EvidenceRecord(
        feature=feature, version=version, source=source,  # type: ignore[arg-type]
        observed_at=gate.since or now, requests=n, latency_ms=lat,
        error_rate=fig("error_rate", 1.0), quality=fig("quality", 1.0),
        cost_per_request_usd=fig("cost_per_request_usd", 1000.0),
    )


def records_from_execution(result: ExecutionResult, plan: Plan, *,
                           now: datetime | None = None) -> list[EvidenceRecord]:
    """One record per judged shadow/canary step of ``result`` (steps of ``plan``)."""
    now = now or datetime.now(UTC)
    steps = {s.id: s for s in plan.steps}
    out: list[EvidenceRecord] = []
    for outcome in result.steps:
        step = steps.get(outcome.step_id)
        if (step is None or outcome.gate is None or step.action not in ("shadow", "canary")
                or not step.feature or not step.version):
            continue
        rec = _record(step.feature, step.version, step.action, outcome.gate, now)
        if rec is not None:
            out.append(rec)
    return out


def write_observed(records: list[EvidenceRecord], directory: str | Path, name: str) -> Path | None:
    """Write ``records`` to ``directory/observed-<name>.yaml`` (nothing when there are none)."""
    import yaml

    if not records:
        return None
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name)[:100]
    path = d / f"observed-{safe}.yaml"
    doc = EvidenceFile(evidence=records).model_dump(mode="json", exclude_none=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=100), encoding="utf-8")
    return path
