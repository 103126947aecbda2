"""Flag store: canonical atomic writes, history/restore, validity for a real OpenFeature consumer."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jitplan.contracts.errors import UserError
from jitplan.contracts.state import DeploymentState, FeatureState
from jitplan.tools.flags import (
    FlagStore,
    StepError,
    apply_action,
    render_flagd,
    restore_feature,
    sha256_bytes,
)


def _state(weight: float = 0.0) -> DeploymentState:
    return DeploymentState(
        features={
            "summarizer": FeatureState(
                version="1.0.0", known_versions=["1.0.0", "1.1.0"],
                canary_version="1.1.0" if weight else None, canary_weight=weight,
            ),
            "drafter": FeatureState(known_versions=["2.0.0"]),
        }
    )


def test_write_is_canonical_and_round_trips(tmp_path: Path) -> None:
    store = FlagStore(tmp_path / "flags.json")
    st = _state(25.0)
    store.write(st)
    data = (tmp_path / "flags.json").read_bytes()
    assert data.endswith(b"\n")
    assert data == (json.dumps(json.loads(data), indent=2, sort_keys=True) + "\n").encode()
    assert store.read() == st
    assert not list(tmp_path.glob(".flags.json.*.tmp")), "temp file left behind"


def test_unchanged_write_is_a_noop_and_changes_are_archived(tmp_path: Path, world: Path) -> None:
    path = tmp_path / "flags.json"
    original = (world / "flags.json").read_bytes()
    path.write_bytes(original)
    store = FlagStore(path)
    store.write(store.read())  # same state: the sample file is canonical, nothing to write
    assert store.history() == []
    st = store.read()
    store.write(apply_action(st, "canary", "ticket-summarizer", "1.2.0", {"weight": 10}))
    assert store.history() == [sha256_bytes(original)]
    assert store.previous() == st
    store.restore(sha256_bytes(original))
    assert path.read_bytes() == original


def test_restore_is_byte_for_byte_even_for_non_canonical_files(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    odd = json.dumps(_state().to_flagd(), separators=(",", ":")).encode()  # valid, not canonical
    path.write_bytes(odd)
    store = FlagStore(path)
    digest = store.archive(odd)
    store.write(apply_action(store.read(), "disable", "summarizer"))
    assert path.read_bytes() != odd
    store.restore(digest)
    assert path.read_bytes() == odd
    with pytest.raises(UserError, match="no archived version"):
        store.restore("0" * 64)


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"", "empty"), (b"{not json", "malformed JSON"), (b"[]", "flag-definitions object"),
     (b'{"flags": {"a": {"variants": {}}}}', "flags.a.variants")],
)
def test_bad_flag_files_are_user_errors_naming_the_file(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "flags.json"
    path.write_bytes(content)
    with pytest.raises(UserError, match=needle) as exc:
        FlagStore(path).read()
    assert str(path) in str(exc.value)


def test_invalid_document_is_never_written(tmp_path: Path) -> None:
    store = FlagStore(tmp_path / "flags.json")
    store.write(_state())
    before = store.path.read_bytes()
    with pytest.raises(UserError):
        store.write_bytes(b'{"flags": 3}')
    assert store.path.read_bytes() == before


def test_actions_are_idempotent_and_exactly_invertible() -> None:
    st = _state()
    cases = [
        ("enable", "drafter", "2.0.0", {}),
        ("disable", "summarizer", None, {}),
        ("canary", "summarizer", "1.1.0", {"weight": 5}),
        ("promote", "summarizer", "1.1.0", {}),
        ("shadow", "summarizer", "1.1.0", {}),
        ("rollback", "summarizer", None, {"to_version": "1.1.0"}),
        ("rollback", "summarizer", None, {"to_version": None}),
        ("set_budget", "summarizer", None, {"usd_per_day": 12.5}),
        ("pin_version", "summarizer", None, {}),
        ("enable", "brand-new", "0.1.0", {}),
    ]
    for action, feature, version, params in cases:
        once = apply_action(st, action, feature, version, params)
        assert once != st, action
        assert apply_action(once, action, feature, version, params) == once, action
        assert _as_read_back(once) == once, action
        before = st.features[feature].model_dump(mode="json") if feature in st.features else None
        assert restore_feature(once, feature, before) == st, action
        assert render_flagd(restore_feature(once, feature, before)) == render_flagd(st)


def _as_read_back(state: DeploymentState) -> DeploymentState:
    """What a reader of the written flags file sees."""
    return DeploymentState.from_flagd(json.loads(render_flagd(state)))


@pytest.mark.parametrize(
    ("action", "feature", "version", "params", "needle"),
    [("enable", "drafter", None, {}, "needs a version"),
     ("promote", "summarizer", None, {}, "no canary is running"),
     ("canary", "summarizer", "1.0.0", {"weight": 5}, "already serves"),
     ("canary", "summarizer", "1.1.0", {}, "weight"),
     ("canary", "summarizer", "1.1.0", {"weight": 150}, "weight"),
     ("set_budget", "summarizer", None, {"usd_per_day": -1}, "usd_per_day"),
     ("set_budget", "summarizer", None, {"budget_usd_per_day": 1}, "did you mean 'usd_per_day'"),
     ("launch", "summarizer", "1.0.0", {}, "action")],
)
def test_bad_steps_raise_step_error(
    action: str, feature: str, version: str | None, params: dict[str, object], needle: str
) -> None:
    with pytest.raises(StepError, match=needle):
        apply_action(_state(), action, feature, version, params)


def _wait_ready(client: object, key: str) -> None:
    from openfeature.evaluation_context import EvaluationContext

    for _ in range(200):
        d = client.get_string_details(key, "<none>", EvaluationContext(targeting_key="probe"))  # type: ignore[attr-defined]
        if d.error_code is None:
            return
        time.sleep(0.01)
    raise AssertionError("flagd provider never became ready")


def test_openfeature_flagd_provider_resolves_a_file_jitplan_wrote(tmp_path: Path) -> None:
    pytest.importorskip("openfeature.contrib.provider.flagd")
    from openfeature import api
    from openfeature.contrib.provider.flagd import FlagdProvider
    from openfeature.contrib.provider.flagd.config import ResolverType
    from openfeature.evaluation_context import EvaluationContext

    path = tmp_path / "flags.json"
    FlagStore(path).write(_state(30.0))
    api.set_provider(FlagdProvider(resolver_type=ResolverType.FILE, offline_flag_source_path=str(path)))
    try:
        client = api.get_client()
        _wait_ready(client, "summarizer")
        off = client.get_string_details("drafter", "<none>")
        assert (off.value, off.error_code) == ("off", None)
        served = [
            client.get_string_value("summarizer", "<none>", EvaluationContext(targeting_key=f"user-{i}"))
            for i in range(2000)
        ]
        assert set(served) == {"1.0.0", "1.1.0"}
        share = served.count("1.1.0") / len(served)
        assert 0.25 < share < 0.35, share  # the fractional split jitplan wrote: 30% canary
        assert client.get_string_value("nope", "<none>") == "<none>"
    finally:
        api.shutdown()
        import threading

        for t in threading.enumerate():  # leave no file-watcher thread behind
            if t.name == "FlagdFileWatcherWorkerThread":
                t.join(timeout=5)


_READER = r"""
import json, sys, time, os
path, stop = sys.argv[1], sys.argv[2]
reads = bad = 0
while not os.path.exists(stop):
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        bad += 1; continue
    reads += 1
    try:
        doc = json.loads(data)
        assert isinstance(doc["flags"], dict) and doc["flags"]
    except Exception:
        bad += 1
print(json.dumps({"reads": reads, "bad": bad}))
"""


def test_polling_reader_never_sees_an_empty_or_invalid_file_during_1000_writes(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    store = FlagStore(path, history=False)
    store.write(_state())
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", _READER, str(path), str(stop)], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.2)
        for i in range(1000):
            store.write(_state(weight=float(1 + i % 99)))
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=30)
    stats = json.loads(out)
    assert stats["reads"] > 100, stats
    assert stats["bad"] == 0, stats
