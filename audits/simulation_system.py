"""The systems a simulation runs: the served pipeline learning from its own logs, and an oracle.

:class:`LearningSystem` is the product as it serves: the engine's retrieval,
ranking stage and objective, reached only through the engine's public API,
and it reads nothing but its logged history (the data before the simulation
plus every pick and rating since). After each round it learns, before the
next (``SimulationConfig.statistics``):

* the engine is rebuilt on the logged history: top-in-genre, top-in-region
  and top-overall lists, the ranking stage's popularity and recent-popularity
  features, the co-watch table, each user's watched items and top genres;
* the user tower is re-run on it: ``v_u``, the user's rating bias and the
  user features (mean rating, per-genre means and shares, the history bag);
* the item tower is re-run with the items' mean-rating and popularity inputs
  recounted (items unrated before the simulation keep the prior until a
  retraining gives them an embedding row), and the similar table rebuilt;
* the ``P(watch)`` calibration is refitted, and, with the engagement loop on,
  each item's engagement estimate, a multiplier of ``P(watch)`` learned from
  what was shown: the item's picks per examined impression over the mean
  rate, shrunk towards 1 by ``engagement_prior`` pseudo-impressions. An
  impression in slot ``r`` counts ``r ** -position_decay`` (the examination
  curve, taken as known, as a service estimates it from randomised swaps), so
  an item is not credited for the slot it was given: a position-blind rate
  would amplify whatever the system happened to put on top, planted or not.
  Items never shown keep 1 (no evidence either way);
* the objectives read the advertisers' current bids;
* every ``retrain_every`` rounds, the towers and ranking stage are retrained
  **from scratch** on the logged history (:func:`train_two_tower`; a warm start
  is not possible when the feature spec and embedding rows change).

:class:`OracleSystem` recommends by the planted truth: each user's ``k`` most
satisfying items not yet consumed (Chaney et al.'s "ideal" recommender).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pandas as pd

from recengine.bundle import ModelBundle
from recengine.controls import mmr_order, take
from recengine.engine import Engine, EngineConfig
from recengine.fit import train_two_tower
from recengine.objectives import ObjectiveSet, blend_scores, calibrate_watch
from recengine.policy import ContentPolicy
from recengine.ranking import SERVED, Objective, predicted_rating_objective, rank_order
from recengine.similarity import build_similar_table

from .content_filter import label_names
from .simulation_config import SimulationConfig
from .simulation_world import Market, World

HISTORY = ["user_id", "item_id", "rating", "timestamp", "u", "i"]
DAY = 86_400


def _predict(model, inputs, batch: int = 8192) -> np.ndarray:
    """A direct call per block: ``Model.predict`` builds a data pipeline per call (~60 ms)."""
    n = len(inputs[0])
    out = [keras.ops.convert_to_numpy(model([x[s:s + batch] for x in inputs], training=False))
           for s in range(0, n, batch)]
    return np.asarray(np.concatenate(out) if out else np.zeros((0,)), np.float32)


def refreshed_items(bundle: ModelBundle, data, history: pd.DataFrame) -> ModelBundle:
    """The bundle with item vectors and biases recomputed from the history's item statistics.

    Only the mean rating and count of items the spec already knows change
    (their embedding rows stay put); the scalers are the training ones.
    """
    spec = bundle.spec
    stats = history.groupby("item_id")["rating"].agg(["sum", "count"]).reindex(
        spec.stat_item_ids).fillna(0.0)
    count = stats["count"].to_numpy(np.float32)
    k = spec.config.shrink
    mean = ((stats["sum"].to_numpy() + k * spec.global_mean) / (count + k)).astype(np.float32)
    spec = dataclasses.replace(spec, stat_mean=mean, stat_count=count)
    x = spec.item_matrix(data.items, data.genre_matrix)
    vectors = _predict(bundle.item_tower, [x, bundle.rows])
    layers = {layer.name for layer in bundle.model.layers}
    bias = (_predict(bundle.model.get_layer("item_bias"), [x, bundle.rows])
            if "item_bias" in layers else bundle.item_bias)
    return dataclasses.replace(bundle, spec=spec, item_vectors=vectors, item_bias=bias)


class LearningSystem:
    """The served pipeline, learning between rounds from what it logged (module docstring)."""

    def __init__(self, world: World, market: Market, users: np.ndarray,
                 cfg: SimulationConfig, engine_config: EngineConfig | None = None):
        self.world, self.market, self.users, self.cfg = world, market, users, cfg
        self.engine_config = engine_config or EngineConfig()
        data = world.data
        self.history = data.interactions[HISTORY].reset_index(drop=True)
        self._t0 = int(self.history["timestamp"].max()) + DAY if len(self.history) else 0
        self.shown = np.zeros(data.n_items)  # impressions, weighted by examination
        self.picks = np.zeros(data.n_items)
        self._seen = np.zeros((len(users), data.n_items), bool)  # picked in the simulation
        self._ratings: list[tuple[np.ndarray, np.ndarray]] = []
        self.refused: dict[int, int] = {}  # advertiser -> round it was refused after
        self.retrains = 0
        self.scorer = (dataclasses.replace(world.bundle)
                       if isinstance(world.bundle, ModelBundle) else world.bundle)
        self.engine: Engine | None = None
        self._rebuild(refresh_items=cfg.statistics)

    # ----- what users are shown -------------------------------------------------------
    def lists(self, rng: np.random.Generator) -> np.ndarray:
        """(n_users, k) dense item indices shown this round (-1: empty slot)."""
        cfg, engine = self.cfg, self.engine
        objective, blocked = self.objective(), self.blocked()
        n_explore = int(round(cfg.exploration * cfg.k))
        out = np.full((len(self.users), cfg.k), -1, np.int64)
        for row, u in enumerate(self.users.tolist()):
            cands = engine.candidates_at(u)
            # the engine drops what its history says was watched; a frozen system's
            # history is stale, so what it logged since is dropped here too
            keep = ~self._seen[row, cands.items]
            if blocked is not None:
                keep &= ~blocked[cands.items]
            if not keep.all():
                cands = take(cands, np.flatnonzero(keep))
            if not len(cands.items):
                continue
            scores = objective.scores(cands)
            n_top = cfg.k - n_explore
            pos = (mmr_order(scores, engine.item_vectors[cands.items], cands.demoted, n_top,
                             cfg.diversity) if cfg.diversity > 0
                   else rank_order(scores, cands.items, cands.demoted, n_top))
            if n_explore:
                rest = np.setdiff1d(np.arange(len(cands.items)), pos)
                pos = np.r_[pos, rng.choice(rest, min(n_explore, len(rest)), replace=False)]
            out[row, :len(pos)] = cands.items[pos]
        return out

    def engagement(self) -> np.ndarray:
        """Each item's learned engagement multiplier (1 everywhere with the loop off)."""
        n_items = self.world.data.n_items
        if not self.cfg.engagement_loop or self.picks.sum() == 0:
            return np.ones(n_items)
        rate = self.picks.sum() / self.shown.sum()
        m = self.cfg.engagement_prior
        return (self.picks + m * rate) / (self.shown + m) / rate

    def objective(self) -> Objective:
        """The configured ordering, its engagement and profit read with the learned estimate."""
        name = self.cfg.objective
        if name == SERVED:
            return self.engine.served_objective
        if name == "rating":
            return predicted_rating_objective()
        objectives = ObjectiveSet(self.engine, self.market.business(self.world), self.watch)
        lift, weights = self.engagement(), self.cfg.weight_map

        def parts(c) -> dict[str, np.ndarray]:
            comp = objectives.components(c)
            return {"rating": comp["rating"], "engagement": comp["engagement"] * lift[c.items],
                    "profit": comp["profit"] * lift[c.items]}

        base = objectives.objective(name, weights)
        score = ((lambda c: blend_scores(parts(c), weights)) if name == "blend"
                 else (lambda c: parts(c)[name]))
        return Objective(base.name, base.rule, base.score_meaning, score)

    def policy(self) -> ContentPolicy:
        """The content policy this round: labels (filter) and refused advertisers' items."""
        labels = tuple(label_names(self.world.business.labels)) if self.cfg.content_filter \
            else ()
        refused = np.isin(self.market.owner, list(self.refused))
        ids = self.world.data.items["item_id"].to_numpy()[refused]
        return ContentPolicy(blocked_labels=labels, blocked_item_ids=tuple(ids.tolist()))

    def blocked(self) -> np.ndarray | None:
        """Items the policy removes, decided once per item (the verdict needs no user)."""
        policy = self.policy()
        if policy.is_empty:
            return None
        cat = self.engine.index.catalogue
        out = np.zeros(self.world.data.n_items, bool)
        maybe = np.flatnonzero(self.world.flagged | np.isin(self.market.owner,
                                                            list(self.refused)))
        for j in maybe.tolist():
            rule = policy.verdict(cat, j)
            out[j] = rule is not None and rule.action == "remove"
        return out

    # ----- learning from the log ------------------------------------------------------
    def learn(self, t: int, lists: np.ndarray, picked: np.ndarray, ratings: np.ndarray) -> None:
        """Log round ``t``'s picks and ratings, then update what the configuration says."""
        data, ok = self.world.data, picked >= 0
        u, i = self.users[ok], picked[ok]
        rows = pd.DataFrame({
            "user_id": data.users["user_id"].to_numpy()[u],
            "item_id": data.items["item_id"].to_numpy()[i], "rating": ratings,
            "timestamp": self._t0 + t * DAY + np.arange(len(u), dtype=np.int64),
            "u": u.astype(np.int32), "i": i.astype(np.int32)})
        self.history = pd.concat([self.history, rows], ignore_index=True)
        look = np.broadcast_to(np.arange(1, lists.shape[1] + 1, dtype=float)
                               ** -self.cfg.choice.position_decay, lists.shape)
        filled = lists >= 0
        self.shown += np.bincount(lists[filled], weights=look[filled], minlength=data.n_items)
        self.picks += np.bincount(i, minlength=data.n_items)
        self._seen[np.flatnonzero(ok), i] = True
        self._ratings.append((i, np.asarray(ratings, float)))
        if self.cfg.refuse_exploitative:
            self._review_advertisers(t)
        retrain = bool(self.cfg.retrain_every) and t % self.cfg.retrain_every == 0
        if retrain:
            self.scorer = train_two_tower(data, self.history, self.world.train_config)
            self.retrains += 1
        if retrain or self.cfg.statistics:
            self._rebuild(refresh_items=not retrain, keep_table=not retrain)

    def _review_advertisers(self, t: int) -> None:
        """Refuse advertisers whose picks users rate ``refuse_margin`` below the mean pick."""
        items = np.concatenate([i for i, _ in self._ratings])
        ratings = np.concatenate([r for _, r in self._ratings])
        if not len(ratings):
            return
        owner = self.market.owner[items]
        for a in range(self.market.n):
            mine = ratings[owner == a]
            if (a not in self.refused and len(mine) >= self.cfg.refuse_min_ratings
                    and mine.mean() < ratings.mean() - self.cfg.refuse_margin):
                self.refused[a] = t

    def _rebuild(self, refresh_items: bool, keep_table: bool = False) -> None:
        """Vectors, engine and P(watch) from the logged history (the module docstring).

        The similar table is rebuilt when the item vectors moved, taken from the
        bundle after a retraining, and kept for a scorer whose vectors never move.
        """
        data, table = self.world.data, None
        if isinstance(self.scorer, ModelBundle):
            if refresh_items:
                self.scorer = refreshed_items(self.scorer, data, self.history)
                table = build_similar_table(self.scorer.item_vectors,
                                            self.engine_config.similarity)
            self.scorer.refresh_users(data.users, self.history)
        elif keep_table and self.engine is not None:
            table = self.engine.similar_table
        self.engine = Engine.build(data, self.scorer, history=self.history,
                                   similar_table=table, config=self.engine_config)
        self.watch = calibrate_watch(self.engine, seed=len(self._ratings))


