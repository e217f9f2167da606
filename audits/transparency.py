"""What an end user is told: why each item is there, and by what criteria the list was made.

The course: users often assume a site shows what they would like, not what
maximises its profit, so be transparent about the criteria (the EU DSA, Art.
27: the main parameters and their relative importance). Everything here is
read from the :class:`~recengine.results.RecommendationResult` (its ordering
rule, its scores, its provenance and its policy actions), never recomputed, and
phrased as the person receiving the list would read it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from recengine.policy import ContentPolicy
from recengine.reranker import FEATURE_WORDS
from recengine.results import PolicyAction, RecommendationResult

VERBS = {"removed": "hidden", "demoted": "moved to the bottom"}


def rule_phrase(rule: str) -> str:
    """A policy rule name ("label:graphic_violence") as words ("the graphic violence filter")."""
    kind, _, value = rule.partition(":")
    if kind == "label":
        return f"the {value.replace('_', ' ')} filter"
    if kind == "genre":
        return f"the {value} genre filter"
    if kind == "keyword":
        return f"the \"{value}\" keyword filter"
    if kind == "item":
        return f"the block on item {value}"
    return f"the rule {rule}"


def filter_sentence(actions: Sequence[PolicyAction]) -> str:
    """"2 items hidden by the graphic violence filter; 1 item moved to the bottom by ..."."""
    counts = Counter((a.action, a.rule) for a in actions)
    parts = []
    for (action, rule), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        noun = "item" if n == 1 else "items"
        parts.append(f"{n} {noun} {VERBS.get(action, action)} by {rule_phrase(rule)}")
    return "; ".join(parts)


def statement(result: RecommendationResult, policy: ContentPolicy | None = None,
              sponsored_item_ids: Sequence[int] = ()) -> str:
    """The plain-language account of one list: its ordering rule, filters, paid placement."""
    parts = [result.ordering_rule or "Ordered by the service's ranking"]
    filters = filter_sentence(result.filtered)
    if filters:
        shown = len(result.displaced)
        parts.append(filters + (f" ({shown} of them would otherwise have been in this list)"
                                if policy is not None else ""))
    elif policy is not None and not policy.is_empty:
        parts.append("the content filters hid nothing from this list")
    elif policy is not None:
        parts.append("no content filter is active")
    text = "; ".join(parts) + "."
    paid = set(int(x) for x in sponsored_item_ids)
    n_paid = sum(1 for it in result.items if it.item_id in paid)
    if n_paid:
        text += (f" {n_paid} of these {len(result.items)} are sponsored: an advertiser pays "
                 "when you click.")
    return text


def order_is_truthful(result: RecommendationResult) -> bool:
    """Whether the list is in the order its rule states: scores fall, demoted items last."""
    demoted = [it.demoted_by is not None for it in result.items]
    if demoted != sorted(demoted):
        return False
    for group in (False, True):
        scores = [it.score for it, d in zip(result.items, demoted, strict=True) if d == group]
        if any(a < b for a, b in zip(scores, scores[1:], strict=False)):
            return False
    return True


def explain_result(result: RecommendationResult,
                   sponsored_item_ids: Sequence[int] = ()) -> pd.DataFrame:
    """One row per item: rank, title, the score that placed it, why it was retrieved."""
    frame = result.to_frame()[["rank", "item_id", "title", "score", "predicted_rating", "why",
                               "demoted_by"]]
    frame = frame.rename(columns={"score": result.score_meaning or "score"})
    paid = set(int(x) for x in sponsored_item_ids)
    frame["sponsored"] = np.array([int(i) in paid for i in frame["item_id"]], dtype=bool)
    return frame


def contribution_frame(result: RecommendationResult) -> pd.DataFrame:
    """Each item's score split into the ranking stage's features (weight x value), exactly.

    One row per item and feature, with the plain-words name; the contributions
    of an item plus the stage's intercept sum to its score. Empty when the list
    was not ordered by the ranking stage.
    """
    rows = []
    for it in result.items:
        for name, value in (it.contributions or {}).items():
            rows.append({"rank": it.rank, "title": it.title, "feature": name,
                         "meaning": FEATURE_WORDS[name], "contribution": value})
    return pd.DataFrame(rows, columns=["rank", "title", "feature", "meaning", "contribution"])
