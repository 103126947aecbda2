"""The seeded 200-feature catalog generator used by benchmarks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from jitplan.contracts.catalog import Catalog
from jitplan.tools.catalog_check import check_catalog

ROOT = Path(__file__).resolve().parents[2]


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_catalog", ROOT / "scenarios" / "generate_catalog.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["generate_catalog"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_generated_catalog_is_valid_and_deterministic() -> None:
    gen = load_generator()
    doc = gen.generate_catalog(200, seed=3)
    cat = Catalog.from_data(doc)
    assert len(cat.ids) == 200
    assert check_catalog(cat, "generated") == []
    assert {f.risk.tier for f in cat.features} == {"low", "medium", "high", "critical"}
    assert gen.generate_catalog(200, seed=3) == doc
    assert gen.generate_catalog(200, seed=4) != doc
