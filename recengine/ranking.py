"""Ranking: score the retrieved candidates with the model, keep the top K.

``v_m`` is precomputed, ``v_u`` computed once per request, so ranking is one
matrix-vector product over a few hundred candidates. The objective is a choice
(the course's ethics section): the default ranks by the model's predicted
rating; an :class:`Objective` swaps in another score (engagement, profit) so the
audits can show what changes, while the predicted rating is still reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .scoring import Scorer

ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Objective:
    """What ranking maximises: ``score_fn(v_u, candidate_idx) -> scores``."""

    name: str = "rating"
    score_fn: ScoreFn | None = None  # None: the dot product v_u · v_m


@dataclass
class Ranked:
    """The chosen candidates in rank order (dense indices) and their figures."""

    items: np.ndarray
    scores: np.ndarray
    ratings: np.ndarray
    demoted: np.ndarray  # bool, parallel to items


def rank_candidates(scorer: Scorer, item_vectors: np.ndarray, v_u: np.ndarray,
                    candidates: np.ndarray, k: int, demoted: np.ndarray | None = None,
                    objective: Objective | None = None) -> Ranked:
    """Top ``k`` candidates by score; demoted ones after all others.

    Ties break on the lower item index, so the same request gives the same list.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    demoted = np.zeros(len(candidates), bool) if demoted is None else np.asarray(demoted, bool)
    dots = item_vectors[candidates] @ np.asarray(v_u, dtype=item_vectors.dtype)
    if objective is not None and objective.score_fn is not None:
        scores = np.asarray(objective.score_fn(v_u, candidates), dtype=np.float64)
        if scores.shape != candidates.shape:
            raise ValueError(f"objective {objective.name!r} returned shape {scores.shape}, "
                             f"expected {candidates.shape}")
    else:
        scores = dots.astype(np.float64)
    order = np.lexsort((candidates, -scores, demoted))[:max(int(k), 0)]
    chosen = candidates[order]
    ratings = np.asarray(scorer.to_rating(dots[order]), dtype=np.float64)
    return Ranked(chosen, scores[order], ratings, demoted[order])


def score_all(item_vectors: np.ndarray, v_u: np.ndarray, k: int,
              exclude: np.ndarray | None = None) -> np.ndarray:
    """Top ``k`` of the whole catalogue (the reference retrieval is measured against)."""
    scores = item_vectors @ np.asarray(v_u, dtype=item_vectors.dtype)
    if exclude is not None and len(exclude):
        scores[exclude] = -np.inf
    k = min(int(k), len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.lexsort((top, -scores[top]))]
