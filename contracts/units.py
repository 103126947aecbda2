"""Signal values in their kind's canonical unit (the units of ``contracts.signal_kinds``).

Units are converted once, when signals are checked (``tools.signal_check``): the checked signal
carries the canonical value and unit, and ``SignalStatus`` keeps the value and unit as observed.
A unit that divides by another kind (``usd_per_day`` by ``demand``) uses that kind's value for
the same feature in the same snapshot; without one the signal cannot be converted.
"""

from __future__ import annotations

__all__ = [
    "Converted",
    "Divisor",
    "UnitError",
    "canonical_signals",
    "convert_signal",
    "divisor_kind",
    "from_canonical",
    "to_canonical",
]

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jitplan.contracts.signal_kinds import SignalKindSpec, UnitConversion, get_kind
from jitplan.contracts.signals import Signal


class UnitError(ValueError):
    """A value that cannot be brought to (or from) its kind's canonical unit."""


@dataclass(frozen=True)
class Converted:
    """A value in its kind's canonical unit, with how it got there."""

    value: float
    unit: str
    note: str = ""
    """Empty when the value was already canonical, else e.g. ``0.4 s -> 400 ms``."""


@dataclass(frozen=True)
class Divisor:
    """The canonical value of the kind a unit divides by, and the signal it came from."""

    value: float
    name: str


def _lookup(kind: str, unit: str) -> tuple[SignalKindSpec, UnitConversion]:
    spec = get_kind(kind)
    if spec is None:
        raise UnitError(f"unknown signal kind {kind!r}")
    conv = spec.conversion(unit)
    if conv is None:
        raise UnitError(
            f"unit {unit!r} cannot be converted to {spec.canonical_unit!r} for kind {kind!r} "
            f"(known units: {', '.join(spec.unit_names)})"
        )
    return spec, conv


def divisor_kind(kind: str, unit: str) -> str | None:
    """The kind whose value ``unit`` divides by (None when none, or when unknown)."""
    try:
        return _lookup(kind, unit)[1].per
    except UnitError:
        return None


def _per_value(spec: SignalKindSpec, conv: UnitConversion, per: Divisor | None) -> float:
    assert conv.per is not None
    need = get_kind(conv.per)
    need_unit = need.canonical_unit if need else conv.per
    if per is None:
        raise UnitError(
            f"unit {conv.unit!r} becomes {spec.canonical_unit!r} only with the {conv.per} "
            f"({need_unit}) of the same feature in the same snapshot, and none is usable"
        )
    if not per.value > 0:
        raise UnitError(
            f"unit {conv.unit!r} becomes {spec.canonical_unit!r} by dividing by the {conv.per}, "
            f"which is {per.value:g} {need_unit} ({per.name})"
        )
    return per.value


def to_canonical(kind: str, value: float, unit: str, *, per: Divisor | None = None) -> Converted:
    """``value`` in ``unit`` as the kind's canonical unit (UnitError when it cannot be)."""
    spec, conv = _lookup(kind, unit)
    if conv.per is None:
        if unit == spec.canonical_unit:
            return Converted(value, unit)
        out = value * conv.factor
        return Converted(out, spec.canonical_unit, f"{value:g} {unit} -> {out:g} {spec.canonical_unit}")
    d = _per_value(spec, conv, per)
    assert per is not None
    out = value * conv.factor / d
    need = get_kind(conv.per)
    return Converted(
        out, spec.canonical_unit,
        f"{value:g} {unit} x {conv.factor:g} / {d:g} {need.canonical_unit if need else ''} "
        f"({per.name}) -> {out:g} {spec.canonical_unit}",
    )


def from_canonical(kind: str, value: float, unit: str, *, per: Divisor | None = None) -> float:
    """A canonical ``value`` expressed in ``unit`` (for limits written in another unit)."""
    spec, conv = _lookup(kind, unit)
    if conv.per is None:
        return value / conv.factor
    return value * _per_value(spec, conv, per) / conv.factor


def canonical_signals(
    signals: Sequence[Signal],
    usable: Callable[[int], bool] = lambda i: True,
) -> list[tuple[Signal, Converted] | UnitError]:
    """Every signal converted to its canonical unit (in order), or the reason it cannot be.

    A dividing unit uses the latest usable, convertible signal of the divisor kind for the same
    feature; ``usable(i)`` excludes signals (e.g. those breaking their contract).
    """
    out: list[tuple[Signal, Converted] | UnitError | None] = [None] * len(signals)
    later: list[int] = []
    for i, s in enumerate(signals):
        spec = get_kind(s.kind)
        if spec is not None and s.unit == spec.canonical_unit:  # the common case, kept cheap
            out[i] = (s, Converted(s.value, s.unit))
        elif divisor_kind(s.kind, s.unit):
            later.append(i)
        else:
            out[i] = convert_signal(s)
    latest: dict[tuple[str, str], Signal] = {}
    for j, r in enumerate(out):
        if isinstance(r, tuple) and usable(j):
            key = (r[0].kind, r[0].feature)
            if key not in latest or r[0].observed_at > latest[key].observed_at:
                latest[key] = r[0]
    for i in later:
        s = signals[i]
        best = latest.get((divisor_kind(s.kind, s.unit) or "", s.feature))
        out[i] = convert_signal(s, Divisor(best.value, best.name) if best else None)
    return [r for r in out if r is not None]


def convert_signal(signal: Signal, per: Divisor | None = None) -> tuple[Signal, Converted] | UnitError:
    """``signal`` with its value and unit made canonical, or the UnitError saying why not."""
    try:
        c = to_canonical(signal.kind, signal.value, signal.unit, per=per)
    except UnitError as exc:
        return exc
    if not c.note:
        return signal, c
    return signal.model_copy(update={"value": c.value, "unit": c.unit}), c
