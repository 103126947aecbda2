"""Policy-as-code contracts: who asks (``PolicyRequest``) and what the policy said (``PolicyDecision``).

The decision comes from a Rego bundle (``package jitplan``, rules ``deny`` and ``escalate``, both
sets of reason strings). Allowed iff ``deny`` is empty and no error occurred; ``escalate`` means
a human must approve. Every decision records the sha256 of the bundle that produced it, and
carries the catalog's own role and region refusals whatever the bundle (``tools.policy``).
A request has no default role or region: one not given is refused wherever the catalog
restricts roles or regions.
"""

from __future__ import annotations

__all__ = ["PolicyDecision", "PolicyRequest"]

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class PolicyRequest(BaseModel):
    """Who asks for a change, from where, and why (the ``request`` part of the policy input)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str | None = None
    """The requester's role; None (not given) is refused wherever the catalog restricts roles."""
    region: str | None = None
    """The requester's region; None (not given) is refused wherever the catalog restricts regions."""
    purpose: str = Field(default="", max_length=500)

    @field_validator("role", "region")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not _NAME.match(v):
            raise ValueError("expected 1-64 chars of letters, digits, _ . : - (e.g. 'operator', 'eu')")
        return v


class PolicyDecision(BaseModel):
    """The outcome of one policy evaluation; deny by default on error, timeout or undefined."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed: bool
    deny: list[str] = Field(default_factory=list)
    escalate: list[str] = Field(default_factory=list)
    bundle_sha256: str
    error: str | None = None

    @property
    def needs_approval(self) -> bool:
        """True when a human must approve (escalate reasons present)."""
        return bool(self.escalate)
