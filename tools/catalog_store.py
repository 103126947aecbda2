"""Indexed, read-only lookups over a ``Catalog``: get, versions, search by text, kind and risk.

The planner's tools and the validator call these many times per plan, so the catalog is indexed
once (feature id -> versions sorted oldest first) instead of re-sorted on every lookup.
"""

from __future__ import annotations

__all__ = ["CatalogStore"]

from collections.abc import Iterable

from jitplan.contracts.catalog import RISK_ORDER, Catalog, FeatureSpec


class CatalogStore:
    """Read-only index over one catalog (deterministic: every listing is sorted)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        by_id: dict[str, list[FeatureSpec]] = {}
        for f in catalog.features:
            by_id.setdefault(f.id, []).append(f)
        self._by_id = {
            fid: sorted(specs, key=lambda f: f.parsed_version) for fid, specs in sorted(by_id.items())
        }
        self._by_key = {f.key: f for specs in self._by_id.values() for f in specs}

    def __contains__(self, feature_id: object) -> bool:
        return feature_id in self._by_id

    @property
    def ids(self) -> list[str]:
        """Every feature id, sorted."""
        return list(self._by_id)

    def versions(self, feature_id: str) -> list[FeatureSpec]:
        """All versions of one feature, oldest first (empty when unknown)."""
        return list(self._by_id.get(feature_id, ()))

    def get(self, feature_id: str, version: str | None = None) -> FeatureSpec | None:
        """One version, or the newest when ``version`` is None; None when absent."""
        if version is None:
            specs = self._by_id.get(feature_id)
            return specs[-1] if specs else None
        return self._by_key.get(f"{feature_id}@{version}")

    def latest(self) -> list[FeatureSpec]:
        """The newest version of every feature, by id."""
        return [specs[-1] for specs in self._by_id.values()]

    def search(
        self,
        text: str | None = None,
        *,
        kind: str | None = None,
        risk: str | None = None,
        max_risk: str | None = None,
        data_class: str | None = None,
        limit: int = 20,
    ) -> list[FeatureSpec]:
        """Newest versions matching every filter, best text match first, then by id.

        ``text`` matches case-insensitively on id, description, owner and harms (every word must
        appear somewhere); ``risk`` is an exact tier, ``max_risk`` an upper bound.
        """
        words = [w for w in (text or "").lower().split() if w]
        bound = RISK_ORDER.get(max_risk) if max_risk is not None else None
        scored: list[tuple[int, str, FeatureSpec]] = []
        for f in self.latest():
            if kind is not None and f.kind != kind:
                continue
            if risk is not None and f.risk.tier != risk:
                continue
            if bound is not None and f.risk.level > bound:
                continue
            if data_class is not None and data_class not in f.risk.data_classes:
                continue
            score = _score(words, f) if words else 1
            if score > 0:
                scored.append((-score, f.id, f))
        scored.sort(key=lambda t: (t[0], t[1]))
        return [f for _, _, f in scored[: max(0, limit)]]

    def specs(self, keys: Iterable[str]) -> list[FeatureSpec]:
        """Specs for ``id@version`` keys that exist, in the given order."""
        return [self._by_key[k] for k in keys if k in self._by_key]


def _score(words: list[str], f: FeatureSpec) -> int:
    fields = {
        "id": f.id.lower(),
        "description": f.description.lower(),
        "owner": f.owner.lower(),
        "harms": " ".join(f.risk.harms).lower(),
    }
    weight = {"id": 3, "description": 1, "owner": 1, "harms": 1}
    total = 0
    for w in words:
        hit = sum(weight[name] for name, value in fields.items() if w in value)
        if hit == 0:
            return 0
        total += hit
    return total
