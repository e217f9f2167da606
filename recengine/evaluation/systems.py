"""The product's models as protocol systems: two-tower, the full pipeline, CF, cold start.

:func:`~recengine.evaluation.protocol.run_protocol` takes *fit* callables so a
system can only see train ratings; this module supplies them for what users
actually get. The two-tower model and the pipeline built on it share one
training run per evaluation (a small cache keyed on the train data's fingerprint
and the config), so the pipeline's figure and the whole-catalogue figure come
from the same weights and differ only by retrieval.

Collaborative filtering ranks with its *binary* variant by default: on
ml-latest-small's protocol split it ranked far better than the rating variant
(whose predicted ratings favour rarely rated items with high means; see
bench/README.md), while its RMSE comes from the rating variant, which is what
that variant is for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from ..bundle import ModelBundle
from ..cf import CFConfig, CFModel, train_cf
from ..config import TrainConfig
from ..engine import EngineConfig
from ..fit import train_two_tower
from ..model import ModelConfig
from ..schema import Dataset
from ..scoring import UserProfile
from ..serving import protocol_engine
from ..split import temporal_split
from .cold_start import ColdFit, ColdScoreFn
from .engine_system import engine_system
from .metrics import (
    hit_matrix,
    mean_over_users,
    ndcg_from_hits,
    recall_from_hits,
    topk_from_scores,
)
from .protocol import RELEVANT_THRESHOLD, System, SystemFit, relevant_by_user

__all__ = [
    "CF_RANKING_VARIANTS", "NewUserConfig", "NewUserFit", "cached_ranking_stage",
    "cf_cold_scorer", "cf_new_user", "cf_system", "clear_cache", "content_cold_scorer",
    "content_config", "engine_system", "evaluate_new_users", "fit_bundle", "hybrid_config",
    "pipeline_system", "popularity_new_user", "ranking_only", "two_tower_new_user",
    "two_tower_system",
]

#: which CF variant ranks: "binary" (like-probabilities) or "rating" (predicted ratings)
CF_RANKING_VARIANTS = ("binary", "rating")

_CACHE: dict[tuple[str, str], ModelBundle] = {}


def _config_key(config: TrainConfig) -> str:
    return json.dumps(asdict(config), sort_keys=True, default=str)


def _positional(train: pd.DataFrame) -> pd.DataFrame:
    """Train rows with a fresh 0..n-1 index.

    The trainer keys per-row arrays (each target's history cut-off) by index
    label; splits keep labels, so this is defensive: any frame handed in, gapped
    or filtered, gets labels that are unique and positional.
    """
    return train.reset_index(drop=True)


def fit_bundle(config: TrainConfig, train: pd.DataFrame, data: Dataset) -> ModelBundle:
    """Train once per (train data, config): the two-tower and pipeline systems share it.

    Only the latest bundle is kept, so an evaluation never holds more than one
    model in memory however many it runs in sequence.
    """
    key = (data.with_interactions(train).fingerprint, _config_key(config))
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = train_two_tower(data, _positional(train), config)
    return _CACHE[key]


def cached_ranking_stage(config: TrainConfig, train: pd.DataFrame, data: Dataset
                         ) -> dict | None:
    """The ranking stage's metadata (which stage, validation figures) of the cached bundle.

    Reads the cache only (never trains): None when no bundle for this train data
    and config is held, e.g. after :func:`clear_cache`.
    """
    key = (data.with_interactions(train).fingerprint, _config_key(config))
    bundle = _CACHE.get(key)
    return None if bundle is None else bundle.metadata.get("ranking_stage")


def clear_cache() -> None:
    """Forget the cached bundle (e.g. between data sets in one process)."""
    _CACHE.clear()


def two_tower_system(config: TrainConfig | None = None, name: str = "two_tower") -> SystemFit:
    """The model alone: ranks the whole catalogue by ``v_u · v_m``, predicts ratings."""
    config = config or TrainConfig()

    def fit(train: pd.DataFrame, data: Dataset) -> System:
        bundle = fit_bundle(config, train, data)
        return System(name, score_fn=bundle.scores_for_users, predict_fn=bundle.predict)

    return fit


def pipeline_system(config: TrainConfig | None = None,
                    engine_config: EngineConfig | None = None,
                    name: str = "pipeline") -> SystemFit:
    """Retrieval + ranking as users get it, on the same trained bundle as two_tower."""
    config = config or TrainConfig()

    def fit(train: pd.DataFrame, data: Dataset) -> System:
        bundle = fit_bundle(config, train, data)
        engine = protocol_engine(data, bundle, train, engine_config)
        return engine_system(engine, name)(train, data)

    return fit


def _cf_scores(model: CFModel) -> Callable[[np.ndarray], np.ndarray]:
    def score_fn(user_idx: np.ndarray) -> np.ndarray:
        u = np.asarray(user_idx, dtype=np.int64)
        return (model.w[u] @ model.x.T + model.b[u][:, None]
                + model.item_mean[None, :]).astype(np.float64)

    return score_fn


def cf_system(config: CFConfig | None = None, ranking: str = "binary",
              name: str = "cf") -> SystemFit:
    """Collaborative filtering: RMSE from the rating variant, ranking from ``ranking``'s.

    ``ranking="binary"`` trains a second, binary model for the top-10 lists (the
    default; see the module docstring for why); ``"rating"`` ranks by the
    rating variant's predictions and trains one model.
    """
    if ranking not in CF_RANKING_VARIANTS:
        raise ValueError(f"ranking must be one of {CF_RANKING_VARIANTS}, got {ranking!r}")
    config = replace(config or CFConfig(), binary=False)

    def fit(train: pd.DataFrame, data: Dataset) -> System:
        rating_model = train_cf(data, train, config)
        ranker = rating_model if ranking == "rating" else \
            train_cf(data, train, replace(config, binary=True))
        return System(name, score_fn=_cf_scores(ranker), predict_fn=rating_model.predict)

    return fit


# ----- cold-start items --------------------------------------------------------------------


#: share of training rows shown as a cold item would be, for the cold-start models:
#: chosen on cold items drawn inside train (bench/cold_dropout_validation.py)
COLD_ITEM_DROPOUT = 0.3


def _with_cold_dropout(model: ModelConfig) -> ModelConfig:
    """The model with cold-item dropout, unless the config already sets a rate."""
    if model.cold_item_dropout > 0:
        return model
    return replace(model, cold_item_dropout=COLD_ITEM_DROPOUT)


def content_config(config: TrainConfig | None = None) -> TrainConfig:
    """The pure content model: no ID embeddings, no history bag (features only).

    Trained with cold-item dropout: without it the tower leans on the rating
    count and mean rating, which a cold item does not have.
    """
    config = config or TrainConfig()
    return replace(config, model=_with_cold_dropout(
        replace(config.model, use_item_ids=False, use_history=False)))


def hybrid_config(config: TrainConfig | None = None) -> TrainConfig:
    """The hybrid with ID dropout: cold items have no ID row and fall back to features."""
    config = config or TrainConfig()
    model = config.model if config.model.use_item_ids else \
        replace(config.model, use_item_ids=True, use_history=True)
    if model.item_id_dropout <= 0:
        model = replace(model, item_id_dropout=ModelConfig().item_id_dropout or 0.1)
    return replace(config, model=_with_cold_dropout(model))


def ranking_only(config: TrainConfig) -> TrainConfig:
    """Skip the training stages that change no vector where only ``v_u · v_m`` ranks.

    The rating head's second stage freezes both towers (it fits the head's scale
    and biases), and the pipeline's learned ranking stage trains a second, inner
    model for the retrieval pipeline only. The cold-start and new-user figures
    rank by ``v_u · v_m`` alone, so they are the same without either, at half the
    cost or less.
    """
    off = {"rating_head_epochs": 0, "ranking_stage": False}
    return replace(config, **off)


def content_cold_scorer(config: TrainConfig | None = None) -> ColdFit:
    """Fit a two-tower model on warm ratings; cold items are scored from their features.

    Pass :func:`content_config` (the default) or :func:`hybrid_config`. Cold items
    were never in train, so they get embedding row 0 ("unknown") and their
    vector comes from genres and year alone: what the cold-start figure measures.
    """
    config = ranking_only(config or content_config())

    def fit(train: pd.DataFrame, data: Dataset) -> ColdScoreFn:
        bundle = train_two_tower(data, _positional(train), config)

        def score(user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
            return bundle.user_vectors[np.asarray(user_idx)] @ \
                bundle.item_vectors[np.asarray(item_idx)].T

        return score

    return fit


def cf_cold_scorer(config: CFConfig | None = None) -> ColdFit:
    """CF's cold-item scores: ``x = 0`` for an unrated item, so every cold item ties.

    Kept as a system on purpose: it shows the seeds' stated limitation as a figure
    (random-level recall, AUC near 0.5) rather than as a sentence. Ties are broken
    by a jitter far below any real score difference, drawn afresh for each user
    (seeded by the user), so "no information" reads as independent random
    rankings: one permutation shared by all users, or the top-k tie rule's
    catalogue order, would give an arbitrary figure instead.
    """
    config = replace(config or CFConfig(), binary=False)

    def fit(train: pd.DataFrame, data: Dataset) -> ColdScoreFn:
        model = train_cf(data, train, config)
        scores = _cf_scores(model)

        def score(user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
            user_idx, item_idx = np.asarray(user_idx), np.asarray(item_idx)
            jitter = np.vstack([np.random.default_rng([config.seed, int(u)])
                                .uniform(0, 1e-9, len(item_idx)) for u in user_idx])
            return scores(user_idx)[:, item_idx] + jitter

        return score

    return fit


# ----- new users ---------------------------------------------------------------------------


@dataclass
class NewUserConfig:
    """Issue 7's new-user test: a held-out share of users, each known by a few ratings.

    The held-out users' train ratings leave training entirely (the models never
    saw them); each is then described by their first ``n_ratings`` train ratings
    by time, as a visitor who just rated a few films, and ranks the catalogue.
    Candidates follow the protocol (items not rated in train), relevant items are
    their test ratings >= 4.
    """

    n_ratings: int = 3
    user_fraction: float = 0.2
    seed: int = 0
    k: int = 10


#: ``fit(train, train_data) -> vector_fn(profile) -> (vector, item_vectors)``
NewUserFit = Callable[[pd.DataFrame, Dataset], Callable[[UserProfile], np.ndarray]]


def two_tower_new_user(config: TrainConfig | None = None) -> NewUserFit:
    """The two-tower ``new_user_vector`` from the visitor's few ratings (ranking only)."""
    config = ranking_only(config or TrainConfig())

    def fit(train: pd.DataFrame, data: Dataset):
        bundle = train_two_tower(data, _positional(train), config)
        return lambda profile: bundle.item_vectors @ bundle.new_user_vector(profile)

    return fit


