"""The rating head: shrunk user and item biases around the towers' match score.

Why closed form instead of a second Adam stage: the rating a user gives is
mostly *who rates* (a user's offset) and *what is rated* (an item's offset);
the classic answer is a biased model with each offset shrunk towards 0 by a
pseudo-count, ``b = sum(residuals) / (n + shrink)``. Its optimum is a ridge
regression, so block coordinate descent reaches it exactly in a few numpy
passes, and the shrinkage can be chosen on a validation split in seconds
(the Adam stage fitted offsets with a fixed, untuned L2 and linear user
biases over features that contain each training row's own rating).

The prediction, in the scaled units the network trains on (``[-1, 1]``)::

    z = scale * (v_u . v_m) + offset + b_u + b_i
    b_i = content_i . w + e_i                 (cold items: e_i = 0, content only)
    b_u = sum_j (y_uj - scale*s_uj - offset - b_j) / (n_u + user_shrink)

``b_u`` is a function of the user's ratings and vector, so a known user, a
refreshed history, a counterfactual history and a visitor with three ratings
all get their bias from :func:`user_bias_from_ratings`, the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the metadata key a bundle stores its head under (absent: an older, Keras-head bundle)
METADATA_KEY = "rating_head"
KIND = "shrunk_biases"
#: the item-feature column holding the item's train mean rating (FeatureSpec.item_matrix:
#: year, mean rating, log count, ...); tests/test_rating_head.py checks it against the spec
ITEM_MEAN_COLUMN = 1


@dataclass
class RatingHeadConfig:
    """Shrinkage grids searched on the validation split, and the solver's passes."""

    user_shrinks: tuple[float, ...] = (0.5, 2.0, 5.0, 15.0, 40.0)
    item_shrinks: tuple[float, ...] = (0.5, 2.0, 5.0, 15.0, 40.0)
    #: ridge weight on the item-content coefficients ``w`` (per row of data)
    content_ridge: float = 1.0
    iterations: int = 25

    def __post_init__(self):
        self.user_shrinks = tuple(float(x) for x in self.user_shrinks)
        self.item_shrinks = tuple(float(x) for x in self.item_shrinks)
        for name in ("user_shrinks", "item_shrinks"):
            values = getattr(self, name)
            if not values or min(values) < 0:
                raise ValueError(f"RatingHeadConfig.{name} must be non-empty and >= 0, "
                                 f"got {values}")


