"""The content policy audited: what reaches users with and without it, and at what cost.

The course: maximising engagement has amplified harmful content because it
engages; the amelioration is to filter it, though the definitions are tricky.
This module measures both halves on the running pipeline rather than assuming
them: whether the engagement objective shows flagged (labelled) items more
often than the rating objective and than their share of the catalogue, and
what the pipeline's :class:`~recengine.policy.ContentPolicy` removes, for which
rule, and what that costs each objective in its own terms.

On synthetic data the link between labels and engagement is a documented knob
(``SyntheticConfig.harm_engagement_boost``); on other data labels may be
simulated (:mod:`audits.business`) and the figures say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recengine.policy import ContentPolicy

from .bias import sample_users
from .objectives import (
    OBJECTIVES,
    CandidatePool,
    ObjectiveAuditConfig,
    ObjectiveModel,
    candidate_pool,
    rank_pool,
    slot_frame,
)

#: each objective's own figure: what the policy costs it
OWN_TERMS = {"rating": "mean_predicted_rating", "engagement": "expected_watch_minutes",
             "profit": "expected_profit", "blend": "mean_predicted_rating"}


def flagged_exposure(lists: list[np.ndarray], flagged: np.ndarray) -> dict:
    """How much flagged content a set of lists shows.

    ``flagged_slots``: list positions holding a flagged item; ``flagged_items``:
    distinct flagged items shown; ``users_with_flagged``: lists with at least
    one; ``flagged_share``: flagged slots / all slots.
    """
    slots = sum(int(flagged[np.asarray(lst, np.int64)].sum()) for lst in lists)
    total = sum(len(lst) for lst in lists)
    items = {int(j) for lst in lists for j in lst if flagged[int(j)]}
    users = sum(1 for lst in lists if flagged[np.asarray(lst, np.int64)].any())
    return {"flagged_slots": slots, "flagged_items": len(items), "users_with_flagged": users,
            "users_with_flagged_share": users / len(lists) if lists else float("nan"),
            "flagged_share": slots / total if total else float("nan")}


def amplification_ratio(share: float, reference: float) -> float:
    """``share / reference``: > 1 means shown more often than the reference (nan if it is 0)."""
    return share / reference if reference > 0 else float("nan")


@dataclass
class Amplification:
    """Flagged share of shown slots per objective, against rating and the catalogue."""

    catalogue_share: float
    candidate_share: float  # among what retrieval offered the sampled users
    shares: dict[str, float]  # objective -> flagged share of its lists (no policy)

    def ratio_vs_rating(self, objective: str = "engagement") -> float:
        return amplification_ratio(self.shares[objective], self.shares["rating"])

    def ratio_vs_catalogue(self, objective: str = "engagement") -> float:
        return amplification_ratio(self.shares[objective], self.catalogue_share)

    def to_dict(self) -> dict:
        return {"catalogue_share": self.catalogue_share, "candidate_share": self.candidate_share,
                "shares": dict(self.shares),
                "engagement_vs_rating": self.ratio_vs_rating("engagement"),
                "engagement_vs_catalogue": self.ratio_vs_catalogue("engagement"),
                "profit_vs_rating": self.ratio_vs_rating("profit")}


def measure_amplification(model: ObjectiveModel, config: ObjectiveAuditConfig | None = None,
                          pool: CandidatePool | None = None) -> Amplification:
    """Does an objective show flagged items more than the rating objective does? Measured."""
    cfg = config or ObjectiveAuditConfig()
    eng, flagged = model.engine, model.business.flagged
    if pool is None:
        pool = candidate_pool(eng, sample_users(eng.data.n_users, cfg.n_users, cfg.seed))
    shares = {name: flagged_exposure(rank_pool(model, pool, model.objective(name, cfg.weights),
                                               cfg.k), flagged)["flagged_share"]
              for name in OBJECTIVES}
    cands = np.concatenate(pool.candidates) if pool.candidates else np.zeros(0, np.int64)
    return Amplification(float(flagged.mean()),
                         float(flagged[cands].mean()) if len(cands) else float("nan"), shares)


@dataclass
class ContentFilterAudit:
    """With vs without the policy, per objective; the cost; every action with its rule."""

    comparison: pd.DataFrame  # objective, policy ("without"/"with"), exposure and value figures
    cost: pd.DataFrame  # objective, measure, without, with, lost, lost_share
    actions: pd.DataFrame  # user_id, item_id, title, action, rule, shown_without_<objective>
    amplification: Amplification
    lists: dict[str, dict[str, list[np.ndarray]]]  # "without"/"with" -> objective -> lists
    policy: str  # the policy in plain words
    simulated: list[str]
    users: np.ndarray


def policy_actions(model: ObjectiveModel, users: np.ndarray, policy: ContentPolicy, k: int,
                   lists_without: dict[str, list[np.ndarray]]) -> pd.DataFrame:
    """Every candidate the policy removed or demoted, per user, from the engine's results.

    ``shown_without_<objective>`` says whether the item would have been in that
    objective's top ``k`` had there been no policy.
    """
    data = model.engine.data
    rows = []
    for pos, u in enumerate(np.asarray(users).tolist()):
        uid = int(data.users["user_id"].iloc[u])
        result = model.engine.recommend(uid, k, policy)
        shown = {name: set(data.items["item_id"].to_numpy()[lists[pos]].tolist())
                 for name, lists in lists_without.items()}
        for act in result.filtered:
            row = {"user_id": uid, "item_id": act.item_id, "title": act.title,
                   "action": act.action, "rule": act.rule}
            for name in lists_without:
                row[f"shown_without_{name}"] = act.item_id in shown[name]
            rows.append(row)
    cols = ["user_id", "item_id", "title", "action", "rule",
            *[f"shown_without_{n}" for n in lists_without]]
    return pd.DataFrame(rows, columns=cols)


def audit_content_filter(model: ObjectiveModel, policy: ContentPolicy,
                         config: ObjectiveAuditConfig | None = None) -> ContentFilterAudit:
    """Each objective with and without ``policy`` on the same sampled users."""
    cfg = config or ObjectiveAuditConfig()
    eng, biz = model.engine, model.business
    users = sample_users(eng.data.n_users, cfg.n_users, cfg.seed)
    pools = {"without": candidate_pool(eng, users, None),
             "with": candidate_pool(eng, users, policy)}
    lists: dict[str, dict[str, list[np.ndarray]]] = {"without": {}, "with": {}}
    rows = []
    for name in OBJECTIVES:
        objective = model.objective(name, cfg.weights)
        for state, pool in pools.items():
            lst = rank_pool(model, pool, objective, cfg.k)
            lists[state][name] = lst
            slots = slot_frame(model, users, lst, name)
            rows.append({"objective": name, "policy": state,
                         **flagged_exposure(lst, biz.flagged),
                         "mean_predicted_rating": float(slots["predicted_rating"].mean()),
                         "expected_watch_minutes": float(slots["expected_watch_minutes"].mean()),
                         "expected_profit": float(slots["expected_profit"].mean())})
    comparison = pd.DataFrame(rows)
    cost_rows = []
    for name in OBJECTIVES:
        measure = OWN_TERMS[name]
        sel = comparison[comparison["objective"] == name].set_index("policy")[measure]
        lost = float(sel["without"] - sel["with"])
        cost_rows.append({"objective": name, "measure": measure, "without": float(sel["without"]),
                          "with": float(sel["with"]), "lost": lost,
                          "lost_share": lost / sel["without"] if sel["without"] else np.nan})
    shares = {name: float(comparison[(comparison["objective"] == name)
                                     & (comparison["policy"] == "without")]["flagged_share"]
                          .iloc[0]) for name in OBJECTIVES}
    cands = np.concatenate(pools["without"].candidates) if len(users) else np.zeros(0, np.int64)
    amp = Amplification(float(biz.flagged.mean()),
                        float(biz.flagged[cands].mean()) if len(cands) else float("nan"), shares)
    # an empty policy acts on nothing: skip the per-user requests
    actions = policy_actions(model, users if not policy.is_empty else users[:0], policy, cfg.k,
                             lists["without"])
    simulated = [c for c in biz.simulated if c in ("labels", "watch_minutes", "price", "margin",
                                                   "sponsored_bid")]
    return ContentFilterAudit(comparison, pd.DataFrame(cost_rows), actions, amp, lists,
                              policy.describe(), simulated, users)

