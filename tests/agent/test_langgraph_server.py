"""The planning graph under LangGraph's own server (``langgraph dev``, ``langgraph.json``).

The server test (``make test-langgraph``; opt in with ``JITPLAN_LANGGRAPH_TESTS=1``) starts
``langgraph dev`` on 127.0.0.1 with the repository's ``langgraph.json`` from a temporary folder
(no analytics, version check, browser, reload or tunnel: no network), and runs a thread through
its HTTP API with langgraph-sdk: a request for a high-risk feature escalates, the run stops at
the approval interrupt, and ``Command(resume=...)`` approves it. The server is stopped by PID.
A machine without the ``studio`` extra reports a skip with the reason; a server that starts but
cannot serve the graph fails.

The other tests check ``agent.studio``'s defaults in-process (they run in ``make test``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jitplan.contracts.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
SERVER_TESTS = bool(os.environ.get("JITPLAN_LANGGRAPH_TESTS"))
START_TIMEOUT_S = 90.0
RUN_TIMEOUT_S = 180.0

# -- agent.studio in-process (fast; part of `make test`) ------------------------------------


def test_langgraph_json_names_the_studio_graph_by_module() -> None:
    conf = json.loads((ROOT / "langgraph.json").read_text())
    assert conf["graphs"] == {"jitplan": "jitplan.agent.studio:graph"}
    from jitplan.agent.studio import graph

    assert graph.checkpointer is None  # the server supplies its own
    nodes = set(graph.get_graph().nodes)
    assert {"prepare", "perceive", "decide", "record"} <= nodes


def test_studio_inputs_default_to_the_sample_world_and_the_environment() -> None:
    from jitplan.agent.studio import studio_inputs

    got = studio_inputs({"request": "enable refund-advisor"})
    assert Path(got["catalog"]) == (WORLD / "catalog.yaml").resolve()
    assert Path(got["signals"]) == (WORLD / "signals" / "steady.yaml").resolve()
    assert Path(got["contracts"]) == (WORLD / "contracts.yaml").resolve()
    assert [Path(e) for e in got["evidence"]] == [(WORLD / "evidence").resolve()]
    assert (got["role"], got["region"]) == ("operator", "eu")  # JITPLAN_ROLE/REGION (conftest)
    assert got["state"] is None and got["apply"] is False and got["policy"] is None


def test_studio_inputs_keep_what_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jitplan.agent.studio import studio_inputs

    monkeypatch.chdir(WORLD)
    monkeypatch.setenv("JITPLAN_POLICY", str(tmp_path))
    got = studio_inputs({"catalog": "catalog.yaml", "signals": "signals/drift.yaml",
                         "role": "support-lead", "region": "us", "replications": 3})
    assert got["catalog"] == str(WORLD / "catalog.yaml")  # relative to the working directory
    assert got["signals"] == str(WORLD / "signals" / "drift.yaml")
    assert got["contracts"] is None and got["evidence"] == []  # no sample world mixed in
    assert (got["role"], got["region"], got["replications"]) == ("support-lead", "us", 3)
    assert got["policy"] == str(tmp_path)  # JITPLAN_POLICY, as for the CLI
    assert studio_inputs({"no_policy": True})["policy"] is None


@pytest.mark.parametrize(("given", "match"), [
    ("enable refund-advisor", "expected an object"),
    ({"replications": 0}, "replications"),
    ({"surprise": 1}, "surprise"),
    ({"catalog": "catalog.yaml"}, "signals"),
])
def test_bad_run_inputs_are_one_user_error(given: Any, match: str) -> None:
    from jitplan.agent.studio import studio_inputs

    with pytest.raises(UserError, match=match) as err:
        studio_inputs(given)
    assert "\n" not in str(err.value)


def test_missing_role_names_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from jitplan.agent.studio import studio_inputs

    monkeypatch.delenv("JITPLAN_ROLE")
    with pytest.raises(UserError, match="role"):
        studio_inputs({})


def test_prepare_raises_bad_input_as_a_value_error_the_server_shows(tmp_path: Path) -> None:
    from jitplan.agent.studio import prepare

    with pytest.raises(ValueError, match=r"nope\.yaml") as err:
        prepare({"inputs": {"catalog": str(tmp_path / "nope.yaml"), "signals": "s.yaml"}}, {})
    assert not isinstance(err.value, UserError)
    with pytest.raises(ValueError, match="max_revisions"):
        prepare({"inputs": {"max_revisions": 99}}, {})


def test_prepare_takes_the_servers_thread_id() -> None:
    from jitplan.agent.studio import prepare

    out = prepare({"inputs": {}}, {"configurable": {"thread_id": "t-42"}})
    assert out["thread_id"] == "t-42" and out["inputs"]["role"] == "operator"
    assert (out["reasons"], out["revision"], out["llm"]) == ([], 0, {})
    assert prepare({"thread_id": "mine"}, {"configurable": {"thread_id": "t-42"}})["thread_id"] == "mine"
    assert prepare({}, {})["thread_id"].startswith("cycle-")


# -- langgraph dev on 127.0.0.1 (opt-in; `make test-langgraph`) -----------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LANGSMITH_", "LANGCHAIN_", "LANGGRAPH_", "OTEL_"))}
    env.update(
        JITPLAN_HOME=str(home), JITPLAN_ROLE="operator", JITPLAN_REGION="eu",
        LANGGRAPH_CLI_NO_ANALYTICS="1", LANGGRAPH_NO_VERSION_CHECK="true",
        LANGSMITH_TRACING="false", LANGCHAIN_TRACING_V2="false",
        LITELLM_LOCAL_MODEL_COST_MAP="True", MPLBACKEND="Agg", PYTHONUNBUFFERED="1",
    )
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (it leads a session of its own), then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"langgraph dev exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    pytest.fail(f"langgraph dev not ready after {START_TIMEOUT_S:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def langgraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``langgraph dev`` on an ephemeral port; yields its URL and its ``JITPLAN_HOME``."""
    if not SERVER_TESTS:
        pytest.skip("starts langgraph dev: set JITPLAN_LANGGRAPH_TESTS=1 (make test-langgraph)")
    pytest.importorskip("langgraph_api", reason="the 'studio' extra is not installed (make test-langgraph)")
    exe = Path(sys.executable).parent / "langgraph"
    if not exe.exists():
        pytest.skip(f"no langgraph CLI at {exe}: install the 'studio' extra (make test-langgraph)")
    work = tmp_path_factory.mktemp("langgraph-dev")
    home = work / "jitplan-home"
    log = work / "server.log"
    port = _free_port()
    cmd = [str(exe), "dev", "--config", str(ROOT / "langgraph.json"), "--host", "127.0.0.1",
           "--port", str(port), "--no-browser", "--no-reload"]
    with log.open("wb") as out:
        try:
            proc = subprocess.Popen(cmd, cwd=work, env=_server_env(home), stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            pytest.skip(f"could not start langgraph dev: {exc}")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log)
        yield url, home
    finally:
        _stop(proc)


