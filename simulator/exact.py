"""Exact engine: one SimPy process per request, queueing FCFS for ``c`` slots.

The slots are a counter plus a FIFO of wake-up events (a lean equivalent of
``simpy.Resource``: a freed slot passes straight to the longest-waiting request).

Arrivals come from the same ``ArrivalStream`` as the fast engine. Each request is routed at
arrival, waits for a slot (abandoning after ``timeout_s``), is served, may fail and retry.
A version with a provider concurrency limit (``max_concurrency``) has its own slots, taken
before a shared one; one with ``rpm_limit`` rejects requests beyond it in each minute.
Outcomes are buffered and folded into the shared statistics (bucketed by completion time)
every chunk and whenever a gate reads them.
"""

from __future__ import annotations

__all__ = ["ExactPlane"]

import math
import random
from collections import deque
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from jitplan.simulator import layout as L
from jitplan.simulator.arrivals import ArrivalStream
from jitplan.simulator.clock import Late
from jitplan.simulator.records import record_batch
from jitplan.simulator.stats import Chunk, Recorder
from jitplan.simulator.variates import UnitVariates
from jitplan.simulator.world import World

FLUSH_TICKS = 64


class _Abandoned(Exception):
    """Marks a queued request that gave up (its wake-up event is failed and defused)."""


