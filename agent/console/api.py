"""The console's typed JSON API (``/api/...``, OpenAPI at ``/docs``); the pages call the same
functions. Every route needs a bearer token or a session cookie (then unsafe methods also need
the ``X-CSRF-Token`` header)."""

from __future__ import annotations

__all__ = ["ChatLine", "Decision", "build_router", "chat_of", "error_status"]

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from jitplan.agent.console.security import Identity, Session, same_token
from jitplan.contracts.agent import CycleResult
from jitplan.contracts.audit import AuditRecord
from jitplan.contracts.errors import UserError

THREAD_ID = r"^[A-Za-z0-9_.:-]{1,200}$"
ThreadId = Annotated[str, Path(pattern=THREAD_ID, description="a cycle's thread id")]


class CycleRow(BaseModel):
    """One line of the cycles list."""

    thread_id: str
    started: str
    decision: str | None
    status: str
    planner: str
    cost_usd: float
    duration_ms: float
    goal: str
    request: str
    approver_roles: list[str]


class WaitingCycle(CycleRow):
    """An escalated cycle waiting for a human."""

    reasons: list[str]
    plan_id: str | None
    plan_sha256: str | None


class CycleDetail(BaseModel):
    """One cycle: result, ``jitplan report``'s report, audit records."""

    result: CycleResult
    report: dict[str, Any]
    audit: list[AuditRecord]


class Decision(BaseModel):
    """Approve or reject a waiting cycle."""

    model_config = ConfigDict(extra="forbid")

    approve: bool
    comment: str = Field(default="", max_length=2000)


class ChatLine(BaseModel):
    """One chat line: a request or a command (``/approve``, ``/refine ...``)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)


class ChatState(BaseModel):
    """The chat transcript from ``after`` on and the running cycle's node progress."""

    busy: bool
    thread_id: str | None
    entries: list[dict[str, Any]]
    progress: list[dict[str, Any]]


class Me(BaseModel):
    role: str
    region: str
    name: str
    csrf: str | None


def error_status(exc: UserError) -> int:
    """HTTP status of a library ``UserError``: 404 unknown, 403 not allowed, 409 decided, 400."""
    from jitplan.agent.console.service import AlreadyDecided

    text = str(exc)
    if isinstance(exc, AlreadyDecided):
        return 409
    if "no planning cycle" in text or "has no simulated scenario" in text:
        return 404
    if "may not approve" in text:
        return 403
    return 400


def raise_http(exc: UserError) -> HTTPException:
    return HTTPException(error_status(exc), str(exc).splitlines()[0][:500])


def authenticate(request: Request) -> tuple[Identity, Session | None]:
    """The caller's identity from ``Authorization: Bearer`` or the session cookie (else 401)."""
    state = request.app.state
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        ident = state.tokens.identify(token.strip()) if scheme.lower() == "bearer" else None
        if ident is None:
            raise HTTPException(401, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
        return ident, None
    session = state.sessions.get(request.cookies.get(state.cookie_name))
    if session is None:
        raise HTTPException(401, "log in: a bearer token or a session cookie is required",
                            headers={"WWW-Authenticate": "Bearer"})
    return session.identity, session


def api_identity(request: Request) -> Identity:
    """``authenticate``, plus the CSRF header for unsafe methods on a session cookie."""
    ident, session = authenticate(request)
    if session is not None and request.method not in ("GET", "HEAD", "OPTIONS") \
            and not same_token(request.headers.get("x-csrf-token"), session.csrf):
        raise HTTPException(403, "missing or wrong X-CSRF-Token header")
    return ident


Who = Annotated[Identity, Depends(api_identity)]


def chat_of(request: Request, ident: Identity, session: Session | None) -> Any:
    """The caller's chat (one per session; one per role for bearer clients)."""
    from jitplan.agent.console.webchat import WebChat

    state = request.app.state
    if state.chat_base is None:
        raise HTTPException(409, "chat needs inputs: start jitplan serve with --catalog (and --signals ...)")
    holder: dict[str, Any] = state.bearer_chats
    with state.chat_lock:
        if session is not None:
            if session.chat is None:
                session.chat = WebChat({**state.chat_base, "role": ident.role, "region": ident.region})
            return session.chat
        key = f"{ident.role}/{ident.region}/{ident.name}"
        if key not in holder:
            holder[key] = WebChat({**state.chat_base, "role": ident.role, "region": ident.region})
        return holder[key]


def build_router() -> APIRouter:
    from jitplan.agent.console import service
    from jitplan.agent.console.plots import scenario_png

    r = APIRouter(prefix="/api", tags=["jitplan"])

    @r.get("/me", response_model=Me, summary="who the caller is (role, region, CSRF token of a session)")
    def me(request: Request) -> Me:
        ident, session = authenticate(request)
        return Me(role=ident.role, region=ident.region, name=ident.name,
                  csrf=session.csrf if session else None)

    @r.get("/cycles", response_model=list[CycleRow], summary="the cycles, newest first")
    def cycles(who: Who, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, Any]]:
        return service.list_cycles(limit)

    @r.get("/cycles/{thread_id}", response_model=CycleDetail,
           summary="one cycle: result, report (costs, node timings), audit records")
    def cycle(who: Who, thread_id: ThreadId) -> dict[str, Any]:
        try:
            return service.cycle_detail(thread_id)
        except UserError as exc:
            raise raise_http(exc) from None

    @r.get("/cycles/{thread_id}/plots/{scenario}.png", response_class=Response,
           summary="a simulated scenario's latency, error and cost timelines (PNG)",
           responses={200: {"content": {"image/png": {}}}})
    def plot(who: Who, thread_id: ThreadId,
             scenario: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,100}:[A-Za-z0-9_]{1,64}$")]) -> Response:
        try:
            png = scenario_png(thread_id, scenario)
        except UserError as exc:
            raise raise_http(exc) from None
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    @r.get("/approvals", response_model=list[WaitingCycle], summary="the escalated cycles waiting for a human")
    def approvals(who: Who) -> list[dict[str, Any]]:
        return service.waiting_approvals()

    @r.post("/cycles/{thread_id}/decision", response_model=CycleResult,
            summary="approve or reject a waiting cycle (as jitplan approve; audited)",
            responses={403: {"description": "this role may not approve the plan"},
                       409: {"description": "already decided"}})
    def decision(who: Who, thread_id: ThreadId, body: Decision) -> Any:
        try:
            return service.decide(thread_id, approve=body.approve, role=who.role, comment=body.comment)
        except UserError as exc:
            raise raise_http(exc) from None

    @r.post("/chat", response_model=ChatState, status_code=202,
            summary="send a chat line (a request, /approve, /refine ...); runs in the background")
    def chat_post(request: Request, who: Who, body: ChatLine,
                  after: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        chat = chat_of(request, who, authenticate(request)[1])
        try:
            chat.start(body.text)
        except UserError as exc:
            raise HTTPException(409, str(exc)) from None
        state: dict[str, Any] = chat.state(after)
        return state

    @r.get("/chat", response_model=ChatState, summary="the chat transcript and the running cycle's progress")
    def chat_get(request: Request, who: Who, after: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        state: dict[str, Any] = chat_of(request, who, authenticate(request)[1]).state(after)
        return state

    @r.get("/audit", summary="audit log verify status and current head")
    def audit(request: Request, who: Who) -> dict[str, Any]:
        try:
            return service.audit_status(request.app.state.audit_head)
        except UserError as exc:
            raise raise_http(exc) from None

    return r
