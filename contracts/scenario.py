"""The ``Scenario`` contract: traffic, service, faults and drift replayed by the simulator.

A scenario is untrusted input (a YAML file or a dict built by the planner): unknown fields are
rejected and every value is range-checked. It is also meant to be easy to build in code::

    Scenario(name="s", requests=50_000,
             traffic=Traffic(rate_rps=9),
             service=Service(concurrency=10, latency=Latency(mean_s=1.0)))

Service is described per feature version. The inline fields of ``service`` (``latency``,
``error_rate``, ...) describe the *baseline* version, named by ``service.baseline``
(``"default"`` unless set, usually ``"<feature>@<version>"``); ``service.versions`` holds the
others (canary candidates), keyed the same way.
"""

from __future__ import annotations

__all__ = [
    "MAX_SIM_REQUESTS",
    "DataQualityDrop",
    "Diurnal",
    "Drift",
    "Fault",
    "Latency",
    "RateSegment",
    "Scenario",
    "Service",
    "Spike",
    "Traffic",
    "VersionProfile",
]

from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from jitplan.contracts.loading import FromFile
from jitplan.contracts.plan import Plan

MAX_SIM_REQUESTS = 2_000_000_000
"""Cap on simulated requests per replication (bounded work)."""


class _Strict(FromFile):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Latency(_Strict):
    """A service-time distribution (seconds).

    ``exponential`` and ``constant`` use ``mean_s``; ``lognormal`` uses ``mean_s`` and the
    log-space shape ``sigma``; ``empirical`` samples uniformly from ``values_s``.
    """

    dist: Literal["exponential", "lognormal", "constant", "empirical"] = "exponential"
    mean_s: float = Field(default=1.0, ge=0, le=86400)
    sigma: float = Field(default=0.5, gt=0, le=5)
    values_s: list[float] = Field(default_factory=list, max_length=100_000)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.dist == "empirical":
            if not self.values_s:
                raise ValueError("dist 'empirical' needs a non-empty values_s list")
            if any(v < 0 for v in self.values_s):
                raise ValueError("values_s must be non-negative")
        elif self.dist != "constant" and self.mean_s <= 0:
            raise ValueError(f"dist '{self.dist}' needs mean_s > 0")
        return self


class VersionProfile(_Strict):
    """How one feature version behaves: latency, errors, tokens, cost, quality, and its
    provider limits (``max_concurrency`` in flight, ``rpm_limit`` per fixed minute window)."""

    latency: Latency = Field(default_factory=Latency)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    input_tokens: float = Field(default=0.0, ge=0, le=10_000_000)
    output_tokens: float = Field(default=0.0, ge=0, le=10_000_000)
    seconds_per_input_token: float = Field(default=0.0, ge=0, le=10)
    seconds_per_output_token: float = Field(default=0.0, ge=0, le=10)
    usd_per_request: float = Field(default=0.0, ge=0, le=1000)
    usd_per_1k_input_tokens: float = Field(default=0.0, ge=0, le=1000)
    usd_per_1k_output_tokens: float = Field(default=0.0, ge=0, le=1000)
    quality: float = Field(default=1.0, ge=0, le=1)
    max_concurrency: int | None = Field(
        default=None, ge=1, le=100_000,
        description="provider limit on this version's requests in flight; beyond it they queue",
    )
    rpm_limit: float | None = Field(
        default=None, gt=0, le=1e9,
        description="provider requests per minute for this version; beyond it they are rejected",
    )


class Service(VersionProfile):
    """The backend: concurrency limit, client timeout and retries, and versions.

    The inherited fields describe the baseline version ``baseline``.
    """

    concurrency: int = Field(default=1, ge=1, le=100_000)
    timeout_s: float | None = Field(default=None, gt=0, le=86400)
    max_retries: int = Field(default=0, ge=0, le=10)
    retry_backoff_s: float = Field(default=0.0, ge=0, le=3600)
    baseline: str = Field(default="default", min_length=1, max_length=200)
    versions: dict[str, VersionProfile] = Field(default_factory=dict, max_length=16)

    @model_validator(mode="after")
    def _check_versions(self) -> Self:
        if self.baseline in self.versions:
            raise ValueError(
                f"versions must not redefine the baseline '{self.baseline}' "
                "(its profile is the inline service fields)"
            )
        return self

    def profile(self, key: str) -> VersionProfile:
        """The profile of version ``key`` (the baseline's is the inline fields)."""
        if key == self.baseline:
            return self
        return self.versions[key]

    @property
    def version_keys(self) -> list[str]:
        """Baseline first, then the other versions in sorted order."""
        return [self.baseline, *sorted(self.versions)]


class RateSegment(_Strict):
    """From ``start_s`` on, the base arrival rate is ``rate_rps`` (piecewise-constant)."""

    start_s: float = Field(ge=0)
    rate_rps: float = Field(ge=0, le=10_000_000)


