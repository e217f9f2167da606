"""A popularity penalty on the ranking stage, its strength chosen for catalogue coverage.

Why: the learned ranking stage rewards what most people watched (positive
weight on ``log_popularity`` and on the item bias, which tracks it), so every
user's top 10 leans on the same few hundred titles and the pipeline shows less
of the catalogue than EASE does (Coverage@10, EVALUATION.md). The stage is
fitted for accuracy alone; nothing in its objective values showing more of the
catalogue. This module adds one named part to every score,

    popularity_penalty = -strength x (log_popularity - mean) / std

(the standardised log popularity of the candidate, on the stage's own learning
data), so the served score is still exactly ``intercept + sum(parts)`` and the
explanation shows the penalty as its own line. The strength is chosen by code
on the ranking stage's inner validation split, never on test: among a grid of
strengths, the best cross-validated NDCG@10 whose validation Coverage@10
reaches ``coverage_margin`` x EASE's on the same users (EASE fitted on the
inner train part), within ``max_ndcg_loss`` of the unpenalised NDCG@10; when
no strength reaches it, the one with the most coverage inside that loss. A
strength of 0 leaves the stage as it was (no extra part).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .ease import binary_matrix, fit_ease
from .ranking_protocol import RankingStage
from .reranker import FEATURES
from .topk import topk_from_scores

#: the part's name in every breakdown (and in :data:`~recengine.reranker.FEATURE_WORDS`)
PENALTY_PART = "popularity_penalty"
#: the ranking-stage input the penalty reads
PENALISED_FEATURE = "log_popularity"
#: the bundle extra that holds (strength, mean, std)
PENALTY_KEY = "popularity_penalty"


@dataclass
class PopularityPenaltyConfig:
    """How the penalty's strength is chosen on validation."""

    #: strengths tried (per standard deviation of log popularity); 0 = no penalty
    strengths: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6,
                                    0.8, 1.0)
    #: validation Coverage@10 to reach, as a multiple of EASE's on the same users
    coverage_margin: float = 1.1
    #: the largest share of the unpenalised validation NDCG@10 the penalty may cost
    max_ndcg_loss: float = 0.06
    #: False: never penalise (the stage serves as fitted)
    enabled: bool = True
    #: EASE's reference is a dense solve over the watched items (O(n^3) time, n^2 memory):
    #: above this many, no reference and so no penalty is chosen
    max_reference_items: int = 20_000

    def __post_init__(self) -> None:
        if not self.strengths or any(s < 0 for s in self.strengths):
            raise ValueError(f"penalty strengths must be >= 0 and not empty, got "
                             f"{self.strengths}")
        if 0.0 not in self.strengths:
            self.strengths = (0.0, *self.strengths)


@dataclass(frozen=True)
class PopularityPenalty:
    """``-strength x (x[log_popularity] - mean) / std`` for each candidate row."""

    strength: float
    mean: float
    std: float

    @classmethod
    def fitted(cls, strength: float, x: np.ndarray) -> PopularityPenalty:
        """The penalty with ``x``'s (learning data's) mean and spread of log popularity."""
        col = np.asarray(x, np.float64)[:, FEATURES.index(PENALISED_FEATURE)]
        return cls(float(strength), float(col.mean()) if len(col) else 0.0,
                   float(max(col.std(), 1e-9)) if len(col) else 1.0)

    def part(self, features: np.ndarray) -> np.ndarray:
        """(n,) the penalty's part of each score."""
        col = np.atleast_2d(features)[:, FEATURES.index(PENALISED_FEATURE)]
        return -self.strength * (col - self.mean) / self.std

    def to_array(self) -> np.ndarray:
        return np.asarray([self.strength, self.mean, self.std], np.float64)


@dataclass
class PenalisedStage:
    """A ranking stage plus the popularity penalty, itself a ranking stage.

    Its parts are the base stage's, then the penalty's (:data:`PENALTY_PART`);
    with the base's intercept they sum exactly to :meth:`score`.
    """

    base: RankingStage
    penalty: PopularityPenalty

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def description(self) -> str:
        return f"{self.base.description}, less a penalty on how many people watched it"

    @property
    def score_meaning(self) -> str:
        return f"{self.base.score_meaning}, less the popularity penalty"

    @property
    def part_names(self) -> tuple[str, ...]:
        return (*self.base.part_names, PENALTY_PART)

    @property
    def intercept(self) -> float:
        return self.base.intercept

    def score(self, features: np.ndarray) -> np.ndarray:
        return self.base.score(features) + self.penalty.part(features)

    def contributions(self, features: np.ndarray) -> np.ndarray:
        return np.c_[self.base.contributions(features), self.penalty.part(features)]

    def weight(self, feature: str) -> float | None:
        """The base's weights; the penalty's is ``-strength`` per standard deviation."""
        if feature == PENALTY_PART:
            return -self.penalty.strength
        return self.base.weight(feature)

    def importance(self) -> dict[str, float]:
        """The base's shares, and the penalty's where the base has weights on its scale.

        A logistic base: each weight's (and the penalty's strength's) share of the
        summed absolute values. Trees have no weights, so their gain shares stay as
        they are and the penalty is stated by :meth:`explain` only.
        """
        base = self.base.importance()
        weights = [self.base.weight(f) for f in base]
        if any(w is None for w in weights):
            return base
        total = float(np.abs(weights).sum()) + self.penalty.strength
        share = self.penalty.strength / total if total else 0.0
        return {**{f: v * (1 - share) for f, v in base.items()}, PENALTY_PART: share}

    def explain(self) -> dict[str, float]:
        return {**self.base.explain(), PENALTY_PART: round(-self.penalty.strength, 4)}

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {**self.base.to_arrays(), PENALTY_KEY: self.penalty.to_array()}


