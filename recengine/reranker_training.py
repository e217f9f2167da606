"""Fitting the ranking stage without touching test data, or even the last of train.

The protocol's train split is split once more by the same temporal rule. A
model trained on the earlier part retrieves candidates for each user; the
labels are whether the user went on to watch (and rate >= the relevance
threshold) each candidate in the later part. The stage then serves on top of
the model trained on all of train, whose scores have the same meaning.

Which stage serves is chosen here, on validation: the users of the inner split
are divided into folds (seeded); every candidate stage (logistic, LightGBM
lambdarank) is fitted on all folds but one and scored on the one left out, so
every user is a validation user once, by Recall@10 and NDCG@10 (the protocol's
own metrics over the inner later part). Why folds rather than one held-out
group: with ~600 users a single 30% group moved the two stages' NDCG@10 by
more than their difference (bench/README.md). The winner by NDCG@10 (ties: the
simpler, logistic) is refitted on all users, and both validation figures go
with it into the bundle's metadata. On the same folds' held-out scores, the
winner's popularity penalty is then chosen for catalogue coverage against
EASE's on the same users (recengine.popularity_penalty), and recorded beside.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .config import TrainConfig
from .engine import Engine, EngineConfig
from .popularity_penalty import (
    PenaltyChoice,
    PopularityPenalty,
    PopularityPenaltyConfig,
    choose_strength,
    reference_coverage,
    top_items,
    with_penalty,
)
from .ranking_stage import RankingStage
from .reranker import fit_reranker
from .reranker_lgbm import LgbmConfig, fit_lgbm_ranker
from .schema import Dataset
from .split import temporal_split
from .training import Progress, train_towers

#: the stages this module can fit, simplest first (a tie goes to the first)
STAGE_NAMES = ("logistic", "lightgbm")
K = 10  # the protocol's list length


@dataclass
class RerankerConfig:
    inner_fraction: float = 0.2  # the protocol's own test share, applied inside train
    threshold: float = 4.0  # relevance, as in EVALUATION.md
    l2: float = 1.0
    max_users: int = 3000
    seed: int = 0
    #: which stages compete on validation (one name: no competition, no held-out users)
    stages: tuple[str, ...] = STAGE_NAMES
    #: folds of the inner split's users for choosing the stage (each validated once)
    folds: int = 3
    lgbm: LgbmConfig = field(default_factory=LgbmConfig)
    #: the popularity penalty's strength, chosen on the same folds (for coverage)
    penalty: PopularityPenaltyConfig = field(default_factory=PopularityPenaltyConfig)

    def __post_init__(self) -> None:
        unknown = [s for s in self.stages if s not in STAGE_NAMES]
        if unknown or not self.stages:
            raise ValueError(f"unknown ranking stage(s) {unknown or '(none)'}; use "
                             f"{', '.join(STAGE_NAMES)}")


@dataclass
class StageData:
    """The inner split's candidates as learning data, one block of rows per user."""

    x: np.ndarray  # (rows, len(FEATURES))
    y: np.ndarray  # (rows,) 1 = watched and liked in the later part
    groups: np.ndarray  # (users,) rows per user, in order
    n_relevant: np.ndarray  # (users,) relevant items in the later part (retrieved or not)
    items: np.ndarray | None = None  # (rows,) each candidate's dense item index
    n_items: int = 0  # the catalogue's size (the denominator of Coverage@10)
    #: EASE's Coverage@10 over the same users, fitted on the earlier part
    reference_coverage: float | None = None

    def users(self, keep: np.ndarray) -> StageData:
        """The rows of the users where ``keep`` (a boolean per user) is True."""
        row_keep = np.repeat(keep, self.groups)
        return StageData(self.x[row_keep], self.y[row_keep], self.groups[keep],
                         self.n_relevant[keep],
                         None if self.items is None else self.items[row_keep], self.n_items,
                         self.reference_coverage)

    def coverage(self, scores: np.ndarray, k: int = K) -> float:
        """Coverage@k of the lists ``scores`` give: distinct items shown / catalogue."""
        if self.items is None or not self.n_items:
            raise ValueError("these learning data carry no item indices for coverage")
        return len(top_items(scores, self.items, self.groups, k)) / self.n_items


