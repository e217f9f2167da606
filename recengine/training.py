"""Training the two-tower model: input pipeline, early stopping, progress.

Batches come from a ``keras.utils.PyDataset`` rather than ``tf.data``: it is
the backend-neutral equivalent (the GPU machines run Keras on JAX, where
TensorFlow is absent), shuffles with our own seeded generator, and builds each
batch with a few numpy gathers. In-batch softmax labels are simply
``arange(B)``: the positive of row k is column k.

Everything is fitted on the interactions passed in (the train split): the
feature spec, the history bags, the popularity used for the log-q correction.
A validation split is taken from them, by the same temporal rule, for early
stopping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import keras
import numpy as np
import pandas as pd

from .bundle import ModelBundle
from .config import TrainConfig
from .features import fit_feature_spec, history_matrix, item_rows
from .model import build_two_tower
from .rating_head import (
    ITEM_MEAN_COLUMN,
    BiasedHead,
    choose_shrinkage,
    fit_biased_head,
    item_content,
)
from .schema import Dataset
from .split import validation_split

#: progress(event) with keys: epoch, epochs, step, steps, loss (and val_loss at epoch end)
Progress = Callable[[dict], None]


@dataclass
class TrainingArrays:
    """Everything the batches are gathered from (all dense, catalogue order)."""

    user_x: np.ndarray
    history: np.ndarray
    item_x: np.ndarray
    rows: np.ndarray  # dense item index -> embedding row
    logq: np.ndarray
    columns: pd.Series  # train row label -> its column in ``history`` (-1: too old)
    item_x_cold: np.ndarray | None = None  # item_x as if no item had a train rating


class InteractionBatches(keras.utils.PyDataset):
    """Shuffled (user, item, rating) batches with in-batch-softmax labels."""

    def __init__(self, arrays: TrainingArrays, inter: pd.DataFrame, cfg: TrainConfig,
                 shuffle: bool, **kwargs):
        super().__init__(**kwargs)
        self.a = arrays
        self.u = inter["u"].to_numpy(np.int64)
        self.i = inter["i"].to_numpy(np.int64)
        self.rating = inter["rating"].to_numpy(np.float32)
        # the bag of a target holds what came before it: cut at the target's column
        self.cutoff = np.maximum(arrays.columns.reindex(inter.index).fillna(0).to_numpy(), 0)
        self.cfg = cfg
        self.bs = cfg.batch_size
        self.shuffle = shuffle
        self.rng = np.random.default_rng(cfg.seed)
        self.order = np.arange(len(self.u))
        if shuffle:
            self.rng.shuffle(self.order)
        #: simulated cold items, training batches only (validation sees items as they are)
        self.cold_rate = cfg.model.cold_item_dropout if shuffle else 0.0
        self.cold_rng = np.random.default_rng([cfg.seed, 7])

    def __len__(self) -> int:
        return math.ceil(len(self.u) / self.bs)

    def on_epoch_end(self):
        if self.shuffle:
            self.rng.shuffle(self.order)

    outputs: tuple[str, ...] | None = None  # restrict the labels to these outputs

    def only(self, *names: str) -> InteractionBatches:
        """The same batches with labels for ``names`` only (a head-only stage)."""
        clone = InteractionBatches.__new__(InteractionBatches)
        clone.__dict__.update(self.__dict__)
        clone.outputs = names
        return clone

    def targets(self, rating: np.ndarray) -> np.ndarray:
        mc = self.cfg.model
        if mc.objective == "binary":
            return (rating >= mc.binary_threshold).astype(np.float32)
        lo, hi = self.scale
        return (2 * (rating - lo) / (hi - lo) - 1).astype(np.float32)

    def __getitem__(self, k: int):
        sel = self.order[k * self.bs:(k + 1) * self.bs]
        u, i = self.u[sel], self.i[sel]
        rows = self.a.rows[i]
        item_x = self.a.item_x[i]
        if self.cold_rate > 0 and self.a.item_x_cold is not None:
            cold = self.cold_rng.uniform(size=len(sel)) < self.cold_rate
            item_x[cold] = self.a.item_x_cold[i[cold]]
            rows = np.where(cold, 0, rows).astype(rows.dtype)
        x = {"user_features": self.a.user_x[u], "history": self.a.history[u],
             "cutoff": self.cutoff[sel].astype(np.int32), "item_features": item_x,
             "item_row": rows, "logq": self.a.logq[i]}
        y = {}
        if self.cfg.model.objective in ("multitask", "retrieval"):
            y["retrieval"] = np.arange(len(sel), dtype=np.int32)
        if self.cfg.model.objective in ("multitask", "rating", "binary"):
            y["rating"] = self.targets(self.rating[sel])
        if self.outputs is not None:
            y = {k: v for k, v in y.items() if k in self.outputs}
        return x, y


class _ProgressCallback(keras.callbacks.Callback):
    def __init__(self, progress: Progress, epochs: int, steps: int):
        super().__init__()
        self.progress, self.epochs, self.steps, self.epoch = progress, epochs, steps, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if batch % 10 == 0 or batch == self.steps - 1:
            self.progress({"epoch": self.epoch + 1, "epochs": self.epochs, "step": batch + 1,
                           "steps": self.steps, "loss": float((logs or {}).get("loss", 0))})

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self.progress({"epoch": epoch + 1, "epochs": self.epochs, "step": self.steps,
                       "steps": self.steps, **logs, "epoch_end": True})


def prepare_arrays(data: Dataset, train: pd.DataFrame, cfg: TrainConfig):
    spec = fit_feature_spec(data, train, cfg.features)
    rows = item_rows(spec, data.items["item_id"].to_numpy())
    counts = np.bincount(train["i"].to_numpy(), minlength=data.n_items).astype(np.float64)
    logq = np.log((counts + 1.0) / (counts.sum() + data.n_items)).astype(np.float32)
    history, columns = history_matrix(spec, train, data.n_users, rows, return_columns=True)
    arrays = TrainingArrays(
        user_x=spec.user_matrix(data.users, train, data.genre_matrix), history=history,
        item_x=spec.item_matrix(data.items, data.genre_matrix), rows=rows, logq=logq,
        columns=pd.Series(columns, index=train.index),
        item_x_cold=(cold_item_matrix(spec, data) if cfg.model.cold_item_dropout > 0
                     else None))
    return spec, arrays


def cold_item_matrix(spec, data: Dataset) -> np.ndarray:
    """Every item's features as a cold item gets them: no train statistics at all."""
    empty = replace(spec, stat_item_ids=np.zeros(0, np.int64),
                    stat_mean=np.zeros(0, np.float32), stat_count=np.zeros(0, np.float32))
    return empty.item_matrix(data.items, data.genre_matrix)


