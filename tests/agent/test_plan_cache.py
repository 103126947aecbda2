"""tools.plan_cache: bucketed keys and the SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jitplan.contracts.signals import Signal, SignalStatus
from jitplan.tools.plan_cache import PlanCache, bucket_value, cache_key

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def _st(value: float, at: datetime = T0, ok: bool = True) -> SignalStatus:
    sig = Signal(name="a.demand", kind="demand", feature="a", value=value, unit="rpm", observed_at=at)
    return SignalStatus(signal=sig, ok=ok, reasons=[] if ok else ["stale"])


def _key(*signals: SignalStatus, **kw: Any) -> str:
    base: dict[str, Any] = {"catalog_sha256": "c", "policy_sha256": "p", "state_sha256": "s",
                            "planner": "offline", "request": ""}
    base.update(kw)
    return cache_key(signals=list(signals), **base)


def test_bucketing() -> None:
    assert bucket_value(183.0) == 180.0 and bucket_value(0.01234) == 0.012 and bucket_value(0) == 0
    assert _key(_st(181)) == _key(_st(179))  # same bucket
    assert _key(_st(181)) != _key(_st(250))
    assert _key(_st(181)) == _key(_st(181, T0 + timedelta(seconds=100)))  # same 5-minute bucket
    assert _key(_st(181)) != _key(_st(181, T0 + timedelta(minutes=10)))
    assert _key(_st(181)) != _key(_st(181, ok=False))  # a quarantined signal is another situation
    for change in ({"catalog_sha256": "c2"}, {"policy_sha256": None}, {"state_sha256": "s2"},
                   {"planner": "llm:x"}, {"request": "enable a"}):
        assert _key(_st(181)) != _key(_st(181), **change)
    assert _key(_st(1), request="enable  a") == _key(_st(1), request="enable a")


def test_store_roundtrip_and_unreadable_rows(tmp_path: Path) -> None:
    cache = PlanCache(tmp_path / "c.db")
    assert cache.get("k") is None
    cache.put("k", {"id": "p", "steps": []})
    assert PlanCache(tmp_path / "c.db").get("k") == {"id": "p", "steps": []}
    cache.put("k", {"id": "q"})
    assert cache.get("k") == {"id": "q"}
    import sqlite3

    with sqlite3.connect(tmp_path / "c.db") as conn:
        conn.execute("UPDATE plans SET plan = 'not json' WHERE key = 'k'")
    assert cache.get("k") is None
