"""The orderings a business can choose: served, predicted rating, engagement, profit, blend.

The course: "the objective is a choice". The served order (the learned ranking
stage) is what users get; the alternatives are :class:`~recengine.ranking.Objective`
objects over the same :class:`~recengine.candidates.Candidates`, so comparing
them with the served list compares like with like:

* **rating**: the predicted rating, bias terms included;
* **engagement**: ``P(watch) x watch_minutes``;
* **profit**: ``P(watch) x (price x margin + sponsored_bid)`` (P(click or buy) is
  taken to be P(watch));
* **blend**: ``sum_o w_o x minmax_o`` over rating, engagement and profit, each
  min-max normalised over the request's candidates so weights compare like
  with like.

``P(watch)`` is a monotone map of ``v_u · v_m``: a logistic
``sigmoid(a x score + b)`` fitted on the engine's history (watched pairs
against uniformly drawn pairs, one negative per positive), its intercept
corrected by ``log`` of the negative sampling rate so it estimates the real
chance that a user watched an item with that score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .business import BusinessAttributes, business_attributes
from .candidates import Candidates
from .engine import Engine
from .logistic import fit_logistic, sigmoid
from .ranking import SERVED, Objective, predicted_rating_objective

BASE_OBJECTIVES = ("rating", "engagement", "profit")
#: every ordering the product can show, the served one first
OBJECTIVES = (SERVED, *BASE_OBJECTIVES, "blend")
ALTERNATIVES = OBJECTIVES[1:]
DEFAULT_WEIGHTS = {"rating": 0.6, "engagement": 0.2, "profit": 0.2}
#: the same weights as a (rating, engagement, profit) tuple, as links and simulations store them
DEFAULT_BLEND = tuple(float(DEFAULT_WEIGHTS[o]) for o in BASE_OBJECTIVES)
PLAIN = {SERVED: "the served order (learned ranking stage)",
         "rating": "predicted rating", "engagement": "expected watch time",
         "profit": "expected revenue to the service"}


def minmax(x) -> np.ndarray:
    """Scale to [0, 1] over the given values; all zeros when they are all equal."""
    x = np.asarray(x, np.float64)
    if len(x) == 0:
        return x
    lo, hi = x.min(), x.max()
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def normalise_weights(weights: dict[str, float] | None) -> dict[str, float]:
    """Non-negative weights over rating/engagement/profit, scaled to sum to 1."""
    weights = DEFAULT_WEIGHTS if weights is None else weights
    unknown = set(weights) - set(BASE_OBJECTIVES)
    if unknown:
        raise ValueError(f"unknown objective(s) in weights: {sorted(unknown)}; "
                         f"use {BASE_OBJECTIVES}")
    w = {o: float(weights.get(o, 0.0)) for o in BASE_OBJECTIVES}
    if any(v < 0 for v in w.values()):
        raise ValueError(f"blend weights must be >= 0, got {w}")
    total = sum(w.values())
    if total <= 0:
        raise ValueError("blend weights are all zero: give at least one a positive weight")
    return {o: v / total for o, v in w.items()}


def blend_scores(components: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """``sum_o w_o x minmax(component_o)`` with weights normalised to sum to 1."""
    w = normalise_weights(weights)
    n = len(next(iter(components.values())))
    out = np.zeros(n)
    for name, weight in w.items():
        if weight:
            out += weight * minmax(components[name])
    return out


def blend_phrase(weights: dict[str, float]) -> str:
    """"42% predicted rating, 29% expected watch time, ..." (largest first)."""
    w = normalise_weights(weights)
    return ", ".join(f"{round(100 * v)}% {PLAIN[k]}"
                     for k, v in sorted(w.items(), key=lambda kv: -kv[1]) if v > 0)


@dataclass(frozen=True)
class WatchCalibration:
    """``P(watch | score) = sigmoid(slope x score + intercept)``, fitted on history."""

    slope: float
    intercept: float
    positives: int
    negatives: int
    sampling_correction: float  # log(negative rate / positive rate), added to the intercept

    def p_watch(self, scores) -> np.ndarray:
        return sigmoid(self.slope * np.asarray(scores, np.float64) + self.intercept)

    def describe(self) -> str:
        return (f"P(watch) = sigmoid({self.slope:.3f} x score {self.intercept:+.3f}), fitted on "
                f"{self.positives:,} watched and {self.negatives:,} random pairs")


def pair_dots(engine: Engine, u, i) -> np.ndarray:
    """``v_u · v_m`` for (user, item) pairs (dense indices), one ``v_u`` per user."""
    u = np.asarray(u, dtype=np.int64)
    users, pos = np.unique(u, return_inverse=True)
    dim = engine.item_vectors.shape[1]
    vecs = (np.stack([np.asarray(engine.scorer.user_vector(int(x)), np.float32) for x in users])
            if len(users) else np.zeros((0, dim), np.float32))
    return np.einsum("nd,nd->n", vecs[pos.reshape(-1)],
                     engine.item_vectors[np.asarray(i, np.int64)]).astype(np.float64)


def calibrate_watch(engine: Engine, seed: int = 0, max_pairs: int = 200_000
                    ) -> WatchCalibration:
    """Fit the score -> P(watch) map on the engine's history (see the module docstring)."""
    hist = engine.history
    n_users, n_items = engine.data.n_users, engine.data.n_items
    rng = np.random.default_rng(seed)
    n_hist = len(hist)
    if n_hist == 0:
        raise ValueError("the engine has no history: cannot calibrate P(watch)")
    take = rng.choice(n_hist, size=min(n_hist, max_pairs), replace=False)
    pos_u = hist["u"].to_numpy(np.int64)[take]
    pos_i = hist["i"].to_numpy(np.int64)[take]
    n_neg = len(take)
    neg_u = rng.integers(0, n_users, n_neg)
    neg_i = rng.integers(0, n_items, n_neg)
    scores = pair_dots(engine, np.r_[pos_u, neg_u], np.r_[pos_i, neg_i])
    labels = np.r_[np.ones(len(take)), np.zeros(n_neg)]
    w, b = fit_logistic(scores, labels, l2=1e-6)
    pos_rate = len(take) / n_hist
    neg_rate = n_neg / max(n_users * n_items - n_hist, 1)
    correction = float(np.log(neg_rate / pos_rate))
    return WatchCalibration(float(w[0]), b + correction, len(take), n_neg, correction)


