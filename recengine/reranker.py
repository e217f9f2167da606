"""The ranking stage trained for what users actually watch next.

Retrieval already knows things the two towers do not: that a candidate is a
neighbour of three of the last ten items the user watched, or sits at the top
of their favourite genre. The seeds rank candidates by ``v_u · v_m`` alone;
this stage keeps that score as one input and learns, by logistic regression on
a later slice of the user's own train history, how much each retrieval signal
adds. It is optional (``Engine.reranker = None`` ranks by the dot product) and
every returned item still carries the sources and raw score that explain it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .logistic import fit_logistic
from .results import SourceHit

FEATURES = ("dot", "sim_count", "sim_best", "sim_sum", "sim_recent", "genre_inv_rank",
            "region_inv_rank", "log_popularity", "item_bias", "genre_affinity",
            "log_recent_popularity", "history_similarity", "cowatch_hits",
            "cowatch_affinity", "item_model_score", "log_activity")
#: the ranking stage's inputs that do not depend on retrieval hits, in the order
#: :func:`candidate_features` takes them as ``item_columns``
ITEM_COLUMNS = ("log_popularity", "item_bias", "genre_affinity", "log_recent_popularity",
                "history_similarity", "cowatch_affinity", "item_model_score", "log_activity")
#: features added after bundles were first saved: an older logistic stage lacks them
#: and reads as weight 0 on each (its scores unchanged)
_LATER_FEATURES = ("item_model_score", "log_activity")
#: each feature in plain words (the statement, the card and the pages show these)
FEATURE_WORDS = {
    "dot": "the two-tower match score v_u·v_m",
    "sim_count": "how many of your last watched items it is similar to",
    "sim_best": "how similar it is to the closest of your last watched items",
    "sim_sum": "its summed similarity to your last watched items",
    "sim_recent": "how recently you watched an item it is similar to",
    "genre_inv_rank": "its rank in the top list of one of your genres",
    "region_inv_rank": "its rank in the top list of your region (or overall)",
    "log_popularity": "how many people watched it",
    "item_bias": "how much higher than average it tends to be rated",
    "genre_affinity": "how much you watch its genres",
    "log_recent_popularity": "how many people watched it recently",
    "history_similarity": "its similarity to the mean of your recent items",
    "cowatch_hits": "how many of your last watched items it is often watched with",
    "cowatch_affinity": "how often it is watched together with your recent items",
    "item_model_score": "how strongly people who watched what you watched also watched it",
    "log_activity": "how many items you have watched",
    # not an input: a fixed penalty the stage may carry (recengine.popularity_penalty)
    "popularity_penalty": "a penalty on how many people watched it, to show more of the "
                          "catalogue",
}


def candidate_features(dots: np.ndarray, hits: list[list[SourceHit]],
                       seed_position: dict[int, int], item_columns: np.ndarray
                       ) -> np.ndarray:
    """(n_candidates, len(FEATURES)) from the score and each candidate's source hits.

    ``seed_position`` maps a seed item id to its recency (0 = last watched);
    ``item_columns`` holds the :data:`ITEM_COLUMNS` per candidate, computed by
    the engine from train history: log popularity, the rating head's item bias,
    the user's genre affinity for the item, log popularity in the latest 10% of
    time, cosine similarity to the mean vector of the user's recent 50 items, the
    summed co-watch similarity to those 50 items, the item model's score over the
    whole history and log1p of the history's length.
    """
    out = np.zeros((len(dots), len(FEATURES)), np.float64)
    out[:, 0] = dots
    out[:, 7:12] = item_columns[:, :5]
    out[:, 13:16] = item_columns[:, 5:8]
    # plain floats per candidate, one row write at the end: indexing a numpy
    # array element by element costs more than the arithmetic itself
    rows = []
    for item_hits in hits:
        n_sim = best = total = recent = genre = region = n_cow = 0.0
        for h in item_hits:
            source, d = h.source, h.detail
            if source == "similar":
                sim = 1.0 - float(d["distance"]) / 2.0  # cosine for unit vectors
                n_sim += 1
                best = max(best, sim)
                total += sim
                recent = max(recent, 1.0 / (1.0 + seed_position.get(int(d["seed_item_id"]),
                                                                     10)))
            elif source == "cowatched":
                n_cow += 1
            elif source == "genre":
                genre = max(genre, 1.0 / float(d["rank"]))
            elif source in ("region", "overall"):
                region = max(region, 1.0 / float(d["rank"]))
        rows.append((n_sim, best, total, recent, genre, region, n_cow))
    if rows:
        out[:, [1, 2, 3, 4, 5, 6, 12]] = np.asarray(rows, np.float64)
    return out


@dataclass
class Reranker:
    """Standardised features -> logit of "the user watches and likes this next".

    One :class:`~recengine.ranking_stage.RankingStage`: exact parts are weight x
    standardised value, so each feature also has a weight.
    """

    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: float

    name = "logistic"
    part_names = FEATURES  #: the columns of :meth:`contributions`
    #: the served order's rule and score, in words
    description = ("a logistic model of how likely you are to watch and like each item "
                   "next")
    score_meaning = "ranking-stage score (log-odds of watching and liking it next)"

    @property
    def intercept(self) -> float:
        return float(self.bias)

    def weight(self, feature: str) -> float | None:
        """The weight per standard deviation of ``feature``."""
        return float(self.weights[FEATURES.index(feature)])

    def score(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.std) @ self.weights + self.bias

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """(n, len(FEATURES)) exact parts of each score: weight x standardised value.

        Each row plus :attr:`bias` sums to :meth:`score`: because the stage is
        logistic, this is the whole "why" of the order, not an approximation.
        """
        return ((np.atleast_2d(features) - self.mean) / self.std) * self.weights

    def importance(self) -> dict[str, float]:
        """Each feature's share of the summed absolute weights (per standard deviation).

        The "relative importance" of the main parameters that the EU DSA
        (Art. 27) asks a recommender to state; sums to 1.
        """
        a = np.abs(self.weights)
        total = float(a.sum()) or 1.0
        return dict(zip(FEATURES, (a / total).tolist(), strict=True))

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"reranker_mean": self.mean, "reranker_std": self.std,
                "reranker_weights": self.weights,
                "reranker_bias": np.asarray([self.bias])}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Reranker | None:
        """The stage saved by :meth:`to_arrays`; None if the arrays hold none.

        A stage saved before :data:`_LATER_FEATURES` existed has fewer weights:
        it gets weight 0 (mean 0, std 1) on each, which leaves its scores as they
        were.
        """
        if "reranker_weights" not in arrays:
            return None
        mean, std, weights = (np.asarray(arrays[f"reranker_{k}"], np.float64)
                              for k in ("mean", "std", "weights"))
        missing = len(FEATURES) - len(weights)
        if missing == len(_LATER_FEATURES) and len(mean) == len(std) == len(weights):
            mean, std, weights = (np.r_[mean, np.zeros(missing)], np.r_[std, np.ones(missing)],
                                  np.r_[weights, np.zeros(missing)])
        return cls(mean, std, weights, float(np.asarray(arrays["reranker_bias"])[0]))

    def explain(self) -> dict[str, float]:
        """Weight per feature (per standard deviation): what the stage learned."""
        return dict(zip(FEATURES, self.weights.round(4).tolist(), strict=True))


def fit_reranker(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> Reranker:
    """Standardise the features, then one L2-regularised logistic regression."""
    mean = x.mean(axis=0)
    std = np.maximum(x.std(axis=0), 1e-9)
    weights, bias = fit_logistic((x - mean) / std, y, l2, iterations=25, tol=1e-8)
    return Reranker(mean, std, weights, bias)
