"""Reusable view pieces: palette, source badges, result tables, chart styling.

Presentation only: these functions reshape what ``recengine`` returned into
text, tables and charts; they never score, rank or measure anything.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import pandas as pd
import streamlit as st

from recengine.counterfactual import ScoreBreakdown, score_breakdown
from recengine.results import RankedItem, RecommendationResult, SourceHit
from recengine.safe_text import markdown_text as _md
from recengine.schema import DataError
from ui import plain

#: Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000"]
HIGHLIGHT, NEIGHBOUR, MUTED = "#D55E00", "#0072B2", "#BBBBBB"

#: source -> (badge colour, icon, short name); icons carry the meaning too, not colour alone
SOURCE_STYLE = {
    "similar": ("blue", ":material/link:", "similar"),
    "genre": ("orange", ":material/category:", "genre"),
    "region": ("green", ":material/public:", "region"),
}
FALLBACK_STYLE = ("violet", ":material/extension:", "other")


def hit_detail(hit: SourceHit) -> str:
    """The evidence behind a badge not already in its words: the distance, or the rank."""
    d = hit.detail
    if "distance" in d:
        return f"distance {float(d['distance']):.3f}"
    if "rank" in d and str(d["rank"]) not in hit.describe():
        return f"rank {d['rank']}"
    return ""


def _escape_badge(text: str) -> str:
    # square brackets would end the markdown badge directive early
    return text.replace("[", "(").replace("]", ")").replace("\n", " ")


def source_badges(hits: list[SourceHit]) -> str:
    """Markdown badges, one per source that found the item, with the evidence."""
    parts = []
    for hit in hits:
        colour, icon, _ = SOURCE_STYLE.get(hit.source, FALLBACK_STYLE)
        detail = hit_detail(hit)
        label = hit.describe() + (f" · {detail}" if detail else "")
        parts.append(f":{colour}-badge[{icon} {_md(_escape_badge(label))}]")
    return " ".join(parts)


#: session-key prefix of an item's "Why this item is here" expander (its item id follows)
RANK_WHY = "rank_why_"


def lazy_expander(label: str, key: str, **kwargs):
    """An expander whose body runs only while it is open (test ``.open`` inside it).

    Why: Streamlit sends a closed expander's whole body to the browser, and a
    table there is a data grid the browser builds anyway. The Recommendations
    page had a dozen such grids (ten items' score breakdowns, the history, the
    policy's removals) that nobody had opened, and building them was most of a
    first visit's time in the browser when several visitors arrive at once.
    Opening one reruns the script (about 70 ms) and draws it.
    """
    return st.expander(label, key=key, on_change="rerun", **kwargs)


def render_ranked_item(item: RankedItem, scale: tuple[float, float], score_meaning: str,
                       intercept: float | None = None,
                       extra: Callable[[], None] | None = None,
                       why: Callable[[], None] | None = None) -> None:
    """One recommendation: rank, title, the score that placed it, its rating, and why.

    "Why this item is here" is one lazy expander: ``why`` draws its body when
    it is open (the page passes the counterfactual, which reruns the pipeline);
    without ``why`` it holds the ranking stage's parts of the score. ``extra``
    draws the item's own controls inside its box (the page passes "Not
    interested"). A NaN predicted rating means none was made (a list not based
    on profiling).
    """
    with st.container(border=True):
        # two plain columns, not three with two st.metric cards: the list is the first
        # thing every visitor's browser builds, and ten items' cards and their columns
        # were 30 of the page's 153 elements
        left, right = st.columns([5, 2])
        genres = item.genres.replace("|", ", ") or "no genre"
        left.markdown(f"**{item.rank}. {_md(item.title)}**  \n"
                      f":gray[{_md(genres)} · item {item.item_id}]")
        if math.isnan(item.predicted_rating):
            rating, rating_help = "none", "not predicted: this list reads nothing about you"
        else:
            rating = f"{item.predicted_rating:.2f}"
            rating_help = (f"on the {scale[0]:g}-{scale[1]:g} scale, the rating head's user "
                           "and item bias terms included")
        right.markdown(f"score **{item.score:.3f}**  \n:gray[predicted rating] **{rating}**",
                       help=f"Score: {score_meaning}: what placed this item at this rank. "
                            f"Predicted rating: {rating_help}.")
        badges = source_badges(item.sources)
        if item.demoted_by:
            badges += f" :red-badge[:material/arrow_downward: demoted by {_md(item.demoted_by)}]"
        left.markdown(badges or ":gray[no source recorded]")
        if why is not None or item.contributions:
            with lazy_expander("Why this item is here", key=f"{RANK_WHY}{item.item_id}",
                               icon=":material/help:") as box:
                if box.open and why is not None:
                    why()
                elif box.open:
                    score_parts(score_breakdown(item, intercept))
        if extra is not None:
            extra()


def show_table(frame: pd.DataFrame, columns: list[str] | None = None, *, wide=(), narrow=(),
               medium=(), names: dict[str, str] | None = None, where=None, height="auto",
               key: str | None = None) -> pd.DataFrame:
    """A table as a reader reads it (:func:`ui.plain.table`): readable headers with units
    and tooltips, rounded numbers, dates, "-" for a missing value. Returns what is shown."""
    shown, config = plain.table(frame, columns, wide=wide, narrow=narrow, medium=medium,
                                names=names)
    (where or st).dataframe(shown, hide_index=True, column_config=config, placeholder="-",
                            height=height, key=key)
    return shown


def score_parts(breakdown: ScoreBreakdown) -> None:
    """An item's score split exactly into the ranking stage's parts, under its heading.

    The one drawing of :func:`recengine.counterfactual.score_breakdown`: a known
    user's counterfactual, a visitor's "Why this item is here" and the plain item
    box all show it, so the same item's parts read the same everywhere.
    """
    st.markdown("**Its score, part by part**")
    if breakdown.parts:
        st.dataframe(parts_frame(breakdown), hide_index=True)
    else:
        st.caption(_md(breakdown.note))


def parts_frame(breakdown: ScoreBreakdown) -> pd.DataFrame:
    """The parts largest first, then the intercept, then their total: the score."""
    rows = [{"what": p.words, "part of the score": round(p.contribution, 4)}
            for p in breakdown.parts]
    rows.append({"what": "baseline (intercept)",
                 "part of the score": round(breakdown.intercept or 0.0, 4)})
    rows.append({"what": "total = the score", "part of the score": round(breakdown.score, 4)})
    return pd.DataFrame(rows)


def filtered_frame(result: RecommendationResult) -> pd.DataFrame:
    """The content policy's removals and demotions with the rule that caught each."""
    return pd.DataFrame([{"item_id": a.item_id, "title": a.title, "action": a.action,
                          "rule": plain.rule(a.rule)} for a in result.filtered],
                        columns=["item_id", "title", "action", "rule"])


