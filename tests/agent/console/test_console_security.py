"""The console's security rules, one test per rule: 401 for anonymous callers, approvals only by
the roles the catalog's governance and the policy allow, CSRF on forms and cookie-authenticated
API calls, escaped hostile text, loopback by default, 413 for big bodies, hashed tokens."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import TOKENS, WORLD


@pytest.mark.parametrize("method,path", [
    ("GET", "/"), ("GET", "/approvals"), ("GET", "/chat"), ("GET", "/audit"), ("GET", "/cycles/cycle-x"),
    ("GET", "/api/cycles"), ("GET", "/api/cycles/cycle-x"), ("GET", "/api/approvals"), ("GET", "/api/audit"),
    ("GET", "/api/chat"), ("POST", "/api/chat"), ("POST", "/api/cycles/cycle-x/decision"),
    ("GET", "/api/cycles/cycle-x/plots/a:b.png"), ("GET", "/docs"), ("GET", "/openapi.json"),
    ("POST", "/approvals/cycle-x"), ("POST", "/logout"),
])
def test_anonymous_requests_get_401(console: Any, method: str, path: str) -> None:
    r = console.client.request(method, path)
    assert r.status_code == 401, (path, r.status_code)
    if not path.startswith(("/api", "/openapi")):
        assert 'name="token"' in r.text  # pages answer with the login form
    r = console.client.request(method, path, headers={"Authorization": "Bearer not-a-token-" + "x" * 30})
    assert r.status_code == 401
    from fastapi.testclient import TestClient

    forged = TestClient(console.app, cookies={"jitplan_session": "forged"})
    assert forged.request(method, path).status_code == 401


def test_login_sets_a_strict_httponly_session_and_needs_its_csrf(console: Any) -> None:
    c = console.client
    assert c.get("/login").status_code == 200 and c.get("/static/console.js").status_code == 200
    r = c.post("/login", data={"token": TOKENS["operator"], "csrf": "guess"}, follow_redirects=False)
    assert r.status_code == 403 and "jitplan_session" not in r.headers.get("set-cookie", "")
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"token": "wrong-" + "x" * 30, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 401 and "unknown token" in r.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"token": TOKENS["operator"], "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "jitplan_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert c.get("/").status_code == 200
    me = c.get("/api/me").json()
    assert me["role"] == "operator" and me["csrf"]
    assert c.post("/logout", data={"csrf": "wrong"}).status_code == 403  # logout is a form too
    assert c.post("/logout", data={"csrf": me["csrf"]}, follow_redirects=False).status_code == 303
    assert c.get("/").status_code == 401


def test_a_role_approves_only_what_the_governance_lets_it(console: Any, cycle: Any) -> None:
    tid = cycle("enable refund-advisor")  # approvers: payments-lead, operator (catalog governance)
    r = console.client.post(f"/api/cycles/{tid}/decision", json={"approve": True}, headers=console.bearer("sql-nobody"))
    assert r.status_code == 403 and "may not approve" in r.json()["detail"]
    page, csrf = console.login("sql-nobody")
    r = page.post(f"/approvals/{tid}", data={"decision": "approve", "csrf": csrf, "comment": "x"})
    assert r.status_code == 403 and "may not approve" in r.text
    assert console.client.get(f"/api/cycles/{tid}", headers=console.bearer("operator")).json()["result"]["status"] == "interrupted"
    r = console.client.post(f"/api/cycles/{tid}/decision", json={"approve": True, "comment": "ok"},
                            headers=console.bearer("payments-lead"))
    assert r.status_code == 200 and r.json()["approval"]["by"] == "payments-lead"


def test_fraud_screener_plan_only_payments_lead(console: Any, cycle: Any) -> None:
    tid = cycle("enable fraud-screener", role="payments-lead")
    doc = console.client.get(f"/api/cycles/{tid}", headers=console.bearer("operator")).json()["result"]
    if doc["decision"] != "escalated":
        pytest.skip(f"fraud-screener plan was {doc['decision']}, not escalated")
    assert doc["escalation"]["approver_roles"] == ["payments-lead"]
    r = console.client.post(f"/api/cycles/{tid}/decision", json={"approve": True}, headers=console.bearer("operator"))
    assert r.status_code == 403


def test_forms_and_cookie_api_calls_need_the_csrf_token(console: Any, cycle: Any) -> None:
    tid = cycle("enable refund-advisor")
    page, csrf = console.login("operator")
    r = page.post(f"/approvals/{tid}", data={"decision": "approve", "comment": "no token"})
    assert r.status_code == 403
    r = page.post(f"/approvals/{tid}", data={"decision": "approve", "csrf": "forged", "comment": "x"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = page.post(f"/api/cycles/{tid}/decision", json={"approve": True})
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    r = page.post("/api/chat", json={"text": "/help"})
    assert r.status_code == 403
    assert page.get(f"/api/cycles/{tid}").json()["result"]["status"] == "interrupted"  # nothing decided
    r = page.post(f"/approvals/{tid}", data={"decision": "approve", "csrf": csrf, "comment": "fine"})
    assert r.status_code == 200 and "approved" in r.text


HOSTILE = '<script>alert(1)</script>'
LINK = 'javascript:alert(2)'


def test_hostile_catalog_and_comment_text_is_escaped(console: Any, cycle: Any, tmp_path: Path) -> None:
    cat = yaml.safe_load((WORLD / "catalog.yaml").read_text())
    for f in cat["features"]:
        if f["id"] == "refund-advisor":
            f["governance"]["roles"] = [*f["governance"]["roles"], HOSTILE, LINK]
            f["description"] = f'<a href="{LINK}">x</a>\x1b[31m'
    hostile = tmp_path / "catalog.yaml"
    hostile.write_text(yaml.safe_dump(cat))
    tid = cycle("enable refund-advisor", catalog=hostile)
    page, csrf = console.login("operator")
    comment = f'<img src=x onerror=alert(3)> {LINK} bell\x07 esc\x1b[2J'
    pages = [page.get("/approvals").text]
    r = page.post(f"/approvals/{tid}", data={"decision": "approve", "csrf": csrf, "comment": comment})
    assert r.status_code == 200
    pages += [page.get(f"/cycles/{tid}").text, page.get("/").text]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert "&lt;img src=x onerror=alert(3)&gt;" in pages[1]
    assert "\\x07" in pages[1] and "\\x1b[2J" in pages[1]  # control characters shown, not sent
    for html in pages:
        assert HOSTILE not in html and "<img src=x" not in html
        assert "\x1b" not in html and "\x07" not in html
        assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", html, re.I)
        assert "<script>" not in html.replace('<script src="/static/console.js" defer></script>', "")
    # The API returns the same text as JSON (escaping is the pages' business), typed.
    doc = page.get(f"/api/cycles/{tid}").json()
    assert doc["result"]["approval"]["comment"] == comment


def test_pages_send_a_strict_content_security_policy(console: Any) -> None:
    page, _ = console.login("operator")
    r = page.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"


def test_request_bodies_are_capped(console: Any) -> None:
    big = "x" * 20_000  # the fixture's cap is 8192 bytes
    h = console.bearer("operator")
    r = console.client.post("/api/chat", json={"text": big}, headers=h)
    assert r.status_code == 413
    r = console.client.post("/login", data={"token": big, "csrf": "x"})
    assert r.status_code == 413

    def chunks() -> Any:  # no Content-Length: counted while it streams in
        for _ in range(20):
            yield b"x" * 1000

    r = console.client.post("/api/chat", content=chunks(), headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 413


def test_serve_binds_loopback_unless_told(cli: Any, tmp_path: Path) -> None:
    from jitplan.agent.cli import build_parser

    from .conftest import write_tokens

    args = build_parser().parse_args(["serve", "--tokens", "t.yaml"])
    assert args.host == "127.0.0.1" and args.port == 8321
    tokens = write_tokens(tmp_path / "tokens.yaml")
    r = cli("serve", "--host", "0.0.0.0", "--tokens", tokens)
    assert r.code == 2 and "not a loopback address" in r.err and "--allow-remote" in r.err


def test_tokens_file_is_hashes_and_bad_files_are_one_line(cli: Any, tmp_path: Path, monkeypatch: Any) -> None:
    import io
    import sys

    from jitplan.agent.console.security import hash_token

    monkeypatch.setattr(sys, "stdin", io.StringIO(TOKENS["operator"] + "\n"))
    r = cli("serve", "--hash-token")
    assert r.code == 0 and r.out.strip() == hash_token(TOKENS["operator"]) and len(r.out.strip()) == 64
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    r = cli("serve", "--hash-token")
    assert r.code == 2 and "at least 24 characters" in r.err
    plain = tmp_path / "plain.yaml"
    plain.write_text(f"tokens:\n  - {{role: operator, region: eu, sha256: {TOKENS['operator']}}}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tokens: [unclosed\n")
    cases = [(plain, "tokens[0].sha256"), (bad, "malformed YAML"), (tmp_path / "missing.yaml", "not found")]
    for path, words in cases:
        r = cli("serve", "--tokens", path)
        assert r.code == 2 and words in r.err and path.name in r.err and "Traceback" not in r.err, r.err
        assert len(r.err.strip().splitlines()) <= 3
    r = cli("serve")
    assert r.code == 2 and "--tokens" in r.err


def test_hostile_model_text_is_escaped(console: Any, tmp_path: Path) -> None:
    """A (scripted) model whose plan goal and rationales carry markup, a javascript: link and
    terminal escapes: the pages show them as text."""
    import json

    from jitplan.agent.runtime import run_cycle
    from jitplan.contracts.agent import PlanRequest

    from .conftest import ROOT, chat_base

    script = yaml.safe_load((ROOT / "tests" / "fixtures" / "scripted" / "revise.yaml").read_text())
    plan = json.loads(script["responses"][-1]["content"])
    plan["goal"] = f'{HOSTILE} <a href="{LINK}">x</a> \x1b[2J\x07'
    for step in plan["steps"]:
        step["rationale"] = "<img src=x onerror=alert(3)> \x1b[31m"
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(yaml.safe_dump({"responses": [{"content": json.dumps(plan)}]}))
    base = {**chat_base(console.flags), "signals": str(WORLD / "signals" / "demand-rise.yaml"),
            "model": f"scripted:{hostile}"}
    res = run_cycle(PlanRequest(**base, role="operator", region="eu"))
    assert res.plan is not None and HOSTILE in res.plan["goal"]
    page, _ = console.login("operator")
    for html in (page.get(f"/cycles/{res.thread_id}").text, page.get("/").text):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert HOSTILE not in html and "<img src=x" not in html and "\x1b" not in html
        assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", html, re.I)
