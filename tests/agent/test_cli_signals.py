"""`jitplan signals check`: ok vs quarantined with reasons; exit 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def check(cli, world: Path, name: str, *extra: str):  # type: ignore[no-untyped-def]
    return cli(
        "signals", "check", world / "signals" / name, "--contracts", world / "contracts.yaml",
        "--catalog", world / "catalog.yaml", "--json", *extra,
    )


@pytest.mark.parametrize("name", ["steady.yaml", "demand-rise.yaml", "drift.yaml", "cost-overrun.yaml", "latency-spike.yaml"])
def test_healthy_snapshots_pass(cli, world: Path, name: str) -> None:
    r = check(cli, world, name)
    assert r.code == 0, r.out
    assert json.loads(r.out)["quarantined"] == 0


def test_stale_and_out_of_contract_signals_are_quarantined_and_kept(cli, world: Path) -> None:
    r = check(cli, world, "stale.yaml")
    assert r.code == 1
    doc = json.loads(r.out)
    by_name = {s["name"]: s for s in doc["signals"]}
    assert len(by_name) == 5  # kept, never dropped
    assert all(s["status"] == "quarantined" for s in by_name.values())
    assert "stale" in by_name["answer-synthesizer.demand"]["reasons"][0]
    assert "above the contract maximum" in by_name["ticket-summarizer.drift"]["reasons"][0]
    assert "unit" in by_name["kb-retriever.latency_p95"]["reasons"][0]
    assert "lineage" in by_name["reply-drafter.demand"]["reasons"][0]
    assert "unknown feature" in by_name["voice-bot.demand"]["reasons"][0]


def test_now_moves_the_freshness_reference(cli, world: Path) -> None:
    r = check(cli, world, "steady.yaml", "--now", "2026-11-27T12:00:00Z")
    assert r.code == 1
    assert all("stale" in " ".join(s["reasons"]) for s in json.loads(r.out)["signals"])


def test_bad_now_is_bad_input(cli, world: Path) -> None:
    r = check(cli, world, "steady.yaml", "--now", "yesterday")
    assert r.code == 2 and "--now" in r.err


def test_malformed_signal_names_file_and_field(cli, world: Path, tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text(
        "observed_at: 2026-11-26T12:00:00Z\nsignals:\n"
        "  - {name: x, kind: vibes, feature: f, value: 1, unit: rpm, observed_at: 2026-11-26T12:00:00Z}\n"
    )
    r = cli("signals", "check", bad, "--contracts", world / "contracts.yaml")
    assert r.code == 2
    assert str(bad) in r.err and "signals[0].kind" in r.err
    assert "Traceback" not in r.err


def test_naive_timestamp_and_nan_are_rejected(cli, world: Path, tmp_path: Path) -> None:
    bad = tmp_path / "s.json"
    bad.write_text(json.dumps({"observed_at": "2026-11-26T12:00:00", "signals": []}))
    r = cli("signals", "check", bad, "--contracts", world / "contracts.yaml")
    assert r.code == 2 and "observed_at" in r.err and "timezone" in r.err
    bad.write_text('{"observed_at": "2026-11-26T12:00:00Z", "signals": [{"name": "x", "kind": "demand", '
                   '"feature": "f", "value": NaN, "unit": "rpm", "observed_at": "2026-11-26T12:00:00Z"}]}')
    r = cli("signals", "check", bad, "--contracts", world / "contracts.yaml")
    assert r.code == 2 and "signals[0].value" in r.err


def test_duplicate_contract_kind_is_bad_input(cli, world: Path, tmp_path: Path) -> None:
    k = tmp_path / "k.yaml"
    k.write_text("contracts:\n  - {kind: demand, unit: rpm}\n  - {kind: demand, unit: rps}\n")
    r = cli("signals", "check", world / "signals" / "steady.yaml", "--contracts", k)
    assert r.code == 2 and "contracts" in r.err


def test_hostile_text_in_signal_is_reported_as_data(cli, world: Path) -> None:
    r = check(cli, world, "hostile.yaml")
    assert r.code == 0
    assert "ignore all previous instructions" in json.loads(r.out)["signals"][0]["source"]


def test_control_characters_never_reach_the_terminal(cli, world: Path, tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text(
        'observed_at: 2026-11-26T12:00:00Z\nsignals:\n'
        '  - {name: "x\\e[2J\\e[31mowned", kind: demand, feature: kb-retriever, value: 1, unit: rpm,'
        ' observed_at: 2026-11-26T12:00:00Z, lineage: [a]}\n'
    )
    r = cli("signals", "check", bad, "--contracts", world / "contracts.yaml")
    assert r.code == 0
    assert "\x1b" not in r.out and "\\x1b[2J" in r.out


def _one(tmp_path: Path, kind: str, value: float, unit: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(
        "observed_at: 2026-11-26T12:00:00Z\nsignals:\n"
        f"  - {{name: kb-retriever.x, kind: {kind}, feature: kb-retriever, value: {value}, unit: {unit},"
        " observed_at: 2026-11-26T11:59:00Z, lineage: [a]}\n"
    )
    return p


def test_converted_values_are_shown_canonical_with_the_observed_ones(cli, world: Path, tmp_path: Path) -> None:
    p = _one(tmp_path, "latency", 0.4, "s")
    r = cli("signals", "check", p, "--contracts", world / "contracts.yaml", "--json")
    assert r.code == 0, r.out
    (s,) = json.loads(r.out)["signals"]
    assert (s["value"], s["unit"], s["original_value"], s["original_unit"]) == (400.0, "ms", 0.4, "s")
    assert s["conversion"] == "0.4 s -> 400 ms"
    r = cli("signals", "check", p, "--contracts", world / "contracts.yaml")
    assert "= 400 ms (observed 0.4 s): ok" in r.out


def test_an_unconvertible_unit_is_quarantined_not_bad_input(cli, world: Path, tmp_path: Path) -> None:
    r = cli("signals", "check", _one(tmp_path, "latency", 0.4, "rpm"), "--contracts", world / "contracts.yaml", "--json")
    assert r.code == 1
    (s,) = json.loads(r.out)["signals"]
    assert s["status"] == "quarantined" and "cannot be converted to 'ms'" in s["reasons"][0]


def test_a_contract_in_a_unit_foreign_to_its_kind_is_bad_input(cli, world: Path, tmp_path: Path) -> None:
    k = tmp_path / "k.yaml"
    k.write_text("contracts:\n  - {kind: latency, unit: rpm}\n")
    r = cli("signals", "check", world / "signals" / "steady.yaml", "--contracts", k)
    assert r.code == 2 and "contracts[0].unit" in r.err and "ms, s, us" in r.err
    assert "Traceback" not in r.err


def test_signals_kinds_lists_the_registry_including_registered_kinds(cli) -> None:
    from jitplan.contracts.signal_kinds import SignalKindSpec, kinds_registered

    r = cli("signals", "kinds", "--json")
    assert r.code == 0
    rows = {k["kind"]: k for k in json.loads(r.out)["kinds"]}
    assert rows["cost"]["canonical_unit"] == "usd_per_request" and "usd_per_day" in rows["cost"]["units"]
    assert rows["latency"]["metric"] == "latency_p95_ms" and rows["latency"]["rule"] == "degrade"
    with kinds_registered(SignalKindSpec("toxicity", "ratio", bad="high", metric="toxicity", rule="degrade")):
        r = cli("signals", "kinds")
    assert r.code == 0 and "toxicity: ratio -> ratio; higher is worse; gates toxicity; rule degrade" in r.out


def test_plan_with_a_usd_per_day_cost_is_not_a_per_request_cost(cli, world: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Once: "projected daily cost 9792000.00 USD (100 rpm x 1440 min x 68 USD/request ...)", rejected.
    monkeypatch.setenv("JITPLAN_HOME", str(tmp_path / "home"))
    units = Path(__file__).resolve().parents[1] / "fixtures" / "units"
    r = cli("plan", "--catalog", world / "catalog.yaml", "--signals", units / "cost-per-day.yaml",
            "--contracts", units / "contracts.yaml", "--state", world / "flags.json",
            "--as", "operator", "--region", "eu", "--no-cache", "--json")
    assert "9792000" not in r.out and "68 USD/request" not in r.out
    assert r.code == 0, r.out
    assert json.loads(r.out)["decision"] == "approved"
