"""Spans reach an OTLP/HTTP endpoint: a real ``jitplan plan`` process exports to a local receiver.

The receiver is a small ``http.server`` on 127.0.0.1 (ephemeral port) accepting
``POST /v1/traces`` and decoding each body with opentelemetry-proto's
``ExportTraceServiceRequest``; the test counts the spans and names it received and compares them
with the run's own ``traces.jsonl``.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"


class _Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[dict[str, Any]] = []
        self.posts: list[str] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:  # http.server's method name
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        with self.server.lock:
            self.server.posts.append(self.path)
        if self.path != "/v1/traces":
            self.send_response(404)
            self.end_headers()
            return
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        got = []
        for rs in req.resource_spans:
            service = next((a.value.string_value for a in rs.resource.attributes
                            if a.key == "service.name"), None)
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    attrs = {a.key: a.value for a in sp.attributes}
                    thread = attrs.get("jitplan.thread_id")
                    got.append({"name": sp.name, "service": service,
                                "thread_id": thread.string_value if thread is not None else None,
                                "trace_id": sp.trace_id.hex()})
        with self.server.lock:
            self.server.spans.extend(got)
        out = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_planning_cycle_exports_every_span_to_the_otlp_endpoint(
    receiver: _Receiver, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(JITPLAN_HOME=str(home), OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
               OTEL_EXPORTER_OTLP_TIMEOUT="5", JITPLAN_ROLE="operator", JITPLAN_REGION="eu",
               LITELLM_LOCAL_MODEL_COST_MAP="True")
    cmd = [sys.executable, "-m", "jitplan.agent.cli", "plan", "--catalog", str(WORLD / "catalog.yaml"),
           "--signals", str(WORLD / "signals" / "demand-rise.yaml"), "--contracts",
           str(WORLD / "contracts.yaml"), "--state", str(WORLD / "flags.json"),
           "--evidence", str(WORLD / "evidence"), "--thread-id", "otlp-cycle", "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["decision"] == "approved"
    # The process has exited: its spans were flushed to the endpoint at exit.
    local = [json.loads(line) for line in (home / "traces.jsonl").read_text().splitlines()]
    assert local, "the run wrote no span to traces.jsonl"
    assert set(receiver.posts) == {"/v1/traces"}
    received = receiver.spans
    assert len(received) == len(local)
    assert Counter(s["name"] for s in received) == Counter(s["name"] for s in local)
    assert {s["service"] for s in received} == {"jitplan"}
    nodes = Counter(s["name"] for s in received if s["name"].startswith("jitplan.node."))
    for node in ("perceive", "govern", "plan", "validate", "simulate", "decide", "record"):
        assert nodes[f"jitplan.node.{node}"] == 1, nodes
    assert {s["thread_id"] for s in received if s["name"].startswith("jitplan.node.")} == {"otlp-cycle"}

