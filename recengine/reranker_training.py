"""Fitting the ranking stage without touching test data, or even the last of train.

The protocol's train split is split once more by the same temporal rule. A
model trained on the earlier part retrieves candidates for each user; the
labels are whether the user went on to watch (and rate >= the relevance
threshold) each candidate in the later part. The weights then serve on top of
the model trained on all of train, whose scores have the same meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import TrainConfig
from .engine import Engine, EngineConfig
from .reranker import Reranker, fit_reranker
from .schema import Dataset
from .split import temporal_split
from .training import Progress, train_towers


@dataclass
class RerankerConfig:
    inner_fraction: float = 0.2  # the protocol's own test share, applied inside train
    threshold: float = 4.0  # relevance, as in EVALUATION.md
    l2: float = 1.0
    max_users: int = 3000
    seed: int = 0


def fit_pipeline_reranker(data: Dataset, train: pd.DataFrame,
                          train_config: TrainConfig | None = None,
                          engine_config: EngineConfig | None = None,
                          config: RerankerConfig | None = None,
                          progress: Progress | None = None) -> Reranker:
    """Train an inner model on the earlier part of train; learn the stage on the rest."""
    cfg = config or RerankerConfig()
    inner = temporal_split(train, cfg.inner_fraction)
    bundle = train_towers(data, inner.train, train_config, progress=progress)
    engine = Engine.build(data, bundle, history=inner.train, config=engine_config)
    relevant = (inner.test[inner.test["rating"] >= cfg.threshold]
                .groupby("u")["i"].apply(lambda s: s.to_numpy()).to_dict())
    users = np.array(sorted(relevant), dtype=np.int64)
    if len(users) > cfg.max_users:
        users = np.sort(np.random.default_rng(cfg.seed).choice(users, cfg.max_users,
                                                               replace=False))
    xs, ys = [], []
    for u in users.tolist():
        items, feats = engine.candidate_features(u)
        if len(items):
            xs.append(feats)
            ys.append(np.isin(items, relevant[u]).astype(np.float64))
    if not xs or not np.concatenate(ys).any():
        raise ValueError("no relevant candidate to learn the ranking stage from")
    return fit_reranker(np.vstack(xs), np.concatenate(ys), cfg.l2)
