"""What every learned ranking stage offers, so callers never ask which one they hold.

The engine orders candidates by a stage's score; the explanation pages, the
model card, the counterfactuals and ``explain`` show its exact per-feature parts
(``contributions`` + ``intercept`` == ``score``), its relative importance (the
EU DSA's "main parameters") and, where the stage has one, a per-feature weight.
The logistic :class:`~recengine.reranker.Reranker` and the LightGBM
:class:`~recengine.reranker_lgbm.LgbmRanker` both implement it; which one a
bundle holds was chosen on a validation split (recengine.reranker_training).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .popularity_penalty import load_penalty, with_penalty
from .reranker import Reranker
from .reranker_lgbm import LgbmRanker


class RankingStage(Protocol):
    name: str  #: "logistic" or "lightgbm"
    description: str  #: the model in words ("a logistic model of ...")
    score_meaning: str  #: what its score is, in words
    #: the name of each column of :meth:`contributions` (FEATURES, then any penalty)
    part_names: tuple[str, ...]

    @property
    def intercept(self) -> float:
        """The part of every score no feature explains (contributions + this == score)."""

    def score(self, features: np.ndarray) -> np.ndarray:
        """(n,) ordering score of (n, len(FEATURES)) features."""

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """(n, len(part_names)) exact parts: each row plus :attr:`intercept` is the score."""

    def weight(self, feature: str) -> float | None:
        """The feature's weight per standard deviation; None where the stage has none."""

    def importance(self) -> dict[str, float]:
        """Each feature's share of the stage's reliance on it; sums to 1."""

    def explain(self) -> dict[str, float]:
        """What the stage learned per feature (weights, or gain shares), JSON-ready."""

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The stage as bundle extras (numbers and bytes only, no pickle)."""


#: the stages a bundle may hold, tried in this order
STAGES = (LgbmRanker, Reranker)


def load_ranking_stage(arrays: dict[str, np.ndarray]) -> RankingStage | None:
    """The stage saved in a bundle's extras, or None if it holds none.

    A stage this version cannot read (other features) raises ValueError with a
    one-line reason; a bundle holding two is refused rather than guessed at.
    """
    found = [stage for stage in (cls.from_arrays(arrays) for cls in STAGES)
             if stage is not None]
    if len(found) > 1:
        raise ValueError("the bundle holds more than one ranking stage "
                         f"({', '.join(s.name for s in found)}): retrain it")
    # a popularity penalty chosen with the stage (recengine.popularity_penalty) rides on it
    return with_penalty(found[0], load_penalty(arrays)) if found else None


__all__ = ["STAGES", "RankingStage", "load_ranking_stage"]
