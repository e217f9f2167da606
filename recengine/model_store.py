"""Trained models on disk, keyed by the data and the config: train once, load after.

The app (and any long-running service) must not retrain on every start: a
bundle trained on the protocol's train split is saved under
``$RECENGINE_HOME`` (default ``.cache/recengine/models``) in a folder named
after the data's fingerprint and a hash of the training config. Any bundle
that fails to load (truncated, edited, made by another library version) is
retrained and replaced instead of crashing the caller: a cache must never be
the reason a demo does not start.

Training uses the train split only, so the same bundle serves the app and
yields leak-free figures in :func:`evaluate_bundle`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .bundle import ModelBundle, load_bundle, save_bundle
from .bundle_io import BundleError
from .cf import train_cf
from .config import TrainConfig
from .evaluation.protocol import System, run_protocol
from .evaluation.systems import cf_system, engine_system
from .fit import train_two_tower
from .schema import Dataset
from .serving import TRAINED_ON, protocol_engine
from .split import temporal_split
from .training import Progress

ENV_HOME = "RECENGINE_HOME"
ENV_TRAIN = "RECENGINE_TRAIN"
DEFAULT_HOME = Path(".cache/recengine/models")


def default_root() -> Path:
    """``$RECENGINE_HOME`` if set, else ``.cache/recengine/models``."""
    return Path(os.environ.get(ENV_HOME, str(DEFAULT_HOME))).expanduser()


def demo_train_config(overrides: str | None = None) -> TrainConfig:
    """A config that trains the embedded synthetic demo in ~15 s on 2 CPU cores.

    Fewer epochs than :class:`TrainConfig`'s default (early stopping usually
    ends the default run around epoch 6-8 on the demo data anyway).
    ``overrides`` (default ``$RECENGINE_TRAIN``) is JSON of TrainConfig fields,
    e.g. ``{"epochs": 2, "model": {"user_tower": {"hidden": [32]}}}``: how the
    tests and a hosted demo shrink training without code changes.
    """
    overrides = os.environ.get(ENV_TRAIN) if overrides is None else overrides
    base = asdict(TrainConfig(epochs=8, batch_size=512, patience=2))
    if overrides:
        try:
            extra = json.loads(overrides)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{ENV_TRAIN} is not valid JSON: {exc}") from exc
        if not isinstance(extra, dict):
            raise ValueError(f"{ENV_TRAIN} must be a JSON object of TrainConfig fields")
        base = _merge(base, extra)
    return TrainConfig(**base)


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if k not in out:
            raise ValueError(f"unknown TrainConfig field {k!r}; valid: {sorted(out)}")
        out[k] = _merge(out[k], v) if isinstance(out[k], dict) and isinstance(v, dict) else v
    return out


def config_hash(train_config: TrainConfig) -> str:
    text = json.dumps(asdict(train_config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class ModelStore:
    """A folder of bundles, one per (data fingerprint, training config)."""

    root: Path = field(default_factory=default_root)

    def key(self, data: Dataset, train_config: TrainConfig) -> str:
        return f"{data.fingerprint[:16]}-{config_hash(train_config)}"

    def path(self, data: Dataset, train_config: TrainConfig) -> Path:
        return Path(self.root) / self.key(data, train_config)

    def load(self, data: Dataset, train_config: TrainConfig) -> ModelBundle | None:
        """The saved bundle, or None when absent or unusable (never raises for a bad one)."""
        path = self.path(data, train_config)
        if not (path / "manifest.json").is_file():
            return None
        try:
            bundle = load_bundle(path, fingerprint=data.fingerprint)
        except (BundleError, OSError, ValueError, KeyError, TypeError):
            return None
        if bundle.metadata.get("trained_on") != TRAINED_ON:
            return None
        return bundle

    def get_or_train(self, data: Dataset, train_config: TrainConfig,
                     progress: Progress | None = None) -> ModelBundle:
        """Load the bundle if a valid one is saved, else train on the train split and save."""
        bundle = self.load(data, train_config)
        if bundle is not None:
            return bundle
        split = temporal_split(data.interactions)
        bundle = train_two_tower(data, split.train, train_config, progress=progress)
        bundle.metadata["trained_on"] = TRAINED_ON
        bundle.metadata["train_interactions"] = int(len(split.train))
        save_bundle(bundle, self.path(data, train_config))  # atomic: temp folder + rename
        return bundle


def evaluate_bundle(data: Dataset, bundle: ModelBundle, include_pipeline: bool = True,
                    include_baselines: bool = True, extra_systems: dict | None = None) -> dict:
    """The protocol's figures for this very bundle beside the baselines (one run).

    The bundle was trained on the protocol's train split, so scoring it on the
    test split is leak-free; :func:`~recengine.serving.protocol_engine` checks the
    split has the size the bundle was trained on rather than trusting it.
    """
    if bundle.metadata.get("trained_on") != TRAINED_ON:
        raise ValueError("this bundle was not trained on the protocol's train split of "
                         "this data; its figures would leak")
    engine = protocol_engine(data, bundle)

    def two_tower(train, train_data) -> System:
        engine_system(engine)(train, train_data)  # the same leak check as the pipeline's
        return System("two_tower", score_fn=bundle.scores_for_users,
                      predict_fn=engine.pair_ratings)

    systems = {"two_tower": two_tower}
    if include_pipeline:
        systems["pipeline"] = engine_system(engine)
    systems.update(extra_systems or {})
    return run_protocol(data, systems, include_baselines=include_baselines)


def train_cf_model(data: Dataset, config=None):
    """Collaborative filtering (rating variant) on the train split: for related items."""
    return train_cf(data, temporal_split(data.interactions).train, config)


def evaluate_with_cf(data: Dataset, bundle: ModelBundle, cf_config=None) -> dict:
    """Two-tower and collaborative filtering in one protocol run (same split, side by side)."""
    return evaluate_bundle(data, bundle, include_pipeline=False, include_baselines=True,
                           extra_systems={"cf": cf_system(cf_config)})