@pytest.mark.langgraph
def test_an_escalated_cycle_waits_for_approval_and_resumes_through_the_server(
    langgraph_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from langgraph_sdk import get_sync_client

    url, home = langgraph_server
    client = get_sync_client(url=url, api_key=None, timeout=RUN_TIMEOUT_S)
    assert [a["graph_id"] for a in client.assistants.search(graph_id="jitplan")] == ["jitplan"]
    thread = client.threads.create()
    tid = thread["thread_id"]

    # The sample world (no catalog given); refund-advisor is high risk: decide interrupts.
    first = client.runs.wait(tid, "jitplan", input={"inputs": {
        "request": "enable refund-advisor", "role": "operator", "region": "eu", "replications": 3}})
    assert isinstance(first, dict)
    interrupts = first.get("__interrupt__") or []
    assert len(interrupts) == 1, first.get("reasons")
    ask = interrupts[0]["value"]
    assert ask["thread_id"] == tid  # the server's thread id, filled in by prepare
    assert "payments-lead" in ask["approver_roles"]
    assert any("refund-advisor@1.0.0 is high risk" in r for r in ask["reasons"])
    assert len(ask["plan_sha256"]) == 64 and ask["plan_id"].startswith("plan-")
    assert first["validation"]["ok"] and first["simulation"]["passed"]
    assert first.get("decision") is None
    assert client.threads.get(tid)["status"] == "interrupted"
    assert client.threads.get_state(tid)["next"] == ["decide"]

    done = client.runs.wait(tid, "jitplan", command={"resume": {
        "decision": "approved", "by": "payments-lead", "comment": "reviewed in studio"}})
    assert isinstance(done, dict) and not done.get("__interrupt__")
    assert done["decision"] == "approved" and done["done"] is True
    approval = done["approval"]
    assert approval["decision"] == "approved" and approval["by"] == "payments-lead"
    assert approval["auto"] is False and approval["comment"] == "reviewed in studio"
    assert approval["plan_sha256"] == ask["plan_sha256"]
    state = client.threads.get_state(tid)
    assert state["next"] == [] and state["values"]["decision"] == "approved"
    assert client.threads.get(tid)["status"] == "idle"

    # The graph's side effects went to the server's JITPLAN_HOME: one audited human approval.
    monkeypatch.setenv("JITPLAN_HOME", str(home))
    from jitplan.tools.audit import opened

    with opened() as audit:
        records = audit.records(tid)
    kinds = [r.kind for r in records]
    assert kinds[0] == "inputs" and kinds[-1] == "outcome"
    approvals = [r.payload for r in records if r.kind == "approval"]
    assert [(a["by"], a["decision"]) for a in approvals] == [("payments-lead", "approved")]


@pytest.mark.langgraph
@pytest.mark.parametrize(("inputs", "match"), [
    ({"replications": 0}, "replications"),
    ({"catalog": "/nonexistent/catalog.yaml", "signals": "/nonexistent/s.yaml"}, r"catalog\.yaml"),
])
def test_bad_input_fails_the_run_with_the_reason(
    langgraph_server: tuple[str, Path], inputs: dict[str, Any], match: str,
) -> None:
    from langgraph_sdk import get_sync_client

    url, _ = langgraph_server
    client = get_sync_client(url=url, api_key=None, timeout=RUN_TIMEOUT_S)
    tid = client.threads.create()["thread_id"]
    with pytest.raises(Exception, match=match) as err:  # the SDK raises on a failed run
        client.runs.wait(tid, "jitplan", input={"inputs": inputs})
    assert "ValueError" in str(err.value), err.value
    assert client.threads.get(tid)["status"] == "error"
