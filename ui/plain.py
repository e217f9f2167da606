"""Plain words for what the pages show: one place per word.

Every reader-facing name of a figure is written here once: its label, its unit,
which direction is better (where one is), a one-line explanation of its jargon,
and how it is rounded. Pages pass their tables through :func:`table` (or
``ui.widgets.show_table``), which renames columns, rounds numbers, turns shares
into percentages and timestamps into dates, and gives each column a tooltip;
axis titles come from :func:`label`, tooltips and captions from :func:`explain`
and :data:`JARGON`.

The model card (``audits.card_format``) has its own word list for Markdown; names
this module does not know fall back to the card's words, so the app and the card
say the same thing for the same figure.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from audits.card_format import word as card_word

#: one-line explanations of the jargon on the pages (tooltips, captions)
JARGON = {
    "recall": "Recall, top 10: the share of a user's liked test items (rated 4 or more) "
              "that made their top 10, averaged over users.",
    "ndcg": "NDCG, top 10 (normalised discounted cumulative gain): like recall, but a "
            "liked item counts more the higher it is ranked (1 = every liked item on top).",
    "coverage@": "Coverage, top 10: the share of the catalogue that appears in at least "
                 "one user's top 10; higher means more of the catalogue gets shown.",
    "rmse": "RMSE: the typical size of a rating prediction's error, in stars (root mean "
            "squared error). Lower is better.",
    "mae": "MAE: the mean size of a rating prediction's error, in stars. Lower is better.",
    "ease": "EASE: a strong, simple baseline recommender (a linear item-to-item model).",
    "itemknn": "item-kNN: recommends items similar to what you rated, by co-rating.",
    "gini": "Gini: how unequally exposure is spread over the catalogue, 0 (every item "
            "shown equally often) to 1 (one item gets every slot). Lower is more equal.",
    "kl": "KL (Kullback-Leibler divergence): how far the genre mix of the list is from "
          "the genre mix of what the user watched; 0 means the same mix.",
    "jaccard": "Jaccard overlap: items two lists share divided by the items in either "
               "list; 1 = the same items, 0 = none in common.",
    "long tail": "Long tail: the items outside the 20% most-rated ones in the train split.",
    "diversity": "Variety within a list: 1 minus the mean cosine similarity of the list's "
                 "item vectors (0 = all alike; higher = more varied).",
    "pareto": "Pareto front: the settings no other setting beats on both axes at once.",
    "bootstrap": "Bootstrap: users are resampled many times to see how much a figure "
                 "would move with other users; it gives the 95% interval.",
    "holm": "Holm's correction: raises p-values to allow for testing many gaps at once.",
    "p": "p: how often a gap this large would appear by chance if the groups were alike; "
         "below 0.05 is usually read as a real gap.",
    "log-odds": "log-odds: the ranking stage's score; 0 means a 50% chance, each +1 "
                "multiplies the odds by about 2.7.",
    "candidate recall": "Found by retrieval: the share of a user's liked test items that "
                        "retrieval put among the candidates at all (ranking cannot recover "
                        "what retrieval missed).",
    "p50": "p50 / p95: the median and the 95th-percentile time of one user's request.",
    "vector": "v_u, v_m: the 32 numbers the model learns for each user and each item; "
              "closer vectors mean more alike.",
}


@dataclass(frozen=True)
class Figure:
    """How one figure is named, measured and shown."""

    label: str
    unit: str = ""  # shown in brackets after the label
    better: str = ""  # "higher", "lower" or "" where no direction is better
    help: str = ""  # one line: what it measures
    digits: int = 3  # decimals shown
    percent: bool = False  # a share in [0, 1], shown as a percentage

    def header(self, note: str = "") -> str:
        """``Label (unit, note) ↑``: the unit and a note such as "simulated" in brackets."""
        arrow = {"higher": " ↑", "lower": " ↓"}.get(self.better, "")
        inside = ", ".join(x for x in (self.unit, note) if x)
        unit = f" ({inside})" if inside else ""
        text = f"{self.label}{unit}{arrow}"
        symbol = len(self.label.split(" ")[0]) == 1  # "p", "p (Holm)": a symbol keeps its case
        return text if symbol else text[:1].upper() + text[1:]

    def tooltip(self) -> str:
        parts = [self.help] if self.help else []
        if self.better:
            parts.append(f"{self.better.capitalize()} is better.")
        return " ".join(parts)


#: the caption that goes with tables whose headers carry arrows
ARROWS = "↑ higher is better · ↓ lower is better (hover a header for what it measures)."
SLOT = "% of slots"
MONEY = "currency units"
MINUTES = "min"
STARS = "stars"

#: column name -> how a reader reads it (names not here: :func:`label`'s fallbacks)
FIGURES: dict[str, Figure] = {
    # ----- ids, names and plain columns
    "item_id": Figure("item id", help="the item's id in the data"),
    "user_id": Figure("user id", help="the user's id in the data"),
    "title": Figure("title"), "genres": Figure("genres"), "rank": Figure("rank"),
    "rating": Figure("rating", STARS), "timestamp": Figure("rated on", help="date (UTC)"),
    "objective": Figure("objective", help="what orders the list; served is what users get"),
    "policy": Figure("content policy"), "system": Figure("system"),
    "setting": Figure("setting"), "sources": Figure("found by"), "source": Figure("source"),
    "why": Figure("why it is here"), "demoted_by": Figure("demoted by"),
    "sponsored": Figure("sponsored", help="a paid placement (an advertiser's bid)"),
    "action": Figure("action"), "rule": Figure("rule that caught it"),
    "change": Figure("change"), "reason": Figure("why"), "items": Figure("items"),
    "n_sources": Figure("sources agreeing"), "layer": Figure("layer"),
    "type": Figure("kind"), "output shape": Figure("output shape"),
    "parameters": Figure("parameters"), "field": Figure("field"), "value": Figure("value"),
    "distance": Figure("squared distance", better="lower", digits=4,
                       help="squared distance of the learned item vectors v_m; smaller "
                            "means more alike"),
    # ----- catalogue and user columns
    "year": Figure("year", digits=0), "runtime": Figure("runtime", MINUTES, digits=0),
    "price": Figure("price", MONEY, digits=2),
    "margin": Figure("margin", "% of price", digits=1, percent=True),
    "sponsored_bid": Figure("sponsored bid", "currency units per recommendation", digits=2),
    "watch_minutes": Figure("watch minutes", MINUTES, digits=1),
    "labels": Figure("content labels"), "age": Figure("age", "years", digits=0),
    "gender": Figure("gender"), "region": Figure("region"), "occupation": Figure("occupation"),
    # ----- what a list shows (objectives, content filtering)
    "mean_predicted_rating": Figure("predicted rating", STARS, help="mean predicted rating "
                                    "of the shown items: the value to the user"),
    "predicted_rating": Figure("predicted rating", STARS),
    "expected_watch_minutes": Figure("watch time per slot", MINUTES, digits=1,
                                     help="expected minutes watched per shown slot: the "
                                          "chance of watching times the minutes watched"),
    "expected_profit": Figure("revenue per slot", MONEY, digits=3,
                              help="expected money to the service per shown slot: the chance "
                                   "of a click times (price x margin + sponsor's bid), in the "
                                   "currency units of the item prices"),
    "flagged_share": Figure("flagged", SLOT, "lower", "shown slots holding an item with a "
                            "content label (e.g. graphic violence)", 1, True),
    "sponsored_share": Figure("sponsored", SLOT, help="shown slots holding a paid placement",
                              digits=1, percent=True),
    "long_tail_share": Figure("long tail", SLOT, help=JARGON["long tail"], digits=1,
                              percent=True),
    "history_long_tail_share": Figure("long tail in history", "% of watched", digits=1,
                                      percent=True),
    "exposure_gini": Figure("exposure Gini", "0-1", "lower", JARGON["gini"]),
    "intra_list_diversity": Figure("variety within a list", "1 - cosine", help=JARGON[
        "diversity"]),
    "coverage": Figure("catalogue coverage", "% of items", "higher", "items shown to at "
                       "least one sampled user", 1, True),
    "overlap_with_served": Figure("overlap with served", "Jaccard 0-1",
                                  help=JARGON["jaccard"]),
    "flagged_slots": Figure("flagged slots", better="lower"),
    "flagged_items": Figure("distinct flagged items"),
    "users_with_flagged": Figure("users shown flagged items", better="lower"),
    "users_with_flagged_share": Figure("users shown flagged items", "% of users", "lower",
                                       digits=1, percent=True),
    "measure": Figure("measured by"),
    "without": Figure("without the policy"), "with": Figure("with the policy"),
    "lost": Figure("lost", help="without minus with, in the measure's own unit"),
    "lost_share": Figure("lost", "% of without", digits=1, percent=True),
    "w_rating": Figure("weight: rating", digits=2),
    "w_engagement": Figure("weight: watch time", digits=2),
    "w_profit": Figure("weight: revenue", digits=2),
    "weights": Figure("blend weights"),
    "pareto": Figure("on the 3-way front", help=JARGON["pareto"]),
    "pareto_rating_profit": Figure("front: rating vs revenue", help=JARGON["pareto"]),
    "pareto_rating_engagement": Figure("front: rating vs watch time", help=JARGON["pareto"]),
    "shown_without": Figure("would have been shown"),
    # ----- offline evaluation
    "recall": Figure("Recall", "% of liked items", "higher", JARGON["recall"], 1, True),
    "ndcg": Figure("NDCG", "0-1", "higher", JARGON["ndcg"], 3),
    "coverage@": Figure("Coverage", "% of items", "higher", JARGON["coverage@"], 1, True),
    "rmse": Figure("RMSE", STARS, "lower", JARGON["rmse"], 4),
    "mae": Figure("MAE", STARS, "lower", JARGON["mae"], 4),
    "vs_ease": Figure("vs EASE", "ratio", "higher", "the system's figure divided by EASE's "
                      "in the same run (1 = as good as EASE)", 3),
    # ----- retrieval trade-off
    "candidate_recall": Figure("found by retrieval", "% of liked test items", "higher",
                               JARGON["candidate recall"], 1, True),
    "candidates_mean": Figure("candidates per user", "items", digits=0),
    "latency_p50_ms": Figure("time per user, median", "ms", "lower", JARGON["p50"], 2),
    "latency_p95_ms": Figure("time per user, p95", "ms", "lower", JARGON["p50"], 2),
    "similar_per_item": Figure("similar per watched item", digits=0),
    "last_watched": Figure("watched items used", digits=0),
    "genre_top": Figure("top items per genre", digits=0),
    "n_genres": Figure("genres used", digits=0),
    "region_top": Figure("top items per region", digits=0),
    "overall_top": Figure("top items overall", digits=0),
    "region_used": Figure("region source used"), "ranking_stage": Figure("ranking stage"),
    # ----- bias and fairness
    "group_column": Figure("grouped by"), "metric": Figure("figure"), "group": Figure("group"),
    "n_users": Figure("users", digits=0), "ci_low": Figure("95% interval, low"),
    "ci_high": Figure("95% interval, high"),
    "too_few": Figure("too few users", help="fewer users than the audit needs to compare"),
    "gap": Figure("gap", help="highest group minus lowest, in the figure's own unit"),
    "largest": Figure("highest group"), "smallest": Figure("lowest group"),
    "p_value": Figure("p", help=JARGON["p"]), "p_holm": Figure("p (Holm)", help=JARGON["holm"]),
    "distinguishable": Figure("real gap", help="the interval excludes 0 and the Holm "
                              "p is below 0.05"),
    "groups_compared": Figure("groups compared", digits=0),
    "too_few_users": Figure("groups with too few users"),
    "rec_popularity": Figure("popularity of shown items", "ratings per item",
                             help="mean number of train ratings of the items shown", digits=1),
    "history_popularity": Figure("popularity of watched items", "ratings per item", digits=1),
    "calibration_kl": Figure("genre miscalibration (KL)", "0 = same mix", "lower",
                             JARGON["kl"]),
    "popularity_lift": Figure("popularity lift", "shown / watched", help="how many times more "
                              "popular the shown items are than the watched ones"),
    "contribution": Figure("part of the score", digits=3),
}
#: readable names of the offline protocol's systems
SYSTEMS = {"two_tower": "two-tower model (whole catalogue)",
           "pipeline": "pipeline (what users get)", "ease": "EASE", "itemknn": "item-kNN",
           "popularity": "most popular", "bias": "rating biases only",
           "cf": "collaborative filtering"}
#: loss series of the training history
LOSSES = {"loss": "train: total", "val_loss": "validation: total",
          "retrieval_loss": "train: retrieval", "val_retrieval_loss": "validation: retrieval",
          "rating_loss": "train: rating", "val_rating_loss": "validation: rating",
          "rating_head_val_loss": "validation: rating head (second stage)"}
#: fields of ``Dataset.summary()``
SUMMARY = {"name": "name", "source": "source", "items": "items", "users": "users",
           "interactions": "ratings", "density": "density (share of user-item pairs rated)",
           "rating_min": "lowest rating", "rating_max": "highest rating",
           "rating_mean": "mean rating", "genres": "genres",
           "demographics": "user columns", "business_attributes": "business columns",
           "simulated": "simulated columns", "license": "licence", "notes": "notes"}
_AT = re.compile(r"^(recall|ndcg|coverage)@(\d+)(_vs_ease)?$")


def figure(name: str) -> Figure:
    """The :class:`Figure` of a column or figure name (a fallback label if unknown)."""
    name = str(name)
    if name in FIGURES:
        return FIGURES[name]
    m = _AT.match(name)
    if m:
        base = FIGURES["coverage@" if m.group(1) == "coverage" else m.group(1)]
        title = f"{base.label}, top {m.group(2)}"
        if m.group(3):
            vs = FIGURES["vs_ease"]
            return Figure(f"{title} vs EASE", vs.unit, vs.better, f"{vs.help}. {base.help}",
                          vs.digits)
        return Figure(title, base.unit, base.better, base.help, base.digits, base.percent)
    if name.startswith("shown_without_"):
        return Figure(f"shown without the policy: {name.removeprefix('shown_without_')}",
                      help="the item would have been in this objective's top list without "
                           "the policy")
    text = card_word(name)
    return Figure(text if text != name else name.replace("_", " "))


def label(name: str, note: str = "") -> str:
    """A column header or axis title: the words, the unit, ↑/↓ where a direction is better."""
    return figure(name).header(note)


def name(column: str) -> str:
    """Just the words of a column, no unit ("sponsored_bid" -> "sponsored bid");
    a table-qualified name keeps its table ("items.sponsored_bid" -> "items: sponsored bid")."""
    table, dot, col = str(column).rpartition(".")
    return f"{table}: {figure(col).label}" if dot else figure(col).label


def raw_label(name: str) -> str:
    """A header for a figure kept in its stored unit (a share as 0-1, not a percentage)."""
    f = figure(name)
    if f.percent:
        f = Figure(f.label, "share 0-1", f.better, f.help, f.digits)
    return f.header()


def explain(name: str) -> str:
    """A tooltip: what the figure measures and which way is better."""
    return figure(name).tooltip()


def value_words(name: str) -> str:
    """A figure named inside a cell or a picker ("recall@10" -> "Recall, top 10 (...) ↑")."""
    return figure(name).header()


def system(name: str) -> str:
    return SYSTEMS.get(str(name), str(name).replace("_", " "))


def rule(text: str) -> str:
    """A content policy rule as words ("label:graphic_violence" -> "label: graphic violence")."""
    kind, sep, what = str(text).partition(":")
    return f"{kind}: {what.replace('_', ' ')}" if sep else str(text).replace("_", " ")


#: the retrieval knobs a trade-off setting's name may carry ("similar_per_item=5")
KNOBS = ("similar_per_item", "last_watched", "genre_top", "n_genres", "region_top",
         "overall_top")


def setting(name: str) -> str:
    """A retrieval setting's name as words ("n_genres=1" -> "genres used = 1")."""
    text = str(name)
    for knob in KNOBS:
        text = text.replace(f"{knob}=", f"{FIGURES[knob].label} = ")
    return text


