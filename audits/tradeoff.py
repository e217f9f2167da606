"""User value against profit and engagement over a grid of blend weights, with its front.

Each blend setting orders the same candidate pool (:mod:`audits.objectives`);
the served order is reported beside the sweep as the point every setting is
compared with. The sweep is per-block sums (:func:`tradeoff_parts`) and a
summary (:func:`summarise_tradeoff`), so ``python -m audits batch`` runs it over
every user in blocks and gets the in-process figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recengine.batch.sums import exact_partials, exact_total
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


#: the sweep's three figures per shown slot, and the component each one averages
FIGURES = (("mean_predicted_rating", "rating"), ("expected_watch_minutes", "engagement"),
           ("expected_profit", "profit"))


@dataclass
class TradeoffParts:
    """A block of users' share of the sweep: per ordering, exact sums and slot counts.

    The orderings are the served order first, then :func:`weight_grid`'s blends
    in grid order. ``sums[o][figure]`` are the exact partials
    (:func:`~recengine.batch.sums.exact_partials`) of the figure over ordering
    ``o``'s shown slots and ``slots[o]`` how many there were, so blocks add up
    (:func:`merge_tradeoff_parts`) to exactly the one-pass sums whatever the
    blocks were, and the means (:func:`summarise_tradeoff`) are the same floats.
    """

    steps: int
    sums: list[dict[str, tuple[float, ...]]]
    slots: list[int]


def tradeoff_parts(objectives: ObjectiveSet, pool: CandidatePool, k: int,
                   steps: int = 5) -> TradeoffParts:
    """The sweep's sums over ``pool``'s users: each ordering's top ``k``, every shown slot.

    Per user only, so a batch block computes it from the candidate pool it
    already built (``python -m audits batch``); the in-process sweep is this
    over one pool, then :func:`summarise_tradeoff`.
    """
    grid = weight_grid(steps)  # refuses steps < 2 before any ranking
    orders = [objectives.objective(SERVED)] + [objectives.objective("blend", w) for w in grid]
    comps = [objectives.components(c) for c in pool.candidates]
    sums, slots = [], []
    for order in orders:
        positions = rank_pool(pool, order, k)
        sums.append({fig: exact_partials(np.concatenate(
            [comp[key][pos] for comp, pos in zip(comps, positions, strict=True)])
            if positions else np.zeros(0)) for fig, key in FIGURES})
        slots.append(int(sum(len(pos) for pos in positions)))
    return TradeoffParts(int(steps), sums, slots)


def merge_tradeoff_parts(parts: list[TradeoffParts]) -> TradeoffParts:
    """Blocks' parts as one: partials joined (their exact sums add), slot counts added."""
    if not parts:
        raise ValueError("no blocks to merge")
    steps = parts[0].steps
    if any(p.steps != steps for p in parts):
        raise ValueError("blocks swept different grids")
    n = len(parts[0].slots)
    sums = [{fig: tuple(x for p in parts for x in p.sums[o][fig]) for fig, _ in FIGURES}
            for o in range(n)]
    return TradeoffParts(steps, sums, [sum(p.slots[o] for p in parts) for o in range(n)])


def _means(sums: dict[str, tuple[float, ...]], slots: int) -> dict[str, float]:
    """Each figure's mean per shown slot (nan when no slot was shown)."""
    return {fig: exact_total([sums[fig]]) / slots if slots else float("nan")
            for fig, _ in FIGURES}


def summarise_tradeoff(parts: TradeoffParts) -> pd.DataFrame:
    """The sweep's table from its sums: one row per weight triple, the served row first.

    Columns: the weights, mean predicted rating (user value), expected watch
    minutes and expected profit per shown slot; ``pareto`` marks blend settings
    no other blend beats on all three, ``pareto_rating_profit`` and
    ``pareto_rating_engagement`` the fronts of the two 2-D charts.
    """
    rows = [{"setting": "blend", "w_rating": w["rating"], "w_engagement": w["engagement"],
             "w_profit": w["profit"], **_means(sums, slots)}
            for w, sums, slots in zip(weight_grid(parts.steps), parts.sums[1:], parts.slots[1:],
                                      strict=True)]
    out = pd.DataFrame(rows)
    cols = [fig for fig, _ in FIGURES]
    r, e, p = (out[c].to_numpy() for c in cols)
    out["pareto"] = pareto_front(np.column_stack([r, e, p]))
    out["pareto_rating_profit"] = pareto_front(np.column_stack([r, p]))
    out["pareto_rating_engagement"] = pareto_front(np.column_stack([r, e]))
    served_row = pd.DataFrame([{"setting": SERVED, "w_rating": np.nan, "w_engagement": np.nan,
                                "w_profit": np.nan, **_means(parts.sums[0], parts.slots[0]),
                                "pareto": False, "pareto_rating_profit": False,
                                "pareto_rating_engagement": False}])
    return pd.concat([served_row, out], ignore_index=True)


def tradeoff_sweep(objectives: ObjectiveSet, config: ObjectiveAuditConfig | None = None,
                   steps: int = 5, policy=None, pool: CandidatePool | None = None
                   ) -> pd.DataFrame:
    """One row per weight triple, plus the served order's row (``setting == "served"``).

    :func:`tradeoff_parts` over the sampled users' pool, then
    :func:`summarise_tradeoff`: the same two steps ``python -m audits batch``
    runs over blocks of every user, so its sweep equals this one on the same
    users (the means are correctly rounded exact sums over slot counts, the
    same floats however the users were cut into blocks).
    """
    cfg = config or ObjectiveAuditConfig()
    eng = objectives.engine
    if pool is None:
        pool = candidate_pool(eng, sample_users(eng.data.n_users, cfg.n_users, cfg.seed), policy)
    return summarise_tradeoff(tradeoff_parts(objectives, pool, cfg.k, steps))