class Diurnal(_Strict):
    """Multiplies the rate by ``1 + amplitude * cos(2π (t - peak_s) / period_s)``."""

    amplitude: float = Field(default=0.5, ge=0, le=1)
    period_s: float = Field(default=86400.0, gt=0)
    peak_s: float = Field(default=50400.0, ge=0)


class Spike(_Strict):
    """Multiplies the rate by ``multiplier`` during ``[start_s, start_s + duration_s)``."""

    start_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)
    multiplier: float = Field(default=5.0, ge=0, le=10_000)


class Traffic(_Strict):
    """Arrivals: Poisson with a (possibly time-varying) rate, or a recorded trace."""

    arrival: Literal["poisson", "trace"] = "poisson"
    rate_rps: float = Field(default=1.0, ge=0, le=10_000_000)
    profile: list[RateSegment] = Field(default_factory=list, max_length=10_000)
    diurnal: Diurnal | None = None
    spikes: list[Spike] = Field(default_factory=list, max_length=1000)
    path: str | None = Field(default=None, description="trace CSV (arrival: trace)")
    speedup: float = Field(default=1.0, gt=0, le=10_000, description="trace time compression")
    loop: bool = Field(default=True, description="replay the trace again when it ends")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.arrival == "trace" and not self.path:
            raise ValueError("arrival 'trace' needs path (a CSV with TIMESTAMP and token columns)")
        starts = [seg.start_s for seg in self.profile]
        if starts != sorted(starts):
            raise ValueError("profile segments must be sorted by start_s")
        return self


class Fault(_Strict):
    """A failure injected during ``[start_s, start_s + duration_s)``.

    ``outage``: requests to ``target`` fail at once (no server time); ``latency_spike``: service
    times × ``multiplier``; ``error_burst``: error rate raised to ``error_rate``;
    ``rate_limit``: at most ``limit_rps`` requests admitted per second, the rest rejected.
    ``target`` is a version key; ``None`` means every version.
    """

    kind: Literal["outage", "latency_spike", "error_burst", "rate_limit"]
    start_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)
    target: str | None = None
    multiplier: float = Field(default=5.0, ge=0, le=10_000)
    error_rate: float = Field(default=0.5, ge=0, le=1)
    limit_rps: float = Field(default=1.0, ge=0)


class Drift(_Strict):
    """Quality of ``target`` (every version if ``None``) decays linearly from ``start_s``.

    ``refresh_prompt`` on a version restarts its decay from its base quality.
    """

    target: str | None = None
    start_s: float = Field(default=0.0, ge=0)
    quality_decay_per_hour: float = Field(default=0.01, ge=0, le=100)


class DataQualityDrop(_Strict):
    """Degraded inputs during a window: quality drops and errors rise on every version."""

    start_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)
    quality_drop: float = Field(default=0.1, ge=0, le=1)
    error_rate_add: float = Field(default=0.0, ge=0, le=1)


class Scenario(_Strict):
    """Everything one simulation run needs (the plan under test may come separately)."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    requests: int | None = Field(default=None, ge=1, le=MAX_SIM_REQUESTS)
    duration_s: float | None = Field(default=None, gt=0, le=366 * 86400)
    warmup_requests: int = Field(default=0, ge=0)
    warmup_s: float = Field(default=0.0, ge=0)
    tick_s: float | None = Field(
        default=None, gt=0, le=86400, description="time-series resolution (default: auto)"
    )
    step_interval_s: float | None = Field(
        default=None, gt=0, description="hold per plan step (default: its tolerance windows)"
    )
    plan_start_s: float | None = Field(
        default=None, ge=0, description="when the plan starts (default: end of warm-up)"
    )
    replications: int = Field(default=1, ge=1, le=10_000)
    traffic: Traffic = Field(default_factory=Traffic)
    service: Service = Field(default_factory=Service)
    faults: list[Fault] = Field(default_factory=list, max_length=1000)
    drift: list[Drift] = Field(default_factory=list, max_length=100)
    data_quality: list[DataQualityDrop] = Field(default_factory=list, max_length=1000)
    plan: Plan | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.requests is None) == (self.duration_s is None):
            raise ValueError("give exactly one of requests or duration_s")
        if self.requests is not None and self.warmup_requests >= self.requests:
            raise ValueError("warmup_requests must be smaller than requests")
        if self.duration_s is not None and self.warmup_s >= self.duration_s:
            raise ValueError("warmup_s must be smaller than duration_s")
        t = self.traffic
        if (
            self.requests is not None
            and t.arrival == "poisson"
            and t.rate_rps <= 0
            and not t.profile
        ):
            raise ValueError("requests mode needs traffic.rate_rps > 0")
        keys = set(self.service.version_keys)
        for i, f in enumerate(self.faults):
            if f.target is not None and f.target not in keys:
                raise ValueError(f"faults[{i}].target '{f.target}' is not a service version")
        for i, d in enumerate(self.drift):
            if d.target is not None and d.target not in keys:
                raise ValueError(f"drift[{i}].target '{d.target}' is not a service version")
        return self
