"""contracts.settings: the JITPLAN_* variables read once, typed, and refused loudly when malformed."""

from __future__ import annotations

from pathlib import Path

import pytest

from jitplan.contracts.errors import UserError
from jitplan.contracts.home import jitplan_home
from jitplan.contracts.settings import ENV_VARS, Settings, get_settings


def test_defaults_when_nothing_is_set() -> None:
    s = Settings.from_env({})
    assert s.home == Path(".jitplan")
    assert s.llm_timeout_s == 120.0
    assert s.checkpoint_sync == "normal"
    assert s.policy is None and s.role is None and s.region is None


def test_values_are_typed_and_blank_means_unset() -> None:
    s = Settings.from_env({"JITPLAN_LLM_TIMEOUT_S": "7.5", "JITPLAN_CHECKPOINT_SYNC": "FULL",
                           "JITPLAN_MAX_INPUT_BYTES": "1024", "JITPLAN_AUDIT_URL": "  "})
    assert s.llm_timeout_s == 7.5
    assert s.checkpoint_sync == "full"
    assert s.max_input_bytes == 1024
    assert s.audit_url is None


@pytest.mark.parametrize(
    ("var", "value"),
    [("JITPLAN_LLM_TIMEOUT_S", "abc"), ("JITPLAN_LLM_TIMEOUT_S", "-1"),
     ("JITPLAN_MAX_INPUT_BYTES", "5MB"), ("JITPLAN_CHECKPOINT_SYNC", "sometimes")],
)
def test_a_malformed_value_names_its_variable(var: str, value: str) -> None:
    with pytest.raises(UserError) as err:
        Settings.from_env({var: value})
    assert err.value.field == var
    assert value in str(err.value)


def test_secrets_never_appear_in_errors_or_reprs() -> None:
    s = Settings.from_env({"JITPLAN_LLM_API_KEY": "sk-very-secret"})
    assert "sk-very-secret" not in repr(s)
    assert s.llm_api_key is not None and s.llm_api_key.get_secret_value() == "sk-very-secret"


def test_every_field_has_one_variable() -> None:
    assert sorted(ENV_VARS.values()) == sorted(Settings.model_fields)


def test_the_environment_is_read_at_each_call(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JITPLAN_HOME", str(tmp_path / "a"))
    assert get_settings().home == tmp_path / "a"
    monkeypatch.setenv("JITPLAN_HOME", str(tmp_path / "b"))
    assert jitplan_home() == tmp_path / "b" and (tmp_path / "b").is_dir()
