"""Ranking: order one request's candidates by an objective, keep the top K.

The served order is an objective of its own (``Objective.score_fn is None``:
sort by ``Candidates.served``, the learned ranking stage), named for what it
is. Predicted rating, engagement, profit and blends are alternatives built the
same way (:mod:`recengine.objectives`), so the audits compare them with the
served list over the very same candidates. Each objective carries its ordering
rule in plain words and the meaning of its score, because a list must say what
ordered it (EU DSA Art. 27) and each item shows the score that placed it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .candidates import Candidates

ScoreFn = Callable[[Candidates], np.ndarray]
SERVED = "served"


@dataclass(frozen=True)
class Objective:
    """What an ordering maximises, in words and as a score over one request's candidates."""

    name: str
    rule: str  # "Ordered by ..." as the person receiving the list reads it
    score_meaning: str  # what the number beside each item is
    score_fn: ScoreFn | None = None  # None: the served score (Candidates.served)

    @property
    def is_served(self) -> bool:
        return self.score_fn is None

    def scores(self, cands: Candidates) -> np.ndarray:
        """This objective's score for every candidate (float64, parallel to items)."""
        if self.score_fn is None:
            return np.asarray(cands.served, np.float64)
        scores = np.asarray(self.score_fn(cands), dtype=np.float64)
        if scores.shape != cands.items.shape:
            raise ValueError(f"objective {self.name!r} returned shape {scores.shape}, "
                             f"expected {cands.items.shape}")
        return scores


def predicted_rating_objective() -> Objective:
    """Order by the predicted rating (bias terms included): the seeds' ranking."""
    return Objective("rating", "Ordered by predicted rating: the rating we expect you to give",
                     "predicted rating", lambda c: c.ratings)


def rank_order(scores: np.ndarray, items: np.ndarray, demoted: np.ndarray, k: int
               ) -> np.ndarray:
    """Positions of the top ``k``: highest score first, demoted ones after all others.

    Ties break on the lower item index, so the same request gives the same list.
    """
    order = np.lexsort((np.asarray(items), -np.asarray(scores, np.float64),
                        np.asarray(demoted, bool)))
    return order[:max(int(k), 0)]


def rank_candidates(cands: Candidates, k: int, objective: Objective) -> np.ndarray:
    """Positions (into ``cands.items``) of the top ``k`` under ``objective``."""
    return rank_order(objective.scores(cands), cands.items, cands.demoted, k)


def score_all(item_vectors: np.ndarray, v_u: np.ndarray, k: int,
              exclude: np.ndarray | None = None) -> np.ndarray:
    """Top ``k`` of the whole catalogue (the reference retrieval is measured against)."""
    scores = item_vectors @ np.asarray(v_u, dtype=item_vectors.dtype)
    if exclude is not None and len(exclude):
        scores[exclude] = -np.inf
    k = min(int(k), len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.lexsort((top, -scores[top]))]
