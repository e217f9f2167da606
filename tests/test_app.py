"""The dashboard, driven headlessly with Streamlit's AppTest on a small synthetic set.

One tiny model is trained for the whole session (the on-disk ModelStore and the
process-wide cache make every later AppTest load it), so each test reads like a
visitor's click path: open, pick, switch, check what is on screen.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ["pages/1_Recommendations.py", "pages/2_Similar_items.py", "pages/3_Pipeline.py",
         "pages/4_Model.py", "pages/5_Data.py"]
RANKED = re.compile(r"^\*\*(\d+)\. (.+?)\*\*")


@pytest.fixture(autouse=True)
def small_app_env(app_env):
    """Every test here runs the app on small data with tiny training (tests/conftest.py)."""
    return app_env


def open_app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update(query)
    return at.run()


def ranked_titles(at: AppTest) -> list[str]:
    return [m.group(2) for el in at.markdown if (m := RANKED.match(el.value))]


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="session")
def first_run(app_env) -> AppTest:
    """The first open trains the tiny model (once per session)."""
    return open_app()


def test_opens_on_recommendations_with_reasons(first_run):
    at = first_run
    no_exceptions(at)
    assert at.title[0].value == "Recommendations"
    assert len(ranked_titles(at)) == 10
    assert any("-badge[" in el.value for el in at.markdown), "every item shows why"
    assert at.sidebar.selectbox(key="user_picker").value == 1


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(first_run, page):
    at = open_app()
    at.switch_page(page).run()
    no_exceptions(at)
    assert at.title, f"{page} shows a title"


def test_model_page_shows_the_evaluation_beside_baselines(first_run):
    at = open_app()
    at.switch_page("pages/4_Model.py").run()
    no_exceptions(at)
    table = at.dataframe[2].value if len(at.dataframe) > 2 else None
    systems = set(table["System"]) if table is not None else set()
    assert {"two-tower model (whole catalogue)", "pipeline (what users get)", "EASE",
            "most popular"} <= systems
    recall = next(c for c in table.columns if c.startswith("Recall, top 10 ("))
    assert table[recall].notna().sum() >= 4, "the main figure: each ranking system's recall"


def test_changing_the_user_changes_the_list(first_run):
    at = open_app()
    before = ranked_titles(at)
    at.sidebar.selectbox(key="user_picker").select(7).run()
    no_exceptions(at)
    after = ranked_titles(at)
    assert len(after) == 10 and after != before
    assert at.query_params["user"] == "7"
    assert at.subheader[0].value == "User 7"


def test_a_new_visitor_gets_recommendations(first_run):
    at = open_app()
    at.radio(key="rec_mode").set_value("New visitor").run()
    genre = at.multiselect(key="visitor_genres").options[0]
    at.multiselect(key="visitor_genres").select(genre).run()
    no_exceptions(at)
    assert len(ranked_titles(at)) == 10
    assert any("your genre" in el.value for el in at.markdown)
    # a visitor has no history to take away: "Why this item is here" holds the score's parts
    first = next(el.value for el in at.markdown if RANKED.match(el.value))
    score = next(float(m.group(1)) for el in at.markdown
                 if (m := re.match(r"score \*\*(-?[\d.]+)\*\*", el.value)))
    item_id = int(re.search(r"item (\d+)\]", first).group(1))
    at.session_state[f"rank_why_{item_id}"] = True
    at.run()
    no_exceptions(at)
    parts = at.dataframe[0].value.set_index("what")["part of the score"]
    assert parts.pop("total = the score") == pytest.approx(score, abs=5e-4)
    assert parts.sum() == pytest.approx(score, abs=5e-3)


def test_url_state_round_trips(first_run):
    at = open_app(user="5", page="pipeline")
    no_exceptions(at)
    assert at.title[0].value == "Pipeline"
    assert at.query_params["user"] == "5" and at.query_params["page"] == "pipeline"
    assert at.sidebar.selectbox(key="user_picker").value == 5
    at.switch_page("pages/2_Similar_items.py").run()
    assert at.query_params["page"] == "similar-items" and at.query_params["user"] == "5"


def upload(at: AppTest, files: dict[str, bytes]) -> AppTest:
    at.switch_page("pages/5_Data.py").run()
    at.radio(key="data_kind").set_value("Upload a CSV bundle").run()
    at.file_uploader[0].set_value([(name, body, "text/csv") for name, body in files.items()])
    at.run()
    at.button[0].click().run()
    return at


def test_a_bad_upload_is_explained_and_the_previous_data_stays(first_run):
    at = open_app()
    before = at.sidebar.markdown[0].value
    bad = {"items.csv": b"item_id,title,genres\n1,A,Drama\nx2,B,Comedy\n",
           "interactions.csv": b"user_id,item_id,rating,timestamp\n1,1,4,100\n"}
    upload(at, bad)
    no_exceptions(at)
    errors = " ".join(e.value for e in at.error)
    assert "items.csv" in errors and "item_id" in errors
    assert at.sidebar.markdown[0].value == before
    at.switch_page("pages/1_Recommendations.py").run()
    assert len(ranked_titles(at)) == 10


def test_a_good_upload_becomes_the_active_data(first_run):
    items = "item_id,title,genres\n" + "".join(
        f"{i},Film {i},{'Drama' if i % 2 else 'Comedy'}\n" for i in range(1, 31))
    rows = "".join(f"{u},{i},{(u * i) % 5 + 1},{1000 + 10 * i + u}\n"
                   for u in range(1, 21) for i in range(1, 31) if (u + i) % 3 == 0)
    at = open_app()
    upload(at, {"items.csv": items.encode(),
                "interactions.csv": ("user_id,item_id,rating,timestamp\n" + rows).encode()})
    no_exceptions(at)
    assert "csv\\-upload" in at.sidebar.markdown[0].value  # shown as text: escaped
    at.switch_page("pages/1_Recommendations.py").run()
    no_exceptions(at)
    assert ranked_titles(at) and all(t.startswith("Film ") for t in ranked_titles(at))


def test_what_put_an_item_here_is_explained_on_request(first_run):
    at = open_app()
    assert not any(el.value == "**Its score, part by part**" for el in at.markdown), \
        "not computed for every item on open (it reruns the pipeline)"
    first = next(e for e in at.main.expander if e.label == "Why this item is here")
    assert not first.children, "closed: nothing computed or sent"
    item_id = int(re.search(r"item (\d+)\]", next(
        el.value for el in at.markdown if RANKED.match(el.value))).group(1))
    at.session_state[f"rank_why_{item_id}"] = True
    at.run()
    no_exceptions(at)
    assert any(el.value == "**Its score, part by part**" for el in at.markdown)
    assert any("Checked by rerunning the whole pipeline" in c.value for c in at.caption) or \
        any("no small change to your history" in c.value for c in at.caption)


def test_the_controls_are_one_click_away_and_open_when_set(first_run):
    """Closed at first with their settings in a line; open when a link sets any."""
    at = open_app()
    no_exceptions(at)
    panel = next(e for e in at.main.expander if e.label.startswith("Your controls"))
    assert not at.session_state["controls_open"] and not panel.children
    assert not [s for s in at.slider if s.key == "ctl_diversity"]
    assert any(c.value.startswith("Ordered by the served order") for c in at.caption)
    at.session_state["controls_open"] = True
    at.run()
    assert [s.value for s in at.slider if s.key == "ctl_diversity"] == [0.0]
    linked = open_app(diversity="0.4")
    no_exceptions(linked)
    assert [s.value for s in linked.slider if s.key == "ctl_diversity"] == [0.4]
    item_id = int(next(b.key for b in at.button if b.key and b.key.startswith("ni_")
                       and b.key != "ni_undo")[3:])
    fresh = open_app()
    fresh.button(key=f"ni_{item_id}").click().run()
    no_exceptions(fresh)
    assert fresh.button(key="ni_undo"), "marking an item opens the controls, where Undo is"


def test_tables_are_drawn_when_their_section_is_opened():
    """A first visit gets the list and no tables; opening a section draws its table.

    The score breakdown a visitor opens is the item's own: its parts, the
    intercept included, add up to the score shown beside the title.
    """
    at = open_app()
    no_exceptions(at)
    assert len(at.dataframe) == 0, "closed sections send nothing to the browser"
    first = next(el.value for el in at.markdown if RANKED.match(el.value))
    score = next(float(m.group(1)) for el in at.markdown
                 if (m := re.match(r"score \*\*(-?[\d.]+)\*\*", el.value)))
    item_id = int(re.search(r"item (\d+)\]", first).group(1))
    at.session_state[f"rank_why_{item_id}"] = True
    at.session_state["history_open"] = True
    at.run()
    no_exceptions(at)
    assert len(at.dataframe) == 2
    history, breakdown = (el.value for el in at.dataframe)
    label = next(e.label for e in at.expander if e.label.startswith("What user 1 rated"))
    rated = int(re.search(r"\((\d+) ratings", label).group(1))
    assert len(history) == min(20, rated), "the newest 20 of the user's ratings"
    parts = breakdown.set_index("what")["part of the score"]
    total = parts.pop("total = the score")
    assert total == pytest.approx(score, abs=5e-4)
    assert parts.sum() == pytest.approx(total, abs=5e-3), "rounded parts add up to the score"
