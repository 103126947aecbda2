"""Fast engine: SimPy runs the control plane; each chunk between control events is computed
in batch (numpy arrivals + the compiled queue kernel), with queue state carried over."""

from __future__ import annotations

__all__ = ["FastPlane"]

import math
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from jitplan.simulator.arrivals import ArrivalStream
from jitplan.simulator.clock import Late
from jitplan.simulator.compiled import kernels
from jitplan.simulator.stats import Chunk, Recorder
from jitplan.simulator.variates import UnitVariates
from jitplan.simulator.world import World

TARGET_CHUNK_REQUESTS = 1 << 18
MAX_CHUNK_TICKS = 512
RETRY_CAPACITY = 1 << 16
_EMPTY = np.empty(0, dtype=np.float64)


class FastPlane:
    """Batch data plane; ``process`` is the SimPy process driving it."""

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
        self.env, self.world, self.stream, self.recorder, self.rng = (
            env,
            world,
            stream,
            recorder,
            rng,
        )
        self.end_s, self.max_requests = end_s, max_requests
        self.tick_s = sc.tick_s or 1.0
        svc = sc.service
        self.free = np.zeros(svc.concurrency)
        self.rt = np.zeros(RETRY_CAPACITY)
        self.rinfo = np.zeros((RETRY_CAPACITY, 4))
        self.n_retry = 0
        self.cfg = np.array(
            [
                math.inf if svc.timeout_s is None else svc.timeout_s,
                svc.max_retries,
                svc.retry_backoff_s,
                math.inf,
                warmup[0],
                warmup[1],
                1.0 if stream.has_tokens else 0.0,
            ]
        )
        self.state = np.array([0.0, -1.0, 0.0, -1.0, -1.0])
        self.vcap = world.capacity_state()
        rate = max(stream.mean_rate(), 1e-9)
        self.chunk_s = max(
            self.tick_s, min(TARGET_CHUNK_REQUESTS / rate, (MAX_CHUNK_TICKS - 1) * self.tick_s)
        )
        self.breaks = stream.breakpoints()
        self.generated = 0
        self.progress = progress
        self.t = 0.0
        self.variates = variates

    @property
    def first_last(self) -> tuple[float, float]:
        return float(self.state[3]), float(self.state[4])

    def flush(self) -> None:
        """Nothing to do: chunks are computed eagerly up to the next control event."""

    def _horizon(self, t: float) -> float:
        nxt = self.env.peek()
        h = min(nxt, t + self.chunk_s, self.end_s)
        for b in self.breaks:
            if b > t:
                h = min(h, b)
                break
        return h

    def process(self, done: simpy.Event) -> Generator[simpy.Event, Any, None]:
        """Compute chunk after chunk until the run ends, then trigger ``done``."""
        emp, emp_len = self.world.empirical
        run_batch = kernels().run_batch
        while True:
            t = self.env.now
            h = self._horizon(t)
            if h <= t:
                yield Late(self.env, 0.0)
                continue
            arr_t, tin, tout = self.stream.between(t, h)
            last = False
            if self.max_requests is not None:
                room = self.max_requests - self.generated
                if arr_t.shape[0] >= room:
                    arr_t, tin, tout = arr_t[:room], tin[:room], tout[:room]
                    h = float(np.nextafter(arr_t[-1], math.inf)) if room > 0 else t
                    last = True
            self.generated += arr_t.shape[0]
            if h >= self.end_s:
                last = True
            self.cfg[3] = self.world.rate_limit()
            ue, un = self.variates.take(arr_t.shape[0])
            k0 = math.floor(t / self.tick_s)
            k1 = max(k0 + 1, math.ceil(h / self.tick_s))
            ch = Chunk.empty(k0, k1 - k0, len(self.world.keys), tick_hists=self.recorder.keep_series)
            self.n_retry = run_batch(
                arr_t,
                tin,
                tout,
                h,
                self.free,
                self.rt,
                self.rinfo,
                self.n_retry,
                self.world.params(t),
                emp,
                emp_len,
                ue,
                un,
                self.world.route,
                self.cfg,
                self.state,
                self.vcap,
                k0 * self.tick_s,
                self.tick_s,
                ch.tick_tot,
                ch.tick_ver,
                ch.hist_tick,
                ch.hist_ver,
                int(self.rng.integers(2**31 - 1)),
            )
            self.recorder.absorb(ch, self.world.canary_weight)
            self.t = h
            if self.progress is not None:
                self._report(h)
            if last:
                done.succeed()
                return
            yield Late(self.env, h - t)

    def _report(self, h: float) -> None:
        assert self.progress is not None
        if self.max_requests is not None:
            self.progress(self.generated / self.max_requests)
        elif math.isfinite(self.end_s):
            self.progress(h / self.end_s)
