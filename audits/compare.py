"""One user's served list beside every alternative objective, with why each item moved.

Every list here is :meth:`Engine.recommend`'s real result: the served one with
no objective, the alternatives with theirs. What an alternative promotes or
drops is said relative to the served list, in the alternative's own terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recengine.objectives import (
    ALTERNATIVES,
    BASE_OBJECTIVES,
    OBJECTIVES,
    PLAIN,
    SERVED,
    ObjectiveSet,
    minmax,
    normalise_weights,
)
from recengine.policy import ContentPolicy


@dataclass
class UserComparison:
    """One user's lists under every objective and what each alternative changed, with why."""

    user_id: int
    lists: dict[str, pd.DataFrame]  # objective -> the result's table plus business figures
    changes: pd.DataFrame  # objective, change (promoted/dropped), item_id, title, reason
    results: dict  # objective -> RecommendationResult


def promotion_reason(objective: str, row: dict) -> str:
    """Why an alternative put an item in the list that the served order left out."""
    if objective == "engagement":
        text = (f"promoted by engagement: expected watch {row['expected_watch_minutes']:.1f} min "
                f"(P(watch) {row['p_watch']:.3f} x {row['watch_minutes']:.0f} min)")
    elif objective == "profit":
        parts = []
        if row["sponsored_bid"] > 0:
            parts.append(f"sponsored bid {row['sponsored_bid']:.2f}")
        parts += [f"margin {row['margin']:.2f}", f"price {row['price']:.2f}"]
        text = "promoted by profit: " + ", ".join(parts)
    elif objective == "blend":
        shares = {o: row.get(f"blend_{o}", 0.0) for o in BASE_OBJECTIVES}
        top = max(shares, key=shares.get)
        text = f"promoted by the blend, mostly through {PLAIN[top]}"
    else:
        text = f"promoted by {objective}: predicted rating {row['predicted_rating']:.2f}"
    if row.get("labels"):
        text += f"; labelled {row['labels'].replace('|', ', ')}"
    return text


def drop_reason(objective: str, row: dict, kept_min: float) -> str:
    """Why an item the served list shows fell out under an alternative."""
    key = {"engagement": "expected_watch_minutes", "profit": "expected_profit",
           "rating": "predicted_rating"}.get(objective)
    if key is None:
        return (f"dropped by {objective}: predicted rating {row['predicted_rating']:.2f}, "
                "but its blended score was below the list's")
    return (f"dropped by {objective}: its {key.replace('_', ' ')} {row[key]:.2f} is below "
            f"{kept_min:.2f}, the lowest kept")


def compare_user(objectives: ObjectiveSet, user_id: int, k: int = 10,
                 policy: ContentPolicy | None = None,
                 weights: dict[str, float] | None = None) -> UserComparison:
    """The user's served list and each alternative's (the engine's real results), and changes."""
    eng, biz = objectives.engine, objectives.business
    w = normalise_weights(weights)
    cands = eng.candidates(user_id, policy)
    comp = objectives.components(cands)
    tables, results = {}, {}
    for name in OBJECTIVES:
        res = eng.recommend(user_id, k, policy, objectives.objective(name, w))
        results[name] = res
        frame = res.to_frame()
        idx = (eng.data.item_index(frame["item_id"].to_numpy()) if len(frame)
               else np.zeros(0, np.int64))
        pos = np.array([cands.position(j) for j in idx.tolist()], np.int64)
        frame["p_watch"] = comp["p_watch"][pos]
        frame["expected_watch_minutes"] = comp["engagement"][pos]
        frame["expected_profit"] = comp["profit"][pos]
        for col in ("price", "margin", "sponsored_bid", "watch_minutes", "labels"):
            frame[col] = getattr(biz, col)[idx]
        for o in BASE_OBJECTIVES:  # each component's weighted share of the blend score
            frame[f"blend_{o}"] = w[o] * minmax(comp[o])[pos]
        tables[name] = frame
    changes = []
    base = tables[SERVED]
    base_ids = set(base["item_id"].tolist())
    for name in ALTERNATIVES:
        frame = tables[name]
        ids = set(frame["item_id"].tolist())
        for row in frame[~frame["item_id"].isin(base_ids)].to_dict("records"):
            changes.append({"objective": name, "change": "promoted", "item_id": row["item_id"],
                            "title": row["title"], "reason": promotion_reason(name, row)})
        key = {"engagement": "expected_watch_minutes", "profit": "expected_profit",
               "rating": "predicted_rating"}.get(name)
        kept_min = float(frame[key].min()) if key and len(frame) else float("nan")
        for row in base[~base["item_id"].isin(ids)].to_dict("records"):
            changes.append({"objective": name, "change": "dropped", "item_id": row["item_id"],
                            "title": row["title"], "reason": drop_reason(name, row, kept_min)})
    return UserComparison(int(user_id), tables,
                          pd.DataFrame(changes, columns=["objective", "change", "item_id",
                                                         "title", "reason"]), results)
