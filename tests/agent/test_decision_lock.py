"""checkpoints.decision_lock on SQLite: one holder per thread id at a time, across threads and
processes, and no lock file left behind once a decision is made."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from jitplan.agent.checkpoints import decision_lock


def test_one_holder_at_a_time_and_no_file_left(tmp_path: Path) -> None:
    target = str(tmp_path / "checkpoints.db")
    counter = {"n": 0, "inside": 0, "overlap": 0}

    def decide() -> None:
        for _ in range(40):
            with decision_lock(None, target, "thread-1"):
                counter["inside"] += 1
                counter["overlap"] = max(counter["overlap"], counter["inside"])
                n = counter["n"]
                time.sleep(0.0005)  # a read-modify-write another holder would interleave with
                counter["n"] = n + 1
                counter["inside"] -= 1

    threads = [threading.Thread(target=decide) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter["n"] == 160 and counter["overlap"] == 1
    assert list((tmp_path / "locks").iterdir()) == []  # each holder removed its file


def test_a_holder_in_another_process_excludes_this_one(tmp_path: Path) -> None:
    target = str(tmp_path / "checkpoints.db")
    held = tmp_path / "held"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from jitplan.agent.checkpoints import decision_lock\n"
        f"with decision_lock(None, {target!r}, 'thread-1'):\n"
        f"    Path({str(held)!r}).touch()\n"
        "    time.sleep(1.0)\n"
    )
    other = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not held.exists():
            assert time.monotonic() < deadline and other.poll() is None
            time.sleep(0.01)
        t0 = time.monotonic()
        with decision_lock(None, target, "thread-1"):
            waited = time.monotonic() - t0
        with decision_lock(None, target, "thread-2"):  # another thread id is not held up
            pass
    finally:
        other.wait(30)
    assert waited > 0.5
    assert list((tmp_path / "locks").iterdir()) == []
