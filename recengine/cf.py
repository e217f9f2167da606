"""Collaborative filtering (issue 7): the seeds' model beside the two-tower one.

Each item gets a learned vector ``x(i)``, each user a linear model ``w(j), b(j)``;
the prediction is ``w(j).x(i) + b(j)``, plus the item's train mean when ratings
are mean-normalised. Learned from ratings alone: no genres, cast or
demographics, so an item nobody rated keeps ``x = 0`` (predicted its mean) and a
user who rated nothing keeps ``w = 0, b = 0`` (predicted the item means); that
is the method's cold-start limit, shown rather than hidden.

Binary variant (``CFConfig.binary``): labels ``rating >= like_threshold``
through a sigmoid with the logistic loss. Mean normalisation is not applied
there: the logistic loss needs targets in {0, 1}, and ``y - mean`` is not; a
new user in this variant is therefore predicted ``sigmoid(0) = 0.5`` everywhere.

The model is also a :class:`recengine.scoring.Scorer`: the augmented vectors
``[x(i), 1, mean_i]`` and ``[w(j), b(j), 1]`` make the dot product the
prediction. Unlike the two-tower's, these vectors are NOT L2-normalised: their
length carries the rating, so normalising would change the predictions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .bundle_io import BundleError, read_bundle, write_bundle
from .cf_training import CFConfig, fit_cf_parameters
from .schema import DataError, Dataset
from .scoring import UserProfile, history_users_one_by_one

__all__ = ["CFConfig", "CFModel", "train_cf", "save_cf", "load_cf"]

KIND = "cf"
ARRAYS = "arrays.npz"


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


@dataclass
class CFModel:
    """Learned ``x``, ``w``, ``b`` with the item means and the provenance to check data."""

    x: np.ndarray  # (n_items, k) item vectors
    w: np.ndarray  # (n_users, k) user weights
    b: np.ndarray  # (n_users,) user biases
    item_mean: np.ndarray  # (n_items,) added back; zeros when not mean-normalised
    item_counts: np.ndarray  # (n_items,) train ratings per item; 0 = never rated
    item_ids: np.ndarray  # (n_items,) catalogue ids, for profiles given by item id
    config: CFConfig
    rating_scale: tuple[float, float] = (0.5, 5.0)
    history: list[float] = field(default_factory=list)
    fingerprint: str = ""
    data_source: str = ""

    def __post_init__(self) -> None:
        k = self.x.shape[1]
        # the Scorer view, precomputed once: [x, 1, mean] . [w, b, 1] = prediction
        self.item_vectors = np.hstack([self.x, np.ones((len(self.x), 1), np.float32),
                                       self.item_mean[:, None]]).astype(np.float32)
        self._item_pos = pd.Series(np.arange(len(self.item_ids)), index=self.item_ids)
        # the rest of the Scorer protocol: the user bias b(j) lives inside the vectors
        self.item_bias = np.zeros(len(self.x), np.float32)
        self.extras: dict = {}
        self.metadata: dict = {"kind": KIND, "config": asdict(self.config)}
        if self.w.shape[1] != k or self.b.shape != (len(self.w),):
            raise ValueError(f"cf arrays disagree: x {self.x.shape}, w {self.w.shape}, "
                             f"b {self.b.shape}")

    @property
    def n_items(self) -> int:
        return len(self.x)

    @property
    def n_users(self) -> int:
        return len(self.w)

    # ----- predictions ---------------------------------------------------------------
    def _raw(self, u_idx, i_idx) -> np.ndarray:
        u, i = np.asarray(u_idx), np.asarray(i_idx)
        return (np.sum(self.w[u] * self.x[i], axis=-1) + self.b[u] + self.item_mean[i])

    def predict(self, u_idx, i_idx) -> np.ndarray:
        """Ratings clipped to the data's scale, or like-probabilities in the binary variant."""
        return self.to_rating(self._raw(u_idx, i_idx))

    def scores_for_user(self, u_idx: int) -> np.ndarray:
        """Raw scores of every item (n_items,), unclipped so the top of the scale has no ties."""
        return self.item_vectors @ self.user_vector(u_idx)

    def related_items(self, item_idx: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items whose ``x`` is nearest by squared distance (self excluded).

        Items never rated in train are left out: their ``x`` is zero by
        construction, so "close" would only mean "nobody rated either".
        """
        d = np.sum((self.x - self.x[int(item_idx)]) ** 2, axis=1)
        d[int(item_idx)] = np.inf
        d[self.item_counts == 0] = np.inf
        n = min(int(n), int(np.isfinite(d).sum()))
        top = np.argpartition(d, n - 1)[:n] if n > 0 else np.zeros(0, np.int64)
        top = top[np.argsort(d[top], kind="stable")]
        return top.astype(np.int64), d[top]

    # ----- the Scorer protocol -------------------------------------------------------
    def user_vector(self, user_idx: int) -> np.ndarray:
        u = int(user_idx)
        return np.concatenate([self.w[u], [self.b[u], 1.0]]).astype(np.float32)

    def new_user_vector(self, profile: UserProfile) -> np.ndarray:
        """``[w, b, 1]`` for a visitor: fitted to their ratings with ``x`` fixed.

        No ratings: ``w = 0, b = 0``, i.e. the item means. With ratings: ridge
        regression on ``[x(i), 1]`` (``w`` penalised by lambda, ``b`` not, as in
        the cost); the binary variant takes Newton steps on the logistic loss.
        Genres and demographics are ignored: collaborative filtering has no use
        for side information.
        """
        k = self.x.shape[1]
        if not profile.ratings:
            return np.concatenate([np.zeros(k), [0.0, 1.0]]).astype(np.float32)
        ids = np.asarray(list(profile.ratings), dtype=np.int64)
        pos = self._item_pos.reindex(ids)
        if pos.isna().any():
            raise KeyError(f"unknown item id(s) in the profile: "
                           f"{ids[pos.isna().to_numpy()][:5].tolist()}")
        idx = pos.to_numpy(dtype=np.int64)
        y = np.asarray(list(profile.ratings.values()), dtype=np.float64)
        a = np.hstack([self.x[idx].astype(np.float64), np.ones((len(idx), 1))])
        reg = np.r_[np.full(k, self.config.l2), 0.0]
        if self.config.binary:
            theta = _logistic_ridge(a, (y >= self.config.like_threshold).astype(float), reg)
        else:
            theta = np.linalg.lstsq(a.T @ a + np.diag(reg), a.T @ (y - self.item_mean[idx]),
                                    rcond=None)[0]
        return np.concatenate([theta, [1.0]]).astype(np.float32)

    def user_offset(self, user_idx: int) -> float:
        return 0.0  # b(j) is already a component of the augmented user vector

    def new_user_bias(self, profile: UserProfile) -> float:
        return 0.0

    def history_user(self, user: pd.DataFrame, history: pd.DataFrame
                     ) -> tuple[np.ndarray, float]:
        """``[w, b, 1]`` refitted to the given ratings with ``x`` fixed (as for a visitor)."""
        ids = self.item_ids[history["i"].to_numpy(np.int64)]
        profile = UserProfile(ratings=dict(zip(ids.tolist(),
                                               history["rating"].astype(float), strict=True)))
        return self.new_user_vector(profile), 0.0

    def history_users(self, user: pd.DataFrame, histories: list[pd.DataFrame],
                      screen: bool = True) -> tuple[list[tuple[np.ndarray, float]], bool]:
        return history_users_one_by_one(self, user, histories)

    def to_rating(self, scores: np.ndarray, item_idx=None, user_bias=0.0) -> np.ndarray:
        """Clip to the rating scale; the binary variant gives the probability of a like."""
        if self.config.binary:
            return _sigmoid(scores)
        lo, hi = self.rating_scale
        return np.clip(np.asarray(scores, dtype=np.float64), lo, hi)


def _logistic_ridge(a: np.ndarray, y: np.ndarray, reg: np.ndarray, steps: int = 20) -> np.ndarray:
    """Newton's method on ``sum softplus(a.t) - y a.t + 1/2 t.diag(reg).t`` (a few steps)."""
    theta = np.zeros(a.shape[1])
    # a tiny floor keeps the unpenalised bias finite when every label agrees
    hess_reg = np.diag(np.maximum(reg, 1e-3))
    for _ in range(steps):
        p = _sigmoid(a @ theta)
        grad = a.T @ (p - y) + reg * theta
        hess = (a * (p * (1 - p))[:, None]).T @ a + hess_reg
        theta -= np.linalg.solve(hess, grad)
    return theta


def _rated_pairs(data: Dataset, train: pd.DataFrame) -> tuple[np.ndarray, ...]:
    missing = [c for c in ("u", "i", "rating") if c not in train.columns]
    if missing:
        raise DataError("train interactions lack the dense index/rating columns "
                        "(build them with Dataset, split with recengine.split)",
                        column=", ".join(missing))
    if len(train) == 0:
        raise DataError("no train interactions: collaborative filtering needs ratings",
                        column="rating")
    u = train["u"].to_numpy(dtype=np.float64)
    i = train["i"].to_numpy(dtype=np.float64)
    y = train["rating"].to_numpy(dtype=np.float64)
    bad = (~np.isfinite(u) | ~np.isfinite(i) | ~np.isfinite(y) | (u < 0) | (i < 0)
           | (u >= data.n_users) | (i >= data.n_items))
    if bad.any():
        raise DataError("train interactions with an unknown user or item, or a non-finite "
                        "rating", column="u, i, rating", rows=train.index[bad][:5].tolist())
    return u.astype(np.int64), i.astype(np.int64), y


def train_cf(data: Dataset, train_interactions: pd.DataFrame, config: CFConfig | None = None,
             progress: Callable[[int, float], None] | None = None) -> CFModel:
    """Fit collaborative filtering on ``train_interactions`` (rows of ``data.interactions``).

    Item means come from these ratings only (no test leak); an item without a
    train rating gets the global train mean. ``progress(epoch, cost)`` is called
    after every epoch; ``model.history`` keeps the same costs.
    """
    config = config or CFConfig()
    u, i, rating = _rated_pairs(data, train_interactions)
    counts = np.bincount(i, minlength=data.n_items)
    item_mean = np.zeros(data.n_items)
    if config.binary:
        y = (rating >= config.like_threshold).astype(np.float64)
    else:
        y = rating
        if config.mean_normalise:
            sums = np.bincount(i, weights=rating, minlength=data.n_items)
            item_mean = np.where(counts > 0, sums / np.maximum(counts, 1), rating.mean())
            y = rating - item_mean[i]
    x, w, b, history = fit_cf_parameters(u, i, y, data.n_users, data.n_items, config,
                                         progress)
    return CFModel(x=x, w=w, b=b, item_mean=item_mean.astype(np.float32),
                   item_counts=counts.astype(np.int64),
                   item_ids=data.items["item_id"].to_numpy(dtype=np.int64), config=config,
                   rating_scale=tuple(data.rating_scale), history=history,
                   fingerprint=data.fingerprint, data_source=data.source)


# ----- the shared bundle format ------------------------------------------------------
def save_cf(model: CFModel, path: str | Path) -> Path:
    """Write a ``kind="cf"`` bundle: metadata.json plus the arrays in arrays.npz."""
    arrays = {"x": model.x, "w": model.w, "b": model.b, "item_mean": model.item_mean,
              "item_counts": model.item_counts, "item_ids": model.item_ids}
    metadata = {"kind": KIND, "fingerprint": model.fingerprint,
                "data_source": model.data_source, "config": asdict(model.config),
                "rating_scale": list(model.rating_scale),
                "history": [float(c) for c in model.history]}

    def write_arrays(file: Path) -> None:
        with open(file, "wb") as fh:  # a file object: np.savez would append ".npz"
            np.savez(fh, **arrays)

    return write_bundle(path, metadata, {ARRAYS: write_arrays})


def load_cf(path: str | Path, fingerprint: str | None = None) -> CFModel:
    """Read a bundle back; a tampered bundle or one for other data raises BundleError."""
    meta = read_bundle(path, fingerprint=fingerprint, kind=KIND, config_class=CFConfig)
    try:
        with np.load(Path(path) / ARRAYS, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        config = CFConfig(**meta["config"])
        return CFModel(config=config, rating_scale=tuple(meta["rating_scale"]),
                       history=list(meta.get("history", [])),
                       fingerprint=meta.get("fingerprint", ""),
                       data_source=meta.get("data_source", ""), **arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{path}: not a readable cf bundle ({exc})") from exc
