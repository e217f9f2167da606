"""The k best items per row of a score matrix, with one tie rule for every system.

Used by the evaluation protocol (recengine.evaluation.metrics re-exports it) and
while the pipeline is fitted (recengine.popularity_penalty); in a module of its
own, below both, so fitting never imports the evaluation package.
"""

from __future__ import annotations

import numpy as np


def _exclusion_mask(exclude, n_rows: int, n_items: int) -> np.ndarray:
    """Bool (n_rows, n_items) from a sparse matrix, a dense mask or per-row item lists."""
    mask = np.zeros((n_rows, n_items), dtype=bool)
    if exclude is None:
        return mask
    if hasattr(exclude, "tocsr"):  # scipy.sparse
        csr = exclude.tocsr()
        if csr.shape != (n_rows, n_items):
            raise ValueError(f"exclude has shape {csr.shape}, scores have {(n_rows, n_items)}")
        rows = np.repeat(np.arange(n_rows), np.diff(csr.indptr))
        mask[rows, csr.indices] = True
        return mask
    if isinstance(exclude, np.ndarray) and exclude.dtype == bool:
        if exclude.shape != (n_rows, n_items):
            raise ValueError(f"exclude has shape {exclude.shape}, scores have {(n_rows, n_items)}")
        return exclude.copy()
    if len(exclude) != n_rows:
        raise ValueError(f"{len(exclude)} exclusion lists for {n_rows} score rows")
    for row, items in enumerate(exclude):
        idx = np.asarray(list(items), dtype=np.int64)
        if idx.size:
            mask[row, idx] = True
    return mask


def topk_from_scores(scores: np.ndarray, exclude=None, k: int = 10) -> np.ndarray:
    """Int (n, k) item indices of the k best candidates per row, best first.

    ``exclude`` (a scipy.sparse matrix or bool array shaped like ``scores``, or
    one item list per row) removes items from the candidates, e.g. the user's
    train items. Rows with fewer than ``k`` candidates are padded with ``-1``.

    Tie rule, so that every run and every system ranks alike: among equal
    scores the lower item index comes first (a stable sort by descending
    score). ``argpartition`` alone is not stable, so the k-th best score is
    found by partition and the items tied with it are taken in index order.
    NaN scores are refused: they are a model bug, not a low score.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (users, items), got shape {scores.shape}")
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    n_rows, n_items = scores.shape
    out = np.full((n_rows, k), -1, dtype=np.int64)
    if n_rows == 0 or n_items == 0:
        return out
    if np.isnan(scores).any():
        bad = np.flatnonzero(np.isnan(scores).any(axis=1))
        raise ValueError(f"NaN scores in rows {bad[:5].tolist()}")
    excluded = _exclusion_mask(exclude, n_rows, n_items)
    work = scores.astype(np.float64, copy=True)
    work[excluded] = -np.inf
    kk = min(k, n_items)
    kth = np.partition(work, n_items - kk, axis=1)[:, n_items - kk][:, None]
    above = work > kth
    tied = (work == kth) & ~excluded
    need = kk - above.sum(axis=1, keepdims=True)
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= need))
    rows, cols = np.nonzero(chosen)  # row-major: item index order within a row
    starts = np.r_[0, np.cumsum(chosen.sum(axis=1))[:-1]]
    pos = np.arange(len(rows)) - starts[rows]
    picked = np.full((n_rows, kk), -1, dtype=np.int64)
    picked_scores = np.full((n_rows, kk), -np.inf)
    picked[rows, pos] = cols
    picked_scores[rows, pos] = work[rows, cols]
    # stable: equal scores keep index order; padding (-inf, placed last) stays last
    order = np.argsort(-picked_scores, axis=1, kind="stable")
    out[:, :kk] = np.take_along_axis(picked, order, axis=1)
    return out


__all__ = ["topk_from_scores"]