@dataclass
class FittedStage:
    """The stage that serves, and the validation figures that chose it."""

    stage: RankingStage
    validation: dict[str, dict[str, float]]  # stage name -> recall@10, ndcg@10
    chosen: str
    penalty: PenaltyChoice | None = None  # the popularity penalty's choice, if one was made

    def metadata(self) -> dict:
        """What the bundle records: which stage, what it learned, the figures that chose it."""
        out = {"stage": self.chosen, "features": self.stage.explain(),
               "validation": self.validation}
        if self.penalty is not None:
            out["popularity_penalty"] = self.penalty.metadata()
        return out


def ranking_metrics(scores: np.ndarray, data: StageData, k: int = K) -> dict[str, float]:
    """Recall@k and NDCG@k (EVALUATION.md's definitions) of scored candidates, per user.

    A user's relevant items that retrieval missed still count in the denominator,
    so the figure is the pipeline's, not the stage's alone.
    """
    recalls, ndcgs = per_user_metrics(scores, data, k)
    return {f"recall@{k}": float(np.mean(recalls)) if recalls else 0.0,
            f"ndcg@{k}": float(np.mean(ndcgs)) if ndcgs else 0.0}


def per_user_metrics(scores: np.ndarray, data: StageData, k: int = K
                     ) -> tuple[list[float], list[float]]:
    """Recall@k and NDCG@k of each user with a relevant item (see :func:`ranking_metrics`)."""
    recalls, ndcgs = [], []
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    start = 0
    for n, n_rel in zip(data.groups.tolist(), data.n_relevant.tolist(), strict=True):
        s, y = scores[start:start + n], data.y[start:start + n]
        start += n
        order = np.lexsort((np.arange(n), -s))[:k]  # ties keep discovery order
        hits = y[order] > 0
        denom = min(int(n_rel), k)
        if denom == 0:
            continue
        recalls.append(float(hits.sum()) / denom)
        ndcgs.append(float(hits @ discounts[:len(hits)]) / float(discounts[:denom].sum()))
    return recalls, ndcgs


def fit_stage(name: str, data: StageData, config: RerankerConfig) -> RankingStage:
    """One stage fitted on ``data``."""
    if name == "logistic":
        return fit_reranker(data.x, data.y, config.l2)
    return fit_lgbm_ranker(data.x, data.y, data.groups, config.lgbm)


def choose_stage(data: StageData, config: RerankerConfig) -> FittedStage:
    """Fit each stage on some users, compare on the others, refit the winner on all.

    Then the popularity penalty's strength for the winner, on the same folds'
    held-out scores (:func:`choose_penalty`), when the data carry what it needs.
    """
    held_out: dict[str, np.ndarray] = {}
    if len(config.stages) == 1:
        chosen, validation = config.stages[0], {}
    else:
        held_out = {name: out_of_fold_scores(name, data, config) for name in config.stages}
        validation = {name: ranking_metrics(held_out[name], data) for name in config.stages}
        chosen = max(config.stages, key=lambda n: (validation[n][f"ndcg@{K}"],
                                                    -config.stages.index(n)))
    stage = fit_stage(chosen, data, config)
    choice = None
    if (config.penalty.enabled and data.items is not None
            and data.reference_coverage is not None):
        scores = held_out.get(chosen)
        if scores is None:
            scores = out_of_fold_scores(chosen, data, config)
        choice = choose_penalty(scores, data, config.penalty)
        stage = with_penalty(stage, PopularityPenalty.fitted(choice.strength, data.x))
    return FittedStage(stage, validation, chosen, choice)


def penalty_figures(scores: np.ndarray, data: StageData, strengths, k: int = K
                    ) -> dict[float, dict[str, float]]:
    """Validation Recall, NDCG and Coverage at k of ``scores`` plus each strength's penalty."""
    out = {}
    for s in strengths:
        penalised = scores + PopularityPenalty.fitted(s, data.x).part(data.x)
        out[float(s)] = {**ranking_metrics(penalised, data, k),
                         f"coverage@{k}": data.coverage(penalised, k)}
    return out


def choose_penalty(scores: np.ndarray, data: StageData, config: PopularityPenaltyConfig
                   ) -> PenaltyChoice:
    """The penalty's strength for held-out ``scores`` (recengine.popularity_penalty's rule)."""
    figures = penalty_figures(scores, data, config.strengths)
    strength, rule = choose_strength(figures, float(data.reference_coverage), config)
    return PenaltyChoice(strength, float(data.reference_coverage),
                         {f"{s:g}": f for s, f in figures.items()}, rule)