def with_penalty(stage: RankingStage, penalty: PopularityPenalty | None) -> RankingStage:
    """``stage`` with the penalty added; unchanged when there is none or its strength is 0."""
    if penalty is None or penalty.strength == 0:
        return stage
    return PenalisedStage(stage, penalty)


def load_penalty(arrays: dict[str, np.ndarray]) -> PopularityPenalty | None:
    """The penalty saved in a bundle's extras (None in bundles saved without one)."""
    if PENALTY_KEY not in arrays:
        return None
    strength, mean, std = np.asarray(arrays[PENALTY_KEY], np.float64).tolist()
    return PopularityPenalty(strength, mean, std)


def top_items(scores: np.ndarray, items: np.ndarray, groups: np.ndarray, k: int = 10
              ) -> np.ndarray:
    """The distinct items in every group's top ``k`` by score (ties: discovery order)."""
    shown, start = [], 0
    for n in groups.tolist():
        s = scores[start:start + n]
        shown.append(items[start:start + n][np.lexsort((np.arange(n), -s))[:k]])
        start += n
    return np.unique(np.concatenate(shown)) if shown else np.zeros(0, np.int64)


def reference_coverage(history: pd.DataFrame, users: np.ndarray, n_items: int,
                       n_users: int, k: int = 10) -> float:
    """EASE's Coverage@k over ``users``, fitted on ``history`` (their train items left out).

    The reference the penalty's strength is chosen against: the same users and
    catalogue the pipeline's validation lists come from.
    """
    score_fn = fit_ease(history, n_items, n_users)
    seen = binary_matrix(history, n_users, n_items)
    shown = np.zeros(n_items, bool)
    for start in range(0, len(users), 256):
        batch = np.asarray(users[start:start + 256], np.int64)
        top = topk_from_scores(score_fn(batch), seen[batch], k)
        shown[top[top >= 0]] = True
    return float(shown.sum()) / n_items


@dataclass
class PenaltyChoice:
    """The chosen strength and every strength's validation figures."""

    strength: float
    reference_coverage: float  # EASE's validation Coverage@10
    validation: dict[str, dict[str, float]]  # str(strength) -> recall, ndcg, coverage
    rule: str  # which branch of the rule chose it, in words

    def metadata(self) -> dict:
        return {"strength": self.strength, "ease_validation_coverage@10":
                self.reference_coverage, "rule": self.rule, "validation": self.validation}


def choose_strength(figures: dict[float, dict[str, float]], reference: float,
                    config: PopularityPenaltyConfig, k: int = 10) -> tuple[float, str]:
    """The rule in the module docstring, over ``strength -> {ndcg@k, coverage@k}``."""
    ndcg, cov = f"ndcg@{k}", f"coverage@{k}"
    floor = (1 - config.max_ndcg_loss) * figures[0.0][ndcg]
    allowed = [s for s in sorted(figures) if figures[s][ndcg] >= floor]
    target = config.coverage_margin * reference
    feasible = [s for s in allowed if figures[s][cov] >= target]
    if feasible:
        best = max(feasible, key=lambda s: (figures[s][ndcg], -s))
        return best, (f"best validation NDCG@{k} with Coverage@{k} >= "
                      f"{config.coverage_margin:g}x EASE's")
    best = max(allowed, key=lambda s: (figures[s][cov], -s))
    return best, (f"no strength reached {config.coverage_margin:g}x EASE's Coverage@{k} "
                  f"within {config.max_ndcg_loss:.0%} of the NDCG@{k}: the most coverage "
                  "within it")


__all__ = ["PENALTY_PART", "PenalisedStage", "PenaltyChoice", "PopularityPenalty",
           "PopularityPenaltyConfig", "choose_strength", "load_penalty", "reference_coverage",
           "top_items", "with_penalty"]
