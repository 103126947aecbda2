"""Unit service-time variates drawn per arrival, in arrival order, from their own generator.

Both engines take the variates of arrival *i* from this stream (standard exponential for
``exponential`` versions, standard normal for ``lognormal``), so with the same seed they serve
the same arrivals with the same service times: common random numbers. That makes engine and
plan comparisons far less noisy, and lets the tests check the exact engine against the fast one
sample path by sample path. Drawing in batches gives the same sequence whatever the batch sizes.
"""

from __future__ import annotations

__all__ = ["UnitVariates"]

import numpy as np
from numpy.typing import NDArray

_EMPTY = np.empty(0)


class UnitVariates:
    """Per-arrival unit variates; ``take(n)`` returns (exponential, normal) arrays (empty when
    no version needs that kind). Buffers are reused: copy what you keep past the next call."""

    def __init__(self, rng: np.random.Generator, need_exponential: bool, need_normal: bool) -> None:
        self.rng = rng
        self.need_e = need_exponential
        self.need_n = need_normal
        self._e = _EMPTY
        self._n = _EMPTY

    def take(self, n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if n > max(self._e.shape[0], self._n.shape[0]):
            self._e = np.empty(n) if self.need_e else _EMPTY
            self._n = np.empty(n) if self.need_n else _EMPTY
        e = self._e[:n]
        z = self._n[:n]
        if self.need_e:
            self.rng.standard_exponential(out=e)
        if self.need_n:
            self.rng.standard_normal(out=z)
        return e, z
