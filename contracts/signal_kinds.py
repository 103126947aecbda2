"""Signal kinds: one registry entry per kind, read by every place that enumerates kinds.

A ``SignalKindSpec`` says, for one kind: its canonical unit and the units convertible to it, which
direction is bad, the gate metric(s) its signals measure, and what the planner does with a
finding (its priority, the catalog threshold it is compared with, and the planner rule).

Built-in kinds are listed in ``BUILTIN_KINDS``. More kinds come from

- ``register_kind(spec)`` (or the ``kinds_registered(*specs)`` context manager), or
- an installed package's entry point in the group ``jitplan.signal_kinds`` naming a
  ``SignalKindSpec`` (or a sequence of them); entry points are loaded the first time a kind is
  looked up that is not already registered.

A kind needs its data contract as well (``contracts.yaml``), or its signals are quarantined.
A finding of a kind whose ``rule`` the planner does not know is escalated, never activated.
"""

from __future__ import annotations

__all__ = [
    "BUILTIN_KINDS",
    "ENTRY_POINT_GROUP",
    "PLANNER_RULES",
    "PlannerRule",
    "SignalKindSpec",
    "UnitConversion",
    "get_kind",
    "kind_names",
    "kinds",
    "kinds_registered",
    "metric_directions",
    "metric_kind",
    "register_kind",
    "unregister_kind",
]

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

PlannerRule = Literal["activate", "degrade", "cost", "refresh", "escalate"]
"""What the offline planner does with a finding: staged rollout of a feature that is off
(``activate``), roll an in-flight canary back else escalate (``degrade``), cap the budget or fall
back (``cost``), refresh the prompt (``refresh``), hand it to a human (``escalate``)."""
PLANNER_RULES: tuple[str, ...] = get_args(PlannerRule)

ENTRY_POINT_GROUP = "jitplan.signal_kinds"


@dataclass(frozen=True)
class UnitConversion:
    """A unit convertible to its kind's canonical unit.

    ``canonical = value * factor``, divided by the canonical value of the ``per`` kind for the
    same feature in the same snapshot when ``per`` is set (e.g. ``usd_per_day`` ->
    ``usd_per_request`` is ``value / 1440 / demand_rpm``).
    """

    unit: str
    factor: float
    per: str | None = None


@dataclass(frozen=True)
class SignalKindSpec:
    """Everything jitplan knows about one signal kind."""

    name: str
    canonical_unit: str
    units: tuple[UnitConversion, ...] = ()
    """Other accepted units (the canonical unit is always accepted)."""
    bad: Literal["high", "low"] | None = None
    """Which direction of the value is bad (None: neither, e.g. demand)."""
    metric: str | None = None
    """The gate metric a signal of this kind measures by default (None: it gates nothing)."""
    extra_metrics: tuple[str, ...] = ()
    """Further gate metrics its signals may measure, chosen by name (``<feature>.latency_p99``)."""
    derived_metrics: tuple[str, ...] = ()
    """Gate metrics of the same direction computed from this kind (by the simulator), never read
    from a signal (e.g. ``cost_usd_per_day``: cost signals are per request once converted)."""
    threshold: str | float | None = None
    """What a usable value is compared with to make a finding: a dotted attribute of the serving
    ``FeatureSpec`` (``slo.latency_p95_ms``) or a constant. None: never a finding."""
    when: Literal["active", "off"] = "active"
    """Findings only while the feature serves (``active``) or only while it is off (``off``)."""
    rule: str | None = None
    """The planner rule for a finding (one of ``PLANNER_RULES``); anything else escalates."""
    priority: int = 100
    """Planner order: the most urgent finding of a feature (lowest number) decides its action."""
    detail: str = "{kind} {value:g} {unit} {op} threshold {threshold:g} on {key}"
    """Finding text; fields: kind, value, unit, op, threshold, feature, key."""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.canonical_unit:
            raise ValueError("a signal kind needs a name and a canonical unit")
        seen = {self.canonical_unit}
        for c in self.units:
            if c.unit in seen:
                raise ValueError(f"kind {self.name!r}: unit {c.unit!r} listed twice")
            if not c.factor > 0:
                raise ValueError(f"kind {self.name!r}: unit {c.unit!r} needs a positive factor")
            seen.add(c.unit)

    @property
    def unit_names(self) -> tuple[str, ...]:
        """The canonical unit, then the convertible ones."""
        return (self.canonical_unit, *(c.unit for c in self.units))

    def conversion(self, unit: str) -> UnitConversion | None:
        """How ``unit`` becomes canonical (factor 1 for the canonical unit); None when unknown."""
        if unit == self.canonical_unit:
            return UnitConversion(unit, 1.0)
        return next((c for c in self.units if c.unit == unit), None)

    @property
    def metrics(self) -> tuple[str, ...]:
        return ((self.metric,) if self.metric else ()) + self.extra_metrics

    def fires(self, value: float, threshold: float) -> bool:
        """True when ``value`` is on the wrong side of ``threshold`` (at or above for a trigger)."""
        if self.bad == "high":
            return value > threshold
        if self.bad == "low":
            return value < threshold
        return value >= threshold

    @property
    def op(self) -> str:
        return {"high": ">", "low": "<"}.get(self.bad or "", ">=")

    def threshold_for(self, spec: Any) -> float | None:
        """The threshold for one feature version (None when this kind has none)."""
        if self.threshold is None or isinstance(self.threshold, int | float):
            return None if self.threshold is None else float(self.threshold)
        obj: Any = spec
        for part in self.threshold.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                return None
        return float(obj) if isinstance(obj, int | float) else None


