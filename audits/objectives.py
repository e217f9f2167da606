"""The served order against predicted rating, engagement, profit and blends: what changes.

The served list (the learned ranking stage, :meth:`Engine.recommend`) is the
baseline every figure is compared with. The alternatives come from
:mod:`recengine.objectives` and order the very same
:class:`~recengine.candidates.Candidates` the served list was cut from, so a
difference between two rows is the objective's doing and nothing else.

Watch minutes, prices, margins, bids and labels are often simulated
(:mod:`recengine.business`); every figure that rests on them says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recengine.candidates import Candidates
from recengine.engine import Engine
from recengine.list_metrics import (
    catalogue_coverage,
    exposure_counts,
    gini,
    intra_list_diversity,
    long_tail_mask,
    pairwise_overlap,
)
from recengine.objectives import DEFAULT_WEIGHTS, OBJECTIVES, SERVED, ObjectiveSet
from recengine.policy import ContentPolicy
from recengine.ranking import Objective, rank_candidates

#: which business columns each figure rests on (to label simulated figures)
RESTS_ON = {
    "mean_predicted_rating": (),
    "expected_watch_minutes": ("watch_minutes",),
    "expected_profit": ("price", "margin", "sponsored_bid"),
    "flagged_share": ("labels",),
    "sponsored_share": ("sponsored_bid",),
}


def sample_users(n_users_total: int, n: int, seed: int = 0) -> np.ndarray:
    """Dense indices of ``n`` users drawn without replacement (all, in order, when n >= total)."""
    if n >= n_users_total:
        return np.arange(n_users_total, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_users_total, size=n, replace=False)).astype(np.int64)


# ----- candidates once, rankings many times -------------------------------------------
@dataclass
class CandidatePool:
    """Each sampled user's candidates after retrieval and policy, exactly as served."""

    users: np.ndarray  # dense user indices
    candidates: list[Candidates]


def candidate_pool(engine: Engine, users, policy: ContentPolicy | None = None
                   ) -> CandidatePool:
    """The engine's own candidates for each user (what :meth:`Engine.recommend` ranks)."""
    users = np.asarray(users, np.int64)
    return CandidatePool(users, [engine.candidates_at(int(u), policy) for u in users.tolist()])


def rank_pool(pool: CandidatePool, objective: Objective, k: int) -> list[np.ndarray]:
    """Positions of each user's top ``k`` under ``objective`` (into their candidates)."""
    return [rank_candidates(c, k, objective) for c in pool.candidates]


def pool_lists(pool: CandidatePool, positions: list[np.ndarray]) -> list[np.ndarray]:
    """Dense item indices of ranked positions."""
    return [c.items[p] for c, p in zip(pool.candidates, positions, strict=True)]


# ----- the audit ----------------------------------------------------------------------
@dataclass
class ObjectiveAuditConfig:
    """Sample size, list length and blend weights; small defaults for the app."""

    n_users: int = 200
    k: int = 10
    seed: int = 0
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    head_share: float = 0.2


@dataclass
class ObjectiveAudit:
    """Per-objective figures (served first), overlaps, every shown slot, what is simulated."""

    metrics: pd.DataFrame  # index: objective
    overlap: pd.DataFrame  # objective x objective mean Jaccard
    slots: pd.DataFrame  # one row per (objective, user, rank)
    lists: dict[str, list[np.ndarray]]
    users: np.ndarray  # dense user indices
    simulated: dict[str, list[str]]  # figure -> simulated columns it rests on
    provenance: dict[str, str]
    calibration: str
    rules: dict[str, str]  # objective -> its ordering rule in words
    config: ObjectiveAuditConfig


