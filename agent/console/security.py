"""The console's security rules: hashed bearer tokens per role, sessions, CSRF, body caps.

Tokens file (JSON or YAML), only SHA-256 hashes at rest::

    tokens:
      - {role: payments-lead, region: eu, sha256: "<64 hex digits>", name: alice}

``jitplan serve --hash-token`` prints the hash of a token read from stdin. Tokens are random
secrets (at least 24 characters), so one SHA-256 is enough; they are compared in constant time.
"""

from __future__ import annotations

__all__ = [
    "MIN_TOKEN_CHARS",
    "BodyLimit",
    "Identity",
    "Session",
    "SessionStore",
    "TokenEntry",
    "TokensFile",
    "hash_token",
]

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jitplan.contracts.loading import FromFile

MIN_TOKEN_CHARS = 24


def hash_token(token: str) -> str:
    """The hex SHA-256 stored in the tokens file for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenEntry(BaseModel):
    """One bearer token: who it is (role, region) and the token's SHA-256."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    region: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    name: str = Field(default="", max_length=128)


class TokensFile(FromFile):
    """The ``--tokens FILE`` document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: list[TokenEntry] = Field(min_length=1)

    def identify(self, token: str) -> Identity | None:
        """The identity of a presented token, or None (constant-time per entry)."""
        if not token or len(token) > 512:
            return None
        digest = hash_token(token)
        found: TokenEntry | None = None
        for entry in self.tokens:
            if hmac.compare_digest(digest, entry.sha256):
                found = entry
        if found is None:
            return None
        return Identity(role=found.role, region=found.region, name=found.name or found.role)


@dataclass(frozen=True)
class Identity:
    """Who made a request (from the token)."""

    role: str
    region: str
    name: str


@dataclass
class Session:
    """A logged-in browser: its identity, CSRF token and chat (created on first use).

    A page request with a bearer token gets a transient one (``bearer=True``, empty ``sid`` and
    ``csrf``, never stored): the header is no ambient credential, so its forms need no CSRF token.
    """

    sid: str
    identity: Identity
    csrf: str
    created: float
    chat: Any = None
    bearer: bool = False

    @classmethod
    def of_bearer(cls, identity: Identity) -> Session:
        """The transient page session of a request authenticated by its bearer token."""
        return cls("", identity, "", 0.0, bearer=True)


@dataclass
class SessionStore:
    """Server-side sessions keyed by a random cookie value; they expire after ``ttl_s``."""

    ttl_s: float = 8 * 3600
    _sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, identity: Identity) -> Session:
        s = Session(secrets.token_urlsafe(32), identity, secrets.token_urlsafe(32), time.monotonic())
        with self._lock:
            now = time.monotonic()
            for sid in [k for k, v in self._sessions.items() if now - v.created > self.ttl_s]:
                del self._sessions[sid]
            self._sessions[s.sid] = s
        return s

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            s = self._sessions.get(sid)
            if s is not None and time.monotonic() - s.created > self.ttl_s:
                del self._sessions[sid]
                return None
            return s

    def drop(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two CSRF tokens (both present)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


class BodyLimit:
    """ASGI middleware: a request body larger than ``max_bytes`` gets 413 (by its
    Content-Length, or while a chunked body streams in)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await _too_large(send, self.max_bytes)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _body_too_large(self.max_bytes)
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception as exc:
            if getattr(exc, "status_code", None) != 413 or started:
                raise
            await _too_large(send, self.max_bytes)


def _body_too_large(limit: int) -> Exception:
    """An ``HTTPException(413)``: FastAPI re-raises it while parsing a body (no 400)."""
    from starlette.exceptions import HTTPException

    return HTTPException(413, f"request body larger than {limit} bytes")


async def _too_large(send: Any, limit: int) -> None:
    body = (f'{{"detail": "request body larger than {limit} bytes"}}').encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