class ExactPlane:
    """Per-request SimPy data plane."""

    def __init__(
        self,
        env: simpy.Environment,
        world: World,
        stream: ArrivalStream,
        variates: UnitVariates,
        recorder: Recorder,
        rng: np.random.Generator,
        end_s: float,
        max_requests: int | None,
        warmup: tuple[float, int],
        progress: Callable[[float], None] | None = None,
    ) -> None:
        sc = world.scenario
        self.env, self.world, self.stream, self.recorder = env, world, stream, recorder
        self.end_s, self.max_requests = end_s, max_requests
        self.warm_t, self.warm_n = warmup
        self.tick_s = sc.tick_s or 1.0
        svc = sc.service
        self.slots = svc.concurrency
        self.busy = 0
        self.waiting: deque[simpy.Event] = deque()
        self.timeout = svc.timeout_s
        self.max_retries = svc.max_retries
        self.backoff = svc.retry_backoff_s
        self.rand = random.Random(int(rng.integers(2**63 - 1)))
        self.variates = variates
        self.rng = rng
        self.buf: list[tuple[float, ...]] = []
        self.last_flush = 0.0
        self.inflight = 0
        self.arrivals_done = False
        self.generated = 0
        self.first = -1.0
        self.last = -1.0
        self.progress = progress
        self._rev = -1
        self._limited = False
        self._params: list[list[float]] = []
        self._win = -1.0
        self._win_count = 0.0
        nv = len(world.keys)
        self.vbusy = [0] * nv
        self.vwaiting: list[deque[simpy.Event]] = [deque() for _ in range(nv)]
        self.vwin = [(-1.0, 0.0)] * nv
        rate = max(stream.mean_rate(), 1e-9)
        self.chunk_s = max(self.tick_s, min(65536 / rate, 511 * self.tick_s))
        self.done: simpy.Event | None = None

    @property
    def first_last(self) -> tuple[float, float]:
        return self.first, self.last

    def _table(self) -> list[list[float]]:
        w = self.world
        if w.rev != self._rev:
            self._params = w.params(self.env.now).tolist()
            self._rev = w.rev
            self._limited = w.rate_limit() != math.inf
        return self._params

    def flush(self) -> None:
        """Fold buffered outcomes into the recorder (ticks up to now)."""
        now = self.env.now
        k0 = math.floor(self.last_flush / self.tick_s)
        k1 = max(k0 + 1, math.ceil(now / self.tick_s))
        ch = Chunk.empty(k0, k1 - k0, len(self.world.keys), tick_hists=self.recorder.keep_series)
        if self.buf:
            rec = np.asarray(self.buf, dtype=np.float64)
            self.buf = []
            record_batch(
                rec,
                k0 * self.tick_s,
                self.tick_s,
                ch.tick_tot,
                ch.tick_ver,
                ch.hist_tick,
                ch.hist_ver,
            )
        self.recorder.absorb(ch, self.world.canary_weight)
        self.last_flush = now

    def _draw(self, p: list[float], v: int) -> float:
        kind = p[L.P_DIST]
        if kind == 0:
            x = self.rand.expovariate(1.0 / p[L.P_A])
        elif kind == 1:
            x = self.rand.lognormvariate(p[L.P_A], p[L.P_B])
        elif kind == 2:
            x = p[L.P_A]
        else:
            emp, lens = self.world.empirical
            x = float(emp[v, self.rand.randrange(int(lens[v]))])
        return x * p[L.P_LATMULT]

    def process(self, done: simpy.Event) -> Generator[simpy.Event, Any, None]:
        """Arrival process: spawns one request process per arrival."""
        self.done = done
        env = self.env
        env.process(self._flusher())
        t = 0.0
        while True:
            h = min(t + self.chunk_s, self.end_s)
            arr_t, tin, tout = self.stream.between(t, h)
            if self.max_requests is not None:
                room = self.max_requests - self.generated
                arr_t, tin, tout = arr_t[:room], tin[:room], tout[:room]
            times = arr_t.tolist()
            tins = tin.tolist() if tin.shape[0] else None
            touts = tout.tolist() if tout.shape[0] else None
            ue, un = self.variates.take(len(times))
            es = ue.tolist() if ue.shape[0] else None
            zs = un.tolist() if un.shape[0] else None
            nan = math.nan
            request = self._request
            for j, ta in enumerate(times):
                yield env.timeout(ta - env.now)
                idx = self.generated
                self.generated += 1
                self.inflight += 1
                env.process(
                    request(
                        ta,
                        idx,
                        tins[j] if tins else -1.0,
                        touts[j] if touts else -1.0,
                        es[j] if es else nan,
                        zs[j] if zs else nan,
                    )
                )
            if self.progress is not None and self.max_requests is not None:
                self.progress(self.generated / self.max_requests)
            t = h
            if (
                self.max_requests is not None and self.generated >= self.max_requests
            ) or t >= self.end_s:
                break
            if env.now < t:
                yield env.timeout(t - env.now)
        self.arrivals_done = True
        if not math.isfinite(self.end_s) and self.inflight == 0:
            self._finish()

    def _finish(self) -> None:
        self.flush()
        assert self.done is not None
        if not self.done.triggered:
            self.done.succeed()

    def _flusher(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        step = FLUSH_TICKS * self.tick_s
        while True:
            nxt = min((math.floor(env.now / step) + 1) * step, self.end_s)
            yield Late(env, nxt - env.now)
            if env.now >= self.end_s:
                self._finish()
                return
            self.flush()
            if self.progress is not None and math.isfinite(self.end_s):
                self.progress(env.now / self.end_s)

    def _request(
        self, t: float, idx: int, tin: float, tout: float, e: float, z: float
    ) -> Generator[simpy.Event, Any, None]:
        """One request: route, queue for a slot, serve, fail or succeed, maybe retry.
        ``e``/``z`` are its pre-drawn unit variates (NaN = none), used by the first attempt."""
        env, w, rand = self.env, self.world, self.rand
        counted = t >= self.warm_t and idx >= self.warm_n
        v = w.baseline
        if w.canary >= 0 and rand.random() * 100.0 < w.canary_weight:
            v = w.canary
        table = self._params if w.rev == self._rev else self._table()
        if tin < 0:
            tin, tout = table[v][L.P_TOK_IN], table[v][L.P_TOK_OUT]
        if counted and w.shadow >= 0 and rand.random() * 100.0 < w.shadow_weight:
            self._shadow(t, w.shadow, tin, tout)
        timeout = self.timeout
        attempt = 0
        while True:
            ts = env.now
            p = (self._params if w.rev == self._rev else self._table())[v]
            wait = busy = cost = 0.0
            err = False
            if (
                p[L.P_OUTAGE] > 0
                or (self._limited and self._rate_limited(ts))
                or (p[L.P_RPM] > 0 and self._rpm_limited(v, ts, p[L.P_RPM]))
            ):
                lat, err = 0.0, True
            else:
                kind = p[L.P_DIST]
                if attempt == 0 and kind == 0 and e == e:
                    s = p[L.P_A] * e * p[L.P_LATMULT]
                elif attempt == 0 and kind == 1 and z == z:
                    s = math.exp(p[L.P_A] + p[L.P_B] * z) * p[L.P_LATMULT]
                else:
                    s = self._draw(p, v)
                if tin:
                    s += p[L.P_SEC_IN] * tin + p[L.P_SEC_OUT] * tout
                mc = int(p[L.P_MAXC])
                if mc > 0:  # the version's own slot first (provider concurrency limit)
                    if self.vbusy[v] < mc and not self.vwaiting[v]:
                        self.vbusy[v] += 1
                    else:
                        ev = env.event()
                        self.vwaiting[v].append(ev)
                        if timeout is None:
                            yield ev
                        else:
                            yield ev | env.timeout(timeout)
                            if not ev.triggered:
                                ev.defused = True
                                ev.fail(_Abandoned())
                                wait = lat = timeout
                                err = True
                if err:
                    pass
                elif self.busy < self.slots and not self.waiting:
                    self.busy += 1
                else:
                    ev = env.event()
                    self.waiting.append(ev)
                    if timeout is None:
                        yield ev
                    else:
                        yield ev | env.timeout(max(timeout - (env.now - ts), 0.0))
                        if not ev.triggered:
                            ev.defused = True  # skipped by _release; failing it is harmless
                            ev.fail(_Abandoned())
                            wait = lat = timeout
                            err = True
                            if mc > 0:
                                self._vrelease(v)
                if not err:
                    wait = env.now - ts
                    cost = (
                        p[L.P_USD_REQ]
                        + p[L.P_USD_IN] * tin / 1000.0
                        + p[L.P_USD_OUT] * tout / 1000.0
                    )
                    busy = s
                    if timeout is not None and wait + s > timeout:
                        env.process(self._hold(s, v if mc > 0 else -1))
                        yield env.timeout(timeout - wait)
                        lat, err = timeout, True
                    else:
                        yield env.timeout(s)
                        self._release()
                        if mc > 0:
                            self._vrelease(v)
                        lat = wait + s
                        err = p[L.P_ERR] > 0 and rand.random() < p[L.P_ERR]
            if counted:
                if self.first < 0 or ts < self.first:
                    self.first = ts
                if ts > self.last:
                    self.last = ts
                if err:
                    q = 0.0
                else:
                    dt = ts - p[L.P_QT0]
                    q = p[L.P_Q0] - p[L.P_QSLOPE] * (dt if dt > 0 else 0.0)
                    q = q if q > 0 else 0.0
                self.buf.append(
                    (
                        env.now,
                        v,
                        lat,
                        wait,
                        busy,
                        1.0 if err else 0.0,
                        cost,
                        q,
                        1.0 if attempt else 0.0,
                        0.0,
                    )
                )
            if not (err and attempt < self.max_retries):
                break
            attempt += 1
            if self.backoff > 0:
                yield env.timeout(self.backoff)
        self.inflight -= 1
        if self.arrivals_done and self.inflight == 0 and not math.isfinite(self.end_s):
            self._finish()

    def _hold(self, s: float, v: int = -1) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(s)
        self._release()
        if v >= 0:
            self._vrelease(v)

    def _vrelease(self, v: int) -> None:
        """Free one of version ``v``'s own slots (FCFS hand-over, as ``_release``)."""
        waiting = self.vwaiting[v]
        while waiting:
            ev = waiting.popleft()
            if not ev.triggered:
                ev.succeed()
                return
        self.vbusy[v] -= 1

    def _rpm_limited(self, v: int, t: float, rpm: float) -> bool:
        """Version ``v``'s provider quota: at most ``rpm`` admitted per fixed minute."""
        win, count = self.vwin[v]
        now_win = math.floor(t / 60.0)
        if now_win != win:
            win, count = now_win, 0.0
        if count >= rpm:
            self.vwin[v] = (win, count)
            return True
        self.vwin[v] = (win, count + 1.0)
        return False

    def _release(self) -> None:
        """Free one slot: hand it to the longest-waiting live request (FCFS) or idle it."""
        waiting = self.waiting
        while waiting:
            ev = waiting.popleft()
            if not ev.triggered:
                ev.succeed()
                return
        self.busy -= 1

    def _rate_limited(self, t: float) -> bool:
        limit = self.world.rate_limit()
        if limit == math.inf:
            return False
        win = math.floor(t)
        if win != self._win:
            self._win, self._win_count = win, 0.0
        if self._win_count >= limit:
            return True
        self._win_count += 1.0
        return False

    @staticmethod
    def _quality(p: list[float], t: float) -> float:
        dt = max(t - p[L.P_QT0], 0.0)
        return max(p[L.P_Q0] - p[L.P_QSLOPE] * dt, 0.0)

    def _shadow(self, t: float, v: int, tin: float, tout: float) -> None:
        p = self._table()[v]
        s = self._draw(p, v) + p[L.P_SEC_IN] * tin + p[L.P_SEC_OUT] * tout
        err = p[L.P_OUTAGE] > 0 or self.rand.random() < p[L.P_ERR]
        if p[L.P_RPM] > 0 and self._rpm_limited(v, t, p[L.P_RPM]):
            err, s = True, 0.0  # shadow calls spend the provider's quota too
        cost = p[L.P_USD_REQ] + p[L.P_USD_IN] * tin / 1000.0 + p[L.P_USD_OUT] * tout / 1000.0
        q = 0.0 if err else self._quality(p, t)
        self.buf.append((t, v, s, 0.0, 0.0, 1.0 if err else 0.0, cost, q, 0.0, 1.0))
