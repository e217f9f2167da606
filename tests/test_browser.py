"""The dashboard in a real browser: a served app, headless Chromium, every page.

Catches what AppTest cannot: front-end rendering, the exception boxes a user
would see, every page's own path (the default page's included), how the pages
look (a screenshot per page under tmp_path), and that a link opened in a fresh
browser shows the list the engine computes in-process.
Needs /usr/bin/chromium (CI: ``apt-get install -y chromium``); no browser download.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from recengine.controls import ViewerControls, apply_controls
from recengine.data import load_source
from recengine.links import LinkSettings
from recengine.model_store import ModelStore, demo_train_config
from recengine.policy import ContentPolicy
from recengine.reviews import ReviewStore
from recengine.serving import serving_engine
from recengine.subject import Subject

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: url path -> heading the page shows ("" is the default page, Recommendations, which
#: also has its own path)
PAGES = {"": "Recommendations", "recommendations": "Recommendations",
         "similar-items": "Similar items",
         "pipeline": "Pipeline", "model": "Model", "data": "Data",
         "objectives": "Objectives", "content-filtering": "Content filtering",
         "bias-and-fairness": "Bias and fairness", "transparency-report": "Transparency report"}
#: each page's main figure, as a reader finds it on the page
MAIN_FIGURE = {"": "How this list is ordered.", "recommendations": "How this list is ordered.",
               "objectives": "Served order.",
               "content-filtering": "What users would have seen:",
               "bias-and-fairness": "Recall@10 under the protocol",
               "transparency-report": "Ordered by the learned ranking stage"}
ENV = {"RECENGINE_DATA": "synthetic:users=120,items=200",
       "RECENGINE_TRAIN": '{"epochs": 2, "batch_size": 256, "patience": 0, "model": '
                          '{"user_tower": {"hidden": [32]}, "item_tower": {"hidden": [32]}}}'}
RANKED = re.compile(r"^(\d+)\. (.+)$")


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
def model_home(tmp_path_factory) -> Path:
    """Where the served app stores its model (the test loads the same one in-process)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def reviews_db(tmp_path_factory) -> Path:
    """The served app's review database (a temporary file, never the repository's cache)."""
    return tmp_path_factory.mktemp("reviews") / "reviews.sqlite"


