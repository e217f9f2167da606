"""What retrieval and ranking need from a model: vectors, nothing more.

The two-tower bundle, the collaborative-filtering model and test doubles all
satisfy :class:`Scorer`, so the pipeline, the evaluation and the audits work
with any of them. ``v_m`` is precomputed once per model (``item_vectors``);
``v_u`` is computed once per request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd


@dataclass
class UserProfile:
    """A new visitor, described only by what they can tell us.

    ``ratings`` maps item ids to ratings on the data's scale (a "like" is the
    top of the scale); ``genres`` are genres they say they enjoy;
    ``demographics`` uses the Dataset's user columns (age, gender, occupation,
    region) where the data has them.
    """

    ratings: dict[int, float] = field(default_factory=dict)
    genres: list[str] = field(default_factory=list)
    demographics: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Scorer(Protocol):
    """A trained model as the pipeline sees it: the complete protocol, no probing.

    Every member is required, so the engine never asks "does this model have
    biases?": a model without a rating head's bias terms returns zeros, one
    without saved extras an empty dict.
    """

    #: (n_items, d) float32, catalogue order, L2-normalised rows.
    item_vectors: np.ndarray
    #: (n_items,) the rating head's item bias (zeros when the model has none).
    item_bias: np.ndarray
    #: arrays saved with the model: the similar table, the ranking stage ({} if none).
    extras: dict
    #: what the model says about itself (kind, config, training figures; {} if none).
    metadata: dict

    def user_vector(self, user_idx: int) -> np.ndarray:
        """``v_u`` (d,) for an existing user (dense index)."""

    def user_offset(self, user_idx: int) -> float:
        """The rating head's bias for an existing user (0.0 without bias terms)."""

    def new_user_vector(self, profile: UserProfile) -> np.ndarray:
        """``v_u`` (d,) for a visitor described by a profile."""

    def new_user_bias(self, profile: UserProfile) -> float:
        """The rating head's bias for a visitor (0.0 without bias terms)."""

    def history_user(self, user: pd.DataFrame, history: pd.DataFrame
                     ) -> tuple[np.ndarray, float]:
        """``v_u`` and rating bias of one user (``user``: their one row) from ``history``.

        ``history`` holds that user's interactions (columns ``i``, ``rating``,
        ``timestamp``); the same computation serving uses for every user, so a
        counterfactual history ("without these items") is scored exactly as the
        served list was.
        """

    def history_users(self, user: pd.DataFrame, histories: list[pd.DataFrame],
                      screen: bool = True) -> tuple[list[tuple[np.ndarray, float]], bool]:
        """:meth:`history_user` for many histories at once, and whether the answers are exact.

        A model may batch them (and ``screen`` with a faster, float32-rounded
        path); a counterfactual search screens with it and verifies exactly.
        """

    def to_rating(self, scores: np.ndarray, item_idx: np.ndarray,
                  user_bias: float | np.ndarray) -> np.ndarray:
        """Raw ``v_u · v_m`` of (user, item) pairs -> predicted ratings, bias terms included."""


def history_users_one_by_one(scorer: Scorer, user: pd.DataFrame, histories: list[pd.DataFrame]
                             ) -> tuple[list[tuple[np.ndarray, float]], bool]:
    """The plain :meth:`Scorer.history_users`: one exact :meth:`history_user` per history."""
    return [scorer.history_user(user, h) for h in histories], True


def predict_ratings(scorer: Scorer, v_u: np.ndarray, user_bias: float,
                    items: np.ndarray) -> np.ndarray:
    """The one rating prediction: one user's vector and bias against some items.

    Serving, ranking, the audits, the report and the pages all call this (or
    :meth:`recengine.engine.Engine.pair_ratings`, which calls it per user), so a
    predicted rating means the same number everywhere.
    """
    items = np.asarray(items, np.int64)
    dots = scorer.item_vectors[items] @ np.asarray(v_u, scorer.item_vectors.dtype)
    return np.asarray(scorer.to_rating(dots.astype(np.float64), items, user_bias), np.float64)


@dataclass
class VectorScorer:
    """A Scorer from fixed arrays: for tests, benches and simple baselines.

    ``rating_scale`` maps a score in [-1, 1] linearly onto the rating scale.
    """

    item_vectors: np.ndarray
    user_vectors: np.ndarray
    rating_scale: tuple[float, float] = (0.5, 5.0)
    #: catalogue item ids in row order: needed to place a visitor's rated items
    item_ids: np.ndarray | None = None
    extras: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=lambda: {"kind": "vectors"})

    @property
    def item_bias(self) -> np.ndarray:
        return np.zeros(len(self.item_vectors), np.float32)

    def user_vector(self, user_idx: int) -> np.ndarray:
        return self.user_vectors[int(user_idx)]

    def user_offset(self, user_idx: int) -> float:
        return 0.0

    def new_user_bias(self, profile: UserProfile) -> float:
        return 0.0

    def history_user(self, user: pd.DataFrame, history: pd.DataFrame
                     ) -> tuple[np.ndarray, float]:
        """The mean vector of the history's items (of the catalogue when it is empty)."""
        items = history["i"].to_numpy(np.int64)
        v = (self.item_vectors[items] if len(items) else self.item_vectors).mean(axis=0)
        return v / max(float(np.linalg.norm(v)), 1e-12), 0.0

    def history_users(self, user, histories, screen: bool = True):
        return history_users_one_by_one(self, user, histories)

    def new_user_vector(self, profile: UserProfile) -> np.ndarray:
        """Mean vector of the rated items (of the whole catalogue with no ratings)."""
        if not profile.ratings:
            v = self.item_vectors.mean(axis=0)
        elif self.item_ids is None:
            raise ValueError("VectorScorer(item_ids=...) is needed to place rated items")
        else:
            pos = {int(i): j for j, i in enumerate(self.item_ids)}
            unknown = [i for i in profile.ratings if int(i) not in pos]
            if unknown:
                raise KeyError(f"unknown item id(s): {unknown[:5]}")
            v = self.item_vectors[[pos[int(i)] for i in profile.ratings]].mean(axis=0)
        return v / max(float(np.linalg.norm(v)), 1e-12)

    def to_rating(self, scores: np.ndarray, item_idx=None, user_bias=0.0) -> np.ndarray:
        """A linear map of the score onto the scale (no bias terms: they are zero)."""
        lo, hi = self.rating_scale
        return lo + (np.clip(scores, -1, 1) + 1) / 2 * (hi - lo)

    @classmethod
    def random(cls, n_items: int, n_users: int, dim: int = 32, seed: int = 0) -> VectorScorer:
        rng = np.random.default_rng(seed)
        items = rng.normal(size=(n_items, dim)).astype(np.float32)
        users = rng.normal(size=(n_users, dim)).astype(np.float32)
        items /= np.linalg.norm(items, axis=1, keepdims=True)
        users /= np.linalg.norm(users, axis=1, keepdims=True)
        return cls(items, users)
