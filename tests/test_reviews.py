"""Review sessions: the SQLite store (round trip, hostile text, two writers) and the app's use.

The store is a real database shared by every browser session, so the tests
drive it the way the app does: one file, several writers at once, titles and
notes written by anyone.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sqlite3
import subprocess
import sys
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from recengine.reviews import (
    DEFAULT_PATH,
    ENV_REVIEWS,
    VIEW_PARAM,
    Active,
    ReviewStore,
    default_path,
)

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PARAMS = {"page": "recommendations", "data": "synthetic:users=120,items=200", "user": "3",
          "k": "7", "obj": "blend", "w": "rating:0.5,engagement:0.3,profit:0.2"}
FINGERPRINT, MODEL = "a" * 40, "aaaaaaaaaaaaaaaa-cfg1"
NOW = Active(source=PARAMS["data"], fingerprint=FINGERPRINT, model_key=MODEL)
SAVE_OPEN = "save_view_open"  # the key of the sidebar's "Save this view" (drawn when open)
SQL = "'); DROP TABLE views;--"
IMAGE = "![x](http://evil)"
LINK = "[click](javascript:alert(1)) <a href='http://evil'>x</a> <img src=x onerror=alert(1)>"
BASE = "http://review.example:8501/"


@pytest.fixture
def store(tmp_path) -> ReviewStore:
    return ReviewStore(tmp_path / "reviews.sqlite")


def save(store: ReviewStore, **overrides) -> int:
    fields = {"title": "A view", "params": PARAMS, "fingerprint": FINGERPRINT,
              "model_key": MODEL, "note": "", "session": "default", **overrides}
    return store.save_view(**fields)


def test_the_path_is_configurable(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_REVIEWS, raising=False)
    assert default_path() == DEFAULT_PATH == Path(".cache/recengine/reviews.sqlite")
    monkeypatch.setenv(ENV_REVIEWS, str(tmp_path / "x" / "r.sqlite"))
    assert ReviewStore().path == tmp_path / "x" / "r.sqlite"
    assert (tmp_path / "x" / "r.sqlite").is_file()


def test_save_list_update_delete_round_trip(store):
    first = save(store, title="Thrillers only", note="check k", session="sprint",
                 figures={"top items": "1. A; 2. B"})
    second = save(store, title="Second", session="sprint", params={**PARAMS, "user": "9"})
    other = save(store, title="Elsewhere")
    assert first < second < other
    views = store.views("sprint")
    assert [v.id for v in views] == [first, second]
    v = views[0]
    assert (v.title, v.note, v.session, v.params, v.fingerprint, v.model_key) == \
        ("Thrillers only", "check k", "sprint", PARAMS, FINGERPRINT, MODEL)
    assert v.figures == {"top items": "1. A; 2. B"}
    assert v.saved_at.endswith("+00:00") and "T" in v.saved_at
    assert views[1].user == "9" and v.page == "recommendations"
    assert store.sessions() == ["default", "sprint"]  # most recently saved into first
    assert store.update_note(first, "line 1\nline 2") is True
    assert store.view(first).note == "line 1\nline 2"
    assert store.delete_view(second) is True and store.delete_view(second) is False
    assert store.update_note(second, "gone") is False
    assert [v.id for v in store.views("sprint")] == [first]
    assert store.view(second) is None
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_link_reopens_the_view(store):
    view = store.view(save(store, params={**PARAMS, VIEW_PARAM: "99"}))
    assert VIEW_PARAM not in view.params  # a reopened view's marker is not part of a view
    url = urlsplit(view.link(BASE))
    assert url.path == "/recommendations"
    query = {k: v[-1] for k, v in parse_qs(url.query).items()}
    assert query == {**PARAMS, VIEW_PARAM: str(view.id)}
    assert view.link().startswith("./recommendations?")


def test_hostile_text_is_stored_verbatim_and_escaped_in_markdown(store):
    note = f"{SQL}\n{IMAGE}\n# heading\n===\n{LINK}"
    vid = save(store, title=f"{SQL} {IMAGE}", note=note, session=IMAGE,
               figures={IMAGE: LINK, "top items": f"1. {IMAGE}"},
               params={**PARAMS, "region": "x)](http://evil) ![y](http://evil"})
    view = store.view(vid)
    assert view.title == f"{SQL} {IMAGE}" and view.note == note and view.session == IMAGE
    assert store.views(IMAGE)[0].id == vid  # the table survived its own title
    text = store.export_markdown(IMAGE, BASE, NOW)
    html = MarkdownIt("commonmark", {"html": True}).render(text)
    assert "<img" not in html and "<script" not in html and "<h1>" in html
    hrefs = re.findall(r'<a href="([^"]*)"', html)
    assert html.count("<a ") == len(hrefs) == 1, html  # the view's own link, nothing else
    href = unescape(hrefs[0])
    assert href.startswith(f"{BASE}recommendations?") and not set(href) & set("()[] <>\"'")
    assert parse_qs(urlsplit(href).query)["region"] == ["x)](http://evil) ![y](http://evil"]
    assert html.count("<h1>") == 1 and html.count("<h2>") == 1  # nothing but the export's own
    for shown in (SQL, IMAGE, "[click](javascript:alert(1))", "<img src=x onerror=alert(1)>"):
        assert shown in unescape(html)  # shown as the text it is


def test_the_markdown_export_has_every_view_with_its_figures(store):
    save(store, title="First", note="why so few dramas?", figures={"top items": "1. A; 2. B"})
    save(store, title="Second", fingerprint="b" * 40, model_key="bbbbbbbbbbbbbbbb-cfg1")
    text = store.export_markdown("default", BASE, NOW)
    assert text.startswith("# Review session: default")
    assert "## 1\\. First" in text and "## 2\\. Second" in text
    assert "**top items:** 1\\. A; 2\\. B" in text
    assert "> why so few dramas?" in text
    assert text.count("**Changed:**") == 1 and "The data changed since" in text
    html = MarkdownIt("commonmark").render(text)
    assert html.count(f'<a href="{BASE}recommendations?') == 2


def test_the_csv_export_neutralises_formulas(store):
    save(store, title="=HYPERLINK(\"http://evil\",\"x\")", note="+1+cmd|' /C calc'!A0",
         figures={"top items": "-2+3"})
    text = store.export_csv("default")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    assert rows[0]["title"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert rows[0]["note"].startswith("'+1")
    assert rows[0]["user"] == "3" and rows[0]["page"] == "recommendations"
    assert rows[0]["link"].startswith("./recommendations?")


def test_a_changed_fingerprint_or_model_is_flagged(store):
    view = store.view(save(store))
    assert view.changes(NOW) == []
    data_changed = view.changes(Active(PARAMS["data"], "c" * 40, "cccccccccccccccc-cfg1"))
    assert len(data_changed) == 1 and "data changed" in data_changed[0]
    model_changed = view.changes(Active(PARAMS["data"], FINGERPRINT, "aaaaaaaaaaaaaaaa-cfg2"))
    assert len(model_changed) == 1 and "model changed" in model_changed[0]
    other = view.changes(Active("synthetic:users=50", "d" * 40, "x"))
    assert "another data set" in other[0]
    alias = view.changes(Active("synthetic:n_users=120,n_items=200", FINGERPRINT, MODEL))
    assert alias == []  # the same data written another way


def test_bad_input_is_refused_not_stored(store):
    with pytest.raises(TypeError):
        save(store, note=123)
    with pytest.raises(ValueError):
        save(store, title="x" * 201)
    assert store.views() == []
    assert save(store, session="  ") and store.sessions() == ["default"]


WRITER = """
import sys, time
from pathlib import Path
from recengine.reviews import ReviewStore
path, name, go, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
store = ReviewStore(path)
while not go.exists():  # both writers start together
    time.sleep(0.005)
