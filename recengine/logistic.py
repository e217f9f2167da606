"""One logistic-regression solver for the whole product.

The ranking stage (many features) and the P(watch) calibration (one feature)
are both small, dense logistic regressions, so Newton's method with an L2
penalty solves them exactly in a handful of iterations, with no library whose
defaults (solver, penalty scaling, intercept handling) would have to be pinned.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z) -> np.ndarray:
    """The logistic function, computed without overflow for large ``|z|``."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def fit_logistic(x, y, l2: float = 1.0, iterations: int = 100, tol: float = 1e-10
                 ) -> tuple[np.ndarray, float]:
    """Weights and intercept of ``P(y=1|x) = sigmoid(x.w + b)`` minimising log-loss + l2/2 |w|^2.

    The intercept is not penalised. ``x`` is (n, d) or (n,); returns ``(w, b)``
    with ``w`` of shape (d,).
    """
    x = np.asarray(x, np.float64)
    x = x[:, None] if x.ndim == 1 else x
    y = np.asarray(y, np.float64)
    z = np.c_[x, np.ones(len(x))]
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], float(l2))
    reg[-1] = 0.0
    # a floor on the intercept's curvature keeps separable or one-class data finite
    floor = np.full(z.shape[1], 1e-9)
    for _ in range(iterations):
        p = sigmoid(z @ w)
        grad = z.T @ (p - y) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg + floor)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < tol:
            break
    return w[:-1], float(w[-1])
