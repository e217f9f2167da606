"""The content policy audited: what reaches users with and without it, and at what cost.

The course: maximising engagement has amplified harmful content because it
engages; the amelioration is to filter it, though the definitions are tricky.
This module measures both halves on the served pipeline rather than assuming
them: whether engagement shows flagged (labelled) items more often than the
served order and than their share of the catalogue, and what the pipeline's
:class:`~recengine.policy.ContentPolicy` removes, for which rule, and what that
costs each objective in its own terms.

The policy and this audit read the same labels (the data's, or the simulated
ones :func:`recengine.business.attach_business` attached once, marked so). The
counts separate what a user would have **seen** (shown slots removed or demoted)
from candidates the policy caught deeper in the retrieval pool.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recengine.objectives import OBJECTIVES, SERVED, ObjectiveSet
from recengine.policy import ContentPolicy

from .objectives import (
    CandidatePool,
    ObjectiveAuditConfig,
    candidate_pool,
    pool_lists,
    rank_pool,
    sample_users,
    slot_frame,
)

#: each objective's own figure: what the policy costs it
OWN_TERMS = {SERVED: "mean_predicted_rating", "rating": "mean_predicted_rating",
             "engagement": "expected_watch_minutes", "profit": "expected_profit",
             "blend": "mean_predicted_rating"}


def label_names(labels) -> list[str]:
    """The distinct content labels in a "|"-joined label column."""
    return sorted({t for v in labels for t in str(v).split("|") if t.strip()})


def block_every_label(objectives: ObjectiveSet) -> ContentPolicy:
    """The comparison a page opens with: every content label the data carries, removed."""
    return ContentPolicy(blocked_labels=tuple(label_names(objectives.business.labels)))


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
    """Flagged share of shown slots per objective, against the served order and the catalogue."""

    catalogue_share: float
    candidate_share: float  # among what retrieval offered the sampled users
    shares: dict[str, float]  # objective -> flagged share of its lists (no policy)

    def ratio_vs_served(self, objective: str = "engagement") -> float:
        return amplification_ratio(self.shares[objective], self.shares[SERVED])

    def ratio_vs_catalogue(self, objective: str = "engagement") -> float:
        return amplification_ratio(self.shares[objective], self.catalogue_share)

    def to_dict(self) -> dict:
        return {"catalogue_share": self.catalogue_share, "candidate_share": self.candidate_share,
                "shares": dict(self.shares),
                "engagement_vs_served": self.ratio_vs_served("engagement"),
                "engagement_vs_catalogue": self.ratio_vs_catalogue("engagement"),
                "profit_vs_served": self.ratio_vs_served("profit")}


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
    #: served order: shown slots the policy emptied or demoted vs candidates it caught
    counts: dict[str, int]


def policy_actions(pools: dict[str, CandidatePool], lists_without: dict[str, list[np.ndarray]],
                   objectives: ObjectiveSet) -> pd.DataFrame:
    """Every candidate the policy caught, per user, and which lists it would have been in."""
    data = objectives.engine.data
    ids = data.items["item_id"].to_numpy()
    rows = []
    for pos, (u, cands) in enumerate(zip(pools["with"].users.tolist(), pools["with"].candidates,
                                         strict=True)):
        uid = int(data.users["user_id"].iloc[u])
        shown = {name: set(ids[lists[pos]].tolist()) for name, lists in lists_without.items()}
        for act in cands.actions:
            row = {"user_id": uid, "item_id": act.item_id, "title": act.title,
                   "action": act.action, "rule": act.rule}
            for name in lists_without:
                row[f"shown_without_{name}"] = act.item_id in shown[name]
            rows.append(row)
    cols = ["user_id", "item_id", "title", "action", "rule",
            *[f"shown_without_{n}" for n in lists_without]]
    return pd.DataFrame(rows, columns=cols)


def content_filter_parts(objectives: ObjectiveSet, users: np.ndarray, policy: ContentPolicy,
                         cfg: ObjectiveAuditConfig, pool: CandidatePool | None = None,
                         pool_policy: ContentPolicy | None = None) -> dict:
    """One block of users' share of the audit: every list and slot, with and without ``policy``.

    Per user only, so blocks of users (``python -m audits batch``) concatenate
    into exactly what one pass over all of them gives (:func:`merge_content_parts`).
    ``pool`` is these users' candidates under ``pool_policy`` (None: no policy),
    already built by the caller: it stands in for the side it equals.
    """
    eng = objectives.engine

    def side(wanted: ContentPolicy | None) -> CandidatePool:
        if pool is not None and _same_policy(pool_policy, wanted):
            return pool
        return candidate_pool(eng, users, wanted)

    pools = {"without": side(None), "with": side(policy)}
    lists: dict[str, dict[str, list[np.ndarray]]] = {"without": {}, "with": {}}
    slots: dict[str, dict[str, pd.DataFrame]] = {"without": {}, "with": {}}
    for name in OBJECTIVES:
        objective = objectives.objective(name, cfg.weights)
        for state, pool in pools.items():
            positions = rank_pool(pool, objective, cfg.k)
            lists[state][name] = pool_lists(pool, positions)
            slots[state][name] = slot_frame(objectives, pool, positions, name)
    cands = (np.concatenate([c.items for c in pools["without"].candidates]) if len(users)
             else np.zeros(0, np.int64))
    return {"lists": lists, "slots": slots, "candidates": cands,
            "actions": policy_actions(pools, lists["without"], objectives)}


def _same_policy(a: ContentPolicy | None, b: ContentPolicy | None) -> bool:
    """Whether two policies (None or empty: none) filter the same way."""
    a = None if a is None or a.is_empty else a
    b = None if b is None or b.is_empty else b
    return a == b


def merge_content_parts(parts: list[dict]) -> dict:
    """Blocks' parts, in user order, as one part."""
    states = ("without", "with")
    return {"lists": {st: {n: [x for p in parts for x in p["lists"][st][n]] for n in OBJECTIVES}
                      for st in states},
            "slots": {st: {n: pd.concat([p["slots"][st][n] for p in parts], ignore_index=True)
                           for n in OBJECTIVES} for st in states},
            "candidates": np.concatenate([p["candidates"] for p in parts]),
            "actions": pd.concat([p["actions"] for p in parts], ignore_index=True)}


