"""User strings stay text: no image, link or HTML in Markdown, no formula in a CSV."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from recengine.safe_text import html_text, markdown_text, safe_csv

HOSTILE = ["![r](http://evil.example/x.png)", "[x](javascript:alert(1))",
           "<img src=x onerror=alert(1)>", "# heading\n* list", ":red[coloured] **bold**",
           "=HYPERLINK(\"http://evil.example\",\"click\")"]


def rendered(markdown: str) -> str:
    """HTML a CommonMark renderer (a peer library) makes of the text."""
    return MarkdownIt("commonmark", {"html": True}).render(markdown)


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_itself(text):
    html = rendered(markdown_text(text))
    assert "<img" not in html and "<a " not in html and "<h1" not in html
    assert "<li" not in html and "<strong" not in html
    # the reader sees the same characters (line breaks become spaces)
    flat = text.replace("\n", " ")
    assert html_text(flat).replace("&quot;", '"') in html.replace("&quot;", '"')


def test_chart_labels_are_html_escaped():
    assert html_text("<b>x</b> & \"y\"") == "&lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;"


def test_csv_cells_that_start_like_formulas_are_neutralised():
    frame = pd.DataFrame({"title": ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", "Alien"],
                          "score": [-1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]})
    rows = list(csv.reader(io.StringIO(safe_csv(frame), newline="")))
    titles = [r[0] for r in rows[1:]]
    assert titles == ["'=1+1", "'+cmd", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "Alien"]
    assert rows[1][1] == "-1.5", "numbers are never formulas: left as they are"


def _render_hostile_item():
    from recengine.results import RankedItem, SourceHit
    from ui.widgets import render_ranked_item

    item = RankedItem(1, 7, "![r](http://evil.example/x.png)", "[x](javascript:alert(1))",
                      0.5, 4.0, [SourceHit("similar", {"seed_item_id": 3, "distance": 0.2,
                                                       "seed_title": "<img src=x>"})])
    render_ranked_item(item, (0.5, 5.0), "score")


def test_a_recommendation_card_shows_hostile_titles_as_text():
    at = AppTest.from_function(_render_hostile_item).run()
    assert not at.exception
    for block in at.markdown:
        html = rendered(block.value)
        assert "<img" not in html and "<a " not in html, block.value
    assert any("evil\\.example" in block.value for block in at.markdown), "shown, escaped"
