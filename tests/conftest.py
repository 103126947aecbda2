"""Shared fixtures: paths of the sample world, an isolated JITPLAN_HOME, and a CLI runner."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORLD = ROOT / "scenarios" / "world"
POSTGRES_URL = os.environ.get("JITPLAN_TEST_POSTGRES_URL", "")
"""The test server (``make test-postgres`` sets it); Postgres tests skip without it."""


def _postgres_admin() -> Any:
    """An autocommit connection to the test server."""
    import psycopg

    return psycopg.connect(POSTGRES_URL, autocommit=True)


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A URL on the test server whose ``search_path`` is a fresh, empty schema (dropped after)."""
    if not POSTGRES_URL:
        pytest.skip("JITPLAN_TEST_POSTGRES_URL not set (make test-postgres)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with _postgres_admin() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with _postgres_admin() as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("jitplan-home")
    monkeypatch.setenv("JITPLAN_HOME", str(home))
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    # The requester is configured once for the suite, as a user would (JITPLAN_ROLE/REGION);
    # tests of the "required" rule delete them. A developer's own policy choice is not inherited.
    monkeypatch.setenv("JITPLAN_ROLE", "operator")
    monkeypatch.setenv("JITPLAN_REGION", "eu")
    monkeypatch.delenv("JITPLAN_POLICY", raising=False)
    yield home


@pytest.fixture
def world() -> Path:
    return WORLD


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``jitplan`` in-process: ``cli("catalog", "validate", path)`` -> CliResult."""
    from jitplan.agent.cli import main

    def run(*argv: str | os.PathLike[str]) -> CliResult:
        capsys.readouterr()
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


JsonAnswer = Any  # Callable[[str, dict[str, str]], tuple[int, Any]]: (path, query) -> (status, doc or bytes)


@pytest.fixture
def json_api() -> Iterator[Any]:
    """Start scripted HTTP JSON APIs on 127.0.0.1 (ephemeral ports), e.g. a Prometheus stand-in:
    ``url = json_api(answer)`` where ``answer(path, query)`` returns ``(status, document)`` (a
    ``bytes`` document is sent as is). Every server is stopped after the test."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    servers: list[ThreadingHTTPServer] = []

    def start(answer: JsonAnswer) -> str:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                u = urlparse(self.path)
                status, doc = answer(u.path, {k: v[0] for k, v in parse_qs(u.query).items()})
                body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}"

    try:
        yield start
    finally:
        for srv in servers:
            srv.shutdown()
            srv.server_close()
