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

from .results import SourceHit

FEATURES = ("dot", "sim_count", "sim_best", "sim_sum", "sim_recent", "genre_inv_rank",
            "region_inv_rank", "log_popularity", "item_bias", "genre_affinity",
            "log_recent_popularity", "history_similarity", "cowatch_hits",
            "cowatch_affinity")


def candidate_features(dots: np.ndarray, hits: list[list[SourceHit]],
                       seed_position: dict[int, int], item_columns: np.ndarray
                       ) -> np.ndarray:
    """(n_candidates, len(FEATURES)) from the score and each candidate's source hits.

    ``seed_position`` maps a seed item id to its recency (0 = last watched);
    ``item_columns`` holds the last five features per candidate, computed by the
    engine from train history: log popularity, the rating head's item bias, the
    user's genre affinity for the item, log popularity in the latest 10% of time,
    cosine similarity to the mean vector of the user's recent 50 items, and the
    summed co-watch similarity to those 50 items.
    """
    out = np.zeros((len(dots), len(FEATURES)), np.float64)
    out[:, 0] = dots
    out[:, 7:12] = item_columns[:, :5]
    out[:, 13] = item_columns[:, 5]
    for r, item_hits in enumerate(hits):
        for h in item_hits:
            d = h.detail
            if h.source == "similar":
                sim = 1.0 - float(d["distance"]) / 2.0  # cosine for unit vectors
                out[r, 1] += 1
                out[r, 2] = max(out[r, 2], sim)
                out[r, 3] += sim
                pos = seed_position.get(int(d["seed_item_id"]), 10)
                out[r, 4] = max(out[r, 4], 1.0 / (1.0 + pos))
            elif h.source == "cowatched":
                out[r, 12] += 1
            elif h.source == "genre":
                out[r, 5] = max(out[r, 5], 1.0 / float(d["rank"]))
            elif h.source in ("region", "overall"):
                out[r, 6] = max(out[r, 6], 1.0 / float(d["rank"]))
    return out


@dataclass
class Reranker:
    """Standardised features -> logit of "the user watches and likes this next"."""

    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: float

    def score(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.std) @ self.weights + self.bias

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"reranker_mean": self.mean, "reranker_std": self.std,
                "reranker_weights": self.weights,
                "reranker_bias": np.asarray([self.bias])}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Reranker | None:
        if "reranker_weights" not in arrays:
            return None
        return cls(np.asarray(arrays["reranker_mean"]), np.asarray(arrays["reranker_std"]),
                   np.asarray(arrays["reranker_weights"]),
                   float(np.asarray(arrays["reranker_bias"])[0]))

    def explain(self) -> dict[str, float]:
        """Weight per feature (per standard deviation): what the stage learned."""
        return dict(zip(FEATURES, self.weights.round(4).tolist(), strict=True))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 25
                 ) -> Reranker:
    """L2-regularised logistic regression by Newton's method: few features, exact."""
    mean = x.mean(axis=0)
    std = np.maximum(x.std(axis=0), 1e-9)
    z = np.c_[(x - mean) / std, np.ones(len(x))]
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0  # no penalty on the intercept
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (p - y) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return Reranker(mean, std, w[:-1], float(w[-1]))
