"""A local OpenAI-compatible ``/v1/chat/completions`` server that replays recorded conversations.

A recording (YAML or JSON under ``tests/fixtures/recordings/``) lists ``exchanges``; each HTTP
request gets the next one, in order::

    model: gpt-4o-mini
    exchanges:
      - expect: [search_catalog]          # optional: substrings the request body must contain
        response: {id: chatcmpl-1, object: chat.completion, choices: [...], usage: {...}}
      - status: 500                       # a fault: status, optional headers and body
        body: {error: {message: boom, type: server_error, param: null, code: null}}
      - status: 429
        headers: {retry-after: "1"}
      - delay_s: 30                       # hang (cut short when the server stops)

``response`` is a chat completion object in OpenAI's wire format (what a recorder stores), sent
with status 200. Like the real API, the server answers 400 ``invalid_request_error`` when an
assistant message's ``tool_calls`` ids are not all answered by the ``tool`` messages right after
it, or when a ``tool`` message answers no pending call; these requests do not consume an
exchange. Every request body is logged (``server.requests``), with the problems the server found
(``server.problems``: expectation misses, exhausted recordings, sequencing errors).
"""

from __future__ import annotations

__all__ = ["Exchange", "ReplayServer", "Request", "load_recording", "sequencing_error"]

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "recordings"


@dataclass(frozen=True)
class Exchange:
    """One recorded answer: a completion (status 200) or a fault."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay_s: float = 0.0
    expect: tuple[str, ...] = ()


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    body: Any
    at: float
    status: int


def load_recording(name_or_path: str | Path) -> tuple[str, list[Exchange]]:
    """The model name and exchanges of a recording (a file path, or a name in ``RECORDINGS``)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = RECORDINGS / f"{name_or_path}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for i, ex in enumerate(doc["exchanges"]):
        unknown = set(ex) - {"response", "status", "headers", "body", "delay_s", "expect"}
        if unknown:
            raise ValueError(f"{path}: exchange {i + 1}: unknown keys {sorted(unknown)}")
        if not all(isinstance(e, str) for e in ex.get("expect", ())):
            raise ValueError(f"{path}: exchange {i + 1}: expect must list strings")
        if "response" in ex:
            out.append(Exchange(200, {}, ex["response"], float(ex.get("delay_s", 0)), tuple(ex.get("expect", ()))))
        else:
            out.append(Exchange(int(ex.get("status", 200)), {k: str(v) for k, v in (ex.get("headers") or {}).items()},
                                ex.get("body"), float(ex.get("delay_s", 0)), tuple(ex.get("expect", ()))))
    return str(doc.get("model", "replay")), out


def _invalid(message: str, param: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}


def sequencing_error(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """OpenAI's tool-call sequencing check: the 400 body it would send, or None when valid."""
    pending: list[str] = []
    pending_at = 0
    for i, m in enumerate(messages):
        role = m.get("role")
        if role == "tool":
            tcid = m.get("tool_call_id")
            if tcid not in pending:
                return _invalid("Invalid parameter: messages with role 'tool' must be a response to a "
                                "preceeding message with 'tool_calls'.", f"messages.[{i}].role")
            pending.remove(tcid)
            continue
        if pending:
            return _invalid("An assistant message with 'tool_calls' must be followed by tool messages "
                            "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                            f"response messages: {', '.join(pending)}", f"messages.[{pending_at}].role")
        if role == "assistant" and m.get("tool_calls"):
            pending = [str(tc.get("id")) for tc in m["tool_calls"]]
            pending_at = i
    if pending:
        return _invalid("An assistant message with 'tool_calls' must be followed by tool messages "
                        "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                        f"response messages: {', '.join(pending)}", f"messages.[{pending_at}].role")
    return None


class ReplayServer:
    """The server on 127.0.0.1 (ephemeral port); ``base_url`` ends in ``/v1``."""

    def __init__(self, exchanges: list[Exchange], *, model: str = "replay") -> None:
        self.model = model
        self.exchanges = list(exchanges)
        self.requests: list[Request] = []
        self.problems: list[str] = []
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="replay-server", daemon=True)

    @classmethod
    def from_recording(cls, name_or_path: str | Path) -> ReplayServer:
        model, exchanges = load_recording(name_or_path)
        return cls(exchanges, model=model)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def completions(self) -> list[Request]:
        """The requests to ``/v1/chat/completions``."""
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[Exchange, str]:
        """The exchange for one request (a synthetic one for protocol errors)."""
        try:
            body = json.loads(raw or b"null")
        except json.JSONDecodeError:
            body = None
        with self._lock:
            status_of = len(self.requests)
            if not path.rstrip("/").endswith("/chat/completions"):
                ex = Exchange(404, body={"error": {"message": f"no route {path}", "type": "invalid_request_error",
                                                   "param": None, "code": None}})
            elif not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body.get("model"):
                ex = Exchange(400, body=_invalid("'model' and 'messages' are required", None))
            elif (seq := sequencing_error(body["messages"])) is not None:
                self.problems.append(f"request {status_of + 1}: {seq['error']['message']}")
                ex = Exchange(400, body=seq)
            elif self._next >= len(self.exchanges):
                msg = f"replay: the recording has only {len(self.exchanges)} exchange(s)"
                self.problems.append(f"request {status_of + 1}: {msg}")
                ex = Exchange(500, body={"error": {"message": msg, "type": "server_error", "param": None,
                                                   "code": None}})
            else:
                ex = self.exchanges[self._next]
                self._next += 1
                text = raw.decode("utf-8", "replace")
                missing = [e for e in ex.expect if e not in text]
                if missing:
                    msg = f"replay: exchange {self._next} expects the request to contain {missing!r}"
                    self.problems.append(f"request {status_of + 1}: {msg}")
                    ex = Exchange(400, body=_invalid(msg, None))
            self.requests.append(Request(path, headers, body, time.monotonic(), ex.status))
        return ex, path

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ex, _ = server._answer(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                if ex.delay_s and server._stop.wait(ex.delay_s):
                    return
                body = ex.body
                if ex.status == 200 and isinstance(body, dict):
                    body = {"object": "chat.completion", "created": int(time.time()), "model": server.model,
                            "system_fingerprint": None, **body}
                data = json.dumps(body).encode() if body is not None else b""
                try:
                    self.send_response(ex.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in ex.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout) and closed the connection
                    return

        return Handler


def main(argv: list[str] | None = None) -> int:
    """``python tests/agent/replay_server.py RECORDING``: serve it until interrupted (manual runs,
    e.g. ``make test-llm`` against a recording); prints the base URL."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("recording", help="a recording file, or a name in tests/fixtures/recordings")
    args = ap.parse_args(argv)
    srv = ReplayServer.from_recording(args.recording).start()
    print(srv.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
