"""Timeline plots of one scenario of a cycle's simulation matrix (PNG, matplotlib Agg).

The cycle keeps no per-tick series (``simulate_plan`` drops them), so the scenario is rebuilt
from the checkpointed inputs exactly as the ``simulate`` node built it and its replication 0
(the same seeded draw) is run again with the series kept.
"""

from __future__ import annotations

__all__ = ["scenario_png"]

import io
import threading
from collections import OrderedDict
from typing import Any

from jitplan.contracts.errors import UserError

_CACHE: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
_LOCK = threading.Lock()
_RUNS = threading.BoundedSemaphore(2)
"""At most two scenarios simulated at once (a page asks for all its plots together)."""


def _series(thread_id: str, key: str) -> tuple[Any, str]:
    """The replication-0 ``SimResult`` (with series) of scenario ``feature:row``, and its title."""
    from jitplan.agent.nodes.common import load_inputs
    from jitplan.agent.runtime import load_values
    from jitplan.contracts.plan import Plan
    from jitplan.contracts.signals import SignalStatus
    from jitplan.tools.evidence_matrix import apply_evidence
    from jitplan.tools.evidence_sim import run_drawn
    from jitplan.tools.plan_simulation import build_scenarios, sub_plan

    values = load_values(thread_id)
    scenarios = (values.get("simulation") or {}).get("scenarios") or {}
    if key not in scenarios or values.get("plan") is None:
        raise UserError(f"cycle {thread_id} has no simulated scenario {key!r}", source="scenario")
    feature, _, row = key.partition(":")
    cin = load_inputs(values["inputs"])
    plan = Plan.model_validate(values["plan"])
    statuses = [SignalStatus.model_validate(s) for s in values.get("signals", [])]
    serving = cin.state.get(feature).version
    rows = build_scenarios(plan, cin.catalog, statuses, feature, serving=serving)
    if row not in rows:
        raise UserError(f"scenario {key!r} cannot be rebuilt from the cycle's inputs", source="scenario")
    view = apply_evidence(rows[row], cin.catalog, feature, cin.evidence, statuses, serving=serving)
    res = run_drawn(view.scenario, sub_plan(plan, feature), view.profiles, replications=1, series=True)
    return res, f"{key} (replication 0, seed {res.seed})"


def _render(res: Any, title: str) -> bytes:
    """The three timelines as a PNG (``Figure`` with the Agg canvas: no pyplot state, so
    request threads may render at the same time)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols, rows = res.series()
    c = {name: i for i, name in enumerate(cols)}
    t = rows[:, c["t_s"]] / 3600.0
    fig = Figure(figsize=(7.5, 5.4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, 1, sharex=True)
    axes[0].plot(t, rows[:, c["latency_p95_s"]], label="p95", lw=0.9)
    axes[0].plot(t, rows[:, c["latency_mean_s"]], label="mean", lw=0.9)
    axes[0].set_ylabel("latency (s)")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[1].plot(t, rows[:, c["error_rate"]], color="tab:red", lw=0.9)
    axes[1].set_ylabel("error rate")
    axes[2].plot(t, rows[:, c["cost_usd"]], color="tab:purple", lw=0.9)
    axes[2].set_ylabel("cost (USD/tick)")
    axes[2].set_xlabel("time (h)")
    for e in res.timeline:
        if e.kind in ("rollback", "gate_failed", "fault_started", "plan_aborted"):
            for ax in axes:
                ax.axvline(e.t / 3600.0, color="grey", ls=":", lw=0.8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def scenario_png(thread_id: str, key: str) -> bytes:
    """The PNG of scenario ``key`` (``feature:row``) of cycle ``thread_id`` (cached)."""
    from jitplan.contracts.home import jitplan_home

    cache_key = (str(jitplan_home()), thread_id, key)
    with _LOCK:
        hit = _CACHE.get(cache_key)
    if hit is not None:
        return hit
    with _RUNS:
        res, title = _series(thread_id, key)
        png = _render(res, title)
    with _LOCK:
        _CACHE[cache_key] = png
        while len(_CACHE) > 64:
            _CACHE.popitem(last=False)
    return png
