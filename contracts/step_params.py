"""Step parameters: one model per action, discriminated by ``action``.

A plan step keeps its parameters as ``"params": {...}`` in the plan file; ``Step`` checks them
against the model of its action when it is built, so a bad value (a canary weight of 0, an
unknown or misspelt key) fails at the schema, naming ``steps[i].params.<key>``. Each parameter
has one canonical key; old aliases are rejected with a "did you mean".

Parameters per action (what they do is defined once, in ``DeploymentState.apply``):

- ``canary``: ``weight`` (required), percent of traffic routed to the step's version, in
  (0, 100] with 0.1 resolution (flagd's fractional buckets);
- ``rollback``: ``to_version``, the version serving after the rollback (``null``: the feature
  is off; omitted: the serving version stays); any canary and shadow are cleared. The step's
  ``version`` stays empty;
- ``refresh_prompt``: ``canary_weight`` (default ``REFRESH_CANARY_WEIGHT``), the weight of its
  canary phase (shadow -> canary -> promote); ``expected_quality`` (optional, 0-1), the quality
  the run compares the observed one with;
- ``set_budget``: ``usd_per_day`` (required), the daily spend cap in USD, >= 0 (``null``: no cap,
  restoring an uncapped feature);
- ``disable``: ``fallback`` (optional), the feature id taking over; when it is the fallback the
  catalog declares and serving by this step, the validator holds the step's tolerances to its
  SLO (the gate then watches the fallback at work), else to the disabled feature's;
- ``escalate``: ``reason`` (optional), what the human is asked to decide;
- ``enable``, ``promote``, ``shadow``, ``pin_version``, ``noop``: no parameters.
"""

from __future__ import annotations

__all__ = [
    "PARAMS_BY_ACTION",
    "PARAM_ALIASES",
    "REFRESH_CANARY_WEIGHT",
    "CanaryParams",
    "DisableParams",
    "EnableParams",
    "EscalateParams",
    "NoopParams",
    "PinVersionParams",
    "PromoteParams",
    "RefreshPromptParams",
    "RollbackParams",
    "SetBudgetParams",
    "ShadowParams",
    "StepParams",
    "describe_params",
    "validate_params",
]

import difflib
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

REFRESH_CANARY_WEIGHT = 10.0
"""The canary weight of a ``refresh_prompt`` step's canary phase when it names none."""

_Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A JSON number: no strings, no booleans, no NaN or infinity."""


def _tenths(v: float) -> float:
    if abs(v * 10 - round(v * 10)) > 1e-6:
        raise ValueError("weights have 0.1 percent resolution (flagd fractional buckets)")
    return v


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnableParams(_Params):
    """``enable``: the step's version (or the serving one) serves all traffic."""

    action: Literal["enable"] = "enable"


class DisableParams(_Params):
    """``disable``: the feature is off (no serving version, canary or shadow)."""

    action: Literal["disable"] = "disable"
    fallback: str | None = Field(default=None, max_length=128, description=(
        "feature id taking over (informational; an earlier step enables it)"))


class CanaryParams(_Params):
    """``canary``: ``weight`` percent of the traffic goes to the step's version."""

    action: Literal["canary"] = "canary"
    weight: _Number = Field(gt=0, le=100, description=(
        "percent of traffic to the step's version, in (0, 100], 0.1 resolution"))

    _check_weight = field_validator("weight")(_tenths)


class PromoteParams(_Params):
    """``promote``: the step's version (or the running canary) becomes the serving version."""

    action: Literal["promote"] = "promote"


class ShadowParams(_Params):
    """``shadow``: the step's version receives a mirrored copy of the traffic."""

    action: Literal["shadow"] = "shadow"


class RollbackParams(_Params):
    """``rollback``: canary and shadow are cleared; ``to_version``, when given, serves (``None``:
    off)."""

    action: Literal["rollback"] = "rollback"
    to_version: str | None = Field(default=None, max_length=64, description=(
        "version serving after the rollback, null for off; omitted: the serving version stays "
        "(canary and shadow are cleared either way; the step's own version stays empty)"))

    @property
    def target_set(self) -> bool:
        """True when the step names ``to_version`` (``null`` included)."""
        return "to_version" in self.model_fields_set