def summarise_content_filter(objectives: ObjectiveSet, users: np.ndarray,
                             policy: ContentPolicy, parts: dict,
                             cfg: ObjectiveAuditConfig) -> ContentFilterAudit:
    """The audit's figures from its parts (one pass, or merged blocks)."""
    biz = objectives.business
    lists, rows = parts["lists"], []
    for name in OBJECTIVES:
        for state in ("without", "with"):
            slots = parts["slots"][state][name]
            rows.append({"objective": name, "policy": state,
                         **flagged_exposure(lists[state][name], biz.flagged),
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
    without = comparison[comparison["policy"] == "without"].set_index("objective")
    shares = {name: float(without.loc[name, "flagged_share"]) for name in OBJECTIVES}
    cands = parts["candidates"]
    amp = Amplification(float(biz.flagged.mean()),
                        float(biz.flagged[cands].mean()) if len(cands) else float("nan"), shares)
    actions = parts["actions"]
    shown = actions[f"shown_without_{SERVED}"] if len(actions) else pd.Series([], dtype=bool)
    counts = {"candidates_caught": int(len(actions)),
              "shown_slots_removed": int((shown & (actions["action"] == "removed")).sum()),
              "shown_slots_demoted": int((shown & (actions["action"] == "demoted")).sum()),
              "users": int(len(users)), "k": int(cfg.k)}
    simulated = [c for c in biz.simulated if c in ("labels", "watch_minutes", "price", "margin",
                                                   "sponsored_bid")]
    return ContentFilterAudit(comparison, pd.DataFrame(cost_rows), actions, amp, lists,
                              policy.describe(), simulated, users, counts)


def audit_content_filter(objectives: ObjectiveSet, policy: ContentPolicy,
                         config: ObjectiveAuditConfig | None = None) -> ContentFilterAudit:
    """Each objective with and without ``policy`` on the same sampled users."""
    cfg = config or ObjectiveAuditConfig()
    users = sample_users(objectives.engine.data.n_users, cfg.n_users, cfg.seed)
    parts = content_filter_parts(objectives, users, policy, cfg)
    return summarise_content_filter(objectives, users, policy, parts, cfg)