def cf_new_user(config: CFConfig | None = None, ranking: str = "binary") -> NewUserFit:
    """CF's ``new_user_vector`` (w, b fitted to the few ratings, x fixed), either variant.

    ``"binary"`` ranks as :func:`cf_system` does by default; ``"rating"`` ranks by
    predicted rating, which favours rarely rated items with high means.
    """
    if ranking not in CF_RANKING_VARIANTS:
        raise ValueError(f"ranking must be one of {CF_RANKING_VARIANTS}, got {ranking!r}")
    config = replace(config or CFConfig(), binary=ranking == "binary")

    def fit(train: pd.DataFrame, data: Dataset):
        model = train_cf(data, train, config)
        return lambda profile: model.item_vectors @ model.new_user_vector(profile)

    return fit


def pipeline_new_user(config: TrainConfig | None = None,
                      engine_config: EngineConfig | None = None, depth: int = 100
                      ) -> NewUserFit:
    """The pipeline as a new visitor gets it: ``Engine.recommend_new_user``.

    The visitor's list (``depth`` long, so items they rated later in train can be
    dropped by the protocol's candidate rule) becomes descending scores; every
    other item scores below them.
    """
    config = config or TrainConfig()

    def fit(train: pd.DataFrame, data: Dataset):
        bundle = fit_bundle(config, train, data)
        engine = protocol_engine(data, bundle, train, engine_config)

        def scores(profile: UserProfile) -> np.ndarray:
            out = np.full(data.n_items, -1e9)
            items = [it.item_id for it in engine.recommend_new_user(profile, k=depth).items]
            out[data.item_index(items)] = np.arange(len(items), 0, -1, dtype=np.float64)
            return out

        return scores

    return fit


