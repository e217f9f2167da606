"""Fitting the whole pipeline: the two towers, then the learned ranking stage.

Why a module of its own: the ranking stage is learned by running the serving
engine over an inner split of train, so fitting it needs both training and
serving. Living above both (``fit -> training``, ``fit -> reranker_training ->
engine``) keeps the import graph one-way: nothing below imports this module.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pandas as pd

from .bundle import ModelBundle
from .config import TrainConfig
from .reranker_training import fit_pipeline_reranker
from .schema import Dataset
from .training import Progress, train_towers


def train_two_tower(data: Dataset, train: pd.DataFrame, config: TrainConfig | None = None,
                    progress: Progress | None = None, verbose: int = 0) -> ModelBundle:
    """Fit features and towers on ``train``, then (by default) the ranking stage.

    ``config.ranking_stage=False`` stops after the towers: the engine then ranks
    by ``v_u · v_m`` and says so.
    """
    cfg = config or TrainConfig()
    bundle = train_towers(data, train, cfg, progress=progress, verbose=verbose)
    bundle.metadata["train_interactions"] = int(len(train))
    if cfg.ranking_stage:
        attach_ranking_stage(bundle, data, train, cfg)
    return bundle


def attach_ranking_stage(bundle: ModelBundle, data: Dataset, train: pd.DataFrame,
                         cfg: TrainConfig) -> None:
    """Fit the ranking stage on an inner split of ``train`` (chosen on validation); store it."""
    start = time.perf_counter()
    try:
        fitted = fit_pipeline_reranker(data, train, replace(cfg, ranking_stage=False))
    except ValueError as exc:  # too little data for an inner split: rank by v_u · v_m
        bundle.metadata["ranking_stage"] = {"skipped": str(exc)}
        return
    bundle.extras.update(fitted.stage.to_arrays())
    # the stage's explanation plus which stage won and both validation figures
    bundle.metadata["ranking_stage"] = fitted.metadata()
    bundle.metadata["train_seconds"] += time.perf_counter() - start


__all__ = ["attach_ranking_stage", "train_two_tower"]
