"""Every name a package lists in ``__all__`` resolves; unknown names raise AttributeError."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["jitplan.contracts", "jitplan.simulator", "jitplan.tools", "jitplan.agent"]


@pytest.mark.parametrize("name", PACKAGES)
def test_public_names_resolve(name: str) -> None:
    pkg = importlib.import_module(name)
    assert pkg.__all__, name
    for attr in pkg.__all__:
        assert getattr(pkg, attr) is not None, f"{name}.{attr}"


@pytest.mark.parametrize("name", ["jitplan.contracts", "jitplan.tools", "jitplan.agent"])
def test_unknown_name_is_an_attribute_error(name: str) -> None:
    pkg = importlib.import_module(name)
    with pytest.raises(AttributeError):
        pkg.no_such_thing  # noqa: B018