def popularity_new_user() -> NewUserFit:
    """The reference any new-user method must beat: most rated in train."""

    def fit(train: pd.DataFrame, data: Dataset):
        counts = np.bincount(train["i"].to_numpy(), minlength=data.n_items).astype(np.float64)
        return lambda profile: counts

    return fit


def evaluate_new_users(data: Dataset, fits: dict[str, NewUserFit],
                       config: NewUserConfig | None = None,
                       threshold: float = RELEVANT_THRESHOLD) -> dict:
    """Recall@k and NDCG@k per model for held-out users known by their first few ratings."""
    config = config or NewUserConfig()
    split = temporal_split(data.interactions)
    relevant = relevant_by_user(split.test, threshold)
    eligible = np.array(sorted(u for u in relevant
                               if (split.train["u"] == u).sum() >= config.n_ratings))
    rng = np.random.default_rng(config.seed)
    n_new = max(1, int(round(config.user_fraction * len(eligible)))) if len(eligible) else 0
    new_users = np.sort(rng.choice(eligible, size=n_new, replace=False)) if n_new else eligible
    is_new = np.isin(split.train["u"].to_numpy(), new_users)
    warm = split.train[~is_new]
    mine = split.train[is_new].sort_values(["u", "timestamp"], kind="stable")
    first = mine.groupby("u", sort=True).head(config.n_ratings)
    profiles = {int(u): UserProfile(ratings=dict(zip(g["item_id"].astype(int),
                                                     g["rating"].astype(float), strict=True)))
                for u, g in first.groupby("u")}
    seen = {int(u): g.to_numpy() for u, g in mine.groupby("u")["i"]}
    out: dict = {"users": int(len(new_users)), "n_ratings": config.n_ratings,
                 "train_without_new_users": int(len(warm))}
    train_data = data.with_interactions(warm)
    for name, fit in fits.items():
        vector_fn = fit(train_data.interactions, train_data)
        scores = np.vstack([vector_fn(profiles[int(u)]) for u in new_users])
        top = topk_from_scores(scores, [seen[int(u)] for u in new_users], config.k)
        rel = [relevant[int(u)] for u in new_users]
        hits = hit_matrix(top, rel, config.k)
        n_rel = np.array([len(r) for r in rel])
        out[name] = {f"recall@{config.k}": mean_over_users(
                         recall_from_hits(hits, n_rel, config.k)),
                     f"ndcg@{config.k}": mean_over_users(ndcg_from_hits(hits, n_rel, config.k))}
    return out
