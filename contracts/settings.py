"""The ``JITPLAN_*`` environment variables, read in one place into one typed ``Settings``.

Every module asks ``get_settings()`` instead of reading ``os.environ``; a malformed value is one
``UserError`` naming the variable (exit 2), never a silent fallback to a default. The environment
is read at each call (it is cheap), so a test or an embedding program that changes a variable sees
the change at once.

| variable | field | default |
|---|---|---|
| ``JITPLAN_HOME`` | ``home`` | ``./.jitplan`` |
| ``JITPLAN_AUDIT_URL`` | ``audit_url`` | SQLite at ``<home>/audit.db`` |
| ``JITPLAN_AUDIT_KEY`` | ``audit_key`` | none (heads unsigned) |
| ``JITPLAN_CHECKPOINT_URL`` | ``checkpoint_url`` | SQLite at ``<home>/checkpoints.db`` |
| ``JITPLAN_CHECKPOINT_SYNC`` | ``checkpoint_sync`` | ``normal`` (``full`` for synchronous=FULL) |
| ``JITPLAN_MAX_INPUT_BYTES`` | ``max_input_bytes`` | 5 MiB |
| ``JITPLAN_POLICY`` | ``policy`` | the bundle shipped in the wheel |
| ``JITPLAN_ROLE`` / ``JITPLAN_REGION`` | ``role`` / ``region`` | none (``--as`` / ``--region``) |
| ``JITPLAN_LLM_API_BASE`` | ``llm_api_base`` | the provider's own |
| ``JITPLAN_LLM_API_KEY`` | ``llm_api_key`` | none |
| ``JITPLAN_LLM_TIMEOUT_S`` | ``llm_timeout_s`` | 120 |
| ``JITPLAN_LLM_MAX_RETRIES`` | ``llm_max_retries`` | 1 (so at most 2 HTTP attempts per model call) |
| ``JITPLAN_EVIDENCE_MAX_AGE_DAYS`` | ``evidence_max_age_days`` | 14 (older evidence is stale) |
| ``JITPLAN_CRASH_AT`` | ``crash_at`` | none (fault injection for tests) |
| ``JITPLAN_NUMBA_CACHE_DIR`` | ``numba_cache_dir`` | numba's (next to the code, else ``~/.cache/numba``; a temp folder when neither is writable) |
| ``JITPLAN_KERNELS`` | ``kernels`` | ``auto``: the simulator's kernels built ahead of time once (C compiler needed), else numba's JIT; ``jit``: always the JIT; ``aot``: built ahead of time or an error |
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_INPUT_BYTES", "ENV_VARS", "Settings", "get_settings"]

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from jitplan.contracts.errors import UserError

DEFAULT_MAX_INPUT_BYTES = 5 * 1024 * 1024
"""Largest input file accepted by default (5 MiB)."""


class Settings(BaseModel):
    """jitplan's configuration from the environment (see the module docstring for the table)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    home: Path = Path(".jitplan")
    audit_url: str | None = None
    audit_key: SecretStr | None = None
    checkpoint_url: str | None = None
    checkpoint_sync: Literal["normal", "full"] = "normal"
    max_input_bytes: int = Field(default=DEFAULT_MAX_INPUT_BYTES, gt=0)
    policy: Path | None = None
    role: str | None = None
    region: str | None = None
    llm_api_base: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    llm_max_retries: int = Field(default=1, ge=0, le=10)
    evidence_max_age_days: float = Field(default=14.0, gt=0, allow_inf_nan=False)
    crash_at: str | None = None
    numba_cache_dir: Path | None = None
    kernels: Literal["auto", "aot", "jit"] = "auto"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the ``JITPLAN_*`` variables; empty values count as unset."""
        env = os.environ if environ is None else environ
        raw: dict[str, str] = {}
        for var, name in ENV_VARS.items():
            value = env.get(var, "").strip()
            if value:
                raw[name] = value.lower() if name in ("checkpoint_sync", "kernels") else value
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = str(err["loc"][0]) if err["loc"] else ""
            var = next((v for v, n in ENV_VARS.items() if n == name), name)
            shown = "(hidden)" if name in ("llm_api_key", "audit_key") else repr(raw.get(name))
            raise UserError(f"{err['msg']} (got {shown})", source="environment", field=var) from None


ENV_VARS: dict[str, str] = {
    "JITPLAN_HOME": "home",
    "JITPLAN_AUDIT_URL": "audit_url",
    "JITPLAN_AUDIT_KEY": "audit_key",
    "JITPLAN_CHECKPOINT_URL": "checkpoint_url",
    "JITPLAN_CHECKPOINT_SYNC": "checkpoint_sync",
    "JITPLAN_MAX_INPUT_BYTES": "max_input_bytes",
    "JITPLAN_POLICY": "policy",
    "JITPLAN_ROLE": "role",
    "JITPLAN_REGION": "region",
    "JITPLAN_LLM_API_BASE": "llm_api_base",
    "JITPLAN_LLM_API_KEY": "llm_api_key",
    "JITPLAN_LLM_TIMEOUT_S": "llm_timeout_s",
    "JITPLAN_LLM_MAX_RETRIES": "llm_max_retries",
    "JITPLAN_EVIDENCE_MAX_AGE_DAYS": "evidence_max_age_days",
    "JITPLAN_CRASH_AT": "crash_at",
    "JITPLAN_NUMBA_CACHE_DIR": "numba_cache_dir",
    "JITPLAN_KERNELS": "kernels",
}
"""Environment variable -> ``Settings`` field."""


_READ: dict[tuple[str, ...], Settings] = {}


def get_settings() -> Settings:
    """The current settings, read from the environment now.

    Validated once per distinct set of values (a noop cycle asks ~20 times): the variables are
    read at every call, so a change is seen at once; a malformed value raises at every call.
    """
    key = tuple(os.environ.get(var, "") for var in ENV_VARS)
    settings = _READ.get(key)
    if settings is None:
        settings = Settings.from_env()
        if len(_READ) >= 64:
            _READ.clear()
        _READ[key] = settings
    return settings
