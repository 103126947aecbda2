"""Compiled data plane of the fast engine: a multi-server FCFS queue over a batch of arrivals.

``run_batch`` takes the sorted arrivals of one chunk (plus the retries carried from earlier
chunks), routes each request to a version, draws its service time, queues it on ``c`` servers
(server-free times scanned linearly for small ``c``, a 4-ary min-heap above ``LINEAR_MAX``;
carried across chunks), applies timeouts (abandonment
of the queue, client timeout in service), faults, errors and retries, and accumulates per-tick
and per-version statistics in place. Random draws use numba's generator, seeded per chunk.

When every request of a chunk can only be served by one version (no canary, no shadow, no
pending retry of another version) and the chunk has enough requests per tick, the kernel
records each request once, in the version's rows, and derives the chunk totals from them at
the end (``_fill_single``): the same additions in the same order, so the same numbers, with
half the per-request bookkeeping.

Without a per-tick series (``Chunk.empty(..., tick_hists=False)``) ``hist_tick`` has one row
that every tick's latencies count in: integer counts, so the same totals.

Array layouts live in ``simulator.layout``; the helpers shared with the exact engine
(service draws, quality, recording outcomes) in ``simulator.records``.
"""

from __future__ import annotations

__all__ = ["LINEAR_MAX", "SINGLE_MIN_FILL", "run_batch"]

import math

import numpy as np
from numpy.typing import NDArray

from jitplan.simulator.jit import njit
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
    P_A,
    P_B,
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
from jitplan.simulator.records import bin_of, draw_service, quality_at, record_one

LINEAR_MAX = 16
"""Up to this many servers the free times are scanned linearly; above, kept as a 4-ary min-heap."""
SINGLE_MIN_FILL = 4
"""A one-version chunk records each request once when it has at least ``1/SINGLE_MIN_FILL`` of
a request per histogram cell (``ticks x bins``): deriving the totals reads every cell once."""


@njit(cache=True, error_model="numpy")
def _one_version(
    route: NDArray[np.float64], rinfo: NDArray[np.float64], n_retry: int, n_arr: int, nt: int,
    nbins: int,
) -> bool:
    """True when only ``route[0]`` can serve this chunk and recording it once pays off."""
    if route[1] >= 0 or route[3] >= 0 or n_arr * SINGLE_MIN_FILL < nt * nbins:
        return False
    for j in range(n_retry):  # noqa: SIM110 (a loop: numba compiles no generator into all())
        if rinfo[j, 0] != route[0]:
            return False
    return True


@njit(cache=True, error_model="numpy")
def _fill_single(
    v: int,
    tick_tot: NDArray[np.float64],
    tick_ver: NDArray[np.float64],
    hist_tick: NDArray[np.int64],
    hist_ver: NDArray[np.int64],
) -> None:
    """The totals of a one-version chunk from version ``v``'s rows (zeros before: exact)."""
    for k in range(tick_tot.shape[0]):
        for f in range(tick_tot.shape[1]):
            tick_tot[k, f] += tick_ver[k, v, f]
    for k in range(hist_tick.shape[0]):  # one row, or one per tick
        for b in range(hist_tick.shape[1]):
            hist_ver[v, b] += hist_tick[k, b]


@njit(cache=True, error_model="numpy")
def _rpush(
    rt: NDArray[np.float64],
    rinfo: NDArray[np.float64],
    n: int,
    t: float,
    v: float,
    a: float,
    tin: float,
    tout: float,
) -> int:
    if n >= rt.shape[0]:
        return n  # retry buffer full: the retry is dropped (the attempt stays an error)
    i = n
    while i > 0:
        parent = (i - 1) // 2
        if rt[parent] <= t:
            break
        rt[i] = rt[parent]
        rinfo[i] = rinfo[parent]
        i = parent
    rt[i] = t
    rinfo[i, 0] = v
    rinfo[i, 1] = a
    rinfo[i, 2] = tin
    rinfo[i, 3] = tout
    return n + 1


@njit(cache=True, error_model="numpy")
def _rpop(rt: NDArray[np.float64], rinfo: NDArray[np.float64], n: int) -> int:
    n -= 1
    if n == 0:
        return 0
    t = rt[n]
    info = rinfo[n].copy()
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        right = left + 1
        m = left
        if right < n and rt[right] < rt[left]:
            m = right
        if rt[m] >= t:
            break
        rt[i] = rt[m]
        rinfo[i] = rinfo[m]
        i = m
    rt[i] = t
    rinfo[i] = info
    return n


@njit(cache=True, error_model="numpy")
def _rpm_admits(vcap: NDArray[np.float64], v: int, t: float, rpm: float) -> bool:
    """Count one call against version ``v``'s provider quota (``rpm`` per fixed minute);
    False when this minute's quota is spent. ``vcap[v]`` is (current minute, calls in it)."""
    win = math.floor(t / 60.0)
    if win != vcap[v, 0]:
        vcap[v, 0] = win
        vcap[v, 1] = 0.0
    if vcap[v, 1] >= rpm:
        return False
    vcap[v, 1] += 1.0
    return True