def train_towers(data: Dataset, train: pd.DataFrame, config: TrainConfig | None = None,
                 progress: Progress | None = None, verbose: int = 0) -> ModelBundle:
    """Fit features, the two towers and the rating head on ``train``; no ranking stage.

    :func:`recengine.fit.train_two_tower` adds the learned ranking stage on top;
    it lives above both training and serving because fitting it runs the engine.
    """
    cfg = config or TrainConfig()
    if len(train) == 0:
        raise ValueError("no training interactions")
    keras.utils.set_random_seed(cfg.seed)
    _deterministic_ops()
    start = time.perf_counter()
    spec, arrays = prepare_arrays(data, train, cfg)
    split = validation_split(train, cfg.validation_fraction)
    fit_rows, val_rows = (split.train, split.test) if len(split.test) else (train, None)
    batches = InteractionBatches(arrays, fit_rows, cfg, shuffle=True)
    batches.scale = data.rating_scale
    val = None
    if val_rows is not None:
        val = InteractionBatches(arrays, val_rows, cfg, shuffle=False)
        val.scale = data.rating_scale
    model = build_two_tower(cfg.model, arrays.user_x.shape[1], arrays.item_x.shape[1],
                            int(arrays.rows.max()), arrays.history.shape[1], cfg.seed)
    losses, weights = {}, {}
    if "retrieval" in model.output_names:
        losses["retrieval"] = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        weights["retrieval"] = 1.0
    if "rating" in model.output_names:
        losses["rating"] = (keras.losses.BinaryCrossentropy(from_logits=True)
                            if cfg.model.objective == "binary" else keras.losses.MeanSquaredError())
        weights["rating"] = cfg.model.rating_weight
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=losses,
                  loss_weights=weights)
    # Ranking quality follows the retrieval loss; with both losses in the monitor, a
    # slowly improving rating term keeps training long after retrieval overfits.
    monitor = "val_retrieval_loss" if "retrieval" in losses and len(losses) > 1 else "val_loss"
    callbacks = []
    if val is not None and cfg.patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode="min", patience=cfg.patience, restore_best_weights=True))
    if progress is not None:
        callbacks.append(_ProgressCallback(progress, cfg.epochs, len(batches)))
    hist = model.fit(batches, validation_data=val, epochs=cfg.epochs, callbacks=callbacks,
                     verbose=verbose)
    history = {k: [float(x) for x in v] for k, v in hist.history.items()}
    head = None
    if cfg.rating_head == "shrunk" and cfg.model.objective in ("multitask", "rating"):
        # its validation search goes to metadata["rating_head"], not to the per-epoch history
        head, search = _fit_shrunk_head(model, arrays, batches, val, data.n_users, cfg)
    elif (cfg.model.objective == "multitask" and cfg.model.rating_stop_gradient
            and cfg.rating_head_epochs and val is not None):
        history["rating_head_val_loss"] = _fit_rating_head(model, batches, val, cfg)
    seconds = time.perf_counter() - start
    bundle = ModelBundle.from_training(data, cfg, spec, model, arrays, history, seconds,
                                       head=head, train=train)
    if head is not None:
        bundle.metadata["rating_head"]["validation_rmse_scaled"] = search
    return bundle


