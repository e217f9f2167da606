"""The protocol's metrics (../shared/EVALUATION.md), as plain numpy functions.

Kept free of data frames and models so that every figure the project reports
goes through the same few lines, and those lines can be checked by hand.

Conventions shared by the ranking metrics:

* A top-K list is a sequence of item indices, best first. A list may be
  shorter than ``k`` (fewer candidates than ``k``); in a 2-D array, negative
  entries are padding and never count as hits.
* Users with no relevant items have an undefined recall and NDCG: the per-user
  functions give ``nan`` for them and the aggregated ones leave them out of the
  average, as the protocol says ("averaged over users with at least one
  relevant test item").
* The denominators use ``min(|relevant|, k)`` even when the list is shorter
  than ``k``: a system that cannot fill its list is not rewarded for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

# the one top-k rule lives below the evaluation package (recengine.topk)
from ..topk import topk_from_scores as topk_from_scores

TopK = Sequence[Sequence[int]] | np.ndarray
Relevant = Sequence[Iterable[int]]


def hit_matrix(topk_items: TopK, relevant_items: Relevant, k: int = 10) -> np.ndarray:
    """Bool (n_users, k): whether the item at each rank is relevant to its user.

    The one place that reads lists and relevance sets, so padding, short lists
    and duplicates are handled once for every metric.
    """
    if len(topk_items) != len(relevant_items):
        raise ValueError(f"{len(topk_items)} top-k lists but {len(relevant_items)} "
                         "relevance sets: one of each per user is needed")
    hits = np.zeros((len(topk_items), k), dtype=bool)
    for row, (items, rel) in enumerate(zip(topk_items, relevant_items, strict=True)):
        rel_set = {int(x) for x in rel}
        seen: set[int] = set()
        for rank, item in enumerate(list(items)[:k]):
            item = int(item)
            # a duplicate in a list cannot earn a second hit
            if item >= 0 and item in rel_set and item not in seen:
                hits[row, rank] = True
            seen.add(item)
    return hits


def relevant_counts(relevant_items: Relevant) -> np.ndarray:
    """Number of distinct relevant items per user."""
    return np.array([len({int(x) for x in rel}) for rel in relevant_items], dtype=np.int64)


def recall_from_hits(hits: np.ndarray, n_relevant: np.ndarray, k: int = 10) -> np.ndarray:
    """Per-user ``hits / min(|relevant|, k)``; ``nan`` where nothing is relevant."""
    hits = np.asarray(hits, dtype=bool)[:, :k]
    n_relevant = np.asarray(n_relevant, dtype=np.float64)
    denom = np.minimum(n_relevant, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = hits.sum(axis=1) / denom
    out[n_relevant <= 0] = np.nan
    return out


def ndcg_from_hits(hits: np.ndarray, n_relevant: np.ndarray, k: int = 10) -> np.ndarray:
    """Per-user NDCG: binary gains, ``1 / log2(rank + 1)`` discounts (rank from 1).

    The ideal DCG places ``min(|relevant|, k)`` hits at the top; ``nan`` where
    nothing is relevant.
    """
    hits = np.asarray(hits, dtype=bool)[:, :k]
    n_relevant = np.asarray(n_relevant, dtype=np.int64)
    discounts = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    dcg = hits.astype(np.float64)[:, : hits.shape[1]] @ discounts[: hits.shape[1]]
    ideal_cum = np.r_[0.0, np.cumsum(discounts)]
    idcg = ideal_cum[np.minimum(np.maximum(n_relevant, 0), k)]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = dcg / idcg
    out[n_relevant <= 0] = np.nan
    return out


def mean_over_users(per_user: np.ndarray) -> float:
    """Average over users with a defined value (``nan`` = no relevant items).

    Returns ``nan`` when no user has a relevant item, rather than a misleading 0.
    """
    per_user = np.asarray(per_user, dtype=np.float64)
    valid = ~np.isnan(per_user)
    return float(per_user[valid].mean()) if valid.any() else float("nan")


def recall_at_k_per_user(topk_items: TopK, relevant_items: Relevant, k: int = 10) -> np.ndarray:
    """Per-user Recall@k = hits in the top k / ``min(|relevant|, k)``; ``nan`` if none relevant."""
    return recall_from_hits(hit_matrix(topk_items, relevant_items, k),
                            relevant_counts(relevant_items), k)


def recall_at_k(topk_items: TopK, relevant_items: Relevant, k: int = 10) -> float:
    """Recall@k averaged over users with at least one relevant item."""
    return mean_over_users(recall_at_k_per_user(topk_items, relevant_items, k))


def ndcg_at_k_per_user(topk_items: TopK, relevant_items: Relevant, k: int = 10) -> np.ndarray:
    """Per-user NDCG@k (see :func:`ndcg_from_hits`); ``nan`` if none relevant."""
    return ndcg_from_hits(hit_matrix(topk_items, relevant_items, k),
                          relevant_counts(relevant_items), k)


def ndcg_at_k(topk_items: TopK, relevant_items: Relevant, k: int = 10) -> float:
    """NDCG@k averaged over users with at least one relevant item."""
    return mean_over_users(ndcg_at_k_per_user(topk_items, relevant_items, k))


def coverage_at_k(all_topk_lists: TopK, n_items: int, k: int = 10) -> float:
    """Distinct items across all users' top-k lists / catalogue size.

    Measures how much of the catalogue a system ever shows; padding (negative
    entries) is not an item.
    """
    if n_items <= 0:
        raise ValueError(f"n_items must be positive, got {n_items}")
    shown: set[int] = set()
    if isinstance(all_topk_lists, np.ndarray):
        arr = np.asarray(all_topk_lists)[:, :k].ravel()
        shown.update(np.unique(arr[arr >= 0]).tolist())
    else:
        for items in all_topk_lists:
            shown.update(int(x) for x in list(items)[:k] if int(x) >= 0)
    return len(shown) / n_items


def _clipped(predictions, targets, rating_scale: tuple[float, float] | None):
    pred = np.asarray(predictions, dtype=np.float64)
    true = np.asarray(targets, dtype=np.float64)
    if pred.shape != true.shape:
        raise ValueError(f"{pred.shape} predictions but {true.shape} targets")
    if pred.size == 0:
        raise ValueError("no ratings to score")
    if np.isnan(pred).any():
        raise ValueError(f"{int(np.isnan(pred).sum())} predictions are NaN")
    if rating_scale is not None:
        pred = np.clip(pred, rating_scale[0], rating_scale[1])
    return pred, true


def rmse(predictions, targets, rating_scale: tuple[float, float] | None = None) -> float:
    """Root mean squared error; predictions clipped to ``rating_scale`` first.

    Clipping is the protocol's rule: no system may lose (or win) points by
    predicting outside the scale the users could answer on.
    """
    pred, true = _clipped(predictions, targets, rating_scale)
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def mae(predictions, targets, rating_scale: tuple[float, float] | None = None) -> float:
    """Mean absolute error; predictions clipped to ``rating_scale`` first."""
    pred, true = _clipped(predictions, targets, rating_scale)
    return float(np.mean(np.abs(pred - true)))