def user_folds(n_users: int, folds: int, seed: int) -> np.ndarray:
    """Each user's fold, 0..folds-1, as even as possible, in a seeded random order."""
    if folds < 2:
        raise ValueError(f"choosing a ranking stage needs at least 2 folds, got {folds}")
    return np.random.default_rng(seed).permutation(np.arange(n_users) % folds)


def cross_validate(name: str, data: StageData, config: RerankerConfig) -> dict[str, float]:
    """Recall@10 and NDCG@10 of a stage over every user, each scored by the fit without it."""
    return ranking_metrics(out_of_fold_scores(name, data, config), data)


def out_of_fold_scores(name: str, data: StageData, config: RerankerConfig) -> np.ndarray:
    """(rows,) each user's candidates scored by the stage fitted on the other folds."""
    fold = user_folds(len(data.groups), config.folds, config.seed)
    row_fold = np.repeat(fold, data.groups)
    scores = np.zeros(len(data.y), np.float64)
    for f in range(config.folds):
        fit_part, val_part = data.users(fold != f), data.users(fold == f)
        if not fit_part.y.any():
            raise ValueError("too few users with a relevant candidate to choose the ranking "
                             "stage")
        scores[row_fold == f] = fit_stage(name, fit_part, config).score(val_part.x)
    return scores


def inner_stage_data(data: Dataset, train: pd.DataFrame,
                     train_config: TrainConfig | None = None,
                     engine_config: EngineConfig | None = None,
                     config: RerankerConfig | None = None,
                     progress: Progress | None = None) -> StageData:
    """Train an inner model on the earlier part of train; label its candidates by the rest."""
    cfg = config or RerankerConfig()
    inner = temporal_split(train, cfg.inner_fraction)
    bundle = train_towers(data, inner.train, train_config, progress=progress)
    engine = Engine.build(data, bundle, history=inner.train, config=engine_config)
    return engine_stage_data(engine, inner.test, cfg)


def engine_stage_data(engine: Engine, later: pd.DataFrame,
                      config: RerankerConfig | None = None) -> StageData:
    """Candidates of an engine reading the earlier part, labelled by ``later`` (>= 4)."""
    cfg = config or RerankerConfig()
    relevant = (later[later["rating"] >= cfg.threshold]
                .groupby("u")["i"].apply(lambda s: s.to_numpy()).to_dict())
    users = np.array(sorted(relevant), dtype=np.int64)
    if len(users) > cfg.max_users:
        users = np.sort(np.random.default_rng(cfg.seed).choice(users, cfg.max_users,
                                                               replace=False))
    xs, ys, groups, n_rel, found, kept = [], [], [], [], [], []
    for u in users.tolist():
        items, feats = engine.candidate_features(u)
        if len(items):
            xs.append(feats)
            ys.append(np.isin(items, relevant[u]).astype(np.float64))
            groups.append(len(items))
            n_rel.append(len(np.unique(relevant[u])))
            found.append(np.asarray(items, np.int64))
            kept.append(u)
    if not xs or not np.concatenate(ys).any():
        raise ValueError("no relevant candidate to learn the ranking stage from")
    n_items = engine.data.n_items
    watched = int((np.bincount(engine.history["i"], minlength=n_items) > 0).sum())
    reference = (reference_coverage(engine.history, np.asarray(kept, np.int64), n_items,
                                    engine.data.n_users)
                 if cfg.penalty.enabled and watched <= cfg.penalty.max_reference_items
                 else None)
    return StageData(np.vstack(xs), np.concatenate(ys), np.asarray(groups, np.int64),
                     np.asarray(n_rel, np.int64), np.concatenate(found), n_items, reference)


def fit_pipeline_reranker(data: Dataset, train: pd.DataFrame,
                          train_config: TrainConfig | None = None,
                          engine_config: EngineConfig | None = None,
                          config: RerankerConfig | None = None,
                          progress: Progress | None = None) -> FittedStage:
    """The inner split's learning data, then the stage chosen on its validation users."""
    cfg = config or RerankerConfig(seed=(train_config or TrainConfig()).seed)
    stage_data = inner_stage_data(data, train, train_config, engine_config, cfg, progress)
    return choose_stage(stage_data, cfg)


__all__ = ["FittedStage", "RerankerConfig", "StageData", "choose_penalty", "choose_stage",
           "cross_validate", "engine_stage_data", "fit_pipeline_reranker", "fit_stage",
           "inner_stage_data", "out_of_fold_scores", "penalty_figures", "per_user_metrics",
           "ranking_metrics", "user_folds"]