@njit(cache=True, error_model="numpy")
def run_batch(
    arr_t: NDArray[np.float64],
    arr_tin: NDArray[np.float64],
    arr_tout: NDArray[np.float64],
    t_end: float,
    free: NDArray[np.float64],
    rt: NDArray[np.float64],
    rinfo: NDArray[np.float64],
    n_retry: int,
    params: NDArray[np.float64],
    emp: NDArray[np.float64],
    emp_len: NDArray[np.int64],
    ue: NDArray[np.float64],
    un: NDArray[np.float64],
    route: NDArray[np.float64],
    cfg: NDArray[np.float64],
    state: NDArray[np.float64],
    vcap: NDArray[np.float64],
    tick0: float,
    tick_s: float,
    tick_tot: NDArray[np.float64],
    tick_ver: NDArray[np.float64],
    hist_tick: NDArray[np.int64],
    hist_ver: NDArray[np.int64],
    seed: int,
) -> int:
    """Simulate one chunk; returns the number of retries still pending (carried in ``rt``).

    ``route`` = [baseline, canary, canary_weight%, shadow, shadow_weight%] (−1 = none);
    ``cfg`` = [timeout_s (inf = none), max_retries, backoff_s, limit_rps (inf = none),
    warmup_t, warmup_n, has_tokens]; ``state`` (in/out) = [arrival index, rate-limit window,
    rate-limit count, first counted t, last counted t]; ``vcap`` (in/out) = per-version provider
    limits' state [minute window, admitted in it, slot free times...] (``World.capacity_state``):
    a version with ``P_RPM`` rejects requests beyond that many per minute, one with ``P_MAXC``
    holds each request until one of its own slots is free as well as a shared server.
    """
    np.random.seed(seed)
    c = free.shape[0]
    nt = tick_tot.shape[0]
    timeout = cfg[0]
    max_retries = cfg[1]
    backoff = cfg[2]
    limit = cfg[3]
    warm_t = cfg[4]
    warm_n = cfg[5]
    has_tokens = cfg[6] > 0
    base = int(route[0])
    canary = int(route[1])
    cw = route[2] / 100.0
    shadow_v = int(route[3])
    sw = route[4] / 100.0
    n_arr = arr_t.shape[0]
    nh = hist_tick.shape[0]  # nt rows, or 1 (no per-tick histograms: every tick counts in row 0)
    single = _one_version(route, rinfo, n_retry, n_arr, nh, hist_tick.shape[1])
    i = 0
    while True:
        src = -1
        take_retry = n_retry > 0 and rt[0] < t_end and (i >= n_arr or rt[0] <= arr_t[i])
        if not take_retry and i >= n_arr:
            break
        if take_retry:
            t = rt[0]
            v = int(rinfo[0, 0])
            attempt = rinfo[0, 1]
            tin = rinfo[0, 2]
            tout = rinfo[0, 3]
            n_retry = _rpop(rt, rinfo, n_retry)
            counted = t >= warm_t and state[0] >= warm_n
        else:
            t = arr_t[i]
            src = i
            counted = t >= warm_t and state[0] >= warm_n
            state[0] += 1.0
            attempt = 0.0
            v = base
            if canary >= 0 and np.random.random() < cw:
                v = canary
            if has_tokens:
                tin = arr_tin[i]
                tout = arr_tout[i]
            else:
                tin = params[v, P_TOK_IN]
                tout = params[v, P_TOK_OUT]
            i += 1
            if shadow_v >= 0 and np.random.random() < sw and counted:
                ss = draw_service(params, shadow_v, emp, emp_len, ue, un, -1)
                ss += params[shadow_v, P_SEC_IN] * tin + params[shadow_v, P_SEC_OUT] * tout
                s_err = (
                    params[shadow_v, P_OUTAGE] > 0 or np.random.random() < params[shadow_v, P_ERR]
                )
                # shadow calls spend the provider's quota too
                if params[shadow_v, P_RPM] > 0 and not _rpm_admits(vcap, shadow_v, t, params[shadow_v, P_RPM]):
                    s_err = True
                    ss = 0.0
                s_cost = (
                    params[shadow_v, P_USD_REQ]
                    + params[shadow_v, P_USD_IN] * tin / 1000.0
                    + params[shadow_v, P_USD_OUT] * tout / 1000.0
                )
                s_q = quality_at(params, shadow_v, t)
                k = min(max(int((t - tick0) / tick_s), 0), nt - 1)
                record_one(
                    tick_tot,
                    tick_ver,
                    hist_tick,
                    hist_ver,
                    k,
                    shadow_v,
                    ss,
                    0.0,
                    0.0,
                    s_err,
                    s_cost,
                    s_q,
                    False,
                    True,
                )
        # --- serve one attempt ---
        wait = 0.0
        busy = 0.0
        cost = 0.0
        err = False
        if params[v, P_OUTAGE] > 0:
            lat = 0.0
            err = True
        else:
            rejected = False
            if limit < np.inf:
                win = math.floor(t)
                if win != state[1]:
                    state[1] = win
                    state[2] = 0.0
                if state[2] >= limit:
                    rejected = True
                else:
                    state[2] += 1.0
            if not rejected and params[v, P_RPM] > 0 and not _rpm_admits(vcap, v, t, params[v, P_RPM]):
                rejected = True
            if rejected:
                lat = 0.0
                err = True
            else:
                # (inlined: helper calls taking arrays cost ~100 ns each in refcounting)
                kind = int(params[v, P_DIST])
                if kind == 0:
                    e = (
                        ue[src]
                        if src >= 0 and ue.shape[0] > 0
                        else np.random.standard_exponential()
                    )
                    s = params[v, P_A] * e
                elif kind == 1:
                    z = un[src] if src >= 0 and un.shape[0] > 0 else np.random.standard_normal()
                    s = math.exp(params[v, P_A] + params[v, P_B] * z)
                elif kind == 2:
                    s = params[v, P_A]
                else:
                    s = emp[v, np.random.randint(0, emp_len[v])]
                s *= params[v, P_LATMULT]
                s += params[v, P_SEC_IN] * tin + params[v, P_SEC_OUT] * tout
                m = 0
                fm = free[0]
                if c <= LINEAR_MAX:
                    for j in range(1, c):
                        if free[j] < fm:
                            fm = free[j]
                            m = j
                start = t if fm <= t else fm
                mc = int(params[v, P_MAXC])
                vm = 2
                if mc > 0:  # the version's own slots (provider concurrency limit)
                    vfm = vcap[v, 2]
                    for j in range(3, 2 + mc):
                        if vcap[v, j] < vfm:
                            vfm = vcap[v, j]
                            vm = j
                    if vfm > start:
                        start = vfm
                wait = start - t
                if wait > timeout:
                    lat = timeout  # abandoned the queue; never used a server
                    wait = timeout
                    err = True
                else:
                    if c <= LINEAR_MAX:
                        free[m] = start + s
                    else:
                        # 4-ary min-heap sift-down of the new root (inlined for speed)
                        x = start + s
                        hi = 0
                        while True:
                            c0 = 4 * hi + 1
                            if c0 >= c:
                                break
                            mi = c0
                            mv = free[c0]
                            cend = c0 + 4 if c0 + 4 <= c else c
                            for j in range(c0 + 1, cend):
                                if free[j] < mv:
                                    mv = free[j]
                                    mi = j
                            if mv >= x:
                                break
                            free[hi] = mv
                            hi = mi
                        free[hi] = x
                    if mc > 0:
                        vcap[v, vm] = start + s
                    busy = s
                    lat = wait + s
                    cost = (
                        params[v, P_USD_REQ]
                        + params[v, P_USD_IN] * tin / 1000.0
                        + params[v, P_USD_OUT] * tout / 1000.0
                    )
                    if lat > timeout:
                        lat = timeout
                        err = True
                    elif params[v, P_ERR] > 0 and np.random.random() < params[v, P_ERR]:
                        err = True
        if counted:
            dt = t - params[v, P_QT0]
            q = params[v, P_Q0] - params[v, P_QSLOPE] * (dt if dt > 0 else 0.0)
            q = q if q > 0 else 0.0
            k = min(max(int((t - tick0) / tick_s), 0), nt - 1)
            b = bin_of(lat)
            hist_tick[k if k < nh else 0, b] += 1
            tick_ver[k, v, F_N] += 1.0
            tick_ver[k, v, F_LAT] += lat
            tick_ver[k, v, F_WAIT] += wait
            tick_ver[k, v, F_BUSY] += busy
            tick_ver[k, v, F_COST] += cost
            if err:
                tick_ver[k, v, F_ERR] += 1.0
            else:
                tick_ver[k, v, F_QUAL] += q
                tick_ver[k, v, F_QN] += 1.0
            if attempt > 0:
                tick_ver[k, v, F_RETRY] += 1.0
            if not single:  # else derived from version v's rows by _fill_single
                hist_ver[v, b] += 1
                tick_tot[k, F_N] += 1.0
                tick_tot[k, F_LAT] += lat
                tick_tot[k, F_WAIT] += wait
                tick_tot[k, F_BUSY] += busy
                tick_tot[k, F_COST] += cost
                if err:
                    tick_tot[k, F_ERR] += 1.0
                else:
                    tick_tot[k, F_QUAL] += q
                    tick_tot[k, F_QN] += 1.0
                if attempt > 0:
                    tick_tot[k, F_RETRY] += 1.0
            if state[3] < 0:
                state[3] = t
            state[4] = t
        if err and attempt < max_retries:
            n_retry = _rpush(
                rt, rinfo, n_retry, t + lat + backoff, float(v), attempt + 1.0, tin, tout
            )
    if single:
        _fill_single(base, tick_tot, tick_ver, hist_tick, hist_ver)
    return n_retry
