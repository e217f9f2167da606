"""The dashboard in a real browser: a served app, headless Chromium, every page.

Catches what AppTest cannot: front-end rendering, the exception boxes a user
would see, and how the pages look (a screenshot per page under tmp_path).
Needs /usr/bin/chromium (CI: ``apt-get install -y chromium``); no browser download.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: url path -> heading the page shows ("" is the default page, Recommendations)
PAGES = {"": "Recommendations", "similar-items": "Similar items",
         "pipeline": "Pipeline", "model": "Model", "data": "Data",
         "objectives": "Objectives", "content-filtering": "Content filtering",
         "bias-and-fairness": "Bias and fairness", "transparency-report": "Transparency report"}
#: each page's main figure, as a reader finds it on the page
MAIN_FIGURE = {"": "How this list is ordered.",
               "objectives": "Served order.",
               "content-filtering": "What users would have seen:",
               "bias-and-fairness": "Recall@10 under the protocol",
               "transparency-report": "Ordered by the learned ranking stage"}
ENV = {"RECENGINE_DATA": "synthetic:users=120,items=200",
       "RECENGINE_TRAIN": '{"epochs": 2, "batch_size": 256, "patience": 0, "model": '
                          '{"user_tower": {"hidden": [32]}, "item_tower": {"hidden": [32]}}}'}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} not healthy after {timeout} s")


def settle(page, timeout_ms: int = 180_000) -> None:
    """Wait until the script has finished its run (training included on first open)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=timeout_ms)
    page.wait_for_timeout(500)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=timeout_ms)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (install it with: apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api")
    port = free_port()
    env = {**os.environ, **ENV, "RECENGINE_HOME": str(tmp_path_factory.mktemp("models"))}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py",
                             "--server.headless", "true", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_every_page_in_a_browser(server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2200})
            for path, heading in PAGES.items():
                page.goto(f"{server}/{path}?user=3")
                settle(page)
                page.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
                page.screenshot(path=str(tmp_path / f"{path or 'recommendations'}.png"))
                errors = page.locator('[data-testid="stException"]')
                assert errors.count() == 0, f"{path}: {errors.first.inner_text()[:2000]}"
                if path == "":
                    reasons = page.get_by_text("because you watched")
                    assert reasons.count() > 0, "the list shows why each item is there"
                if path in MAIN_FIGURE:
                    figure = page.get_by_text(MAIN_FIGURE[path]).first
                    figure.wait_for(timeout=60_000)
                    assert figure.is_visible(), f"{path}: main figure missing"
                assert "user=3" in page.url
        finally:
            browser.close()
    assert len(list(tmp_path.glob("*.png"))) == len(PAGES)