_PCT = UnitConversion("percent", 0.01)

BUILTIN_KINDS: tuple[SignalKindSpec, ...] = (
    SignalKindSpec(
        "demand", "rpm", (UnitConversion("rps", 60.0), UnitConversion("rph", 1 / 60)),
        threshold="triggers.demand_min_rpm", when="off", rule="activate", priority=4,
        detail="demand {value:g} rpm >= trigger {threshold:g} rpm and {feature} is off",
        description="requests per minute for a feature",
    ),
    SignalKindSpec(
        "drift", "ratio", (_PCT,), bad="high", threshold="triggers.drift_max", rule="refresh",
        priority=3, detail="drift {value:g} > threshold {threshold:g} on {key}",
        description="share of answers drifting from the golden set",
    ),
    SignalKindSpec(
        "data_quality", "ratio", (_PCT,), bad="low", extra_metrics=("quality",),
        description="quality of inputs or answers; signals named <feature>.quality gate 'quality'",
    ),
    SignalKindSpec(
        "latency", "ms", (UnitConversion("s", 1000.0), UnitConversion("us", 0.001)), bad="high",
        metric="latency_p95_ms", extra_metrics=("latency_p50_ms", "latency_p99_ms"),
        threshold="slo.latency_p95_ms", rule="degrade", priority=1,
        detail="latency p95 {value:g} ms > SLO {threshold:g} ms on {key}",
        description="response time",
    ),
    SignalKindSpec(
        "cost", "usd_per_request",
        (UnitConversion("usd_per_1k_requests", 0.001), UnitConversion("usd_per_day", 1 / 1440, per="demand"),
         UnitConversion("usd_per_hour", 1 / 60, per="demand")),
        bad="high", metric="cost_per_request_usd", derived_metrics=("cost_usd_per_day",),
        threshold="cost.per_request_usd", rule="cost", priority=2,
        detail="cost {value:g} {unit} > envelope {threshold:g} on {key}",
        description="spend; per-day and per-hour figures are divided by the feature's demand",
    ),
    SignalKindSpec(
        "error_rate", "ratio", (_PCT,), bad="high", metric="error_rate",
        threshold="slo.error_rate_max", rule="degrade", priority=0,
        detail="error rate {value:g} > SLO {threshold:g} on {key}",
        description="share of failed requests",
    ),
    SignalKindSpec("risk", "score", bad="high", description="an external risk score in [0, 1]"),
)

