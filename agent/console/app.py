"""The console's FastAPI application: API, pages, static files, security middleware."""

from __future__ import annotations

__all__ = ["ConsoleConfig", "create_app"]

import threading
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from jitplan.agent.console.security import TokensFile

DEFAULT_MAX_BODY = 64 * 1024
"""Largest request body (bytes); larger ones get 413."""

_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@dataclass(frozen=True)
class ConsoleConfig:
    """What ``jitplan serve`` was started with."""

    tokens: TokensFile
    chat_base: dict[str, Any] | None = None
    """``PlanRequest`` fields of chat requests (catalog, signals, ...) without role and region."""
    audit_head: str | None = None
    """A head saved with ``jitplan audit head -o FILE`` to anchor the audit page's verify."""
    max_body_bytes: int = DEFAULT_MAX_BODY
    secure_cookies: bool = False


class SecurityHeaders:
    """ASGI middleware adding CSP, nosniff, frame and referrer headers to every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = _CSP.encode()

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(b"content-security-policy", csp), (b"x-content-type-options", b"nosniff"),
                         (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
                         (b"cache-control", b"no-store")]
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in have]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(config: ConsoleConfig) -> Any:
    """The ASGI app (FastAPI) for ``config``."""
    from importlib.resources import files

    from jitplan.agent.console.api import authenticate, build_router
    from jitplan.agent.console.pages import build_pages
    from jitplan.agent.console.security import BodyLimit, SessionStore

    app = FastAPI(title="jitplan console", version="0.1.0", docs_url=None, redoc_url=None,
                  openapi_url=None,
                  description="Planning cycles, approvals, chat and the audit log. Send "
                  "`Authorization: Bearer <token>` (tokens file of `jitplan serve --tokens`).")
    app.state.tokens = config.tokens
    app.state.sessions = SessionStore()
    app.state.cookie_name = "jitplan_session"
    app.state.secure_cookies = config.secure_cookies
    app.state.chat_base = config.chat_base
    app.state.chat_lock = threading.Lock()
    app.state.bearer_chats = {}
    app.state.audit_head = config.audit_head
    app.state.max_body_bytes = config.max_body_bytes

    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if request.url.path.startswith(("/api/", "/openapi.json")) or exc.status_code == 413:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=getattr(exc, "headers", None))
        from jitplan.agent.console.pages import error_page

        return error_page(request, exc.status_code, str(exc.detail))

    def who(request: Request) -> Any:
        return authenticate(request)[0]

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(who)])
    def openapi() -> Any:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        """The API reference, rendered here from the OpenAPI document (no external assets)."""
        from jitplan.agent.console.apidocs import reference
        from jitplan.agent.console.pages import page_session, render

        page_session(request)
        spec = app.openapi()
        operations, schemas = reference(spec)
        info = spec.get("info") or {}
        return render(request, "docs.html", title=str(info.get("title") or "API"),
                      version=str(info.get("version") or ""), description=str(info.get("description") or ""),
                      operations=operations, schemas=schemas)

    app.include_router(build_router())
    app.include_router(build_pages())
    static = files("jitplan.agent.console").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app
