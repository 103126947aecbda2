"""``/docs``: the API reference rendered on the server from ``app.openapi()``, with no external
assets (it works offline and under the console's strict CSP), escaping the spec's text."""

from __future__ import annotations

import html
import re
from typing import Any

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)""", re.I)


def test_docs_lists_every_api_route_without_external_assets(console: Any) -> None:
    h = console.bearer("operator")
    spec = console.client.get("/openapi.json", headers=h).json()
    r = console.client.get("/docs", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = html.unescape(r.text)
    routes = [(m.upper(), path) for path, item in spec["paths"].items() for m in item]
    assert len(routes) >= 9
    for method, path in routes:
        assert f"{method} {path}" in page, (method, path)
        assert spec["paths"][path][method.lower()]["summary"] in page
    for name in ("Decision", "CycleResult", "CycleRow", "ChatLine", "WaitingCycle"):
        assert f'id="schema-{name}"' in r.text
    assert "list[CycleRow]" in page and "bearer token, or session cookie + X-CSRF-Token header" in page
    assert "limit" in page and "minimum 1, maximum 1000, default 200" in page
    assert not EXTERNAL.findall(r.text), EXTERNAL.findall(r.text)
    assert "http://" not in r.text and "https://" not in r.text
    assert "<script>" not in r.text and " style=" not in r.text  # no inline script or style
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    assert "script-src 'self';" in r.headers["content-security-policy"]


def test_docs_needs_login_and_shows_the_nav_to_a_session(console: Any) -> None:
    r = console.client.get("/docs")
    assert r.status_code == 401 and 'name="token"' in r.text
    page, _csrf = console.login("payments-lead")
    r = page.get("/docs")
    assert r.status_code == 200 and 'href="/approvals"' in r.text and "GET /api/cycles" in r.text


def test_docs_escapes_the_spec_text(console: Any) -> None:
    hostile = "<script>alert(1)</script> <a href=\"javascript:alert(2)\">x</a> \x1b[31m"
    console.app.add_api_route("/api/hostile", lambda: {}, methods=["GET"], summary=hostile,
                              description=hostile)
    console.app.openapi_schema = None
    r = console.client.get("/docs", headers=console.bearer("operator"))
    assert r.status_code == 200
    assert "<script>alert" not in r.text and 'href="javascript:' not in r.text and "\x1b" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text and "GET /api/hostile" in r.text