@pytest.fixture(scope="module")
def server(model_home, reviews_db):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (install it with: apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api")
    port = free_port()
    env = {**os.environ, **ENV, "RECENGINE_HOME": str(model_home),
           "RECENGINE_REVIEWS": str(reviews_db)}
    # no file watcher: a source file saved while the tests run (by an editor, another
    # checkout's tooling) would re-import the app's modules mid-test and retrain its model
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py",
                             "--server.headless", "true", "--server.port", str(port),
                             "--server.fileWatcherType", "none",
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
                page.screenshot(path=str(tmp_path / f"{path or 'home'}.png"))
                errors = page.locator('[data-testid="stException"]')
                assert errors.count() == 0, f"{path}: {errors.first.inner_text()[:2000]}"
                assert page.get_by_text("Page not found").count() == 0, f"/{path} not found"
                if path in ("", "recommendations"):
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


def shown_titles(page) -> list[str]:
    """The ranked titles as the reader sees them ("1. Title" in bold), in order."""
    texts = page.locator('[data-testid="stMarkdownContainer"] strong').all_inner_texts()
    return [m.group(2) for t in texts if (m := RANKED.match(t.strip()))]


def test_a_link_opened_in_a_fresh_browser_shows_the_same_list(server, model_home):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            first = browser.new_page()
            first.goto(f"{server}/?user=3")  # the app trains (or loads) its model
            settle(first)
            first.get_by_role("heading", name="Recommendations").first.wait_for(timeout=60_000)
            first.close()
            # in-process, on the same data, model store folder and settings
            data = load_source(ENV["RECENGINE_DATA"])
            bundle = ModelStore(model_home).load(data, demo_train_config(ENV["RECENGINE_TRAIN"]))
            assert bundle is not None, "the served app stored its model in model_home"
            engine = serving_engine(data, bundle)
            served = engine.recommend(3, 10)
            genre = next(g for g in data.genre_names
                         if any(g in it.genres.split("|") for it in served.items[2:]))
            controls = ViewerControls(not_interested=(served.items[0].item_id,),
                                      hidden_sources=frozenset({"region"}),
                                      objective="blend", weights=(0.5, 0.3, 0.2),
                                      diversity=0.4)
            link = LinkSettings(page="recommendations", data=data.source, user=3, k=7,
                                block_genres=(genre,), block_action="demote",
                                controls=controls)
            policy = ContentPolicy(blocked_genres=(genre,), action="demote")
            objectives = Subject.build(data, bundle, served=engine).objectives
            want = [it.title for it in apply_controls(engine, 3, 7, controls, policy,
                                                      objectives).items]
            context = browser.new_context(viewport={"width": 1400, "height": 3000})
            page = context.new_page()
            page.goto(f"{server}/recommendations?{urlencode(link.to_params())}")
            settle(page)
            page.get_by_text("How this list is ordered.").first.wait_for(timeout=60_000)
            errors = page.locator('[data-testid="stException"]')
            assert errors.count() == 0, errors.first.inner_text()[:2000]
            assert shown_titles(page) == want
            assert served.items[0].title not in shown_titles(page)
            assert "not_interested=" in page.url and "diversity=0.4" in page.url
            context.close()
        finally:
            browser.close()


def test_a_saved_view_reopens_from_the_review_page(server, reviews_db):
    """Save a view (title, Save), open the Review page as someone else, one click: back."""
    from playwright.sync_api import sync_playwright

    title = "Pipeline for five ![x](http://evil)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 2200})
            page = context.new_page()
            page.goto(f"{server}/?user=5")  # the app trains (or loads) its model
            settle(page)
            page.goto(f"{server}/pipeline?user=5&k=6")
            settle(page)
            page.get_by_role("heading", name="Pipeline").first.wait_for(timeout=60_000)
            sidebar = page.locator('[data-testid="stSidebar"]')
            sidebar.get_by_text("Save this view").click()
            sidebar.locator(".st-key-review_title input").fill(title)
            sidebar.locator(".st-key-review_save button").click()
            sidebar.get_by_text("Last saved").first.wait_for(timeout=120_000)
            settle(page)
            [view] = ReviewStore(reviews_db).views("default")
            assert view.title == title
            assert (view.page, view.user, view.params.get("k")) == ("pipeline", "5", "6")

            page.goto(f"{server}/review?user=9")  # a fresh visit, as someone else
            settle(page)
            page.get_by_role("heading", name="Review").first.wait_for(timeout=60_000)
            card = page.locator(f".st-key-review_view_{view.id}")
            card.get_by_text(title).wait_for(timeout=30_000)  # listed, as text
            assert page.locator('[data-testid="stMain"] img').count() == 0
            assert "user=9" in page.url
            assert sidebar.locator(".st-key-user_picker input").input_value() == "user 9"
            card.locator(f".st-key-review_open_{view.id} button:visible").click()
            page.wait_for_url(re.compile(r"/pipeline\?"), timeout=60_000)
            settle(page)
            page.get_by_role("heading", name="Pipeline").first.wait_for(timeout=60_000)
            errors = page.locator('[data-testid="stException"]')
            assert errors.count() == 0, errors.first.inner_text()[:2000]
            query = parse_qs(urlsplit(page.url).query)
            assert query["user"] == ["5"] and query["k"] == ["6"]
            assert query["page"] == ["pipeline"] and "view" not in query
            assert page.get_by_text("Opened the saved view").count() == 1
            assert sidebar.locator(".st-key-user_picker input").input_value() == "user 5"

            page.goto(f"{server}/review")  # its own link, in a new tab: a fresh session
            settle(page)
            with context.expect_page() as opened:
                page.locator(f".st-key-review_view_{view.id}").get_by_role(
                    "link", name=re.compile("New tab")).click()
            tab = opened.value
            tab.wait_for_load_state()
            settle(tab)
            tab.get_by_role("heading", name="Pipeline").first.wait_for(timeout=60_000)
            query = parse_qs(urlsplit(tab.url).query)
            assert query["user"] == ["5"] and query["k"] == ["6"]
            context.close()
        finally:
            browser.close()


def test_a_replayed_visit_is_a_real_session_with_the_browsers_list(server):
    """bench/protocol_visits.py times the server's part of a visit by replaying a browser's
    requests with no browser; the server must serve the replay the very list a browser shows."""
    from playwright.sync_api import sync_playwright
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    sys.path.insert(0, str(ROOT / "bench"))
    import protocol_visits

    marker = "because you watched"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server}/")
            settle(page)
            shown = shown_titles(page)
        finally:
            browser.close()
    rec = protocol_visits.record_visit(server, marker, str(CHROMIUM), CHROMIUM_ARGS)
    assert rec.boot_assets[0] == "/" and rec.messages, "the page, then its first message"
    assert any(a.endswith(".js") for a in rec.boot_assets + rec.late_assets)
    bodies = []
    for raw in protocol_visits.replayed_messages(server, rec, marker):
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        if msg.WhichOneof("type") == "delta" and msg.delta.new_element.HasField("markdown"):
            bodies.append(msg.delta.new_element.markdown.body)
    # the replay stops at the first item's badges: its first title is the browser's first
    replayed = [re.sub(r"\\(.)", r"\1", m.group(1))  # as Markdown shows the escaped title
                for b in bodies if (m := re.match(r"^\*\*\d+\. (.+?)\*\*", b))]
    assert shown and replayed == shown[:1]
    assert marker in bodies[-1]
