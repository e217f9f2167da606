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
    """A trained model as the pipeline sees it."""

    #: (n_items, d) float32, catalogue order, L2-normalised rows.
    item_vectors: np.ndarray

    def user_vector(self, user_idx: int) -> np.ndarray:
        """``v_u`` (d,) for an existing user (dense index)."""

    def new_user_vector(self, profile: UserProfile) -> np.ndarray:
        """``v_u`` (d,) for a visitor described by a profile."""

    def to_rating(self, scores: np.ndarray) -> np.ndarray:
        """Map raw scores ``v_u · v_m`` to predicted ratings in rating units."""


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

    def user_vector(self, user_idx: int) -> np.ndarray:
        return self.user_vectors[int(user_idx)]

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

    def to_rating(self, scores: np.ndarray) -> np.ndarray:
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