def source_overlap(result: RecommendationResult) -> pd.DataFrame:
    """How many listed items each combination of sources found (an UpSet-style table).

    A count over the result's own provenance, nothing recomputed.
    """
    combos = Counter(" + ".join(sorted({h.source for h in it.sources})) or "(none)"
                     for it in result.items)
    frame = pd.DataFrame(sorted(combos.items(), key=lambda kv: (-kv[1], kv[0])),
                         columns=["sources", "items"])
    frame["n_sources"] = frame["sources"].str.count(r"\+") + 1
    return frame


def download_frame(result: RecommendationResult, provenance: dict[str, str]) -> pd.DataFrame:
    """The result's own table (``to_frame``) with where it came from on every row."""
    frame = result.to_frame()
    for k, v in provenance.items():
        frame[k] = v
    return frame


def data_error_text(exc: Exception) -> str:
    """A data error in plain words: what is wrong, in which file, column and rows."""
    if isinstance(exc, DataError):
        msg = str(exc).split(" | ")[0]
        lines = [f"**The data could not be used:** {msg}."]
        if exc.file:
            lines.append(f"- file: `{exc.file}`")
        if exc.column:
            lines.append(f"- column: `{exc.column}`")
        if exc.rows:
            lines.append(f"- first offending rows: {', '.join(str(r) for r in exc.rows)}")
        return "\n".join(lines)
    return f"**The data could not be used:** {exc}"


def style_figure(fig, title: str, x: str, y: str, height: int = 380):
    """Readable titles and labels, the shared palette, a calm layout."""
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, height=height,
                      colorway=PALETTE, margin=dict(l=10, r=10, t=50, b=10),
                      legend_title_text="")
    return fig