class RefreshPromptParams(_Params):
    """``refresh_prompt``: shadow, canary at ``canary_weight``, then promote the new prompt."""

    action: Literal["refresh_prompt"] = "refresh_prompt"
    canary_weight: _Number = Field(default=REFRESH_CANARY_WEIGHT, gt=0, le=100, description=(
        "percent of traffic in the canary phase (shadow -> canary -> promote)"))
    expected_quality: _Number | None = Field(default=None, ge=0, le=1, description=(
        "quality the run expects (0-1), compared with the observed one"))

    _check_weight = field_validator("canary_weight")(_tenths)


class SetBudgetParams(_Params):
    """``set_budget``: cap the feature's spend at ``usd_per_day`` (``None``: no cap)."""

    action: Literal["set_budget"] = "set_budget"
    usd_per_day: _Number | None = Field(ge=0, description=(
        "daily spend cap in USD, >= 0 (null: no cap)"))


class PinVersionParams(_Params):
    """``pin_version``: the step's version (or the serving one) serves and is pinned."""

    action: Literal["pin_version"] = "pin_version"


class EscalateParams(_Params):
    """``escalate``: a human decides; the state does not change."""

    action: Literal["escalate"] = "escalate"
    reason: str = Field(default="", max_length=2000, description="what the human decides")


class NoopParams(_Params):
    """``noop``: nothing changes."""

    action: Literal["noop"] = "noop"


StepParams = Annotated[
    EnableParams | DisableParams | CanaryParams | PromoteParams | ShadowParams | RollbackParams
    | RefreshPromptParams | SetBudgetParams | PinVersionParams | EscalateParams | NoopParams,
    Field(discriminator="action"),
]
"""The parameters of any step, tagged by its ``action``."""

PARAMS_BY_ACTION: dict[str, type[_Params]] = {
    "enable": EnableParams, "disable": DisableParams, "canary": CanaryParams,
    "promote": PromoteParams, "shadow": ShadowParams, "rollback": RollbackParams,
    "refresh_prompt": RefreshPromptParams, "set_budget": SetBudgetParams,
    "pin_version": PinVersionParams, "escalate": EscalateParams, "noop": NoopParams,
}

PARAM_ALIASES: dict[str, dict[str, str]] = {
    "canary": {"canary_weight": "weight", "percent": "weight", "traffic": "weight"},
    "refresh_prompt": {"weight": "canary_weight"},
    "set_budget": {"budget_usd_per_day": "usd_per_day", "budget": "usd_per_day",
                   "usd": "usd_per_day", "daily_budget_usd": "usd_per_day"},
    "rollback": {"version": "to_version", "target": "to_version", "target_version": "to_version"},
}
"""Keys planners used to write, per action, and the canonical key that replaced them."""


def _accepted(action: str) -> list[str]:
    return [k for k in PARAMS_BY_ACTION[action].model_fields if k != "action"]


def validate_params(action: str, params: dict[str, Any]) -> StepParams:
    """The typed parameters of an ``action`` step; a ``ValidationError`` located at the key."""
    model = PARAMS_BY_ACTION[action]
    accepted = _accepted(action)
    unknown: list[InitErrorDetails] = []
    for key in params:
        if key in accepted:
            continue
        alias = PARAM_ALIASES.get(action, {}).get(str(key))
        close = [alias] if alias else difflib.get_close_matches(str(key), accepted, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        keys = ", ".join(accepted) or "none"
        unknown.append(InitErrorDetails(
            type=PydanticCustomError(
                "unknown_param", "unknown parameter for a {action} step (accepted: {keys}){hint}",
                {"action": action, "keys": keys, "hint": hint}),
            loc=(str(key),), input=params[key]))
    if unknown:
        raise ValidationError.from_exception_data(model.__name__, unknown)
    return cast("StepParams", model.model_validate({**params, "action": action}))


def describe_params() -> dict[str, str]:
    """Per action, its parameters in one line (for planner prompts and docs)."""
    out: dict[str, str] = {}
    for action, model in PARAMS_BY_ACTION.items():
        parts = []
        for name, info in model.model_fields.items():
            if name == "action":
                continue
            desc = info.description or ""
            need = "required" if info.is_required() else (
                "optional" if "omitted:" in desc else f"optional, default {info.default!r}")
            parts.append(f"{name} ({need}): {desc}")
        out[action] = "; ".join(parts) or "no params"
    return out
