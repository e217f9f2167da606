"""The four audit pages render on small synthetic data (Streamlit AppTest, headless)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import open_app_page

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = {"pages/6_Objectives.py": "Objectives",
         "pages/7_Content_filtering.py": "Content filtering",
         "pages/8_Bias_and_fairness.py": "Bias and fairness",
         "pages/9_Transparency_report.py": "Transparency report"}


@pytest.fixture(autouse=True)
def small_app_env(app_env):
    """Every test here runs the app on small data with tiny training (tests/conftest.py)."""
    return app_env


def open_page(page: str, /, **query):
    return open_app_page(page, **query)


@pytest.mark.parametrize("page", list(PAGES))
def test_audit_page_renders(page):
    at = open_page(page)
    assert at.title[0].value == PAGES[page]


def test_objectives_page_shows_tables_and_simulated_labels():
    at = open_page("pages/6_Objectives.py", user="3")
    assert len(at.dataframe) >= 4, "metrics, sweep, side-by-side lists and changes"
    texts = " ".join(el.value for el in at.info) + " ".join(el.value for el in at.caption)
    assert "imulated" in texts
    assert any(el.value.startswith("User 3 ") for el in at.caption), "the URL's user is shown"


def test_transparency_page_states_the_criteria_and_offers_downloads():
    at = open_page("pages/9_Transparency_report.py")
    assert at.info[0].value.startswith("Ordered by the learned ranking stage")
    assert not at.error, "the list is in the order its rule states"
    md = " ".join(el.value for el in at.markdown)
    for section in ("## Data set", "## Ordering rule and objective", "## Why items are there",
                    "## Evaluation", "## Bias and fairness", "## Known limitations"):
        assert section in md


def column(frame, start: str) -> str:
    """The shown column whose readable header starts with ``start`` (units follow it)."""
    return next(c for c in frame.columns if c.startswith(start))


def test_objectives_page_puts_the_served_list_first():
    at = open_page("pages/6_Objectives.py")
    metrics = at.dataframe[0].value.set_index("Objective")
    assert list(metrics.index) == ["served", "rating", "engagement", "profit", "blend"]
    assert metrics.loc["served", column(metrics, "Overlap with served")] == 1.0
    assert any(el.value.startswith("**Served order.** Ordered by") for el in at.markdown)


def test_content_filtering_page_opens_with_every_label_blocked():
    at = open_page("pages/7_Content_filtering.py")
    md = " ".join(el.value for el in at.markdown)
    assert "Removes items labelled" in md
    comparison = at.dataframe[0].value
    served = comparison[comparison["Objective"] == "served"].set_index("Content policy")
    flagged = column(comparison, "Flagged (% of slots)")
    assert served.loc["with", flagged] == 0.0
    assert served.loc["without", flagged] > 0.0, "a meaningful comparison"