def _row_dots(model, arrays: TrainingArrays, rows: InteractionBatches) -> np.ndarray:
    """``v_u · v_m`` of each row, the user's bag cut at the row as training cut it."""
    from .bundle import _predict

    item_v = _predict(model.get_layer("item_tower"), [arrays.item_x, arrays.rows])
    user_v = _predict(model.get_layer("user_tower"),
                      [arrays.user_x[rows.u], arrays.history[rows.u],
                       rows.cutoff.astype(np.int32)])
    return np.sum(user_v.astype(np.float64) * item_v[rows.i], axis=1)


def _fit_shrunk_head(model, arrays: TrainingArrays, batches: InteractionBatches,
                     val: InteractionBatches | None, n_users: int, cfg: TrainConfig
                     ) -> tuple[BiasedHead, dict[str, float]]:
    """Second stage, closed form: shrinkage chosen on the validation rows, then refit on all.

    The towers stay as the first stage left them; the head's scale and offset
    are written into the model's ``rating_dot`` layer, so the saved model and
    :meth:`ModelBundle.to_rating` read them as before.
    """
    search_cfg = cfg.rating_head_search
    content = item_content(arrays.item_x, (ITEM_MEAN_COLUMN,))
    parts = [batches] + ([val] if val is not None else [])
    rows = [{"dots": _row_dots(model, arrays, b), "u": b.u, "i": b.i,
             "y": b.targets(b.rating).astype(np.float64)} for b in parts]
    search: dict[str, float] = {}
    if val is not None and len(val.u):
        lu, li, search = choose_shrinkage(rows[0], rows[1], content, n_users, search_cfg)
    else:  # no validation rows (tiny data): the middle of each grid
        lu = search_cfg.user_shrinks[len(search_cfg.user_shrinks) // 2]
        li = search_cfg.item_shrinks[len(search_cfg.item_shrinks) // 2]
    every = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
    head = fit_biased_head(every["dots"], every["u"], every["i"], every["y"], content,
                           n_users, lu, li, search_cfg.content_ridge, search_cfg.iterations)
    model.get_layer("rating_dot").set_weights([np.float32(head.scale),
                                               np.float32(head.offset)])
    return head, search


def _fit_rating_head(model, batches, val, cfg: TrainConfig) -> list[float]:
    """Second stage: towers frozen, only the rating head (scale, offset, biases) learns."""
    for name in ("user_tower", "item_tower"):
        model.get_layer(name).trainable = False
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss={"rating": keras.losses.MeanSquaredError()})
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2,
                                         restore_best_weights=True)
    hist = model.fit(batches.only("rating"), validation_data=val.only("rating"),
                     epochs=cfg.rating_head_epochs, callbacks=[stop], verbose=0)
    for name in ("user_tower", "item_tower"):
        model.get_layer(name).trainable = True
    return [float(x) for x in hist.history["val_loss"]]


def _deterministic_ops() -> None:
    """Same seed, same weights: ask the TensorFlow backend for deterministic kernels."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