def slot_frame(objectives: ObjectiveSet, pool: CandidatePool, positions: list[np.ndarray],
               objective: str) -> pd.DataFrame:
    """One row per shown slot: the user, rank and every objective's figure for the item."""
    data, biz = objectives.engine.data, objectives.business
    frames = []
    for u, cands, pos in zip(pool.users.tolist(), pool.candidates, positions, strict=True):
        comp = objectives.components(cands)
        items = cands.items[pos]
        frames.append(pd.DataFrame({
            "objective": objective, "user_id": int(data.users["user_id"].iloc[u]),
            "rank": np.arange(1, len(pos) + 1), "item_idx": items,
            "item_id": data.items["item_id"].to_numpy()[items],
            "served_score": comp["served"][pos], "predicted_rating": comp["rating"][pos],
            "p_watch": comp["p_watch"][pos],
            "expected_watch_minutes": comp["engagement"][pos],
            "expected_profit": comp["profit"][pos],
            "flagged": biz.flagged[items], "sponsored": biz.sponsored[items],
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def list_metrics(slots: pd.DataFrame, lists: list[np.ndarray], item_vectors: np.ndarray,
                 n_items: int, tail: np.ndarray) -> dict:
    """One objective's figures: means per shown slot, exposure, diversity, coverage."""
    ild = [intra_list_diversity(item_vectors[lst]) for lst in lists]
    flat = np.concatenate(lists) if lists else np.zeros(0, np.int64)
    return {
        "mean_predicted_rating": float(slots["predicted_rating"].mean()),
        "expected_watch_minutes": float(slots["expected_watch_minutes"].mean()),
        "expected_profit": float(slots["expected_profit"].mean()),
        "flagged_share": float(slots["flagged"].mean()),
        "sponsored_share": float(slots["sponsored"].mean()),
        "long_tail_share": float(tail[flat].mean()) if len(flat) else float("nan"),
        "exposure_gini": gini(exposure_counts(lists, n_items)),
        "intra_list_diversity": float(np.nanmean(ild)) if lists else float("nan"),
        "coverage": catalogue_coverage(lists, n_items),
    }


def simulated_figures(objectives: ObjectiveSet) -> dict[str, list[str]]:
    """Figure -> the simulated columns it rests on (only figures resting on any)."""
    sim = set(objectives.simulated_columns)
    out = {fig: [c for c in cols if c in sim] for fig, cols in RESTS_ON.items()}
    return {fig: cols for fig, cols in out.items() if cols}


def audit_objectives(objectives: ObjectiveSet, config: ObjectiveAuditConfig | None = None,
                     policy: ContentPolicy | None = None,
                     pool: CandidatePool | None = None) -> ObjectiveAudit:
    """Top-K under the served order and each alternative for a user sample.

    Per objective: mean predicted rating, expected watch minutes and expected
    profit per shown slot, flagged and sponsored shares, long-tail share, Gini
    of exposure over the catalogue, intra-list diversity (``1 - mean pairwise
    cosine`` of ``v_m``) and coverage; and the mean per-user Jaccard overlap
    between every pair, so "how far is X from what users get" is one cell.
    """
    cfg = config or ObjectiveAuditConfig()
    eng = objectives.engine
    if pool is None:
        pool = candidate_pool(eng, sample_users(eng.data.n_users, cfg.n_users, cfg.seed), policy)
    lists, slots = objective_slots(objectives, pool, cfg)
    return summarise_objectives(objectives, pool.users, lists, slots, cfg)


def objective_slots(objectives: ObjectiveSet, pool: CandidatePool,
                    config: ObjectiveAuditConfig) -> tuple[dict[str, list[np.ndarray]],
                                                           dict[str, pd.DataFrame]]:
    """Each objective's lists and shown slots (:func:`slot_frame`) for the pool's users."""
    lists, slots = {}, {}
    for name in OBJECTIVES:
        positions = rank_pool(pool, objectives.objective(name, config.weights), config.k)
        lists[name] = pool_lists(pool, positions)
        slots[name] = slot_frame(objectives, pool, positions, name)
    return lists, slots


def summarise_objectives(objectives: ObjectiveSet, users: np.ndarray,
                         lists: dict[str, list[np.ndarray]], slots: dict[str, pd.DataFrame],
                         config: ObjectiveAuditConfig) -> ObjectiveAudit:
    """The audit from every user's lists and slots (:func:`objective_slots`).

    Apart from :func:`audit_objectives` so the lists can be ranked elsewhere
    (``python -m audits batch`` ranks them on workers, for every user) and
    summarised by this one function.
    """
    eng = objectives.engine
    popularity = np.bincount(eng.history["i"].to_numpy(), minlength=eng.data.n_items)
    tail = long_tail_mask(popularity, config.head_share)
    rows = {name: list_metrics(slots[name], lists[name], eng.item_vectors, eng.data.n_items,
                               tail) for name in OBJECTIVES}
    rules = {name: objectives.objective(name, config.weights).rule for name in OBJECTIVES}
    metrics = pd.DataFrame.from_dict(rows, orient="index")
    metrics.index.name = "objective"
    overlap = pairwise_overlap(lists)
    metrics["overlap_with_served"] = overlap[SERVED]
    return ObjectiveAudit(metrics, overlap,
                          pd.concat([slots[name] for name in OBJECTIVES], ignore_index=True),
                          lists, np.asarray(users, np.int64), simulated_figures(objectives),
                          dict(objectives.business.provenance), objectives.watch.describe(),
                          rules, config)
