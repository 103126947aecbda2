"""Check signals against their data contracts: each is ok or quarantined with its reasons.

Quarantined signals are kept and reported, never dropped. The reference time for freshness is
``now`` when given, otherwise the snapshot's own ``observed_at`` (so a recorded snapshot checks
the same way tomorrow as today).
"""

from __future__ import annotations

__all__ = ["check_signal", "check_signals", "quarantined"]

from datetime import datetime

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.signals import ContractSet, Signal, SignalSnapshot, SignalStatus


def check_signal(
    signal: Signal,
    contracts: ContractSet,
    *,
    now: datetime,
    feature_ids: set[str] | None = None,
) -> SignalStatus:
    """One signal against the contract for its kind."""
    reasons: list[str] = []
    contract = contracts.for_kind(signal.kind)
    if feature_ids is not None and signal.feature not in feature_ids:
        reasons.append(f"unknown feature {signal.feature!r}: not in the catalog")
    if contract is None:
        reasons.append(f"no data contract for kind {signal.kind!r}")
    else:
        if signal.unit != contract.unit:
            reasons.append(f"unit {signal.unit!r} does not match the contract's {contract.unit!r}")
        if contract.min is not None and signal.value < contract.min:
            reasons.append(f"value {signal.value:g} below the contract minimum {contract.min:g}")
        if contract.max is not None and signal.value > contract.max:
            reasons.append(f"value {signal.value:g} above the contract maximum {contract.max:g}")
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
    return SignalStatus(signal=signal, ok=not reasons, reasons=reasons)


def check_signals(
    snapshot: SignalSnapshot,
    contracts: ContractSet,
    catalog: Catalog | None = None,
    now: datetime | None = None,
) -> list[SignalStatus]:
    """Every signal of a snapshot, in file order, with its verdict."""
    ref = now or snapshot.observed_at
    ids = set(catalog.ids) if catalog is not None else None
    return [check_signal(s, contracts, now=ref, feature_ids=ids) for s in snapshot.signals]


def quarantined(statuses: list[SignalStatus]) -> list[SignalStatus]:
    return [s for s in statuses if not s.ok]