for i in range(n):
    store.save_view(title=f"{name} {i}", note=name, session="race", params={"page": "data"},
                    fingerprint="f", model_key="m")
"""


def test_two_writers_at_once_lose_nothing(tmp_path):
    """Two processes write 50 views each into one file at the same moment: all 100 land."""
    path = str(tmp_path / "shared.sqlite")
    ReviewStore(path)  # the schema exists before the race
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, path, name, str(go), "50"],
                              env=env, stderr=subprocess.PIPE, text=True) for name in "AB"]
    go.touch()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    views = ReviewStore(path).views("race")
    assert len(views) == 100
    assert len({v.id for v in views}) == 100
    assert {v.title for v in views} == {f"{n} {i}" for n in "AB" for i in range(50)}


# ----- the app: save from the sidebar, list on the Review page -------------------------------
@pytest.fixture
def review_env(app_env, tmp_path, monkeypatch):
    """The app on small data, with its review database in a temporary file."""
    monkeypatch.setenv(ENV_REVIEWS, str(tmp_path / "app-reviews.sqlite"))
    return tmp_path / "app-reviews.sqlite"


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_a_view_saved_from_the_sidebar_is_listed_and_reopens(review_env):
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params.update({"user": "5", "k": "6"})
    at.run()
    no_exceptions(at)
    at.session_state[SAVE_OPEN] = True  # the visitor opens "Save this view"
    at.run()
    at.sidebar.text_input(key="review_title").input(f"Five {IMAGE}")
    at.sidebar.text_area(key="review_note").input(SQL)
    at.sidebar.button(key="review_save").click().run()
    no_exceptions(at)
    assert any("Last saved" in c.value for c in at.sidebar.caption)
    assert at.sidebar.text_input(key="review_title").value == ""
    [view] = ReviewStore(review_env).views("default")
    assert view.title == f"Five {IMAGE}" and view.note == SQL
    assert view.params["user"] == "5" and view.params["k"] == "6"
    assert view.params["page"] == "recommendations"
    assert "top items" in view.figures and view.figures["shown for"] == "user 5"

    at.switch_page("pages/11_Review.py").run()
    no_exceptions(at)
    assert at.title[0].value == "Review"
    shown = " ".join(m.value for m in at.markdown)
    assert "Five \\!\\[x\\]\\(http\\:" in shown  # listed, escaped
    assert at.text_area(key=f"review_note_{view.id}").value == SQL
    at.text_area(key=f"review_note_{view.id}").input("looked fine").run()
    assert ReviewStore(review_env).view(view.id).note == "looked fine"
    assert not at.warning, "nothing changed since it was saved"

    at.sidebar.selectbox(key="user_picker").select(8).run()  # wander off, then reopen
    assert at.query_params["user"] == "8"
    at.button(key=f"review_open_{view.id}").click().run()
    no_exceptions(at)
    assert at.title[0].value == "Recommendations"
    assert at.query_params["user"] == "5" and at.query_params["k"] == "6"
    assert VIEW_PARAM not in at.query_params
    assert any("Opened the saved view" in i.value for i in at.info)


def test_a_view_of_a_changed_model_says_so(review_env):
    at = AppTest.from_file(APP, default_timeout=240)
    at.run()
    store = ReviewStore(review_env)
    vid = store.save_view(title="Old", params={"page": "review", "user": "2"},
                          fingerprint="0" * 40, model_key="0" * 16 + "-old")
    at.switch_page("pages/11_Review.py").run()
    no_exceptions(at)
    assert any("The data changed since" in w.value for w in at.warning)
    store.delete_view(vid)
    at.run()
    assert not at.warning