class OracleSystem:
    """Recommends by planted truth: each user's most satisfying items not yet consumed."""

    def __init__(self, world: World, market: Market, users: np.ndarray,
                 cfg: SimulationConfig):
        self.users, self.k = users, cfg.k
        self.refused: dict[int, int] = {}
        self.retrains = 0
        self.satisfaction = world.satisfaction_matrix(users, market.harm)
        inter = world.data.interactions
        row = pd.Series(np.arange(len(users)), index=users).reindex(inter["u"].to_numpy())
        seen = row.notna().to_numpy()
        self.satisfaction[row.to_numpy()[seen].astype(np.int64),
                          inter["i"].to_numpy()[seen]] = -np.inf

    def lists(self, rng: np.random.Generator) -> np.ndarray:
        sat = self.satisfaction
        k = min(self.k, sat.shape[1])
        top = np.argpartition(-sat, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sat, top, axis=1), axis=1, kind="stable")
        out = np.take_along_axis(top, order, axis=1).astype(np.int64)
        return np.where(np.isfinite(np.take_along_axis(sat, out, axis=1)), out, -1)

    def learn(self, t: int, lists: np.ndarray, picked: np.ndarray, ratings: np.ndarray) -> None:
        ok = picked >= 0
        self.satisfaction[np.flatnonzero(ok), picked[ok]] = -np.inf
