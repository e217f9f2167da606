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
from scipy.linalg import lapack

ScoreFn = Callable[[np.ndarray], np.ndarray]
PredictFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def binary_matrix(train: pd.DataFrame, n_users: int, n_items: int) -> sp.csr_matrix:
    """CSR (n_users, n_items) with 1.0 where the user rated the item in train.

    Binary on purpose: the protocol's ranking baselines use who-watched-what,
    not how much they liked it.
    """
    u = train["u"].to_numpy(dtype=np.int64)
    i = train["i"].to_numpy(dtype=np.int64)
    if len(u) and (u.min() < 0 or u.max() >= n_users or i.min() < 0 or i.max() >= n_items):
        raise ValueError(f"train indices out of range for {n_users} users x {n_items} items")
    x = sp.csr_matrix((np.ones(len(u)), (u, i)), shape=(n_users, n_items))
    x.sum_duplicates()
    x.data[:] = 1.0
    return x


def _n_users(train: pd.DataFrame, n_users: int | None) -> int:
    return int(n_users) if n_users is not None else int(train["u"].max()) + 1 if len(train) else 0


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
    x = binary_matrix(train, _n_users(train, n_users), n_items)
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


def ease_weights(x: sp.csr_matrix, l2: float = 300.0) -> tuple[np.ndarray, np.ndarray]:
    """EASE item-item weights (Steck 2019) over the items with train interactions.

    ``P = inv(XᵀX + l2·I)``, ``B = -P / diag(P)`` (column-wise), ``diag(B) = 0``.
    Items nobody rated in train have an all-zero Gram row and column, so their
    block of P is ``I / l2`` and their weights are exactly zero: dropping them
    from the solve changes nothing and saves the cubic cost. Returns the kept
    item indices and B over them. float64 throughout, with a Cholesky inverse
    (the Gram matrix plus ``l2·I`` is symmetric positive definite).
    """
    active = np.flatnonzero(np.asarray(x.getnnz(axis=0)) > 0)
    xa = x[:, active]
    # Fortran order lets LAPACK work in place: one n x n buffer for Gram, factor and P
    gram = (xa.T @ xa).toarray(order="F").astype(np.float64, copy=False)
    gram[np.diag_indices_from(gram)] += l2
    chol, info = lapack.dpotrf(gram, lower=True, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE Gram matrix is not positive definite (info={info})")
    p, info = lapack.dpotri(chol, lower=True, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE inverse failed (info={info})")
    _mirror_lower(p)
    b = p
    b *= (-1.0 / np.diag(b))[None, :]
    b[np.diag_indices_from(b)] = 0.0
    return active, b


def _mirror_lower(a: np.ndarray, block: int = 1024) -> None:
    """Copy the lower triangle onto the upper one in place, a block of rows at a time.

    LAPACK's inverse fills one triangle; mirroring by blocks avoids the two extra
    n x n temporaries that ``tril(a) + tril(a, -1).T`` would allocate.
    """
    n = a.shape[0]
    for r0 in range(0, n, block):
        r1 = min(r0 + block, n)
        diag = a[r0:r1, r0:r1]
        diag[:] = np.tril(diag) + np.tril(diag, -1).T
        a[r0:r1, r1:] = a[r1:, r0:r1].T


def fit_ease(train: pd.DataFrame, n_items: int, n_users: int | None = None,
             l2: float = 300.0) -> ScoreFn:
    """EASE on the binary train matrix: scores ``X · B``, zero for never-rated items."""
    x = binary_matrix(train, _n_users(train, n_users), n_items)
    active, b = ease_weights(x, l2)
    xa = x[:, active].tocsr()

    def score_fn(user_idx: np.ndarray) -> np.ndarray:
        rows = xa[np.atleast_1d(user_idx)]
        scores = np.zeros((rows.shape[0], n_items))
        scores[:, active] = rows @ b
        return scores

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
    n_users = _n_users(train, n_users)
    u = train["u"].to_numpy(dtype=np.int64)
    i = train["i"].to_numpy(dtype=np.int64)
    r = train["rating"].to_numpy(dtype=np.float64)
    mu = float(r.mean())
    item_bias = _group_mean(i, r - mu, n_items)
    user_bias = _group_mean(u, r - mu - item_bias[i], n_users)
    return BiasModel(mu=mu, item_bias=item_bias, user_bias=user_bias)
