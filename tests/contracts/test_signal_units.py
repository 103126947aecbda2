"""Units: every conversion to a kind's canonical unit, and what cannot be converted is quarantined."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from jitplan.contracts.errors import InputError
from jitplan.contracts.signal_kinds import BUILTIN_KINDS, get_kind
from jitplan.contracts.signals import ContractSet, SignalSnapshot, SignalStatus
from jitplan.contracts.units import Divisor, UnitError, from_canonical, to_canonical
from jitplan.tools.signal_check import check_signals

CONTRACTS = ContractSet.model_validate({"contracts": [
    {"kind": k, "unit": u} for k, u in [
        ("demand", "rpm"), ("drift", "ratio"), ("data_quality", "ratio"), ("latency", "ms"),
        ("cost", "usd_per_request"), ("error_rate", "ratio"), ("risk", "score"),
    ]
]})


def _check(*signals: dict[str, Any], contracts: ContractSet = CONTRACTS) -> list[SignalStatus]:
    snap = SignalSnapshot.model_validate({"observed_at": "2026-11-26T12:00:00Z", "signals": [
        {"name": f"{s.get('feature', 'f')}.{s['kind']}.{i}", "feature": "f",
         "observed_at": "2026-11-26T11:59:00Z", **s}
        for i, s in enumerate(signals)
    ]})
    return check_signals(snap, contracts)


@pytest.mark.parametrize(("kind", "value", "unit", "canonical", "canonical_unit"), [
    ("latency", 0.4, "s", 400.0, "ms"),
    ("latency", 2500.0, "us", 2.5, "ms"),
    ("latency", 120.0, "ms", 120.0, "ms"),
    ("demand", 3.0, "rps", 180.0, "rpm"),
    ("demand", 600.0, "rph", 10.0, "rpm"),
    ("error_rate", 2.5, "percent", 0.025, "ratio"),
    ("drift", 12.0, "percent", 0.12, "ratio"),
    ("data_quality", 90.0, "percent", 0.9, "ratio"),
    ("cost", 4.0, "usd_per_1k_requests", 0.004, "usd_per_request"),
])
def test_each_conversion(kind: str, value: float, unit: str, canonical: float, canonical_unit: str) -> None:
    (st,) = _check({"kind": kind, "value": value, "unit": unit})
    assert st.ok, st.reasons
    assert st.signal.value == pytest.approx(canonical) and st.signal.unit == canonical_unit
    if unit == canonical_unit:
        assert st.original_value is None and st.original_unit is None and st.conversion == ""
    else:
        assert (st.original_value, st.original_unit) == (value, unit)
        assert unit in st.conversion and canonical_unit in st.conversion
    assert from_canonical(kind, st.signal.value, unit) == pytest.approx(value)


def test_usd_per_day_is_divided_by_the_features_demand_in_the_same_snapshot() -> None:
    # 68 USD/day at 100 rpm = 68 / (100 x 1440) USD per request
    cost, demand = _check(
        {"kind": "cost", "value": 68.0, "unit": "usd_per_day"},
        {"kind": "demand", "value": 100.0, "unit": "rpm"},
    )
    assert cost.ok and demand.ok
    assert cost.signal.value == pytest.approx(68 / 144_000) and cost.signal.unit == "usd_per_request"
    assert (cost.original_value, cost.original_unit) == (68.0, "usd_per_day")
    assert "f.demand.1" in cost.conversion
    # demand in rps is made canonical first; usd_per_hour divides by it too
    (hour, _) = _check({"kind": "cost", "value": 6.0, "unit": "usd_per_hour"},
                       {"kind": "demand", "value": 2.0, "unit": "rps"})
    assert hour.signal.value == pytest.approx(6.0 / 60 / 120)


def test_the_latest_usable_demand_divides() -> None:
    cost, _, _ = _check(
        {"kind": "cost", "value": 144.0, "unit": "usd_per_day"},
        {"kind": "demand", "value": 50.0, "unit": "rpm", "observed_at": "2026-11-26T11:50:00Z"},
        {"kind": "demand", "value": 100.0, "unit": "rpm", "observed_at": "2026-11-26T11:58:00Z"},
    )
    assert cost.signal.value == pytest.approx(0.001)


def test_a_unit_that_cannot_be_converted_is_quarantined_with_the_reason() -> None:
    (st,) = _check({"kind": "latency", "value": 0.4, "unit": "rpm"})
    assert not st.ok
    assert st.reasons == ["unit 'rpm' cannot be converted to 'ms' for kind 'latency' (known units: ms, s, us)"]
    assert st.signal.unit == "rpm" and st.original_unit is None  # kept as observed


@pytest.mark.parametrize("demand", [
    [],                                                                     # none in the snapshot
    [{"kind": "demand", "value": 0.0, "unit": "rpm"}],                      # nothing to divide by
    [{"kind": "demand", "value": 100.0, "unit": "rpm", "feature": "g"}],    # another feature's
    [{"kind": "demand", "value": 100.0, "unit": "rpm", "observed_at": "2026-11-26T09:00:00Z"}],  # stale
])
def test_usd_per_day_without_usable_demand_is_quarantined(demand: list[dict[str, Any]]) -> None:
    contracts = ContractSet.model_validate({"contracts": [
        {"kind": "demand", "unit": "rpm", "max_age_s": 900}, {"kind": "cost", "unit": "usd_per_request"}]})
    sigs = [{"kind": "cost", "value": 68.0, "unit": "usd_per_day"}]
    for d in demand:
        sigs.append({**d, "feature": d.get("feature", "f")})
    snap = SignalSnapshot.model_validate({"observed_at": "2026-11-26T12:00:00Z", "signals": [
        {"name": f"{s.get('feature', 'f')}.{s['kind']}", "feature": "f",
         "observed_at": "2026-11-26T11:59:00Z", **s} for s in sigs]})
    cost = check_signals(snap, contracts)[0]
    assert not cost.ok
    assert "usd_per_day" in cost.reasons[0] and "demand" in cost.reasons[0]
    assert cost.signal.unit == "usd_per_day"


def test_contract_limits_apply_in_the_contracts_own_unit() -> None:
    contracts = ContractSet.model_validate({"contracts": [
        {"kind": "latency", "unit": "s", "max": 2.0},
        {"kind": "demand", "unit": "rpm"},
        {"kind": "cost", "unit": "usd_per_day", "max": 100.0},
    ]})
    ok, slow, cheap, dear, _ = _check(
        {"kind": "latency", "value": 1500.0, "unit": "ms"},
        {"kind": "latency", "value": 2.5, "unit": "s"},
        {"kind": "cost", "value": 0.0005, "unit": "usd_per_request"},   # 0.0005 x 100 x 1440 = 72/day
        {"kind": "cost", "value": 0.001, "unit": "usd_per_request"},    # 144/day
        {"kind": "demand", "value": 100.0, "unit": "rpm"},
        contracts=contracts,
    )
    assert ok.ok and ok.signal.value == 1500.0
    assert slow.reasons == ["value 2.5 above the contract maximum 2"]
    assert cheap.ok and cheap.signal.value == 0.0005
    assert dear.reasons == ["value 144 usd_per_day above the contract maximum 100"]


def test_conversion_helpers_refuse_what_they_cannot_do() -> None:
    with pytest.raises(UnitError, match="none is usable"):
        to_canonical("cost", 1.0, "usd_per_day")
    with pytest.raises(UnitError, match="which is 0 rpm"):
        to_canonical("cost", 1.0, "usd_per_day", per=Divisor(0.0, "f.demand"))
    with pytest.raises(UnitError, match="unknown signal kind"):
        to_canonical("vibes", 1.0, "ms")
    assert to_canonical("cost", 14.4, "usd_per_day", per=Divisor(10.0, "f.demand")).value == pytest.approx(0.001)


def test_a_contract_in_an_unknown_unit_is_bad_input(tmp_path: Any) -> None:
    k = tmp_path / "k.yaml"
    k.write_text("contracts:\n  - {kind: demand, unit: rpm}\n  - {kind: latency, unit: furlongs}\n")
    with pytest.raises(InputError, match=r"contracts\[1\]\.unit: unit 'furlongs' is not a unit of kind 'latency'"):
        ContractSet.from_file(k)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    conv=hst.sampled_from([(k.name, u) for k in BUILTIN_KINDS for u in k.unit_names]),
    value=hst.floats(min_value=0, max_value=1e6, allow_nan=False),
    demand=hst.floats(min_value=1e-3, max_value=1e5, allow_nan=False),
)
def test_every_builtin_unit_round_trips_through_the_canonical_unit(
    conv: tuple[str, str], value: float, demand: float,
) -> None:
    kind, unit = conv
    per = Divisor(demand, "f.demand")
    c = to_canonical(kind, value, unit, per=per)
    assert c.unit == get_kind(kind).canonical_unit  # type: ignore[union-attr]
    assert from_canonical(kind, c.value, unit, per=per) == pytest.approx(value, rel=1e-9, abs=1e-12)