@dataclass
class ObjectiveSet:
    """An engine plus what the business objectives need: attributes and P(watch)."""

    engine: Engine
    business: BusinessAttributes
    watch: WatchCalibration

    def components(self, cands: Candidates) -> dict[str, np.ndarray]:
        """Every objective's raw figure for a request's candidates, plus P(watch)."""
        items = np.asarray(cands.items, np.int64)
        p = self.watch.p_watch(cands.dots)
        return {"served": np.asarray(cands.served, np.float64),
                "rating": np.asarray(cands.ratings, np.float64), "p_watch": p,
                "engagement": p * self.business.watch_minutes[items],
                "profit": p * self.business.unit_profit[items]}

    def objective(self, name: str, weights: dict[str, float] | None = None) -> Objective:
        """The named ordering as an engine Objective (``"served"``: what users get)."""
        if name == SERVED:
            return self.engine.served_objective
        if name == "rating":
            return predicted_rating_objective()
        if name == "engagement":
            return Objective("engagement", "Ordered by expected watch time: the chance you "
                             "watch it times its expected minutes", "expected watch minutes",
                             lambda c: self.components(c)["engagement"])
        if name == "profit":
            return Objective("profit", "Ordered by expected revenue to this service, including "
                             "paid placement", "expected profit per view",
                             lambda c: self.components(c)["profit"])
        if name == "blend":
            w = normalise_weights(weights)
            return Objective("blend", f"Ordered by a mix of {blend_phrase(w)}",
                             "blend score (0 to 1)",
                             lambda c: blend_scores(self.components(c), w))
        raise ValueError(f"unknown objective {name!r}; use one of {OBJECTIVES}")

    @property
    def simulated_columns(self) -> list[str]:
        return self.business.simulated


def objective_set(engine: Engine, seed: int = 0) -> ObjectiveSet:
    """Business attributes (real or simulated) and the P(watch) calibration for an engine."""
    return ObjectiveSet(engine, business_attributes(engine.data), calibrate_watch(engine, seed))