# ----- numbers, dates ------------------------------------------------------------------
def date(timestamp) -> str:
    """A Unix timestamp (seconds) as a date, ``2021-08-23`` (UTC); "-" when missing."""
    try:
        if timestamp is None or (isinstance(timestamp, float) and math.isnan(timestamp)):
            return "-"
        return pd.Timestamp(int(timestamp), unit="s", tz="UTC").strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError):
        return str(timestamp)


def number(value, name: str = "", digits: int | None = None) -> str:
    """A figure as text with its unit, e.g. ``6.6% of slots`` or ``18.0 min``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    f = figure(name) if name else Figure("")
    d = f.digits if digits is None else digits
    if f.percent:
        rest = f" {f.unit[2:]}" if f.unit.startswith("% ") else ""
        return f"{100 * float(value):.{d}f}%{rest}"
    unit = f" {f.unit}" if f.unit else ""
    return f"{float(value):.{d}f}{unit}"


def points(delta_share: float) -> str:
    """A change of a share, in percentage points: ``-34.2 percentage points``."""
    return f"{100 * float(delta_share):+.1f} percentage points"


def summary_frame(summary: dict) -> pd.DataFrame:
    """``Dataset.summary()`` as two columns of words: field and value."""
    rows = []
    for key, v in summary.items():
        if key == "density":
            text = f"{100 * float(v):.2f}%"
        elif isinstance(v, bool):
            text = "yes" if v else "no"
        elif isinstance(v, int):
            text = f"{v:,}"
        elif isinstance(v, float):
            text = f"{v:.2f}" if math.isfinite(v) else "-"
        elif isinstance(v, list | tuple | set):
            text = ", ".join(str(x) for x in v) or "none"
        elif v is None or v == "":
            text = "not stated"
        else:
            text = str(v)
        rows.append({"field": SUMMARY.get(key, key.replace("_", " ")), "value": text})
    return pd.DataFrame(rows, columns=["field", "value"])


def _whole(series: pd.Series) -> bool:
    values = series.dropna().to_numpy(dtype=float)
    return len(values) > 0 and bool(np.all(np.isfinite(values))) and \
        bool(np.all(values == np.round(values)))


# ----- tables --------------------------------------------------------------------------
def table(frame: pd.DataFrame, columns: list[str] | None = None, *, wide=(), narrow=(),
          medium=(), names: dict[str, str] | None = None) -> tuple[pd.DataFrame, dict]:
    """``(shown, column_config)``: the frame as a reader reads it, ready for st.dataframe.

    ``columns`` picks and orders the columns shown (default: all); ``names`` overrides a
    header; ``wide``/``medium``/``narrow`` name (original) columns to size. Shares become
    percentages, floats are rounded to the figure's decimals (4 at most), whole floats
    become integers, timestamps become dates, and every column gets its tooltip.
    Missing values stay missing: show the table with ``placeholder="-"``.
    """
    df = frame.reset_index() if _named_index(frame) else frame
    cols = [c for c in (columns or list(df.columns)) if c in df.columns]
    out, config, seen = {}, {}, set()
    for col in cols:
        f = figure(col)
        head = (names or {}).get(col) or f.header()
        while head in seen:
            head += " "
        seen.add(head)
        s = df[col]
        if col == "timestamp" and pd.api.types.is_numeric_dtype(s):
            s = s.map(date)
        elif pd.api.types.is_bool_dtype(s):
            pass
        elif pd.api.types.is_float_dtype(s):
            s = (s * 100 if f.percent else s).round(min(f.digits, 4))
            if not f.percent and (f.digits == 0 or _integral(col)) and _whole(s):
                s = s.round().astype("Int64")
        elif s.dtype == object:
            s = s.map(_cell)
        out[head] = s.reset_index(drop=True)
        width = ("large" if col in wide else "medium" if col in medium
                 else "small" if col in narrow else None)
        kind = st.column_config.NumberColumn if pd.api.types.is_numeric_dtype(s) and \
            not pd.api.types.is_bool_dtype(s) else st.column_config.Column
        kwargs = {"help": f.tooltip() or None, "width": width}
        if kind is st.column_config.NumberColumn and pd.api.types.is_float_dtype(s):
            kwargs["format"] = f"%.{min(f.digits, 4)}f"
        config[head] = kind(**{k: v for k, v in kwargs.items() if v is not None})
    shown = pd.DataFrame(out, index=range(len(df)))
    return shown, config


def _integral(col: str) -> bool:
    """Columns that hold counts or settings even when stored as floats."""
    return col in {"similar_per_item", "last_watched", "genre_top", "n_genres", "region_top",
                   "overall_top", "n_users", "groups_compared", "candidates_mean", "rank",
                   "item_id", "user_id", "flagged_slots", "flagged_items",
                   "users_with_flagged", "parameters", "year"}


def _named_index(frame: pd.DataFrame) -> bool:
    return frame.index.name is not None or isinstance(frame.index, pd.MultiIndex)


def _cell(v):
    """An object cell as text: lists joined, None kept missing, the rest as is."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, list | tuple | set):
        return ", ".join(str(x) for x in v) or "-"
    if isinstance(v, dict):
        return "; ".join(f"{k}: {x}" for k, x in v.items()) or "-"
    if isinstance(v, float):
        return round(v, 4)
    return v
