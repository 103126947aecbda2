"""Failed LLM calls: which are worth a retry, how long to wait, and a clean one-line reason.

litellm wraps provider errors in its own classes and repeats their names in the message
("litellm.InternalServerError: InternalServerError: OpenAIException - boom"); ``describe``
keeps the class name once, the HTTP status, and the provider's message on one line.
"""

from __future__ import annotations

__all__ = ["MAX_RETRY_DELAY_S", "describe", "error_type", "retry_delay", "retryable"]

import re
from typing import Any

MAX_RETRY_DELAY_S = 30.0
"""Longest wait before a retry, whatever ``retry-after`` asks."""
MAX_REASON_CHARS = 300

_PREFIX = re.compile(r"^(?:litellm\.)?[A-Za-z_]*(?:Error|Exception|Timeout)\s*(?::|\s-)\s*")
_RETRY_STATUS = frozenset({408, 409, 429})
_TRANSIENT = frozenset({"Timeout", "APITimeoutError", "APIConnectionError", "ServiceUnavailableError",
                        "InternalServerError", "RateLimitError", "ConnectError", "ReadTimeout"})


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def error_type(exc: BaseException) -> str:
    """The ``error.type`` of a failed call: the exception class name (low cardinality)."""
    return type(exc).__name__


def describe(exc: BaseException) -> str:
    """``Class (HTTP n): message`` on one line, without litellm's repeated prefixes."""
    text = " ".join(str(exc).split())
    while (stripped := _PREFIX.sub("", text, count=1)) != text:
        text = stripped
    status = _status(exc)
    head = error_type(exc) + (f" (HTTP {status})" if status is not None else "")
    if len(text) > MAX_REASON_CHARS:
        text = text[:MAX_REASON_CHARS - 3] + "..."
    return f"{head}: {text}" if text else head


def retryable(exc: BaseException) -> bool:
    """Timeouts, connection errors, 408/409/429 and 5xx; never other 4xx (a bad request)."""
    status = _status(exc)
    if status is not None:
        return status in _RETRY_STATUS or status >= 500
    return isinstance(exc, TimeoutError | ConnectionError) or type(exc).__name__ in _TRANSIENT


def _headers(exc: BaseException) -> Any:
    for source in (getattr(exc, "litellm_response_headers", None),
                   getattr(getattr(exc, "response", None), "headers", None)):
        if source is not None and hasattr(source, "get"):
            return source
    return {}


def retry_delay(exc: BaseException, attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): ``retry-after-ms``/``retry-after``
    when the server sent one (seconds form), else 0.5 s doubling; at most ``MAX_RETRY_DELAY_S``."""
    headers = _headers(exc)
    for key, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            value: float = float(headers.get(key)) * scale
        except (TypeError, ValueError):  # absent, or the HTTP-date form
            continue
        if value >= 0:
            return min(MAX_RETRY_DELAY_S, value)
    return min(MAX_RETRY_DELAY_S, 0.5 * 2.0 ** (attempt - 1))
