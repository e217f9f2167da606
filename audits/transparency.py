"""What an end user is told: why each item is there, and by what criteria the list was made.

The course: users often assume a site shows what they would like, not what
maximises its profit, so be transparent about the criteria. Everything here is
read from the :class:`~recengine.results.RecommendationResult` (its provenance
and its policy actions), never recomputed, and phrased as the person receiving
the list would read it: "Ranked by predicted enjoyment; 2 items hidden by the
graphic violence filter."
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from recengine.policy import ContentPolicy
from recengine.results import PolicyAction, RecommendationResult

OBJECTIVE_PHRASES = {
    "rating": "predicted enjoyment (the rating we expect you to give)",
    "engagement": "expected watch time",
    "profit": "expected revenue to this service, including paid placement",
}
VERBS = {"removed": "hidden", "demoted": "moved to the bottom"}


def objective_phrase(objective: str, weights: dict[str, float] | None = None) -> str:
    """"Ranked by ..." for an objective name; a blend lists its weights in percent."""
    if objective == "blend":
        w = {k: v for k, v in (weights or {}).items() if v > 0}
        total = sum(w.values()) or 1.0
        parts = [f"{round(100 * v / total)}% {OBJECTIVE_PHRASES[k].split(' (')[0]}"
                 for k, v in sorted(w.items(), key=lambda kv: -kv[1])]
        return "Ranked by a mix of " + ", ".join(parts) if parts else "Ranked by a mix"
    phrase = OBJECTIVE_PHRASES.get(objective, objective)
    return f"Ranked by {phrase}"


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
              weights: dict[str, float] | None = None,
              sponsored_item_ids: Sequence[int] = ()) -> str:
    """The plain-language account of one list: objective, filters, paid placement."""
    parts = [objective_phrase(result.objective, weights)]
    filters = filter_sentence(result.filtered)
    if filters:
        parts.append(filters)
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


def explain_result(result: RecommendationResult,
                   sponsored_item_ids: Sequence[int] = ()) -> pd.DataFrame:
    """One row per recommended item: rank, title, why (its sources), demotion, sponsorship."""
    frame = result.to_frame()[["rank", "item_id", "title", "predicted_rating", "why",
                               "demoted_by"]]
    paid = set(int(x) for x in sponsored_item_ids)
    frame["sponsored"] = np.array([int(i) in paid for i in frame["item_id"]], dtype=bool)
    return frame
