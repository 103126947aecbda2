"""What makes ``jitplan watch`` run a cycle: each feature's trigger state in a snapshot.

A feature's trigger state is the sorted list of what the offline analysis finds about it (a
signal on the bad side of the catalog threshold: ``finding:<kind>:<signal>``) and of its signals
that break their data contract (``contract:<signal>``), only names, never values or ages, so a
steady breach is one state and not a new one per snapshot. A cycle runs when the state changes:
a signal crosses a trigger, breaks a contract, or returns to normal (``[]``, the fast path).
Features without signals in the snapshot keep their previous state.
"""

from __future__ import annotations

__all__ = ["TriggerState", "trigger_states"]

import json

from jitplan.contracts.catalog import Catalog
from jitplan.contracts.signals import ContractSet, SignalSnapshot
from jitplan.contracts.state import DeploymentState

TriggerState = str
"""A canonical JSON list of trigger names (``[]``: nothing triggers)."""


def trigger_states(
    snapshot: SignalSnapshot,
    contracts: ContractSet,
    catalog: Catalog,
    state: DeploymentState,
    *,
    skip: frozenset[str] = frozenset(),
) -> dict[str, TriggerState]:
    """Each catalog feature with signals in ``snapshot`` (except ``skip``) -> its trigger state."""
    from jitplan.agent.planners.findings import analyze
    from jitplan.tools.signal_check import check_signals

    known = set(catalog.ids)
    statuses = check_signals(snapshot, contracts, catalog)
    found, _notes = analyze(catalog, statuses, state)
    out: dict[str, set[str]] = {s.signal.feature: set() for s in statuses
                                if s.signal.feature in known and s.signal.feature not in skip}
    for f in found:
        if f.feature in out:
            out[f.feature].add(f"finding:{f.kind}:{f.signal}")
    for s in statuses:
        if not s.ok and s.signal.feature in out:
            out[s.signal.feature].add(f"contract:{s.signal.name}")
    return {f: json.dumps(sorted(v)) for f, v in sorted(out.items())}
