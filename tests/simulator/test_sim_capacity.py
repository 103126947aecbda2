"""Provider limits per version: ``max_concurrency`` queues the excess, ``rpm_limit`` rejects it.

Both engines: a version capped at ``m`` slots behind a much larger shared pool is an M/M/m
queue (Erlang C); a version with an rpm limit below its arrival rate rejects the excess.
"""

from __future__ import annotations

import pytest

from jitplan import simulator
from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic
from jitplan.simulator.erlang import mmc_wait_mean


def _capped(cap: int | None, rpm: float | None = None, rate: float = 2.4) -> Scenario:
    return Scenario(
        name="capped", requests=60_000, warmup_requests=2_000, seed=11,
        traffic=Traffic(rate_rps=rate),
        service=Service(concurrency=50, latency=Latency(dist="exponential", mean_s=1.0),
                        max_concurrency=cap, rpm_limit=rpm),
    )


@pytest.mark.parametrize("engine", ["fast", "exact"])
def test_max_concurrency_is_an_mmc_queue(engine: str) -> None:
    res = simulator.run(_capped(3), engine=engine, replications=2)
    want = mmc_wait_mean(2.4, 1.0, 3)  # ~2.59 s; the 50 shared servers alone would give ~0
    assert res.metrics["wait_mean_s"] == pytest.approx(want, rel=0.12)


@pytest.mark.parametrize("engine", ["fast", "exact"])
def test_no_cap_means_the_shared_pool(engine: str) -> None:
    res = simulator.run(_capped(None), engine=engine, replications=1)
    assert res.metrics["wait_mean_s"] < 0.01


@pytest.mark.parametrize("engine", ["fast", "exact"])
def test_rpm_limit_rejects_the_excess(engine: str) -> None:
    # 2.4 rps = 144 rpm offered, 72 admitted per minute: about half the requests fail.
    res = simulator.run(_capped(None, rpm=72.0), engine=engine, replications=1)
    assert res.metrics["error_rate"] == pytest.approx(0.5, abs=0.03)
    below = simulator.run(_capped(None, rpm=1000.0), engine=engine, replications=1)
    assert below.metrics["error_rate"] == 0.0