@dataclass
class _Registry:
    kinds: dict[str, SignalKindSpec] = field(default_factory=dict)
    entry_points_loaded: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)


_REG = _Registry({k.name: k for k in BUILTIN_KINDS})
_BUILTIN_NAMES = frozenset(k.name for k in BUILTIN_KINDS)


def _check_metrics(spec: SignalKindSpec) -> None:
    dirs = metric_directions()
    for m in (*spec.metrics, *spec.derived_metrics):
        if spec.bad is None:
            raise ValueError(f"kind {spec.name!r} gates metric {m!r} but says no direction is bad")
        if m in dirs and dirs[m] != (spec.bad == "high"):
            raise ValueError(f"kind {spec.name!r}: metric {m!r} already has the opposite direction")


def register_kind(spec: SignalKindSpec, *, replace: bool = False) -> SignalKindSpec:
    """Add a kind (ValueError when its name is taken, unless ``replace`` and not built in)."""
    if not isinstance(spec, SignalKindSpec):
        raise TypeError(f"expected a SignalKindSpec, got {type(spec).__name__}")
    with _REG.lock:
        if spec.name in _REG.kinds and (not replace or spec.name in _BUILTIN_NAMES):
            raise ValueError(f"signal kind {spec.name!r} is already registered")
        for c in spec.units:
            if c.per is not None and c.per not in _REG.kinds and c.per != spec.name:
                raise ValueError(f"kind {spec.name!r}: unit {c.unit!r} divides by unknown kind {c.per!r}")
        old = _REG.kinds.pop(spec.name, None)
        try:
            _check_metrics(spec)
        except ValueError:
            if old is not None:
                _REG.kinds[old.name] = old
            raise
        _REG.kinds[spec.name] = spec
    return spec


def unregister_kind(name: str) -> None:
    """Remove a registered kind (built-in kinds cannot be removed)."""
    if name in _BUILTIN_NAMES:
        raise ValueError(f"signal kind {name!r} is built in")
    with _REG.lock:
        _REG.kinds.pop(name, None)


@contextmanager
def kinds_registered(*specs: SignalKindSpec) -> Iterator[tuple[SignalKindSpec, ...]]:
    """Register ``specs`` for the duration of a ``with`` block."""
    done: list[str] = []
    try:
        for s in specs:
            register_kind(s)
            done.append(s.name)
        yield specs
    finally:
        for name in reversed(done):
            unregister_kind(name)


def _load_entry_points() -> None:
    with _REG.lock:
        if _REG.entry_points_loaded:
            return
        _REG.entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        specs: Sequence[Any] = obj if isinstance(obj, list | tuple) else [obj]
        for s in specs:
            if s.name not in _REG.kinds:
                register_kind(s)


def get_kind(name: str) -> SignalKindSpec | None:
    """The registered kind ``name`` (entry points are consulted on a miss); None when unknown."""
    spec = _REG.kinds.get(name)
    if spec is None and not _REG.entry_points_loaded:
        _load_entry_points()
        spec = _REG.kinds.get(name)
    return spec


def kinds() -> tuple[SignalKindSpec, ...]:
    """Every registered kind, built-in ones first."""
    _load_entry_points()
    return tuple(_REG.kinds.values())


def kind_names() -> tuple[str, ...]:
    return tuple(k.name for k in kinds())


def metric_kind(metric: str) -> SignalKindSpec | None:
    """The kind whose signals (or simulation) give a gate metric; None for an unknown metric."""
    _load_entry_points()
    return next((k for k in _REG.kinds.values() if metric in (*k.metrics, *k.derived_metrics)), None)


def metric_directions() -> dict[str, bool]:
    """Gate metric -> True when higher is worse, from the registered kinds."""
    out: dict[str, bool] = {}
    for k in _REG.kinds.values():
        for m in (*k.metrics, *k.derived_metrics):
            out.setdefault(m, k.bad == "high")
    return out
