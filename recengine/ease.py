"""EASE (Steck 2019): item-item weights from who watched what, and its score function.

The protocol's strongest reference system (recengine.evaluation.baselines), and
the reference the ranking stage's popularity penalty is chosen against while the
pipeline is fitted (recengine.popularity_penalty). In a module of its own, below
both, because fitting the pipeline must not import the evaluation package, which
fits pipelines itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import lapack

#: ``score_fn(user_idx) -> (len(user_idx), n_items)`` scores over the whole catalogue
ScoreFn = Callable[[np.ndarray], np.ndarray]


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


def n_users_of(train: pd.DataFrame, n_users: int | None) -> int:
    return int(n_users) if n_users is not None else int(train["u"].max()) + 1 if len(train) else 0


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
    x = binary_matrix(train, n_users_of(train, n_users), n_items)
    active, b = ease_weights(x, l2)
    xa = x[:, active].tocsr()

    def score_fn(user_idx: np.ndarray) -> np.ndarray:
        rows = xa[np.atleast_1d(user_idx)]
        scores = np.zeros((rows.shape[0], n_items))
        scores[:, active] = rows @ b
        return scores

    return score_fn


__all__ = ["ScoreFn", "binary_matrix", "ease_weights", "fit_ease", "n_users_of"]
