"""The two ways to stand a trained bundle up as an engine: serving and protocol.

* :func:`serving_engine`: what users get. Retrieval reads every rating (nothing
  a user rated is recommended again) and each user's ``v_u`` and rating bias are
  recomputed from all their ratings, on a copy of the bundle.
* :func:`protocol_engine`: what offline figures are measured on. Retrieval reads
  the protocol's train split only and the vectors are the bundle's own, trained
  on that split: no figure reads a test rating (../shared/EVALUATION.md).

Every page, audit, report and CLI verb builds its engines here (or through
:class:`recengine.subject.Subject`, which holds one of each), so the app and the
terminal describe the same lists.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from .bundle import ModelBundle, load_bundle
from .bundle_io import BundleError
from .data import load_source
from .engine import Engine, EngineConfig
from .schema import Dataset
from .split import temporal_split

#: what the model store and ``train`` (without ``--all-data``) train on
TRAINED_ON = "protocol-train-split"


def serving_engine(data: Dataset, bundle: ModelBundle,
                   config: EngineConfig | None = None) -> Engine:
    """The served pipeline: all history, users' vectors refreshed from all their ratings."""
    scorer = dataclasses.replace(bundle)  # the bundle keeps its train-only vectors
    scorer.refresh_users(data.users, data.interactions)
    return Engine.build(data, scorer, history=data.interactions, config=config)


def protocol_engine(data: Dataset, bundle: ModelBundle, train: pd.DataFrame | None = None,
                    config: EngineConfig | None = None) -> Engine:
    """The same pipeline reading only the protocol's train split, with train-only vectors.

    Refuses a bundle whose metadata says it saw more than that split, because its
    offline figures would include test ratings it has seen.
    """
    train = temporal_split(data.interactions).train if train is None else train
    trained = bundle.metadata.get("train_interactions")
    if trained is not None and int(trained) != len(train):
        raise ValueError(f"this bundle was trained on {trained} interactions, the protocol's "
                         f"train split has {len(train)}: its figures would leak test ratings")
    return Engine.build(data, bundle, history=train, config=config)


def load_for_data(path: str | Path, data: Dataset | None = None
                  ) -> tuple[Dataset, ModelBundle]:
    """A bundle and its data (``metadata["data_source"]`` unless given); refuses other data."""
    bundle = load_bundle(path)
    meta = bundle.metadata
    data = load_source(meta["data_source"]) if data is None else data
    expected = meta.get("fingerprint")
    if expected and expected != data.fingerprint:
        raise BundleError(f"{path}: trained on other data (fingerprint {expected[:12]}..., "
                          f"this data {data.fingerprint[:12]}...)")
    return data, bundle


def load_serving_engine(path: str | Path, data: Dataset | None = None,
                        config: EngineConfig | None = None) -> Engine:
    """The served pipeline of a saved bundle: what ``python -m recengine recommend`` uses."""
    data, bundle = load_for_data(path, data)
    return serving_engine(data, bundle, config)


__all__ = ["TRAINED_ON", "load_for_data", "load_serving_engine", "protocol_engine",
           "serving_engine"]
