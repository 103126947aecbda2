"""``jitplan serve`` driven in a real headless Chromium (Debian's chromium + chromium-driver).

``make test-browser`` (``.ci/run`` calls it; opt in with ``JITPLAN_BROWSER_TESTS=1``) starts the
console on 127.0.0.1 (ephemeral port, temporary home) and goes through the cycles page, an
escalated cycle approved in the queue (the flags file changes), a chat exchange that produces a
plan (offline planner) and a simulation plot (checked by size and non-blank pixels). Screenshots
go to ``.jitplan/screenshots/`` (CI artifacts). No Chromium on the machine: a reported skip.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "scenarios" / "world"
SHOTS = ROOT / ".jitplan" / "screenshots"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
TOKENS = {"operator": "op-" + "a" * 30, "payments-lead": "pl-" + "b" * 30}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.environ.get("JITPLAN_BROWSER_TESTS"),
                       reason="drives headless Chromium: set JITPLAN_BROWSER_TESTS=1 (make test-browser)"),
]


def _inputs(flags: Path) -> list[str]:
    return ["--catalog", str(WORLD / "catalog.yaml"), "--signals", str(WORLD / "signals" / "steady.yaml"),
            "--contracts", str(WORLD / "contracts.yaml"), "--state", str(flags),
            "--evidence", str(WORLD / "evidence"), "--replications", "2"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A temp home with one escalated ``--apply`` cycle, and ``jitplan serve`` on it."""
    from jitplan.agent.console.security import hash_token

    home = tmp_path / "home"
    env = {**os.environ, "JITPLAN_HOME": str(home), "JITPLAN_ROLE": "operator", "JITPLAN_REGION": "eu"}
    flags = tmp_path / "flags.json"
    shutil.copy(WORLD / "flags.json", flags)
    cli = [sys.executable, "-m", "jitplan.agent.cli"]
    planned = subprocess.run([*cli, "plan", *_inputs(flags), "--request", "enable refund-advisor", "--apply", "--json"],
                             env=env, capture_output=True, text=True, timeout=300, check=False)
    doc = json.loads(planned.stdout)
    assert doc["decision"] == "escalated", planned.stderr
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("tokens:\n" + "".join(f'  - {{role: {r}, region: eu, sha256: "{hash_token(t)}"}}\n'
                                            for r, t in TOKENS.items()))
    proc = subprocess.Popen([*cli, "serve", "--port", "0", "--tokens", str(tokens), *_inputs(flags)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("jitplan console: http://127.0.0.1:"), (line, proc.poll())
        url = line.split()[2]
        yield {"url": url, "thread_id": doc["thread_id"], "flags": flags}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("no /usr/bin/chromium or /usr/bin/chromedriver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / name))


def _wait(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _non_blank(png: bytes) -> tuple[tuple[int, int], float, int]:
    """Image size, share of non-white pixels, distinct colours."""
    import numpy as np
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    px = np.asarray(img).reshape(-1, 3)
    ink = float((px.min(axis=1) < 235).mean())
    return img.size, ink, len(np.unique(px, axis=0))


def test_console_in_a_real_browser(browser: Any, served: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    url, tid, flags = served["url"], served["thread_id"], served["flags"]
    d = browser
    # Log in (the page answers 401 with the form) and see the cycles list.
    d.get(url)
    d.find_element(By.ID, "token").send_keys(TOKENS["payments-lead"])
    d.find_element(By.ID, "login").click()
    table = _wait(lambda: d.find_elements(By.ID, "cycles"), 30, "the cycles table")[0]
    assert tid in table.text and "escalated" in table.text
    _shot(d, "01-cycles.png")

    # The escalated cycle, approved through the queue: the executed plan changes the flags file.
    before = hashlib.sha256(flags.read_bytes()).hexdigest()
    d.get(url + "approvals")
    card = d.find_element(By.CSS_SELECTOR, f'section.approval[data-thread="{tid}"]')
    card.find_element(By.CSS_SELECTOR, "input.comment").send_keys("approved in the browser test")
    _shot(d, "02-approvals.png")
    card.find_element(By.CSS_SELECTOR, "button.approve").click()
    msg = _wait(lambda: d.find_elements(By.ID, "message"), 120, "the decision")[0]
    assert "approved by payments-lead" in msg.text, msg.text
    assert hashlib.sha256(flags.read_bytes()).hexdigest() != before
    _shot(d, "03-approved.png")

    # Log out; the operator chats: an exchange that produces a plan (offline planner), with
    # each node's progress.
    d.find_element(By.CSS_SELECTOR, "form.who button").click()
    _wait(lambda: d.find_elements(By.ID, "token"), 30, "the login form").pop().send_keys(TOKENS["operator"])
    d.find_element(By.ID, "login").click()
    _wait(lambda: d.find_elements(By.ID, "cycles"), 30, "the cycles table")
    d.get(url + "chat")
    d.find_element(By.ID, "chat-input").send_keys("enable refund-advisor")
    d.find_element(By.ID, "chat-send").click()
    result = _wait(lambda: d.find_elements(By.CSS_SELECTOR, "#transcript .entry.result"), 180, "the chat's plan")[0]
    assert "decision escalated" in result.text and "refund-advisor" in result.text, result.text
    assert len(d.find_elements(By.CSS_SELECTOR, "#progress li")) >= 5
    _shot(d, "04-chat.png")

    # The cycle page of that plan: a simulation plot rendered by the browser.
    result.find_element(By.TAG_NAME, "a").click()
    img = _wait(lambda: d.find_elements(By.CSS_SELECTOR, "img.plot"), 30, "a plot")[0]
    _shot(d, "05-cycle.png")
    d.execute_script("arguments[0].scrollIntoView();", img)
    _wait(lambda: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img), 120,
          "the plot to load")
    natural = d.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", img)
    assert natural[0] >= 600 and natural[1] >= 400, natural
    size, ink, colours = _non_blank(img.screenshot_as_png)
    assert size[0] >= 300 and size[1] >= 200 and ink > 0.03 and colours > 20, (size, ink, colours)
    _shot(d, "06-plot.png")