@dataclass
class BiasedHead:
    """A fitted head: everything serving needs to turn ``v_u . v_m`` into a rating."""

    scale: float
    offset: float
    item_bias: np.ndarray  # (n_items,) content_i . w + e_i, scaled units
    user_shrink: float
    item_shrink: float
    #: per-user biases of the rows it was fitted on (dense user index)
    user_bias: np.ndarray | None = None

    def describe(self) -> dict:
        """What the bundle's metadata keeps (arrays live in the bundle itself)."""
        return {"kind": KIND, "scale": self.scale, "offset": self.offset,
                "user_shrink": self.user_shrink, "item_shrink": self.item_shrink}

    def predict(self, dots: np.ndarray, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        """Scaled predictions for rows (needs the fitted ``user_bias``)."""
        return self.scale * dots + self.offset + self.user_bias[u] + self.item_bias[i]


def user_bias_from_ratings(scale: float, offset: float, user_shrink: float,
                           dots: np.ndarray, item_bias: np.ndarray, y: np.ndarray) -> float:
    """One user's shrunk mean residual: 0 with no ratings, the full mean as n grows."""
    dots = np.asarray(dots, np.float64)
    if dots.size == 0:
        return 0.0
    resid = np.asarray(y, np.float64) - scale * dots - offset - np.asarray(item_bias, np.float64)
    return float(resid.sum() / (dots.size + user_shrink))


def _group_shrunk_mean(group: np.ndarray, values: np.ndarray, n: int, shrink: float
                       ) -> np.ndarray:
    total = np.bincount(group, weights=values, minlength=n)
    denom = np.bincount(group, minlength=n) + shrink
    return np.divide(total, denom, out=np.zeros(n), where=denom > 0)


def fit_biased_head(dots: np.ndarray, u: np.ndarray, i: np.ndarray, y: np.ndarray,
                    content: np.ndarray, n_users: int, user_shrink: float, item_shrink: float,
                    content_ridge: float = 1.0, iterations: int = 25) -> BiasedHead:
    """Jointly fit scale, offset, ``w``, the item offsets and the user biases on rows.

    Minimises ``sum (y - z)^2 + user_shrink * |b_u|^2 + item_shrink * |e|^2 +
    content_ridge * |w|^2`` by exact block updates (each block's least-squares
    solution given the others); the objective is convex, so the passes
    converge to its unique minimum.
    """
    dots = np.asarray(dots, np.float64)
    y = np.asarray(y, np.float64)
    u = np.asarray(u, np.int64)
    i = np.asarray(i, np.int64)
    content = np.asarray(content, np.float64)
    n_items = len(content)
    if not (len(dots) == len(u) == len(i) == len(y)) or len(y) == 0:
        raise ValueError("fit_biased_head needs equally long, non-empty dots, u, i and y")
    bu = np.zeros(n_users)
    e = np.zeros(n_items)
    w = np.zeros(content.shape[1])
    design = np.c_[dots, np.ones_like(dots)]
    gram = design.T @ design + 1e-9 * np.eye(2)
    xc = content[i]
    cgram = xc.T @ xc + content_ridge * np.eye(content.shape[1])
    scale = offset = 0.0
    for _ in range(iterations):
        bi = content @ w + e
        scale, offset = np.linalg.solve(gram, design.T @ (y - bu[u] - bi[i]))
        base = y - scale * dots - offset - bu[u]
        w = np.linalg.solve(cgram, xc.T @ (base - e[i]))
        e = _group_shrunk_mean(i, base - (content @ w)[i], n_items, item_shrink)
        bi = content @ w + e
        bu = _group_shrunk_mean(u, y - scale * dots - offset - bi[i], n_users, user_shrink)
    return BiasedHead(float(scale), float(offset), (content @ w + e).astype(np.float32),
                      float(user_shrink), float(item_shrink), bu.astype(np.float32))


def choose_shrinkage(fit_rows: dict, val_rows: dict, content: np.ndarray, n_users: int,
                     cfg: RatingHeadConfig) -> tuple[float, float, dict[str, float]]:
    """The (user, item) shrinkage with the lowest validation RMSE (scaled units).

    ``fit_rows`` and ``val_rows`` hold ``dots``, ``u``, ``i``, ``y``; validation
    users' biases come from their fit rows only, as a test user's come from train.
    """
    scores: dict[str, float] = {}
    best = (np.inf, cfg.user_shrinks[0], cfg.item_shrinks[0])
    for lu in cfg.user_shrinks:
        for li in cfg.item_shrinks:
            head = fit_biased_head(fit_rows["dots"], fit_rows["u"], fit_rows["i"],
                                   fit_rows["y"], content, n_users, lu, li,
                                   cfg.content_ridge, cfg.iterations)
            pred = head.predict(val_rows["dots"], val_rows["u"], val_rows["i"])
            rmse = float(np.sqrt(np.mean((np.clip(pred, -1, 1) - val_rows["y"]) ** 2)))
            scores[f"user {lu:g} item {li:g}"] = rmse
            if rmse < best[0]:
                best = (rmse, lu, li)
    return best[1], best[2], scores


def item_content(item_x: np.ndarray, leaky_columns: tuple[int, ...]) -> np.ndarray:
    """Item features the item bias may read (the head's offset is the intercept).

    ``leaky_columns`` (the train mean rating) are dropped: a training row's own
    rating is inside that average, so a weight learned on it over-trusts it.
    """
    keep = np.setdiff1d(np.arange(item_x.shape[1]), np.asarray(leaky_columns, np.int64))
    return np.asarray(item_x, np.float64)[:, keep]


__all__ = ["BiasedHead", "ITEM_MEAN_COLUMN", "KIND", "METADATA_KEY", "RatingHeadConfig",
           "choose_shrinkage", "fit_biased_head", "item_content", "user_bias_from_ratings"]
