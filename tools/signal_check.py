"""Check signals against their data contracts: each is ok or quarantined with its reasons.

Units are normalized here, once: every signal is converted to its kind's canonical unit
(``contracts.signal_kinds``, ``contracts.units``) and the checked ``SignalStatus`` carries the
canonical value and unit, keeping the observed ones for provenance. A unit that cannot be
converted (or ``usd_per_day`` with no usable demand of the feature in the same snapshot to divide
by) quarantines the signal with the reason. Nothing downstream reads units again.

Quarantined signals are kept and reported, never dropped. The reference time for freshness is
``now`` when given, otherwise the snapshot's own ``observed_at`` (so a recorded snapshot checks
the same way tomorrow as today).
"""

from __future__ import annotations

__all__ = ["check_signal", "check_signals", "quarantined"]

from datetime import datetime

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.signals import ContractSet, Signal, SignalSnapshot, SignalStatus
from jitplan.contracts.units import Divisor, UnitError, convert_signal, divisor_kind, from_canonical


def check_signal(
    signal: Signal,
    contracts: ContractSet,
    *,
    now: datetime,
    feature_ids: set[str] | None = None,
    per: Divisor | None = None,
) -> SignalStatus:
    """One signal against the contract for its kind, its value made canonical.

    ``per`` is the usable value a dividing unit needs (e.g. the feature's demand for
    ``usd_per_day``); see ``check_signals``.
    """
    reasons: list[str] = []
    contract = contracts.for_kind(signal.kind)
    if feature_ids is not None and signal.feature not in feature_ids:
        reasons.append(f"unknown feature {signal.feature!r}: not in the catalog")
    converted = convert_signal(signal, per)
    if isinstance(converted, UnitError):
        reasons.append(str(converted))
        out, note = signal, ""
    else:
        out, note = converted[0], converted[1].note
    if contract is None:
        reasons.append(f"no data contract for kind {signal.kind!r}")
    else:
        if not isinstance(converted, UnitError):
            try:
                v = from_canonical(signal.kind, out.value, contract.unit, per=per)
            except UnitError as exc:
                reasons.append(f"cannot check the contract's limits in {contract.unit!r}: {exc}")
            else:
                shown = f"{v:g}" + ("" if contract.unit == signal.unit else f" {contract.unit}")
                if contract.min is not None and v < contract.min:
                    reasons.append(f"value {shown} below the contract minimum {contract.min:g}")
                if contract.max is not None and v > contract.max:
                    reasons.append(f"value {shown} above the contract maximum {contract.max:g}")
        if contract.max_age_s is not None:
            age = (now - signal.observed_at).total_seconds()
            if age > contract.max_age_s:
                reasons.append(
                    f"stale: observed {age:.0f} s before {now.isoformat()}, "
                    f"contract allows {contract.max_age_s:g} s"
                )
            elif age < -60:
                reasons.append(f"observed {-age:.0f} s in the future")
        if contract.lineage_required and not signal.lineage:
            reasons.append("lineage is required for this kind and none was given")
    changed = out is not signal
    return SignalStatus(
        signal=out, ok=not reasons, reasons=reasons,
        original_value=signal.value if changed else None,
        original_unit=signal.unit if changed else None,
        conversion=note,
    )


def _divides_by(signal: Signal, contracts: ContractSet) -> str | None:
    """The kind the signal's unit, or its contract's unit, divides by."""
    contract = contracts.for_kind(signal.kind)
    return divisor_kind(signal.kind, signal.unit) or (
        divisor_kind(signal.kind, contract.unit) if contract is not None else None)


def check_signals(
    snapshot: SignalSnapshot,
    contracts: ContractSet,
    catalog: Catalog | None = None,
    now: datetime | None = None,
) -> list[SignalStatus]:
    """Every signal of a snapshot, in file order, with its verdict.

    Signals whose unit (or whose contract's unit) divides by another kind are checked last, with the latest signal of that
    kind for the same feature that passed its own contract.
    """
    ref = now or snapshot.observed_at
    ids = set(catalog.ids) if catalog is not None else None
    sigs = snapshot.signals
    out: list[SignalStatus | None] = [None] * len(sigs)
    later: list[int] = []
    for i, s in enumerate(sigs):
        if _divides_by(s, contracts):
            later.append(i)
        else:
            out[i] = check_signal(s, contracts, now=ref, feature_ids=ids)
    latest: dict[tuple[str, str], Signal] = {}
    for st in out:
        if st is not None and st.ok:
            key = (st.signal.kind, st.signal.feature)
            if key not in latest or st.signal.observed_at > latest[key].observed_at:
                latest[key] = st.signal
    for i in later:
        s = sigs[i]
        best = latest.get((_divides_by(s, contracts) or "", s.feature))
        per = Divisor(best.value, best.name) if best is not None else None
        out[i] = check_signal(s, contracts, now=ref, feature_ids=ids, per=per)
    return [st for st in out if st is not None]


def quarantined(statuses: list[SignalStatus]) -> list[SignalStatus]:
    return [s for s in statuses if not s.ok]
