"""Content digests of contracts: sha256 over a canonical JSON rendering."""

from __future__ import annotations

__all__ = ["model_digest", "model_json"]

import hashlib
import json

from pydantic import BaseModel


def model_json(model: BaseModel) -> str:
    """Stable JSON of a model (sorted keys, no whitespace): byte-identical for equal content."""
    return json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def model_digest(model: BaseModel) -> str:
    """sha256 (hex) of :func:`model_json`."""
    return hashlib.sha256(model_json(model).encode()).hexdigest()
