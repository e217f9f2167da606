"""Figures of recommendation lists, each written once: exposure, diversity, calibration.

Every audit (objectives, content filter, bias) and the model card read these,
so "coverage" or "Gini" means one computation wherever it is shown. Each is a
small numpy function over dense item indices that can be checked by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from .evaluation.metrics import coverage_at_k


def gini(values) -> float:
    """Gini coefficient of non-negative values (0: equal exposure, near 1: one item gets all).

    Mean absolute difference over all ordered pairs / (2 x mean); items never
    shown count as zeros, so pass the whole catalogue's exposure counts.
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    if n == 0 or x.sum() <= 0:
        return 0.0
    # sum_i sum_j |x_i - x_j| = 2 * sum_i (2i - n + 1) x_(i) for sorted x (i from 0)
    total = 2.0 * np.sum((2 * np.arange(n) - n + 1) * x)
    return float(total / (2.0 * n * n * x.mean()))


def intra_list_diversity(vectors: np.ndarray) -> float:
    """``1 - mean pairwise cosine`` of a list's item vectors ``v_m`` (nan below 2 items).

    Uses the model's own item space, so "diverse" means what the model treats
    as different, on any data set (genres need not exist).
    """
    v = np.asarray(vectors, dtype=np.float64)
    if len(v) < 2:
        return float("nan")
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sims = v @ v.T
    iu = np.triu_indices(len(v), k=1)
    return float(1.0 - sims[iu].mean())


def catalogue_coverage(lists: Sequence[Sequence[int]], n_items: int) -> float:
    """Distinct items across all lists / catalogue size (the protocol's Coverage@k)."""
    return coverage_at_k([list(lst) for lst in lists], n_items, k=max(
        (len(lst) for lst in lists), default=0))


def jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    """``|A ∩ B| / |A ∪ B|`` of two lists as sets (1.0 when both are empty)."""
    sa, sb = {int(x) for x in a}, {int(x) for x in b}
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def exposure_counts(lists: Sequence[Sequence[int]], n_items: int) -> np.ndarray:
    """How many lists show each item (catalogue order)."""
    flat = np.fromiter((int(j) for lst in lists for j in lst), dtype=np.int64)
    return np.bincount(flat, minlength=n_items)


def long_tail_mask(popularity, head_share: float = 0.2) -> np.ndarray:
    """True for the long tail: items outside the ``ceil(head_share x n)`` most popular.

    Ties in popularity break towards the lower item index, so the head has
    exactly that many items and the split is reproducible.
    """
    pop = np.asarray(popularity, dtype=np.float64)
    n_head = int(np.ceil(head_share * len(pop)))
    order = np.lexsort((np.arange(len(pop)), -pop))
    tail = np.ones(len(pop), dtype=bool)
    tail[order[:n_head]] = False
    return tail


def share_in(items: Sequence[int], mask: np.ndarray) -> float:
    """Share of a list's slots whose item is in ``mask`` (nan for an empty list)."""
    items = np.asarray(items, dtype=np.int64)
    return float(mask[items].mean()) if len(items) else float("nan")


def mean_popularity(items: Sequence[int], popularity: np.ndarray) -> float:
    """Mean train popularity of a list's items (nan for an empty list)."""
    items = np.asarray(items, dtype=np.int64)
    return float(np.asarray(popularity, float)[items].mean()) if len(items) else float("nan")


def genre_distribution(items: Sequence[int], genre_matrix: np.ndarray) -> np.ndarray:
    """Genre shares of a list: each item spreads weight 1 evenly over its genres.

    Steck's (2018) ``p(g|i)``; items with no genre add nothing. All zeros when
    nothing in the list has a genre.
    """
    gm = np.asarray(genre_matrix, dtype=np.float64)[np.asarray(items, dtype=np.int64)]
    per_item = gm / np.maximum(gm.sum(axis=1, keepdims=True), 1.0)
    dist = per_item.sum(axis=0)
    total = dist.sum()
    return dist / total if total > 0 else dist


def kl_divergence(p, q) -> float:
    """``sum p log(p / q)`` over ``p > 0`` (natural log); inf where q = 0 < p."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    pos = p > 0
    if np.any(q[pos] <= 0):
        return float("inf")
    return float(np.sum(p[pos] * np.log(p[pos] / q[pos])))


def calibration_kl(history_dist, rec_dist, alpha: float = 0.01) -> float:
    """Miscalibration ``KL(p || q~)`` with Steck's smoothing ``q~ = (1 - alpha) q + alpha p``.

    ``p``: genre shares of the user's history, ``q``: of their recommendations.
    The smoothing keeps the figure finite when the list misses a genre the user
    watches, while still penalising it heavily. 0 means perfectly calibrated.
    """
    p, q = np.asarray(history_dist, float), np.asarray(rec_dist, float)
    return kl_divergence(p, (1.0 - alpha) * q + alpha * p)


def pairwise_overlap(lists_by_name: dict[str, Sequence[Sequence[int]]]) -> pd.DataFrame:
    """Mean per-user Jaccard overlap between every pair of named list sets (same users)."""
    names = list(lists_by_name)
    out = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for a, b in combinations(names, 2):
        vals = [jaccard(x, y) for x, y in zip(lists_by_name[a], lists_by_name[b], strict=True)]
        out.loc[a, b] = out.loc[b, a] = float(np.mean(vals)) if vals else np.nan
    return out
