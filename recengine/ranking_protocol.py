"""What every learned ranking stage offers, so callers never ask which one they hold.

The engine orders candidates by a stage's score; the explanation pages, the
model card, the counterfactuals and ``explain`` show its exact per-feature parts
(``contributions`` + ``intercept`` == ``score``), its relative importance (the
EU DSA's "main parameters") and, where the stage has one, a per-feature weight.
The logistic :class:`~recengine.reranker.Reranker`, the LightGBM
:class:`~recengine.reranker_lgbm.LgbmRanker` and a stage wearing a popularity
penalty (:class:`~recengine.popularity_penalty.PenalisedStage`) implement it.
In a module of its own because the penalty wraps a stage and the loader
(:mod:`recengine.ranking_stage`) wraps with the penalty: both need the protocol,
neither may need the other's module for it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


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


__all__ = ["RankingStage"]
