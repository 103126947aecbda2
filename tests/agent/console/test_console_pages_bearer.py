"""Pages accept a valid bearer token like the API does (issue 15: anonymous requests get 401, a
request with a valid token is not anonymous). Bearer requests carry no ambient credential, so
their form posts need no CSRF token; cookie sessions still do."""

from __future__ import annotations

from typing import Any

import pytest

PAGES = ["/", "/approvals", "/chat", "/audit", "/docs"]


@pytest.mark.parametrize("path", PAGES)
def test_each_page_is_200_with_a_valid_bearer_token(console: Any, path: str) -> None:
    r = console.client.get(path, headers=console.bearer("payments-lead"))
    assert r.status_code == 200, (path, r.status_code, r.text[:200])
    assert 'name="token"' not in r.text  # not the login form
    assert "payments-lead" in r.text  # the page knows who asked
    assert "jitplan_session" not in r.headers.get("set-cookie", "")  # no session is made for it
    assert console.client.get(path).status_code == 401
    bad = console.client.get(path, headers={"Authorization": "Bearer wrong-" + "x" * 30})
    assert bad.status_code == 401 and 'name="token"' in bad.text
    assert console.client.get(path, headers={"Authorization": "Basic " + "x" * 30}).status_code == 401


def test_cycle_page_with_bearer(console: Any, cycle: Any) -> None:
    tid = cycle("enable refund-advisor")
    r = console.client.get(f"/cycles/{tid}", headers=console.bearer("operator"))
    assert r.status_code == 200 and tid in r.text
    assert console.client.get(f"/cycles/{tid}").status_code == 401


def test_bearer_form_post_needs_no_csrf_but_a_cookie_session_still_does(console: Any, cycle: Any) -> None:
    tid = cycle("enable refund-advisor")
    page, _csrf = console.login("payments-lead")
    r = page.post(f"/approvals/{tid}", data={"decision": "approve", "comment": "x"})
    assert r.status_code == 403 and "CSRF" in r.text  # cookie session without the token
    r = page.post(f"/approvals/{tid}", data={"decision": "approve", "csrf": "wrong", "comment": "x"})
    assert r.status_code == 403
    r = console.client.post(f"/approvals/{tid}", data={"decision": "approve", "comment": "ok"},
                            headers=console.bearer("payments-lead"))
    assert r.status_code == 200 and "approved by payments-lead" in r.text
    r = console.client.post(f"/approvals/{tid}", data={"decision": "approve"},
                            headers={"Authorization": "Bearer wrong-" + "x" * 30})
    assert r.status_code == 401


def test_bearer_logout_drops_no_session(console: Any) -> None:
    page, _csrf = console.login("operator")
    r = console.client.post("/logout", headers=console.bearer("operator"), follow_redirects=False)
    assert r.status_code == 303
    assert page.get("/").status_code == 200  # the cookie session is untouched
