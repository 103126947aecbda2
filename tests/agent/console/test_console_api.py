"""The console's pages and JSON API: cycles, one cycle (plots), approvals (one winner of two
concurrent approvals), chat with node progress, audit status, OpenAPI."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from .conftest import WORLD


def test_cycles_newest_first_with_decision_planner_cost_duration(console: Any, cycle: Any) -> None:
    first = cycle("enable refund-advisor")
    second = cycle("refresh ticket-summarizer prompt")
    rows = console.client.get("/api/cycles", headers=console.bearer("operator")).json()
    ids = [r["thread_id"] for r in rows]
    assert ids.index(second) < ids.index(first)
    row = rows[ids.index(first)]
    assert row["decision"] == "escalated" and row["planner"] == "offline" and row["request"] == "enable refund-advisor"
    assert row["cost_usd"] == 0.0 and row["duration_ms"] > 0
    page, _ = console.login("operator")
    html = page.get("/").text
    assert first in html and "escalated" in html and "enable refund-advisor" in html


def test_one_cycle_page_and_its_plot(console: Any, cycle: Any) -> None:
    tid = cycle("enable refund-advisor")
    doc = console.client.get(f"/api/cycles/{tid}", headers=console.bearer("operator")).json()
    res = doc["result"]
    assert res["plan"]["steps"] and res["validation"]["ok"] is True
    scenarios = sorted(res["simulation"]["scenarios"])
    assert "refund-advisor:baseline" in scenarios
    assert {r["kind"] for r in doc["audit"]} >= {"inputs", "policy", "validation", "simulation"}
    assert {"perceive", "plan", "validate", "simulate"} <= set(doc["report"]["nodes"])
    page, _ = console.login("operator")
    html = page.get(f"/cycles/{tid}").text
    for part in ("Plan", "Validation", "Simulation", "Reasons", "Node timings", "Audit records",
                 f"/api/cycles/{tid}/plots/refund-advisor%3Abaseline.png", "evidence (provenance)"):
        assert part in html, part
    r = page.get(f"/api/cycles/{tid}/plots/refund-advisor:baseline.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n" and len(r.content) > 10_000
    assert page.get(f"/api/cycles/{tid}/plots/refund-advisor:nope.png").status_code == 404
    assert page.get("/api/cycles/cycle-000000000000").status_code == 404
    assert page.get("/cycles/cycle-000000000000").status_code == 404
    assert page.get("/api/cycles/bad%20id%3Cx%3E").status_code == 422


def test_approve_through_the_queue_executes_and_changes_the_flags(console: Any, cycle: Any) -> None:
    tid = cycle("enable refund-advisor", apply=True)
    before = console.flags.read_text()
    page, csrf = console.login("payments-lead")
    queue = page.get("/approvals").text
    assert tid in queue and "payments-lead" in queue
    waiting = page.get("/api/approvals").json()
    assert [w["thread_id"] for w in waiting] == [tid] and waiting[0]["reasons"]
    r = page.post(f"/approvals/{tid}", data={"decision": "approve", "csrf": csrf, "comment": "ship it"})
    assert r.status_code == 200 and "approved by payments-lead" in r.text
    assert console.flags.read_text() != before
    assert page.get("/api/approvals").json() == []
    approvals = [a for a in page.get(f"/api/cycles/{tid}").json()["audit"] if a["kind"] == "approval"]
    assert [(a["payload"]["by"], a["payload"]["comment"]) for a in approvals] == [("payments-lead", "ship it")]


def test_reject_through_the_api(console: Any, cycle: Any) -> None:
    tid = cycle("enable refund-advisor")
    r = console.client.post(f"/api/cycles/{tid}/decision", json={"approve": False, "comment": "no"},
                            headers=console.bearer("operator"))
    assert r.status_code == 200 and r.json()["decision"] == "rejected"
    r = console.client.post(f"/api/cycles/{tid}/decision", json={"approve": True, "extra": 1},
                            headers=console.bearer("operator"))
    assert r.status_code == 422


def test_two_concurrent_approvals_give_exactly_one(console: Any, cycle: Any) -> None:
    from fastapi.testclient import TestClient

    tid = cycle("enable refund-advisor")
    barrier = threading.Barrier(2)
    out: dict[str, Any] = {}

    def approve(role: str) -> None:
        client = TestClient(console.app)
        barrier.wait()
        out[role] = client.post(f"/api/cycles/{tid}/decision", json={"approve": True, "comment": role},
                                headers=console.bearer(role))

    threads = [threading.Thread(target=approve, args=(role,)) for role in ("operator", "payments-lead")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in out.values())
    assert codes == [200, 409], {k: (v.status_code, v.text) for k, v in out.items()}
    winner = next(k for k, v in out.items() if v.status_code == 200)
    loser = next(v for v in out.values() if v.status_code == 409)
    assert "already decided (approved by " + winner in loser.json()["detail"]
    audit = console.client.get(f"/api/cycles/{tid}", headers=console.bearer("operator")).json()["audit"]
    assert [a["payload"]["by"] for a in audit if a["kind"] == "approval"] == [winner]


def _wait_idle(client: Any, after: int = 0, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        state: dict[str, Any] = client.get(f"/api/chat?after={after}").json()
        if not state["busy"] or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def test_chat_proposes_streams_progress_and_approves(console: Any) -> None:
    page, csrf = console.login("operator")
    h = {"X-CSRF-Token": csrf}
    r = page.post("/api/chat", json={"text": "enable refund-advisor"}, headers=h)
    assert r.status_code == 202
    assert page.post("/api/chat", json={"text": "/help"}, headers=h).status_code in (202, 409)
    state = _wait_idle(page)
    results = [e for e in state["entries"] if e["kind"] == "result"]
    assert results and results[0]["decision"] == "escalated", state["entries"]
    tid = results[0]["thread_id"]
    assert state["thread_id"] == tid
    nodes = [p["node"] for p in state["progress"] if p["thread_id"] == tid]
    assert nodes[:2] == ["perceive", "triage"] and "simulate" in nodes and "decide" in nodes
    n = len(state["entries"])
    assert page.post("/api/chat", json={"text": "/approve from the web"}, headers=h).status_code == 202
    state = _wait_idle(page, after=n)
    assert any(e["kind"] == "result" and e["decision"] == "approved" for e in state["entries"]), state
    assert page.get(f"/api/cycles/{tid}").json()["result"]["approval"]["by"] == "operator"
    html = page.get("/chat").text
    assert 'id="chat-form"' in html and "/refine" in html


def test_chat_refine_and_bad_lines(console: Any) -> None:
    h = console.bearer("operator")
    c = console.client
    assert c.post("/api/chat", json={"text": "make it all better"}, headers=h).status_code == 202
    _wait_idle(c.__class__(console.app, headers=h))
    assert c.post("/api/chat", json={"text": "/refine refresh ticket-summarizer prompt"}, headers=h).status_code == 202
    state = c.get("/api/chat", headers=h).json()
    deadline = time.monotonic() + 120
    while state["busy"] and time.monotonic() < deadline:
        time.sleep(0.1)
        state = c.get("/api/chat", headers=h).json()
    texts = " ".join(e["text"] for e in state["entries"])
    assert "structured requests only" in texts and "refresh_prompt" in texts
    assert c.post("/api/chat", json={"text": ""}, headers=h).status_code == 422
    assert c.post("/api/chat", json={"txt": "x"}, headers=h).status_code == 422


def test_audit_status_unanchored_then_anchored(console: Any, cycle: Any, tmp_path: Path, cli: Any) -> None:
    cycle("enable refund-advisor")
    doc = console.client.get("/api/audit", headers=console.bearer("operator")).json()
    assert doc["ok"] is True and doc["anchored"] is False and doc["count"] > 0
    page, _ = console.login("operator")
    assert "unanchored" in page.get("/audit").text
    head = tmp_path / "head.json"
    assert cli("audit", "head", "-o", head).code == 0
    console.app.state.audit_head = str(head)
    doc = console.client.get("/api/audit", headers=console.bearer("operator")).json()
    assert doc["ok"] is True and doc["anchored"] is True and doc["current_head"]["seq"] == json.loads(head.read_text())["seq"]
    assert "yes, against" in page.get("/audit").text


def test_openapi_documents_the_typed_api(console: Any) -> None:
    spec = console.client.get("/openapi.json", headers=console.bearer("operator")).json()
    assert {"/api/cycles", "/api/cycles/{thread_id}", "/api/approvals", "/api/cycles/{thread_id}/decision",
            "/api/chat", "/api/audit"} <= set(spec["paths"])
    assert "Decision" in spec["components"]["schemas"] and "CycleResult" in spec["components"]["schemas"]


def test_chat_without_inputs_says_so(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from jitplan.agent.console import ConsoleConfig, create_app
    from jitplan.agent.console.security import TokensFile

    from .conftest import TOKENS, write_tokens

    app = create_app(ConsoleConfig(tokens=TokensFile.from_file(write_tokens(tmp_path / "t.yaml"))))
    c = TestClient(app, headers={"Authorization": f"Bearer {TOKENS['operator']}"})
    r = c.post("/api/chat", json={"text": "enable refund-advisor"})
    assert r.status_code == 409 and "--catalog" in r.json()["detail"]


def test_serve_bad_chat_inputs_fail_before_serving(cli: Any, tmp_path: Path) -> None:
    from .conftest import write_tokens

    tokens = write_tokens(tmp_path / "t.yaml")
    r = cli("serve", "--tokens", tokens, "--catalog", tmp_path / "nope.yaml")
    assert r.code == 2 and "nope.yaml" in r.err and "not found" in r.err
    r = cli("serve", "--tokens", tokens, "--catalog", WORLD / "catalog.yaml", "--replications", "0")
    assert r.code == 2 and "--replications" in r.err
    r = cli("serve", "--tokens", tokens, "--audit-head", tmp_path / "nohead.json")
    assert r.code == 2 and "nohead.json" in r.err
