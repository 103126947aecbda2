"""A small Prometheus HTTP API client (``/api/v1/query``, ``/api/v1/query_range``) on urllib.

Every failure is a ``PromQueryError`` whose message says what went wrong: the server is
unreachable, it answered an HTTP error (with Prometheus' own error text), it timed out, or the
answer was not a Prometheus API document. Values come back as floats, ``NaN``/``Inf`` included:
the caller decides what a non-finite value means (never a pass).
"""

from __future__ import annotations

__all__ = ["PromQueryError", "Sample", "Series", "query_instant", "query_range"]

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

_MAX_BYTES = 20 * 1024 * 1024


class PromQueryError(Exception):
    """A query that produced no answer (unreachable, HTTP error, timeout, bad document)."""


@dataclass(frozen=True)
class Sample:
    """One point: unix time (seconds) and value (may be NaN or +/-Inf)."""

    t: float
    value: float


@dataclass(frozen=True)
class Series:
    """One time series of a result: its labels and points (one point for an instant query)."""

    labels: tuple[tuple[str, str], ...]
    samples: tuple[Sample, ...]

    def label_text(self) -> str:
        return "{" + ",".join(f'{k}="{v}"' for k, v in self.labels) + "}"


def _get(base: str, path: str, params: dict[str, str], timeout_s: float) -> Any:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    req = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "jitplan"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            body = resp.read(_MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        detail = ""
        try:
            doc = json.loads(exc.read(65536) or b"{}")
            detail = f": {doc.get('errorType', '')}: {doc.get('error', '')}" if isinstance(doc, dict) else ""
        except (ValueError, OSError):
            pass
        raise PromQueryError(f"HTTP {exc.code} from {base}{path}{detail}") from None
    except TimeoutError:
        raise PromQueryError(f"timeout after {timeout_s:g}s waiting for {base}{path}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise PromQueryError(f"timeout after {timeout_s:g}s connecting to {base}") from None
        raise PromQueryError(f"unreachable: {base}: {reason}") from None
    except (OSError, ValueError) as exc:  # connection reset, bad URL
        raise PromQueryError(f"unreachable: {base}: {exc}") from None
    if len(body) > _MAX_BYTES:
        raise PromQueryError(f"answer from {base}{path} larger than {_MAX_BYTES:,} bytes")
    try:
        doc = json.loads(body)
    except ValueError:
        raise PromQueryError(f"{base}{path} did not answer JSON") from None
    if not isinstance(doc, dict) or doc.get("status") != "success" or not isinstance(doc.get("data"), dict):
        err = doc.get("error") if isinstance(doc, dict) else None
        raise PromQueryError(f"{base}{path} answered an error: {err or 'not a Prometheus API document'}")
    return doc["data"]


def _float(v: Any) -> float:
    try:
        return float(v)  # "NaN", "+Inf" and "-Inf" parse too
    except (TypeError, ValueError):
        raise PromQueryError(f"not a sample value: {str(v)[:40]!r}") from None


def _point(p: Any) -> Sample:
    if not isinstance(p, list) or len(p) != 2:
        raise PromQueryError("malformed sample in the answer")
    return Sample(_float(p[0]), _float(p[1]))


def _series(data: dict[str, Any]) -> list[Series]:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return [Series((), (_point(result),))]
    if not isinstance(result, list):
        raise PromQueryError(f"unexpected result type {kind!r}")
    out = []
    for r in result:
        if not isinstance(r, dict):
            raise PromQueryError("malformed series in the answer")
        labels = tuple(sorted((str(k), str(v)) for k, v in (r.get("metric") or {}).items()))
        if kind == "vector":
            pts: tuple[Sample, ...] = (_point(r.get("value")),)
        elif kind == "matrix":
            pts = tuple(_point(p) for p in r.get("values") or [])
        else:
            raise PromQueryError(f"unexpected result type {kind!r}")
        out.append(Series(labels, pts))
    return out


def query_instant(base: str, query: str, *, at: float, timeout_s: float) -> list[Series]:
    """``/api/v1/query`` at unix time ``at``."""
    params = {"query": query, "time": f"{at:.3f}", "timeout": f"{timeout_s:g}s"}
    return _series(_get(base, "/api/v1/query", params, timeout_s))


def query_range(base: str, query: str, *, start: float, end: float, step_s: float, timeout_s: float) -> list[Series]:
    """``/api/v1/query_range`` from ``start`` to ``end`` every ``step_s`` seconds."""
    params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}",
              "timeout": f"{timeout_s:g}s"}
    return _series(_get(base, "/api/v1/query_range", params, timeout_s))
