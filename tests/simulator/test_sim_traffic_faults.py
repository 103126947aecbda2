"""Traffic profiles, faults, drift and the recorded-trace replay."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from jitplan import simulator
from jitplan.contracts.scenario import Latency, Scenario, Service, Traffic
from jitplan.simulator.arrivals import ArrivalStream, load_trace
from jitplan.simulator.histogram import BINS_PER_DECADE, NBINS, REL_ERROR, percentile

ROOT = Path(__file__).resolve().parents[2]
SIM = ROOT / "scenarios" / "sim"
TRACE = ROOT / "scenarios" / "traces" / "azure-llm-inference-2023" / "conversation.csv"


def _series(res: simulator.SimResult, col: str) -> tuple[np.ndarray, np.ndarray]:
    cols, rows = res.series()
    return rows[:, cols.index("t_s")], rows[:, cols.index(col)]


def test_every_library_scenario_loads() -> None:
    names = sorted(p.stem for p in SIM.glob("*.yaml"))
    for required in (
        "baseline",
        "load_spike",
        "diurnal_day",
        "provider_outage_canary",
        "drift_during_rollout",
        "cost_explosion",
        "slow_degradation",
        "azure_trace_replay",
        "mm10",
    ):
        assert required in names
    for p in SIM.glob("*.yaml"):
        sc = simulator.load_scenario(p)
        assert sc.name == p.stem


def test_spike_multiplies_arrivals_in_its_window() -> None:
    sc = Scenario(
        name="s",
        seed=1,
        duration_s=300.0,
        tick_s=10.0,
        traffic=Traffic(rate_rps=50, spikes=[{"start_s": 100, "duration_s": 100, "multiplier": 5}]),
        service=Service(concurrency=1000, latency=Latency(mean_s=0.1)),
    )
    res = simulator.run(sc)
    t, n = _series(res, "requests")
    inside = n[(t >= 100) & (t < 200)].mean()
    outside = n[(t < 100) | (t >= 200)].mean()
    assert inside / outside == pytest.approx(5.0, rel=0.08)


def test_diurnal_rate_follows_the_curve() -> None:
    sc = Scenario(
        name="d",
        seed=1,
        duration_s=86400.0,
        tick_s=3600.0,
        traffic=Traffic(rate_rps=20, diurnal={"amplitude": 0.5, "peak_s": 43200}),
        service=Service(concurrency=1000, latency=Latency(mean_s=0.1)),
    )
    t, n = _series(simulator.run(sc), "requests")
    expected = np.array(
        [20 * 3600 * (1 + 0.5 * np.cos(2 * np.pi * (tt + 1800 - 43200) / 86400)) for tt in t]
    )
    assert np.allclose(n, expected, rtol=0.03)
    assert t[np.argmax(n)] in (39600.0, 43200.0)


def test_piecewise_profile_sets_the_rate() -> None:
    sc = Scenario(
        name="p",
        seed=3,
        duration_s=200.0,
        tick_s=100.0,
        traffic=Traffic(profile=[{"start_s": 0, "rate_rps": 10}, {"start_s": 100, "rate_rps": 40}]),
        service=Service(concurrency=100, latency=Latency(mean_s=0.1)),
    )
    _, n = _series(simulator.run(sc), "requests")
    assert n[0] == pytest.approx(1000, rel=0.1) and n[1] == pytest.approx(4000, rel=0.05)


@pytest.mark.parametrize("engine", ["fast", "exact"])
def test_rate_limit_caps_admitted_requests(engine: str) -> None:
    sc = Scenario(
        name="rl",
        seed=1,
        duration_s=200.0,
        tick_s=10.0,
        traffic=Traffic(rate_rps=50),
        service=Service(concurrency=100, latency=Latency(mean_s=0.1)),
        faults=[{"kind": "rate_limit", "start_s": 100, "duration_s": 100, "limit_rps": 20}],
    )
    res = simulator.run(sc, engine=engine)
    t, err = _series(res, "error_rate")
    assert err[t < 100].max() == 0
    # 50 rps offered, 20 admitted per second: ~60 % rejected
    assert err[t >= 110].mean() == pytest.approx(0.6, abs=0.05)


@pytest.mark.parametrize("engine", ["fast", "exact"])
def test_latency_spike_and_error_burst_only_inside_their_windows(engine: str) -> None:
    sc = Scenario(
        name="f",
        seed=1,
        duration_s=300.0,
        tick_s=10.0,
        traffic=Traffic(rate_rps=40),
        service=Service(concurrency=200, latency=Latency(dist="constant", mean_s=0.2)),
        faults=[
            {"kind": "latency_spike", "start_s": 100, "duration_s": 100, "multiplier": 3},
            {"kind": "error_burst", "start_s": 200, "duration_s": 80, "error_rate": 0.25},
        ],
    )
    res = simulator.run(sc, engine=engine)
    t, lat = _series(res, "latency_mean_s")
    _, err = _series(res, "error_rate")
    assert lat[t < 100] == pytest.approx(0.2)
    # (the exact engine buckets by completion time, so skip each window's first tick)
    assert lat[(t >= 110) & (t < 190)] == pytest.approx(0.6)
    assert err[t < 200].max() == 0
    assert err[(t >= 210) & (t < 280)].mean() == pytest.approx(0.25, abs=0.04)
    assert err[t >= 290].max() == 0
    kinds = [e.kind for e in res.timeline]
    assert kinds.count("fault_started") == 2 and kinds.count("fault_ended") == 2


def test_drift_and_data_quality_drop_lower_quality() -> None:
    sc = Scenario(
        name="q",
        seed=1,
        duration_s=7200.0,
        tick_s=600.0,
        traffic=Traffic(rate_rps=5),
        service=Service(concurrency=50, latency=Latency(mean_s=0.2), quality=0.9),
        drift=[{"start_s": 3600, "quality_decay_per_hour": 0.1}],
        data_quality=[{"start_s": 1200, "duration_s": 600, "quality_drop": 0.2}],
    )
    t, q = _series(simulator.run(sc), "quality_mean")
    assert q[t < 1200] == pytest.approx(0.9)
    assert q[(t >= 1200) & (t < 1800)] == pytest.approx(0.7)
    assert q[(t >= 1800) & (t < 3600)] == pytest.approx(0.9)
    # linear decay after 1 h: tick means 0.9 - 0.1 * (age at mid-tick)
    late = q[t >= 3600]
    assert np.all(np.diff(late) < 0)
    assert late[-1] == pytest.approx(0.9 - 0.1 * (6900 - 3600) / 3600, abs=0.005)


def test_trace_replay_uses_recorded_arrivals_and_tokens() -> None:
    tr = load_trace(str(TRACE))
    with TRACE.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(tr.t) == len(rows)
    sc = Scenario(
        name="tr",
        seed=1,
        duration_s=600.0,
        traffic=Traffic(arrival="trace", path=str(TRACE)),
        service=Service(
            concurrency=1000,
            latency=Latency(dist="constant", mean_s=0.1),
            seconds_per_output_token=0.01,
            usd_per_1k_input_tokens=1.0,
            usd_per_1k_output_tokens=2.0,
        ),
    )
    res = simulator.run(sc)
    window = tr.t < 600
    assert res.metrics["requests"] == int(window.sum())
    expected_cost = (tr.tokens_in[window].sum() * 1.0 + tr.tokens_out[window].sum() * 2.0) / 1000
    assert res.metrics["cost_usd"] == pytest.approx(expected_cost, rel=1e-9)
    # no queueing with 1000 slots: latency = 0.1 s + 10 ms per generated token
    assert res.metrics["latency_mean_s"] == pytest.approx(
        0.1 + 0.01 * tr.tokens_out[window].mean(), rel=1e-6
    )


def test_trace_speedup_and_loop() -> None:
    tr = load_trace(str(TRACE))
    stream = ArrivalStream(
        Traffic(arrival="trace", path=str(TRACE), speedup=2.0), np.random.default_rng(0), 1.0
    )
    t, tin, _ = stream.between(0.0, tr.period_s)  # two laps at 2x
    assert len(t) == 2 * len(tr.t)
    assert np.all(np.diff(t) >= 0)
    assert np.array_equal(tin[: len(tr.t)], tr.tokens_in)


def _trace_rows() -> list[tuple[float, float, float]]:
    """The recorded trace read with csv/datetime alone (not the simulator's loader):
    (seconds since the first request, context tokens, generated tokens), in time order."""
    from datetime import datetime

    with TRACE.open(newline="", encoding="utf-8") as fh:
        rows = sorted((datetime.fromisoformat(r["TIMESTAMP"][:26]).timestamp(),
                       float(r["ContextTokens"]), float(r["GeneratedTokens"]))
                      for r in csv.DictReader(fh))
    t0 = rows[0][0]
    return [(t - t0, a, b) for t, a, b in rows]


def test_azure_trace_scenario_replays_the_recorded_requests() -> None:
    res = simulator.run(SIM / "azure_trace_replay.yaml")
    rows = _trace_rows()
    assert len(rows) == 19_366
    # The trace spans 3,501.7 s; the 3,600 s scenario loops it with a period of the span plus one
    # mean gap. Measured requests are those arriving after the 120 s warm-up.
    span = rows[-1][0]
    period = span + span / (len(rows) - 1)
    laps = rows + [(t + period, a, b) for t, a, b in rows]
    window = [(a, b) for t, a, b in laps if 120 <= t < 3600]
    assert len(window) == 19_274
    assert res.metrics["requests"] == 19_274
    assert res.metrics["throughput_rps"] == pytest.approx(19_274 / (3600 - 120), rel=1e-12)
    tokens_in = sum(a for a, _ in window)
    tokens_out = sum(b for _, b in window)
    assert (tokens_in, tokens_out) == (22_271_237.0, 4_062_247.0)
    base = (tokens_in * 0.0005 + tokens_out * 0.0015) / 1000  # chat@1.0.0 prices
    canary = (tokens_in * 0.0004 + tokens_out * 0.0012) / 1000  # chat@1.1.0 prices
    assert (round(base, 4), round(canary, 4)) == (17.229, 13.7832)
    # The 10% canary runs the whole window: expected cost 0.9 base + 0.1 canary. Which requests go
    # to the canary is random: the canary count is binomial (sd = sqrt(19,274 x 0.1 x 0.9) = 42
    # requests) and each moves the cost by (base - canary) / 19,274 = 0.00018 USD on average, so
    # the sd of the cost is about 0.008 USD; 0.04 USD is five of them.
    assert res.metrics["cost_usd"] == pytest.approx(0.9 * base + 0.1 * canary, abs=0.04)
    assert canary < res.metrics["cost_usd"] < base
    assert res.verdict is not None


def test_histogram_percentiles_are_within_the_documented_bound() -> None:
    rng = np.random.default_rng(0)
    x = rng.lognormal(0.0, 1.5, 200_000)
    from jitplan.simulator.records import bin_of

    hist = np.zeros(NBINS, dtype=np.int64)
    for b in np.floor((np.log10(x) + 5) * BINS_PER_DECADE).astype(np.int64) + 1:
        hist[b] += 1
    assert bin_of(float(x[0])) == int(np.floor((np.log10(x[0]) + 5) * BINS_PER_DECADE)) + 1
    for q in (50, 90, 95, 99, 99.9):
        exact = float(np.percentile(x, q, method="inverted_cdf"))
        assert percentile(hist, q) == pytest.approx(exact, rel=REL_ERROR)
