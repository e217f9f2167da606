"""User value against profit and engagement over a grid of blend weights, with its front.

Each blend setting orders the same candidate pool (:mod:`audits.objectives`);
the served order is reported beside the sweep as the point every setting is
compared with.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recengine.objectives import SERVED, ObjectiveSet

from .objectives import (
    CandidatePool,
    ObjectiveAuditConfig,
    candidate_pool,
    rank_pool,
    sample_users,
)


def weight_grid(steps: int = 5) -> list[dict[str, float]]:
    """Every (rating, engagement, profit) weight triple on a simplex grid of ``steps`` levels.

    ``steps=3`` gives weights in {0, 0.5, 1} summing to 1: six settings.
    """
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    n = steps - 1
    return [{"rating": a / n, "engagement": b / n, "profit": (n - a - b) / n}
            for a in range(n, -1, -1) for b in range(n - a, -1, -1)]


def pareto_front(points) -> np.ndarray:
    """True for points no other point beats: >= on every column and > on one (maximise)."""
    p = np.asarray(points, np.float64)
    keep = np.ones(len(p), dtype=bool)
    for a in range(len(p)):
        ge = np.all(p >= p[a], axis=1)
        gt = np.any(p > p[a], axis=1)
        if np.any(ge & gt):
            keep[a] = False
    return keep


def _means(objectives: ObjectiveSet, pool: CandidatePool, positions) -> dict[str, float]:
    vals = {"rating": [], "engagement": [], "profit": []}
    for cands, pos in zip(pool.candidates, positions, strict=True):
        comp = objectives.components(cands)
        for key in vals:
            vals[key].append(comp[key][pos])
    cat = {key: np.concatenate(v) if v else np.zeros(0) for key, v in vals.items()}
    return {"mean_predicted_rating": float(cat["rating"].mean()),
            "expected_watch_minutes": float(cat["engagement"].mean()),
            "expected_profit": float(cat["profit"].mean())}


def tradeoff_sweep(objectives: ObjectiveSet, config: ObjectiveAuditConfig | None = None,
                   steps: int = 5, policy=None, pool: CandidatePool | None = None
                   ) -> pd.DataFrame:
    """One row per weight triple, plus the served order's row (``setting == "served"``).

    Columns: the weights, mean predicted rating (user value), expected watch
    minutes and expected profit per shown slot; ``pareto`` marks blend settings
    no other blend beats on all three, ``pareto_rating_profit`` and
    ``pareto_rating_engagement`` the fronts of the two 2-D charts.
    """
    cfg = config or ObjectiveAuditConfig()
    eng = objectives.engine
    if pool is None:
        pool = candidate_pool(eng, sample_users(eng.data.n_users, cfg.n_users, cfg.seed), policy)
    rows = []
    for w in weight_grid(steps):
        positions = rank_pool(pool, objectives.objective("blend", w), cfg.k)
        rows.append({"setting": "blend", "w_rating": w["rating"],
                     "w_engagement": w["engagement"], "w_profit": w["profit"],
                     **_means(objectives, pool, positions)})
    out = pd.DataFrame(rows)
    cols = ["mean_predicted_rating", "expected_watch_minutes", "expected_profit"]
    r, e, p = (out[c].to_numpy() for c in cols)
    out["pareto"] = pareto_front(np.column_stack([r, e, p]))
    out["pareto_rating_profit"] = pareto_front(np.column_stack([r, p]))
    out["pareto_rating_engagement"] = pareto_front(np.column_stack([r, e]))
    served = _means(objectives, pool, rank_pool(pool, objectives.objective(SERVED), cfg.k))
    served_row = pd.DataFrame([{"setting": SERVED, "w_rating": np.nan, "w_engagement": np.nan,
                                "w_profit": np.nan, **served, "pareto": False,
                                "pareto_rating_profit": False,
                                "pareto_rating_engagement": False}])
    return pd.concat([served_row, out], ignore_index=True)
