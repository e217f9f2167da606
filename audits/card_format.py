"""How the model card writes figures: readable names, table cells, JSON-safe values.

Shared by the card's section builders (:mod:`audits.card_sections`,
:mod:`audits.card_audit_sections`), so every table in the card reads the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recengine.safe_text import markdown_text

SECTIONS = ("Intended use and users", "Data set", "Model", "Ordering rule and objective",
            "Why items are there", "Evaluation", "Objectives compared",
            "Content policy and filter", "Bias and fairness", "Ethical considerations",
            "Known limitations", "Feedback loops (simulated)")

#: column and figure names as a reader reads them
WORDS = {
    "objective": "Objective", "policy": "Policy", "setting": "Setting", "source": "Source",
    "slots": "Slots", "share": "Share", "system": "System", "feature": "Parameter",
    "meaning": "What it measures", "weight": "Weight (per SD)", "importance": "Importance",
    "mean_predicted_rating": "Mean predicted rating",
    "expected_watch_minutes": "Expected watch minutes", "expected_profit": "Expected profit",
    "flagged_share": "Flagged share", "sponsored_share": "Sponsored share",
    "long_tail_share": "Long-tail share", "exposure_gini": "Exposure Gini",
    "intra_list_diversity": "Intra-list diversity", "coverage": "Catalogue coverage",
    "overlap_with_served": "Overlap with served", "flagged_slots": "Flagged slots",
    "flagged_items": "Flagged items", "users_with_flagged": "Users shown flagged items",
    "users_with_flagged_share": "Share of users shown flagged items", "measure": "Measured by",
    "without": "Without policy", "with": "With policy", "lost": "Lost",
    "lost_share": "Share lost", "w_rating": "Weight: rating", "w_engagement":
    "Weight: engagement", "w_profit": "Weight: profit", "pareto": "On the 3-way front",
    "pareto_rating_profit": "Front: rating vs profit",
    "pareto_rating_engagement": "Front: rating vs engagement", "group_column": "Grouped by",
    "metric": "Figure", "group": "Group", "value": "Value", "n_users": "Users",
    "ci_low": "95% low", "ci_high": "95% high", "too_few": "Too few users", "gap": "Gap",
    "largest": "Highest group", "smallest": "Lowest group", "p_value": "p",
    "p_holm": "p (Holm)", "distinguishable": "Distinguishable", "groups_compared":
    "Groups compared", "too_few_users": "Groups with too few users", "users": "Users",
    "rmse": "RMSE", "mae": "MAE", "k": "List length", "test_ratings": "Test ratings",
    "users_with_relevant": "Users with a relevant test item",
    "rec_popularity": "Popularity of recommended items",
    "mean_rec_popularity": "Popularity of recommended items",
    "mean_history_popularity": "Popularity of watched items",
    "popularity_lift": "Popularity lift (recommended / watched)",
    "history_long_tail_share": "Long-tail share of watched items",
    "catalogue_long_tail_share": "Long-tail share of the catalogue",
    "calibration_kl": "Genre miscalibration (KL)", "age_band": "age band",
    "catalogue_share": "Flagged share of the catalogue",
    "candidate_share": "Flagged share of retrieved candidates",
    "engagement_vs_served": "Engagement vs served (flagged share ratio)",
    "engagement_vs_catalogue": "Engagement vs catalogue (flagged share ratio)",
    "profit_vs_served": "Profit vs served (flagged share ratio)",
    "candidates_caught": "Candidates caught in retrieval",
    "shown_slots_removed": "Shown slots removed", "shown_slots_demoted": "Shown slots demoted",
    "train": "Train ratings", "test": "Test ratings", "fewest_users": "Fewest users",
    "most_users": "Most users",
    "test_ratings_unseen_items": "Test ratings of items never rated in train",
}
SOURCE_WORDS = {"similar": "similar to an item you watched",
                "cowatched": "often watched with an item you watched",
                "item_model": "often liked by people who liked what you watched",
                "genre": "top of one of your genres", "region": "popular in your region",
                "overall": "popular overall"}
RETRIEVAL_WORDS = {
    "similar_per_item": "similar items per seed", "last_watched": "last watched items as seeds",
    "genre_top": "top items per genre", "n_genres": "genres per user",
    "region_top": "top items per region", "overall_top": "top items overall (no region)",
    "cowatched_per_item": "co-watched items per seed",
    "cowatch_neighbours": "co-watch table width", "top_rule": "top lists ranked by",
    "min_ratings_for_mean": "ratings needed for a mean-rating top list",
    "item_model_top": "item-model items per user",
    "item_model_items": "most watched items the item model covers",
    "item_model_l2": "item model L2 weight",
    "sources": "sources"}


@dataclass
class Section:
    title: str
    data: dict
    markdown: str


# ----- helpers ------------------------------------------------------------------------
def jsonable(obj):
    """Plain JSON types: numpy scalars unwrapped, NaN and inf as null, frames as records."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [jsonable(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return jsonable(obj.to_dict("records"))
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or isinstance(obj, int | str):
        return obj
    if obj is pd.NA:
        return None
    return str(obj)


def word(name) -> str:
    """A figure or column name as words ("recall@10_vs_ease" -> "Recall@10 / EASE")."""
    name = str(name)
    if name in WORDS:
        return WORDS[name]
    if "@" in name:
        metric, _, rest = name.partition("@")
        k, _, vs = rest.partition("_vs_")
        out = {"recall": "Recall", "ndcg": "NDCG", "coverage": "Coverage"}.get(
            metric, metric.capitalize()) + f"@{k}"
        return out + (f" / {vs.upper()}" if vs else "")
    return name.replace("_", " ")


def cell(v, digits: int = 4) -> str:
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, float | np.floating):
        return "-" if not math.isfinite(float(v)) else f"{float(v):.{digits}g}"
    if v is None or v is pd.NA:
        return "-"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    return markdown_text(v)  # user data (titles, groups, labels) as literal text


def markdown_table(frame: pd.DataFrame, digits: int = 4, index: bool = False) -> str:
    """A GitHub-style table (no extra dependency); floats to ``digits`` significant places."""
    df = frame.reset_index() if index else frame
    if df.empty:
        return "_(none)_"
    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = ["| " + " | ".join(cell(v, digits) for v in row) + " |"
            for row in df.itertuples(index=False, name=None)]
    return "\n".join([head, rule, *body])


def readable(frame: pd.DataFrame, simulated=(), value_columns=("metric", "measure",
                                                                "group_column")) -> str:
    """A table with words for headers (and for figure names inside ``value_columns``)."""
    df = frame.copy()
    for col in value_columns:
        if col in df.columns:
            df[col] = df[col].map(word)
    df.columns = [word(c) + (" (simulated)" if c in simulated else "") for c in df.columns]
    return markdown_table(df)


def facts(pairs) -> str:
    """"- **Label**: value" lines (numbers formatted like table cells)."""
    return "\n".join(f"- **{k}**: {v if isinstance(v, str) else cell(v)}" for k, v in pairs)


def figures_table(figures: dict, keys=None) -> str:
    """A two-column table of named figures."""
    keys = keys or list(figures)
    return markdown_table(pd.DataFrame({"Figure": [word(k) for k in keys],
                                        "Value": [figures[k] for k in keys]}))


def _pct(x) -> str:
    return "not measured" if x is None or not math.isfinite(float(x)) else f"{100 * x:.1f}%"


# ----- sections -----------------------------------------------------------------------
