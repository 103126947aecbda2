"""Without a per-tick series, each chunk keeps one latency histogram row: same results, both engines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jitplan import simulator
from jitplan.simulator.replication import run_replication
from jitplan.simulator.result import SimResult
from jitplan.simulator.stats import Chunk

SIM = Path(__file__).resolve().parents[2] / "scenarios" / "sim"
CASES = sorted(p.name for p in SIM.glob("*.yaml"))


def test_a_lean_chunk_has_one_histogram_row() -> None:
    assert Chunk.empty(3, 40, 2, tick_hists=False).hist_tick.shape == (1, simulator.histogram.NBINS)
    assert Chunk.empty(3, 40, 2).hist_tick.shape == (40, simulator.histogram.NBINS)


@pytest.mark.parametrize("engine", ["fast", "exact"])
@pytest.mark.parametrize("name", CASES)
def test_lean_replication_measures_the_same(name: str, engine: str) -> None:
    sc = simulator.load_scenario(SIM / name)
    cap = 60_000 if engine == "fast" else 6_000
    if sc.requests is None or sc.requests > cap:
        sc = sc.model_copy(update={"requests": cap, "duration_s": None})
    runs = [run_replication(sc, sc.plan, engine, np.random.SeedSequence(sc.seed).spawn(1)[0], 0, series=s)
            for s in (True, False)]
    assert runs[1].series.shape[0] == 0
    docs = [SimResult(sc.name, engine, sc.seed, (r,), sc.plan.id if sc.plan else None).to_json() for r in runs]
    assert docs[0] == docs[1]
