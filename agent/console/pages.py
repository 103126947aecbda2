"""Server-rendered pages (Jinja2, autoescaped); they call the API's functions.

Pages accept a session cookie or ``Authorization: Bearer``. Forms of cookie sessions carry the
session's CSRF token (bearer requests need none); the login form a double-submit cookie.
Unauthenticated page requests get 401 with the login form.
"""

from __future__ import annotations

__all__ = ["build_pages", "error_page", "page_session"]

import secrets
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jitplan.agent.console.api import ThreadId, authenticate, raise_http
from jitplan.agent.console.security import Session, same_token
from jitplan.contracts.errors import UserError

LOGIN_CSRF_COOKIE = "jitplan_login_csrf"


def _visible(value: Any, limit: int = 2000) -> str:
    """Untrusted text with control characters shown as escapes (autoescape does the HTML)."""
    from jitplan.agent.commands._output import clean

    return clean("" if value is None else str(value), limit)


@lru_cache(maxsize=1)
def _env() -> Any:
    import json

    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("jitplan.agent.console", "templates"),
                      autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["visible"] = _visible
    env.filters["pretty"] = lambda v: _visible(json.dumps(v, indent=1, sort_keys=True, default=str), 20000)
    env.filters["money"] = lambda v: f"${float(v or 0):.6f}"
    from jitplan.agent.commands._output import provenance_text

    env.filters["provenance"] = lambda v: _visible(provenance_text(v), 300)
    return env


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    session: Session | None = getattr(request.state, "session", None)
    html = _env().get_template(name).render(
        session=session, csrf=session.csrf if session else "", path=request.url.path, **ctx)
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    if status == 401:
        return _login(request, 401, detail)
    return render(request, "message.html", status=status, title=f"error {status}", message=detail)


def _login(request: Request, status: int, message: str = "") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", status=status, login_csrf=token, message=message)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                    secure=request.app.state.secure_cookies, path="/login")
    return resp


def page_session(request: Request) -> Session:
    """The page's session: the cookie's, or a transient one for a valid bearer token
    (401 with the login form for anonymous requests and bad tokens)."""
    ident, session = authenticate(request)
    if session is None:
        session = Session.of_bearer(ident)
    request.state.session = session
    return session


PageSession = Annotated[Session, Depends(page_session)]


def _check_csrf(session: Session, token: str) -> None:
    """Cookie sessions need the form's CSRF token; a bearer header is no ambient credential."""
    if session.bearer:
        return
    if not same_token(token, session.csrf):
        raise HTTPException(403, "the form's CSRF token is missing or wrong; reload the page")


def build_pages() -> APIRouter:
    from jitplan.agent.console import service

    r = APIRouter(include_in_schema=False)

    @r.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        return _login(request, 200)

    @r.post("/login")
    def login(request: Request, token: Annotated[str, Form(max_length=512)],
              csrf: Annotated[str, Form(max_length=128)]) -> Response:
        if not same_token(csrf, request.cookies.get(LOGIN_CSRF_COOKIE)):
            return _login(request, 403, "the login form expired; try again")
        ident = request.app.state.tokens.identify(token.strip())
        if ident is None:
            return _login(request, 401, "unknown token")
        session = request.app.state.sessions.create(ident)
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(request.app.state.cookie_name, session.sid, httponly=True, samesite="strict",
                        secure=request.app.state.secure_cookies, path="/")
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return resp

    @r.post("/logout")
    def logout(request: Request, session: PageSession,
               csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        _check_csrf(session, csrf)
        if not session.bearer:
            request.app.state.sessions.drop(session.sid)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(request.app.state.cookie_name, path="/")
        return resp

    @r.get("/", response_class=HTMLResponse)
    def cycles_page(request: Request, session: PageSession) -> HTMLResponse:
        return render(request, "cycles.html", title="cycles", cycles=service.list_cycles())

    @r.get("/cycles/{thread_id}", response_class=HTMLResponse)
    def cycle_page(request: Request, session: PageSession, thread_id: ThreadId) -> HTMLResponse:
        try:
            detail = service.cycle_detail(thread_id)
        except UserError as exc:
            raise raise_http(exc) from None
        res = detail["result"]
        roles = list((res.escalation or {}).get("approver_roles") or [])
        return render(request, "cycle.html", title=thread_id, r=res, report=detail["report"],
                      audit=detail["audit"], may_approve=not roles or session.identity.role in roles)

    @r.get("/approvals", response_class=HTMLResponse)
    def approvals_page(request: Request, session: PageSession) -> HTMLResponse:
        return render(request, "approvals.html", title="approvals", waiting=service.waiting_approvals())

    @r.post("/approvals/{thread_id}", response_class=HTMLResponse)
    def decide_page(request: Request, session: PageSession, thread_id: ThreadId,
                    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
                    csrf: Annotated[str, Form(max_length=128)] = "",
                    comment: Annotated[str, Form(max_length=2000)] = "") -> HTMLResponse:
        _check_csrf(session, csrf)
        try:
            res = service.decide(thread_id, approve=decision == "approve", role=session.identity.role,
                                 comment=comment)
        except UserError as exc:
            status = raise_http(exc).status_code
            return render(request, "message.html", status=status, title="not decided",
                          message=str(exc).splitlines()[0], thread_id=thread_id)
        return render(request, "message.html", title=f"cycle {res.decision}", thread_id=thread_id,
                      message=f"cycle {thread_id}: {res.decision} by {session.identity.role}"
                      + (f"; execution {(res.execution or {}).get('status')}" if res.execution else ""))

    @r.get("/chat", response_class=HTMLResponse)
    def chat_page(request: Request, session: PageSession) -> HTMLResponse:
        from jitplan.agent.chat import HELP

        return render(request, "chat.html", title="chat", help=HELP,
                      enabled=request.app.state.chat_base is not None)

    @r.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, session: PageSession) -> HTMLResponse:
        try:
            status = service.audit_status(request.app.state.audit_head)
        except UserError as exc:
            raise raise_http(exc) from None
        return render(request, "audit.html", title="audit", a=status)

    return r
