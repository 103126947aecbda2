"""Fixtures of the agent tests: ``replay``, a local OpenAI-compatible server (``replay_server``)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_spec = importlib.util.spec_from_file_location("jitplan_tests_replay_server",
                                               Path(__file__).with_name("replay_server.py"))
assert _spec is not None and _spec.loader is not None
replay_server = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = replay_server
_spec.loader.exec_module(replay_server)


@pytest.fixture
def replay(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """``replay("demand_rise")`` or ``replay([Exchange, ...])``: a started ``ReplayServer`` that
    ``JITPLAN_LLM_API_BASE`` points at, with no API key anywhere (stopped after the test)."""
    servers: list[Any] = []

    def start(recording: Any, *, model: str = "replay") -> Any:
        if isinstance(recording, list):
            srv = replay_server.ReplayServer(recording, model=model)
        else:
            srv = replay_server.ReplayServer.from_recording(recording)
        servers.append(srv.start())
        monkeypatch.setenv("JITPLAN_LLM_API_BASE", srv.base_url)
        return srv

    for var in ("JITPLAN_LLM_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE",
                "JITPLAN_LLM_MAX_RETRIES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("JITPLAN_LLM_TIMEOUT_S", "10")
    yield start
    for srv in servers:
        srv.stop()
