"""The protocol's cold-start items: can a model rank items nobody rated?

A seeded random 10% of the catalogue loses every rating (train or test) before
fitting; only their content features stay known. Each user then ranks the cold
items alone, and the figures are set beside a random ranking's, because among
cold items popularity and collaborative signal say nothing: only content can.

Which ratings the model sees: the protocol's temporal *train* split minus every
rating of a cold item (the warm test ratings stay held out as in the main
protocol). Which ratings are evaluated: every rating of a cold item, train or
test (the cold test set).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..schema import Dataset
from ..split import cold_item_split, temporal_split
from .metrics import topk_from_scores

#: ``score_fn(user_idx, item_idx) -> (len(user_idx), len(item_idx))`` scores.
ColdScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: ``fit(train_interactions, train_data) -> ColdScoreFn``; ``train_data`` is the full
#: catalogue (content features of cold items included) with those train ratings only.
ColdFit = Callable[[pd.DataFrame, Dataset], ColdScoreFn]


def auc_with_ties(pos_scores: np.ndarray, neg_scores: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counting one half.

    ``nan`` when either side is empty (the probability is undefined).
    """
    pos = np.asarray(pos_scores, dtype=np.float64)
    neg = np.sort(np.asarray(neg_scores, dtype=np.float64))
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    below = np.searchsorted(neg, pos, side="left")
    at_most = np.searchsorted(neg, pos, side="right")
    return float((below + 0.5 * (at_most - below)).sum() / (pos.size * neg.size))


def random_recall(n_relevant: np.ndarray, n_candidates: int, k: int = 10) -> np.ndarray:
    """Expected Recall@k of a uniformly random ranking, per user.

    A random top-k holds each candidate with probability ``min(k, C) / C``, so
    ``E[hits] = R * min(k, C) / C`` and the recall is that over ``min(R, k)``.
    """
    r = np.asarray(n_relevant, dtype=np.float64)
    shown = min(k, n_candidates) / n_candidates
    return r * shown / np.minimum(r, k)


def evaluate_cold_items(data: Dataset, fit_cold_scorer: ColdFit, seed: int = 0, k: int = 10,
                        fraction: float = 0.1, threshold: float = 4.0,
                        batch_size: int = 256) -> dict:
    """Recall@k among cold items vs random, and the cold-item AUC.

    Users evaluated: those with at least one cold rating ``>= threshold``. Every
    cold item is a candidate for every user (none of them is in train, so there
    is nothing to exclude). AUC negatives are the cold items the user never
    rated at all; cold items rated below the threshold are neither positive nor
    negative. Users who rated every cold item have no negatives and are left
    out of the AUC average.
    """
    cs = cold_item_split(data, fraction=fraction, seed=seed)
    cold_items = np.asarray(cs.cold_items, dtype=np.int64)
    if cold_items.size == 0:
        raise ValueError(f"no cold items: fraction {fraction} of {data.n_items} items is empty")
    is_cold = np.zeros(data.n_items, dtype=bool)
    is_cold[cold_items] = True
    train = temporal_split(data.interactions).train
    train = train[~is_cold[train["i"].to_numpy()]]
    score_fn = fit_cold_scorer(train, data.with_interactions(train))

    cold = cs.cold
    position = np.full(data.n_items, -1, dtype=np.int64)
    position[cold_items] = np.arange(cold_items.size)
    liked = cold[cold["rating"] >= threshold]
    rated_by_user = {int(u): position[g.to_numpy()] for u, g in cold.groupby("u")["i"]}
    liked_by_user = {int(u): position[g.to_numpy()] for u, g in liked.groupby("u")["i"]}
    users = np.array(sorted(liked_by_user), dtype=np.int64)
    n_cold = cold_items.size

    recalls, aucs = [], []
    for start in range(0, len(users), batch_size):
        batch = users[start:start + batch_size]
        scores = np.asarray(score_fn(batch, cold_items), dtype=np.float64)
        if scores.shape != (len(batch), n_cold):
            raise ValueError(f"cold score_fn returned shape {scores.shape}, expected "
                             f"{(len(batch), n_cold)}")
        top = topk_from_scores(scores, None, k)
        for row, u in enumerate(batch):
            pos = liked_by_user[int(u)]
            hits = np.isin(top[row], pos).sum()
            recalls.append(hits / min(len(pos), k))
            negative = np.ones(n_cold, dtype=bool)
            negative[rated_by_user[int(u)]] = False
            aucs.append(auc_with_ties(scores[row, pos], scores[row, negative]))

    n_rel = np.array([len(liked_by_user[int(u)]) for u in users])
    recall = float(np.mean(recalls)) if recalls else float("nan")
    rand = float(np.mean(random_recall(n_rel, n_cold, k))) if len(users) else float("nan")
    auc_arr = np.asarray(aucs, dtype=np.float64)
    auc_ok = ~np.isnan(auc_arr)
    return {
        f"recall@{k}": recall,
        f"random_recall@{k}": rand,
        "ratio": recall / rand if rand > 0 else float("nan"),
        "auc": float(auc_arr[auc_ok].mean()) if auc_ok.any() else float("nan"),
        "random_auc": 0.5,
        "users": int(len(users)),
        "auc_users": int(auc_ok.sum()),
        "cold_items": int(n_cold),
        "cold_ratings": int(len(cold)),
        "train": int(len(train)),
    }
