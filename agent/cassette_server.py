"""An in-process OpenAI-compatible ``/v1/chat/completions`` server for recorded regression cases.

The planner always talks to it through litellm over HTTP (``openai/<model>`` at its
``base_url``), so recording and replaying exercise the same client path as a real model:

- **replay**: answers each request with the cassette's next completion, after checking the
  first request's system prompt, tool schemas and first user message against the cassette's
  fingerprint and each request's message count against the recording; a difference is a
  ``problem`` and a 400 (not retried), so the case fails with that message;
- **record**: forwards each request to the real model with ``litellm.completion`` (the
  ``JITPLAN_LLM_*`` settings as read before the run) and keeps the OpenAI-format answers.

One case at a time uses the server (``session`` holds a lock); it binds 127.0.0.1 on an
ephemeral port.
"""

from __future__ import annotations

__all__ = ["CassetteServer", "Session", "Upstream"]

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jitplan.agent.cassette import (
    PROMPT_PARTS,
    Cassette,
    RecordedRequest,
    changed,
    prompt_fingerprint,
)

_PASS_THROUGH = ("tools", "tool_choice", "temperature", "max_tokens", "top_p", "stop", "seed",
                 "response_format", "parallel_tool_calls")


def _error(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


@dataclass(frozen=True)
class Upstream:
    """The real model a recording forwards to, with litellm's connection settings."""

    model: str
    api_base: str | None = None
    api_key: str | None = None
    timeout_s: float = 120.0

    @classmethod
    def from_settings(cls, model: str) -> Upstream:
        """Connection settings exactly as ``jitplan plan --model MODEL`` would use them."""
        from jitplan.agent.planners.factory import chat_model

        llm = chat_model(model)
        timeout = llm.request_timeout if isinstance(llm.request_timeout, int | float) else 120.0
        return cls(model, llm.api_base, llm.api_key, float(timeout))

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """One chat completion from the real model, as an OpenAI wire-format object."""
        import litellm

        kwargs: dict[str, Any] = {k: body[k] for k in _PASS_THROUGH if k in body}
        resp = litellm.completion(model=self.model, messages=body["messages"], api_base=self.api_base,
                                  api_key=self.api_key, timeout=self.timeout_s, max_retries=0, **kwargs)
        doc: dict[str, Any] = json.loads(resp.model_dump_json())
        return doc


@dataclass
class Session:
    """One case's use of the server: its cassette (replay) or upstream (record), what happened."""

    cassette: Cassette | None = None
    upstream: Upstream | None = None
    problems: list[str] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    prompt: dict[str, str] = field(default_factory=dict)
    stale: bool = False

    @property
    def unused(self) -> int:
        """Recorded exchanges the replay never served."""
        return 0 if self.cassette is None else max(0, len(self.cassette.exchanges) - len(self.requests))

    def answer(self, body: dict[str, Any], raw: bytes) -> tuple[int, dict[str, Any]]:
        n = len(self.requests) + 1
        req = RecordedRequest(messages=len(body["messages"]), sha256=hashlib.sha256(raw).hexdigest())
        if n == 1:
            self.prompt = prompt_fingerprint(body)
        if self.upstream is not None:
            return self._record(body, req)
        assert self.cassette is not None
        cas = self.cassette
        if n == 1:
            diffs = changed({p: cas.fingerprint[p] for p in PROMPT_PARTS}, self.prompt)
            if diffs:
                self.problems += diffs
                self.stale = True
        if self.stale:
            return 400, _error("jitplan replay: the recording is stale: " + "; ".join(self.problems))
        if n > len(cas.exchanges):
            self.problems.append(f"the planner made more model calls than the {len(cas.exchanges)} recorded")
            self.stale = True
            return 400, _error("jitplan replay: " + self.problems[-1])
        want = cas.requests[n - 1].messages
        if req.messages != want:
            self.problems.append(f"the conversation diverged from the recording at model call {n}: "
                                 f"{req.messages} messages sent, {want} recorded")
            self.stale = True
            return 400, _error("jitplan replay: " + self.problems[-1])
        self.requests.append(req)
        return 200, cas.exchanges[n - 1].response

    def _record(self, body: dict[str, Any], req: RecordedRequest) -> tuple[int, dict[str, Any]]:
        from jitplan.agent.planners.llm_errors import describe

        assert self.upstream is not None
        try:
            doc = self.upstream.complete(body)
        except Exception as exc:  # the real model failed: tell the planner (it may retry)
            why = f"model call {len(self.requests) + 1} to {self.upstream.model} failed: {describe(exc)}"
            self.problems.append(why)
            status = getattr(exc, "status_code", None)
            return (status if isinstance(status, int) and 400 <= status < 600 else 502), _error(why, "server_error")
        self.requests.append(req)
        self.responses.append(doc)
        return 200, doc


class CassetteServer:
    """The server (127.0.0.1, ephemeral port); ``base_url`` ends in ``/v1``."""

    def __init__(self) -> None:
        self._session: Session | None = None
        self._use = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="cassette-server", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> CassetteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @contextmanager
    def session(self, *, cassette: Cassette | None = None, upstream: Upstream | None = None) -> Iterator[Session]:
        """Serve one case: replay ``cassette`` or record from ``upstream`` (one case at a time)."""
        if (cassette is None) == (upstream is None):
            raise ValueError("give exactly one of cassette and upstream")
        with self._use:
            self._session = Session(cassette=cassette, upstream=upstream)
            try:
                yield self._session
            finally:
                self._session = None

    def _answer(self, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        try:
            body = json.loads(raw or b"null")
        except json.JSONDecodeError:
            body = None
        if not path.rstrip("/").endswith("/chat/completions"):
            return 404, _error(f"no route {path}")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            return 400, _error("'model' and 'messages' are required")
        sess = self._session
        if sess is None:
            return 503, _error("jitplan replay: no case is being replayed or recorded", "server_error")
        return sess.answer(body, raw)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, doc = server._answer(self.path, raw)
                data = json.dumps(doc).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up and closed the connection
                    return

        return Handler
