"""The protocol's reference systems: popularity, item-kNN, EASE and the bias baseline.

Every model figure is reported next to these, fitted in the same run on the
same train split, so a figure means something only relative to them. Each
``fit_*`` takes train interactions (columns ``u``, ``i``, ``rating``) and the
catalogue size and returns plain closures:

* ``score_fn(user_idx) -> (len(user_idx), n_items)`` float scores over the whole
  catalogue (ranking systems);
* ``predict_fn(u, i) -> ratings`` (the rating system).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

# EASE lives below the evaluation package (recengine.ease): the pipeline's fitting uses it too
from ..ease import ScoreFn, binary_matrix, n_users_of
from ..ease import ease_weights as ease_weights
from ..ease import fit_ease as fit_ease

PredictFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def fit_popularity(train: pd.DataFrame, n_items: int, n_users: int | None = None) -> ScoreFn:
    """Every user gets the items ranked by train interaction count."""
    counts = np.bincount(train["i"].to_numpy(dtype=np.int64), minlength=n_items)
    counts = counts.astype(np.float64)

    def score_fn(user_idx: np.ndarray) -> np.ndarray:
        return np.broadcast_to(counts, (len(np.atleast_1d(user_idx)), n_items)).copy()

    return score_fn


def fit_itemknn(train: pd.DataFrame, n_items: int, n_users: int | None = None) -> ScoreFn:
    """Score = sum over the user's train items of cosine(item column, candidate column).

    Cosine on the binary matrix, self-similarity zeroed. The item-item matrix is
    never formed: ``x_u D⁻¹ Xᵀ X D⁻¹`` (D = column norms) equals the sum of
    similarities, and the zeroed diagonal is exactly ``x_u`` (cos(i, i) = 1 for
    every item with a train interaction), so memory stays O(ratings).
    """
    x = binary_matrix(train, n_users_of(train, n_users), n_items)
    norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    xn = (x @ sp.diags(inv)).tocsr()  # columns scaled by 1/||col||
    xt = x.T.tocsr()

    def score_fn(user_idx: np.ndarray) -> np.ndarray:
        rows = xn[np.atleast_1d(user_idx)]
        # (x_u D⁻¹ Xᵀ) X D⁻¹: per-user weights over co-raters, then over items
        weights = rows @ xt
        scores = np.asarray((weights @ xn).todense())
        return scores - x[np.atleast_1d(user_idx)].toarray()

    return score_fn


@dataclass(frozen=True)
class BiasModel:
    """Global mean + item bias + user bias, each a mean of residuals on train.

    Fitted in the protocol's order: ``b_i = mean(r - mu)`` per item, then
    ``b_u = mean(r - mu - b_i)`` per user. Unseen users and items get bias 0.
    """

    mu: float
    item_bias: np.ndarray
    user_bias: np.ndarray

    def predict(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=np.int64)
        i = np.asarray(i, dtype=np.int64)
        bu = np.zeros(len(u))
        ok = (u >= 0) & (u < len(self.user_bias))
        bu[ok] = self.user_bias[u[ok]]
        bi = np.zeros(len(i))
        ok = (i >= 0) & (i < len(self.item_bias))
        bi[ok] = self.item_bias[i[ok]]
        return self.mu + bi + bu


def _group_mean(idx: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    sums = np.bincount(idx, weights=values, minlength=size)
    counts = np.bincount(idx, minlength=size)
    return np.divide(sums, counts, out=np.zeros(size), where=counts > 0)


def fit_bias(train: pd.DataFrame, n_items: int, n_users: int | None = None) -> BiasModel:
    """The bias rating baseline (see :class:`BiasModel`)."""
    if len(train) == 0:
        raise ValueError("the bias baseline needs at least one train rating")
    n_users = n_users_of(train, n_users)
    u = train["u"].to_numpy(dtype=np.int64)
    i = train["i"].to_numpy(dtype=np.int64)
    r = train["rating"].to_numpy(dtype=np.float64)
    mu = float(r.mean())
    item_bias = _group_mean(i, r - mu, n_items)
    user_bias = _group_mean(u, r - mu - item_bias[i], n_users)
    return BiasModel(mu=mu, item_bias=item_bias, user_bias=user_bias)
