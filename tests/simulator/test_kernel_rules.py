"""The fast engine's queue kernel (``simulator.kernel.run_batch``) on small, hand-checkable inputs.

Each test drives one rule of the data plane with deterministic service times (or pre-drawn
variates) and checks the numbers a user reads off a simulation: waits, latencies, errors,
retries, costs, quality, routing and the per-tick totals. The multi-server queue is checked
against a plain first-come-first-served reference on both the linear and the heap path
(c above ``LINEAR_MAX``). The same tests pass compiled and with ``NUMBA_DISABLE_JIT=1``
(how ``make mutation`` runs the kernel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest
from numpy.typing import NDArray

from jitplan.simulator import kernel as K
from jitplan.simulator.histogram import LO_S, NBINS
from jitplan.simulator.layout import (
    F_BUSY,
    F_COST,
    F_ERR,
    F_LAT,
    F_N,
    F_QN,
    F_QUAL,
    F_RETRY,
    F_WAIT,
    NFIELDS,
    P_A,
    P_B,
    P_COLS,
    P_DIST,
    P_ERR,
    P_LATMULT,
    P_MAXC,
    P_OUTAGE,
    P_Q0,
    P_QSLOPE,
    P_QT0,
    P_RPM,
    P_SEC_IN,
    P_SEC_OUT,
    P_TOK_IN,
    P_TOK_OUT,
    P_USD_IN,
    P_USD_OUT,
    P_USD_REQ,
)

INF = math.inf
CONST, EXP, LOGNORMAL, EMPIRICAL = 2, 0, 1, 3


def version(**kw: float) -> NDArray[np.float64]:
    """One row of the version table: constant 1 s service, no errors, quality 1, no cost."""
    row = np.zeros(P_COLS)
    row[P_DIST], row[P_A], row[P_LATMULT], row[P_Q0] = CONST, 1.0, 1.0, 1.0
    cols = {"dist": P_DIST, "a": P_A, "b": P_B, "latmult": P_LATMULT, "err": P_ERR,
            "outage": P_OUTAGE, "sec_in": P_SEC_IN, "sec_out": P_SEC_OUT, "usd_req": P_USD_REQ,
            "usd_in": P_USD_IN, "usd_out": P_USD_OUT, "q0": P_Q0, "qslope": P_QSLOPE,
            "qt0": P_QT0, "tok_in": P_TOK_IN, "tok_out": P_TOK_OUT, "maxc": P_MAXC, "rpm": P_RPM}
    for k, v in kw.items():
        row[cols[k]] = v
    return row


@dataclass
class Queue:
    """Kernel inputs and the state it carries between chunks."""

    versions: list[NDArray[np.float64]] = field(default_factory=lambda: [version()])
    c: int = 1
    timeout: float = INF
    retries: int = 0
    backoff: float = 0.0
    limit: float = INF
    warm_t: float = 0.0
    warm_n: int = 0
    route: tuple[float, float, float, float, float] = (0, -1, 0, -1, 0)
    ticks: int = 64
    tick_s: float = 1.0
    tick0: float = 0.0
    retry_cap: int = 64
    emp: NDArray[np.float64] | None = None
    free: NDArray[np.float64] = field(init=False)

    def __post_init__(self) -> None:
        self.free = np.zeros(self.c)
        nv = len(self.versions)
        width = max(1, *(int(v[P_MAXC]) for v in self.versions))
        self.vcap = np.zeros((nv, 2 + width))
        self.vcap[:, 0] = -1.0
        self.rt = np.zeros(self.retry_cap)
        self.rinfo = np.zeros((self.retry_cap, 4))
        self.n_retry = 0
        self.state = np.array([0.0, -1.0, 0.0, -1.0, -1.0])
        self.tot = np.zeros((self.ticks, NFIELDS))
        self.ver = np.zeros((self.ticks, nv, NFIELDS))
        self.hist_tick = np.zeros((self.ticks, NBINS), dtype=np.int64)
        self.hist_ver = np.zeros((nv, NBINS), dtype=np.int64)

    def run(self, arrivals: list[float] | NDArray[np.float64], t_end: float = 1e9, *,
            tokens: tuple[list[float], list[float]] | None = None,
            ue: NDArray[np.float64] | None = None, un: NDArray[np.float64] | None = None,
            seed: int = 7) -> Queue:
        arr = np.asarray(arrivals, dtype=np.float64)
        tin = np.asarray(tokens[0] if tokens else np.zeros(arr.shape[0]), dtype=np.float64)
        tout = np.asarray(tokens[1] if tokens else np.zeros(arr.shape[0]), dtype=np.float64)
        params = np.array(self.versions, dtype=np.float64)
        emp = self.emp if self.emp is not None else np.zeros((len(self.versions), 1))
        emp_len = np.full(len(self.versions), emp.shape[1], dtype=np.int64)
        cfg = np.array([self.timeout, self.retries, self.backoff, self.limit, self.warm_t,
                        self.warm_n, 1.0 if tokens else 0.0])
        empty = np.empty(0, dtype=np.float64)
        self.n_retry = K.run_batch(
            arr, tin, tout, t_end, self.free, self.rt, self.rinfo, self.n_retry, params, emp,
            emp_len, empty if ue is None else ue, empty if un is None else un,
            np.array(self.route, dtype=np.float64), cfg, self.state, self.vcap, self.tick0,
            self.tick_s, self.tot, self.ver, self.hist_tick, self.hist_ver, seed)
        return self

    def total(self, f: int) -> float:
        return float(self.tot[:, f].sum())

    def of(self, v: int, f: int) -> float:
        return float(self.ver[:, v, f].sum())


def fcfs_waits(arrivals: NDArray[np.float64], service: NDArray[np.float64], c: int) -> NDArray[np.float64]:
    """Reference M/G/c FCFS: each request starts on the server that frees first."""
    free = [0.0] * c
    waits = []
    for t, s in zip(arrivals, service, strict=True):
        m = min(range(c), key=free.__getitem__)
        start = max(t, free[m])
        free[m] = start + s
        waits.append(start - t)
    return np.array(waits)


# ---- one server, constant service ---------------------------------------------------------


def test_single_server_waits_latencies_and_busy_time() -> None:
    q = Queue().run([0.0, 0.5, 1.0, 5.0])
    assert q.n_retry == 0
    assert q.total(F_N) == 4
    assert q.total(F_WAIT) == pytest.approx(0 + 0.5 + 1.0 + 0)
    assert q.total(F_LAT) == pytest.approx(1 + 1.5 + 2.0 + 1)
    assert q.total(F_BUSY) == pytest.approx(4.0)
    assert q.total(F_ERR) == 0
    assert q.total(F_QN) == 4 and q.total(F_QUAL) == pytest.approx(4.0)
    # per tick: t=0 and 0.5 in tick 0, 1.0 in tick 1, 5.0 in tick 5
    assert list(q.tot[:6, F_N]) == [2, 1, 0, 0, 0, 1]
    assert q.tot[0, F_WAIT] == pytest.approx(0.5) and q.tot[1, F_WAIT] == pytest.approx(1.0)
    # the version's own totals match the overall ones
    assert q.of(0, F_N) == 4 and q.of(0, F_LAT) == pytest.approx(5.5)
    assert q.of(0, F_WAIT) == pytest.approx(1.5) and q.of(0, F_BUSY) == pytest.approx(4.0)
    # first and last counted arrival times
    assert q.state[3] == 0.0 and q.state[4] == 5.0 and q.state[0] == 4


def test_queue_state_carries_across_chunks() -> None:
    one = Queue().run([0.0, 0.5, 1.0, 1.2])
    two = Queue()
    two.run([0.0, 0.5], t_end=0.9).run([1.0, 1.2])
    assert two.total(F_WAIT) == pytest.approx(one.total(F_WAIT))
    assert two.total(F_LAT) == pytest.approx(one.total(F_LAT))
    assert two.state[0] == 4 and two.state[3] == 0.0 and two.state[4] == 1.2


def test_latency_histogram_counts_each_request_in_its_bin() -> None:
    q = Queue(versions=[version(a=1e-6)]).run([0.0, 1.0, 2.0])
    assert q.hist_ver[0, 0] == 3 and q.hist_tick[:3, 0].tolist() == [1, 1, 1]
    slow = Queue(versions=[version(a=2.0)]).run([0.0])
    b = int(np.argmax(slow.hist_ver[0]))
    assert b > 0 and slow.hist_ver[0].sum() == 1 and slow.hist_tick[0, b] == 1
    assert LO_S < 2.0


def test_ticks_are_relative_to_the_chunk_start_and_clamped() -> None:
    q = Queue(ticks=4, tick_s=2.0, tick0=10.0).run([9.0, 10.0, 13.9, 100.0])
    # before tick0 -> tick 0; 13.9 -> (13.9-10)/2 = 1; past the last tick -> the last tick
    assert q.tot[:, F_N].tolist() == [2, 1, 0, 1]


# ---- service time --------------------------------------------------------------------------


def test_service_time_adds_per_token_seconds_and_latency_multiplier() -> None:
    v = version(a=0.5, latmult=2.0, sec_in=0.01, sec_out=0.1, tok_in=100, tok_out=5)
    q = Queue(versions=[v]).run([0.0])
    assert q.total(F_BUSY) == pytest.approx(0.5 * 2 + 1.0 + 0.5)
    # tokens from the arrivals when given
    q = Queue(versions=[v]).run([0.0], tokens=([10.0], [1.0]))
    assert q.total(F_BUSY) == pytest.approx(1.0 + 0.1 + 0.1)


def test_exponential_service_uses_the_arrivals_pre_drawn_variates() -> None:
    ue = np.array([0.5, 2.0, 1.0])
    q = Queue(versions=[version(dist=EXP, a=3.0)]).run([0.0, 10.0, 20.0], ue=ue)
    assert q.total(F_BUSY) == pytest.approx(3.0 * 3.5)
    assert q.tot[10, F_BUSY] == pytest.approx(6.0)


def test_lognormal_service_uses_the_arrivals_normal_variates() -> None:
    un = np.array([0.0, 1.0])
    q = Queue(versions=[version(dist=LOGNORMAL, a=0.1, b=0.5)]).run([0.0, 10.0], un=un)
    assert q.tot[0, F_BUSY] == pytest.approx(math.exp(0.1))
    assert q.tot[10, F_BUSY] == pytest.approx(math.exp(0.1 + 0.5))


def test_random_service_draws_without_variates() -> None:
    # no pre-drawn variates: the kernel draws its own (seeded); all positive and seed-dependent
    for dist in (EXP, LOGNORMAL):
        a = Queue(versions=[version(dist=dist, a=1.0, b=0.5)]).run(np.arange(50.0) * 10, seed=1)
        b = Queue(versions=[version(dist=dist, a=1.0, b=0.5)]).run(np.arange(50.0) * 10, seed=1)
        busy = a.tot[:, F_BUSY]
        assert (busy[::10][:50] >= 0).all() and a.total(F_BUSY) > 0
        assert a.total(F_BUSY) == b.total(F_BUSY)


def test_empirical_service_samples_the_versions_row() -> None:
    emp = np.array([[0.25, 0.25, 0.25]])
    q = Queue(versions=[version(dist=EMPIRICAL)], emp=emp).run([0.0, 10.0, 20.0])
    assert q.total(F_BUSY) == pytest.approx(0.75)


# ---- many servers: linear scan and 4-ary heap -----------------------------------------------


@pytest.mark.parametrize("c", [1, 2, 4, 16, 17, 40, 100])
def test_multi_server_fcfs_matches_reference(c: int) -> None:
    rng = np.random.default_rng(c)
    n = 1000
    service = rng.exponential(1.0, n)
    arrivals = np.cumsum(rng.exponential(1.0 / (0.9 * c), n))
    q = Queue(versions=[version(dist=EXP, a=1.0)], c=c, ticks=1).run(arrivals, ue=service)
    waits = fcfs_waits(arrivals, service, c)
    assert waits.sum() > 0  # the queue is busy enough to wait
    assert q.total(F_WAIT) == pytest.approx(waits.sum(), rel=1e-9)
    assert q.total(F_LAT) == pytest.approx(waits.sum() + service.sum(), rel=1e-9)
    assert q.total(F_N) == n


@pytest.mark.parametrize("c", [3, 40])
def test_burst_fills_every_server_before_anyone_waits(c: int) -> None:
    q = Queue(c=c).run([0.0] * (2 * c + 1))
    # c start at once, the next c wait 1 s, the last waits 2 s
    assert q.total(F_WAIT) == pytest.approx(c * 1.0 + 2.0)


def test_linear_scan_picks_the_earliest_free_server() -> None:
    q = Queue(c=3)
    q.free[:] = [5.0, 2.0, 3.0]
    q.run([0.0, 0.0])
    assert q.total(F_WAIT) == pytest.approx(2.0 + 3.0)


# ---- timeouts ------------------------------------------------------------------------------


def test_request_abandons_the_queue_after_the_timeout() -> None:
    q = Queue(timeout=0.5).run([0.0, 0.0, 0.1])
    # first served (lat 1); second would wait 1 s > 0.5: abandons at 0.5, never uses the server;
    # third waits 0.9 > 0.5 and abandons too
    assert q.total(F_ERR) == 2 + 1  # the first one's service (1 s) also exceeds the timeout
    assert q.total(F_LAT) == pytest.approx(0.5 * 3)
    assert q.total(F_WAIT) == pytest.approx(0.0 + 0.5 + 0.5)
    assert q.total(F_BUSY) == pytest.approx(1.0)
    assert q.free[0] == pytest.approx(1.0)


def test_service_longer_than_the_timeout_is_an_error_at_the_timeout() -> None:
    q = Queue(timeout=2.0, versions=[version(a=3.0)]).run([0.0])
    assert q.total(F_ERR) == 1 and q.total(F_LAT) == pytest.approx(2.0)
    assert q.total(F_QN) == 0  # errors carry no quality
    fine = Queue(timeout=2.0, versions=[version(a=2.0)]).run([0.0])
    assert fine.total(F_ERR) == 0 and fine.total(F_LAT) == pytest.approx(2.0)
    at_limit = Queue(timeout=1.0, c=1).run([0.0, 0.0])  # waits exactly the timeout: still served
    assert at_limit.total(F_BUSY) == pytest.approx(2.0)


# ---- errors, outages, retries ---------------------------------------------------------------


def test_error_rate_one_fails_every_request_and_zero_none() -> None:
    bad = Queue(versions=[version(err=1.0)]).run([0.0, 1.0, 2.0])
    assert bad.total(F_ERR) == 3 and bad.total(F_QN) == 0
    assert bad.total(F_BUSY) == pytest.approx(3.0)  # it was served, then failed
    ok = Queue(versions=[version(err=0.0)]).run([0.0, 1.0, 2.0])
    assert ok.total(F_ERR) == 0


def test_error_rate_is_a_probability() -> None:
    q = Queue(versions=[version(err=0.3, a=0.001)]).run(np.arange(4000.0) * 0.01)
    assert q.total(F_ERR) / q.total(F_N) == pytest.approx(0.3, abs=0.03)


def test_outage_fails_instantly_without_cost_or_service() -> None:
    q = Queue(versions=[version(outage=1.0, usd_req=1.0)]).run([0.0, 1.0])
    assert q.total(F_ERR) == 2 and q.total(F_LAT) == 0 and q.total(F_BUSY) == 0
    assert q.total(F_COST) == 0 and q.free[0] == 0


def test_failed_requests_are_retried_after_the_backoff() -> None:
    q = Queue(versions=[version(outage=1.0)], retries=2, backoff=3.0).run([0.0, 1.0])
    # each arrival: attempt at t, retry at t+3, t+6 -> 6 attempts, 4 of them retries
    assert q.total(F_N) == 6 and q.total(F_RETRY) == 4 and q.total(F_ERR) == 6
    assert q.tot[:8, F_N].tolist() == [1, 1, 0, 1, 1, 0, 1, 1]
    assert q.tot[3, F_RETRY] == 1 and q.tot[0, F_RETRY] == 0
    assert q.n_retry == 0
    assert q.state[0] == 2  # retries are not new arrivals


def test_no_retries_without_max_retries() -> None:
    q = Queue(versions=[version(outage=1.0)], retries=0, backoff=1.0).run([0.0])
    assert q.total(F_N) == 1 and q.n_retry == 0


def test_successful_requests_are_not_retried() -> None:
    q = Queue(retries=3).run([0.0, 5.0])
    assert q.total(F_N) == 2 and q.total(F_RETRY) == 0


def test_retries_wait_for_their_time_and_carry_to_the_next_chunk() -> None:
    q = Queue(versions=[version(outage=1.0)], retries=1, backoff=10.0)
    q.run([0.0, 1.0, 2.0], t_end=5.0)
    assert q.n_retry == 3 and q.total(F_RETRY) == 0
    assert sorted(q.rt[:3].tolist()) == [10.0, 11.0, 12.0] and q.rt[0] == 10.0
    q.run([10.5], t_end=100.0)
    assert q.n_retry == 0 and q.total(F_RETRY) == 4 and q.total(F_N) == 8
    # retries interleave with arrivals in time order
    assert q.tot[10:13, F_N].tolist() == [2, 1, 1]


def test_retry_latency_is_the_backoff_after_a_timed_out_attempt() -> None:
    q = Queue(timeout=0.5, retries=1, backoff=1.0, versions=[version(a=2.0)]).run([0.0])
    # attempt 0 times out at 0.5, retry at 0.5 + 1.0 = 1.5 (tick 1)
    assert q.tot[1, F_RETRY] == 1 and q.total(F_N) == 2


def test_full_retry_buffer_drops_retries() -> None:
    q = Queue(versions=[version(outage=1.0)], retries=1, backoff=100.0, retry_cap=2)
    q.run([0.0, 1.0, 2.0, 3.0], t_end=50.0)
    assert q.n_retry == 2


def test_retry_queue_releases_in_time_order() -> None:
    rng = np.random.default_rng(3)
    times = rng.uniform(0, 100, 40)
    rt, rinfo, n = np.zeros(64), np.zeros((64, 4)), 0
    for i, t in enumerate(times):
        n = K._rpush(rt, rinfo, n, float(t), float(i % 3), 1.0, float(i), 2.0 * i)
    out = []
    while n:
        out.append((rt[0], rinfo[0].copy()))
        n = K._rpop(rt, rinfo, n)
    assert [t for t, _ in out] == sorted(times.tolist())
    for t, info in out:  # each time keeps its own request's version, attempt and tokens
        i = int(np.flatnonzero(times == t)[0])
        assert info.tolist() == [float(i % 3), 1.0, float(i), 2.0 * i]


# ---- admission limits ----------------------------------------------------------------------


def test_rate_limit_rejects_beyond_the_per_second_limit() -> None:
    q = Queue(limit=2.0, versions=[version(a=0.001)]).run([0.0, 0.1, 0.2, 0.3, 1.0, 1.1, 1.2])
    assert q.tot[0, F_ERR] == 2 and q.tot[1, F_ERR] == 1 and q.total(F_N) == 7
    assert q.total(F_BUSY) == pytest.approx(0.004)  # rejected requests use no server


def test_provider_rpm_quota_resets_each_minute() -> None:
    q = Queue(versions=[version(a=0.001, rpm=2)], ticks=200).run([0.0, 1.0, 2.0, 59.0, 60.0, 61.0, 62.0])
    errs = q.tot[:, F_ERR]
    assert errs[2] == 1 and errs[59] == 1 and errs[62] == 1 and q.total(F_ERR) == 3


def test_version_concurrency_limit_serialises_on_its_own_slots() -> None:
    q = Queue(c=4, versions=[version(maxc=1)]).run([0.0, 0.0, 0.0])
    assert q.total(F_WAIT) == pytest.approx(0 + 1 + 2)
    two = Queue(c=4, versions=[version(maxc=2)]).run([0.0, 0.0, 0.0, 0.0])
    assert two.total(F_WAIT) == pytest.approx(0 + 0 + 1 + 1)
    free = Queue(c=4, versions=[version(maxc=0)]).run([0.0, 0.0, 0.0])
    assert free.total(F_WAIT) == 0


# ---- routing: canary and shadow ------------------------------------------------------------


def test_canary_weight_routes_that_share_of_arrivals() -> None:
    vs = [version(a=0.001), version(a=0.001)]
    arr = np.arange(2000.0) * 0.01
    all_in = Queue(versions=vs, route=(0, 1, 100, -1, 0)).run(arr)
    assert all_in.of(1, F_N) == 2000 and all_in.of(0, F_N) == 0
    none = Queue(versions=vs, route=(0, 1, 0, -1, 0)).run(arr)
    assert none.of(1, F_N) == 0
    part = Queue(versions=vs, route=(0, 1, 20, -1, 0)).run(arr)
    assert part.of(1, F_N) / 2000 == pytest.approx(0.2, abs=0.03)
    assert part.of(0, F_N) + part.of(1, F_N) == 2000


def test_canary_is_served_with_its_own_parameters() -> None:
    vs = [version(a=1.0, usd_req=0.5), version(a=3.0, usd_req=2.0, q0=0.5)]
    q = Queue(versions=vs, route=(0, 1, 100, -1, 0)).run([0.0])
    assert q.total(F_BUSY) == 3.0 and q.total(F_COST) == 2.0 and q.total(F_QUAL) == 0.5


def test_shadow_calls_are_recorded_for_the_shadow_only() -> None:
    vs = [version(a=1.0, usd_req=1.0), version(a=0.5, usd_req=0.25, sec_in=0.01, q0=0.8)]
    q = Queue(versions=vs, route=(0, -1, 0, 1, 100)).run([0.0, 10.0], tokens=([100.0, 0.0], [0.0, 0.0]))
    assert q.of(1, F_N) == 2 and q.total(F_N) == 2  # users' totals count the baseline only
    assert q.of(0, F_N) == 2
    assert q.of(1, F_LAT) == pytest.approx(0.5 + 1.0 + 0.5) and q.of(1, F_WAIT) == 0
    assert q.of(1, F_QUAL) == pytest.approx(1.6)
    # shadow calls cost money: they add to the total cost
    assert q.total(F_COST) == pytest.approx(2 * 1.0 + 2 * 0.25)
    assert q.total(F_LAT) == pytest.approx(2.0)  # never to the users' latency
    assert q.hist_ver[1].sum() == 2 and q.hist_tick.sum() == 2
    assert q.free[0] == pytest.approx(11.0)  # the shadow does not occupy the serving queue


def test_shadow_weight_is_a_share_and_shadow_errors_are_its_own() -> None:
    vs = [version(a=0.001), version(a=0.001, err=1.0)]
    arr = np.arange(4000.0) * 0.01
    q = Queue(versions=vs, route=(0, -1, 0, 1, 25)).run(arr)
    assert q.of(1, F_N) / 4000 == pytest.approx(0.25, abs=0.03)
    assert q.of(1, F_ERR) == q.of(1, F_N) and q.total(F_ERR) == 0
    out = Queue(versions=[version(), version(outage=1.0)], route=(0, -1, 0, 1, 100)).run([0.0])
    assert out.of(1, F_ERR) == 1 and out.of(1, F_QN) == 0 and out.total(F_ERR) == 0


def test_shadow_calls_spend_the_shadows_quota() -> None:
    vs = [version(a=0.001), version(a=0.5, rpm=1)]
    q = Queue(versions=vs, route=(0, -1, 0, 1, 100)).run([0.0, 1.0, 2.0])
    assert q.of(1, F_ERR) == 2 and q.of(1, F_BUSY) == 0
    assert q.of(1, F_LAT) == pytest.approx(0.5)  # rejected calls take no time


def test_shadow_skips_warmup_requests() -> None:
    q = Queue(versions=[version(), version()], route=(0, -1, 0, 1, 100), warm_n=2).run([0.0, 1.0, 2.0])
    assert q.of(1, F_N) == 1


# ---- what is counted: warmup, cost, quality ------------------------------------------------


def test_warmup_by_time_and_by_count_is_not_counted() -> None:
    q = Queue(warm_t=1.5).run([0.0, 1.0, 2.0, 3.0])
    assert q.total(F_N) == 2 and q.state[3] == 2.0 and q.state[4] == 3.0
    q = Queue(warm_n=3).run([0.0, 1.0, 2.0, 3.0])
    assert q.total(F_N) == 1 and q.state[3] == 3.0
    # warmup requests still occupy the server: the first counted one waits behind them
    q = Queue(warm_n=2).run([0.0, 0.0, 0.0])
    assert q.total(F_WAIT) == pytest.approx(2.0)


def test_nothing_counted_leaves_first_and_last_unset() -> None:
    q = Queue(warm_t=100.0).run([0.0, 1.0])
    assert q.state[3] == -1.0 and q.state[4] == -1.0 and q.total(F_N) == 0


def test_cost_per_request_and_per_thousand_tokens() -> None:
    v = version(usd_req=0.01, usd_in=0.5, usd_out=2.0, tok_in=200, tok_out=50)
    q = Queue(versions=[v]).run([0.0, 2.0])
    assert q.total(F_COST) == pytest.approx(2 * (0.01 + 0.1 + 0.1))
    assert q.of(0, F_COST) == pytest.approx(q.total(F_COST))
    q = Queue(versions=[v]).run([0.0], tokens=([1000.0], [1000.0]))
    assert q.total(F_COST) == pytest.approx(0.01 + 0.5 + 2.0)


def test_quality_decays_linearly_from_its_origin_and_stops_at_zero() -> None:
    v = version(q0=0.9, qslope=0.01, qt0=10.0)
    q = Queue(versions=[v], ticks=200).run([5.0, 10.0, 30.0, 150.0])
    assert q.tot[5, F_QUAL] == pytest.approx(0.9)  # before the origin: no decay
    assert q.tot[10, F_QUAL] == pytest.approx(0.9)
    assert q.tot[30, F_QUAL] == pytest.approx(0.7)
    assert q.tot[150, F_QUAL] == 0.0
    assert q.total(F_QN) == 4
    assert q.of(0, F_QUAL) == pytest.approx(2.5) and q.of(0, F_QN) == 4


def test_shadow_quality_decays_too() -> None:
    vs = [version(), version(q0=0.9, qslope=0.01, qt0=0.0)]
    q = Queue(versions=vs, route=(0, -1, 0, 1, 100), ticks=200).run([50.0, 150.0])
    assert q.of(1, F_QUAL) == pytest.approx(0.4)


# ---- more rules (found by make mutation) ---------------------------------------------------


def _mixed(q: Queue, n: int = 600) -> Queue:
    """A busy single-version workload with errors, timeouts, retries, costs and quality."""
    rng = np.random.default_rng(11)
    arr = np.sort(rng.uniform(0.0, 3.0, n))
    return q.run(arr, tokens=(list(rng.integers(0, 50, n).astype(float)), [10.0] * n), t_end=1e9)


def _busy_version() -> NDArray[np.float64]:
    # deterministic per request (no random draws): the canary route's draws cannot shift them
    return version(a=0.004, usd_req=0.01, usd_in=0.5, usd_out=1.0, q0=0.9, qslope=0.05, sec_in=0.0001)


def test_one_version_chunks_record_the_same_numbers_as_the_general_path() -> None:
    kw: dict[str, object] = dict(c=1, timeout=0.02, retries=1, backoff=0.01, ticks=1, tick_s=4.0)
    single = _mixed(Queue(versions=[_busy_version(), version()], **kw))  # type: ignore[arg-type]
    # a canary route at 0 % never serves the canary, but takes the general path
    general = _mixed(Queue(versions=[_busy_version(), version()], route=(0, 1, 0, -1, 0), **kw))  # type: ignore[arg-type]
    assert single.total(F_ERR) > 0 and single.total(F_RETRY) > 0
    np.testing.assert_allclose(single.tot, general.tot, rtol=1e-12)
    np.testing.assert_allclose(single.ver, general.ver, rtol=1e-12)
    assert (single.hist_ver == general.hist_ver).all() and (single.hist_tick == general.hist_tick).all()
    for q in (single, general):
        for f in range(NFIELDS):  # everything is the one version's
            assert q.of(0, f) == pytest.approx(q.total(f)), f
        assert q.hist_ver[0].sum() == q.total(F_N) == q.hist_tick.sum()
        assert q.of(1, F_N) == 0


def test_retries_of_another_version_take_the_general_path() -> None:
    q = Queue(versions=[version(a=0.001), version(outage=1.0)], route=(0, 1, 100, -1, 0), retries=1,
              backoff=100.0, ticks=1)
    q.run([0.0], t_end=1.0)  # the canary's failed request waits as a retry
    assert q.n_retry == 1
    q.route = (0, -1, 0, -1, 0)  # then the canary is rolled back: only the baseline is routed
    q.run(np.linspace(1.0, 200.0, 1000), t_end=1e9)
    assert q.of(1, F_N) == 2 and q.of(1, F_RETRY) == 1  # the retry is served by its own version
    assert q.total(F_N) == 1002 and q.of(0, F_N) == 1000 and q.hist_ver[1].sum() == 2


def test_per_version_rows_accumulate_within_a_tick() -> None:
    v = version(a=0.001, usd_req=0.5, q0=0.8)
    q = Queue(versions=[v, version(err=1.0, a=0.001)], route=(0, 1, 50, -1, 0), retries=1, ticks=1)
    q.run(np.linspace(0.0, 0.9, 200))
    for k in (0, 1):
        n = q.of(k, F_N)
        assert n > 10
    assert q.of(0, F_COST) == pytest.approx(0.5 * q.of(0, F_N))
    assert q.of(0, F_QUAL) == pytest.approx(0.8 * q.of(0, F_QN)) and q.of(0, F_QN) == q.of(0, F_N)
    assert q.of(1, F_ERR) == q.of(1, F_N) and q.of(1, F_RETRY) == q.of(1, F_N) / 2
    assert q.total(F_RETRY) == q.of(1, F_RETRY) and q.total(F_ERR) == q.of(1, F_ERR)


def test_warmup_applies_to_retries_at_their_own_time() -> None:
    base = dict(versions=[version(outage=1.0)], retries=1, backoff=1.0)
    # counted from the first arrival: the retry at t=1 comes after 1 arrival
    q = Queue(warm_n=1, **base).run([0.0])  # type: ignore[arg-type]
    assert q.total(F_N) == 1 and q.total(F_RETRY) == 1
    q = Queue(warm_t=1.0, **base).run([0.0])  # type: ignore[arg-type]
    assert q.total(F_N) == 1 and q.total(F_RETRY) == 1  # exactly at the warmup end: counted
    q = Queue(warm_t=1.0, **base).run([1.0])  # type: ignore[arg-type]
    assert q.total(F_N) == 2
    q = Queue(warm_t=100.0, **base).run([0.0])  # type: ignore[arg-type]
    assert q.total(F_N) == 0


def test_a_retry_keeps_its_requests_tokens() -> None:
    v = version(err=1.0, usd_in=1.0, usd_out=3.0, a=0.001)
    q = Queue(versions=[v], retries=1, backoff=1.0).run([0.0], tokens=([100.0], [10.0]))
    assert q.total(F_N) == 2
    assert q.total(F_COST) == pytest.approx(2 * (0.1 + 0.03))


def test_a_retry_due_exactly_at_the_chunk_end_waits_for_the_next_chunk() -> None:
    q = Queue(versions=[version(outage=1.0)], retries=1, backoff=5.0).run([0.0], t_end=5.0)
    assert q.n_retry == 1 and q.total(F_N) == 1


def test_retries_draw_their_own_service_time() -> None:
    v = version(dist=EXP, a=1.0, err=1.0)
    q = Queue(versions=[v], retries=1, backoff=10.0).run([0.0], ue=np.array([0.5]))
    assert q.total(F_N) == 2 and q.tot[0, F_BUSY] == pytest.approx(0.5)
    assert q.tot[10, F_BUSY] > 0
    ln = Queue(versions=[version(dist=LOGNORMAL, a=0.0, b=1.0, err=1.0)], retries=1, backoff=10.0)
    ln.run([0.0], un=np.array([1.0]))
    assert ln.tot[0, F_BUSY] == pytest.approx(math.e) and ln.total(F_BUSY) > math.e


def test_a_single_pre_drawn_variate_is_used() -> None:
    q = Queue(versions=[version(dist=EXP, a=2.0)]).run([0.0], ue=np.array([3.0]))
    assert q.total(F_BUSY) == pytest.approx(6.0)
    q = Queue(versions=[version(dist=LOGNORMAL, a=0.0, b=2.0)]).run([0.0], un=np.array([0.5]))
    assert q.total(F_BUSY) == pytest.approx(math.e)


def test_empirical_service_can_draw_every_sample() -> None:
    emp = np.array([[1.0, 0.0, 0.0]])
    q = Queue(versions=[version(dist=EMPIRICAL)], emp=emp).run(np.arange(60.0) * 10, seed=3)
    assert 0 < q.total(F_BUSY) < 60


def test_retry_queue_stays_ordered_after_it_was_full() -> None:
    rt, rinfo, n = np.zeros(4), np.zeros((4, 4)), 0
    for t in (5.0, 6.0, 7.0, 8.0):
        n = K._rpush(rt, rinfo, n, t, 0.0, 1.0, 0.0, 0.0)
    assert K._rpush(rt, rinfo, n, 1.0, 0.0, 1.0, 0.0, 0.0) == 4  # full: dropped
    n = K._rpop(rt, rinfo, n)
    n = K._rpush(rt, rinfo, n, 2.0, 0.0, 1.0, 0.0, 0.0)
    out = []
    while n:
        out.append(rt[0])
        n = K._rpop(rt, rinfo, n)
    assert out == [2.0, 6.0, 7.0, 8.0]


def test_rejected_requests_have_no_latency_and_outages_no_wait() -> None:
    q = Queue(limit=1.0, versions=[version(a=0.5)]).run([0.0, 0.1, 0.2])
    assert q.total(F_ERR) == 2 and q.total(F_LAT) == pytest.approx(0.5)
    out = Queue(versions=[version(outage=1.0)]).run([0.0, 0.0])
    assert out.total(F_WAIT) == 0 and out.total(F_LAT) == 0


def test_canary_and_shadow_may_be_any_row_of_the_version_table() -> None:
    vs = [version(a=2.0), version(a=1.0)]
    q = Queue(versions=vs, route=(1, 0, 100, -1, 0)).run([0.0])
    assert q.of(0, F_N) == 1 and q.total(F_BUSY) == 2.0
    s = Queue(versions=vs, route=(1, -1, 0, 0, 100)).run([0.0])
    assert s.of(0, F_N) == 1 and s.of(1, F_N) == 1


def test_shadow_service_cost_and_tick() -> None:
    shadow = version(a=0.5, sec_in=0.01, sec_out=0.1, usd_req=0.001, usd_in=2.0, usd_out=4.0)
    q = Queue(versions=[version(a=0.001), shadow], route=(0, -1, 0, 1, 100), ticks=4, tick_s=2.0, tick0=10.0)
    q.run([9.0, 13.0, 30.0], tokens=([100.0, 100.0, 100.0], [5.0, 5.0, 5.0]))
    assert q.ver[:, 1, F_N].tolist() == [1, 1, 0, 1]
    assert q.of(1, F_LAT) == pytest.approx(3 * (0.5 + 1.0 + 0.5))
    assert q.of(1, F_COST) == pytest.approx(3 * (0.001 + 0.2 + 0.02))
    assert q.of(1, F_RETRY) == 0 and q.of(1, F_ERR) == 0
    assert q.tot[:, F_COST].sum() == pytest.approx(q.of(1, F_COST))


def test_quality_decays_within_the_first_second_too() -> None:
    q = Queue(versions=[version(q0=1.0, qslope=0.5, qt0=0.0)]).run([0.5])
    assert q.total(F_QUAL) == pytest.approx(0.75)


def test_heap_servers_with_staggered_free_times() -> None:
    rng = np.random.default_rng(5)
    for c in (17, 40):
        q = Queue(versions=[version(dist=EXP, a=1.0)], c=c, ticks=1)
        q.free[:] = np.sort(rng.uniform(0, 5, c))  # sorted: a valid heap
        start = q.free.copy()
        n = 400
        service = rng.exponential(1.0, n)
        arrivals = np.cumsum(rng.exponential(1.0 / c, n))
        q.run(arrivals, ue=service)
        free = list(start)
        waits = 0.0
        for t, s in zip(arrivals, service, strict=True):
            m = min(range(c), key=free.__getitem__)
            st = max(t, free[m])
            free[m] = st + s
            waits += st - t
        assert q.total(F_WAIT) == pytest.approx(waits, rel=1e-9)


@pytest.mark.parametrize(("base", "canary"), [(0, 1), (1, 0)])
def test_totals_count_both_versions_of_a_busy_canary_chunk(base: int, canary: int) -> None:
    q = Queue(versions=[version(a=0.001), version(a=0.002)], route=(base, canary, 50, -1, 0), ticks=1)
    q.run(np.linspace(0.0, 100.0, 1000))
    assert q.of(0, F_N) > 300 and q.of(1, F_N) > 300
    assert q.total(F_N) == 1000 == q.of(0, F_N) + q.of(1, F_N)
    assert q.total(F_BUSY) == pytest.approx(q.of(0, F_BUSY) + q.of(1, F_BUSY))
    assert (q.hist_ver.sum(axis=0) == q.hist_tick.sum(axis=0)).all()


def test_a_pending_retry_of_the_other_version_keeps_both_in_the_totals() -> None:
    q = Queue(versions=[version(outage=1.0), version(a=0.001)], route=(1, 0, 100, -1, 0), retries=1,
              backoff=100.0, ticks=1)
    q.run([0.0], t_end=1.0)  # version 0 (the canary) fails; its retry waits
    q.route = (1, -1, 0, -1, 0)
    q.run(np.linspace(1.0, 200.0, 1000), t_end=1e9)
    assert q.total(F_N) == 1002 and q.of(0, F_N) == 2 and q.of(1, F_N) == 1000


def test_a_busy_one_version_chunk_over_several_ticks_keeps_every_latency() -> None:
    q = Queue(versions=[version(dist=EXP, a=0.01)], ticks=3, tick_s=1.0)
    rng = np.random.default_rng(2)
    q.run(np.sort(rng.uniform(0.0, 3.0, 2000)), ue=rng.exponential(1.0, 2000))
    assert q.total(F_N) == 2000 and q.hist_ver[0].sum() == 2000 == q.hist_tick.sum()
    assert (q.hist_ver[0] == q.hist_tick.sum(axis=0)).all()
    assert [q.tot[k, F_N] for k in range(3)] == [q.ver[k, 0, F_N] for k in range(3)]
