"""The two-tower network (Keras 3, backend-neutral through ``keras.ops``).

A user tower maps user features to ``v_u`` and an item tower maps item features
to ``v_m``; both end in 32 units and are L2-normalised, and the prediction is
``v_u · v_m`` (the seeds' design). Beyond the seeds, two optional inputs lift
quality without giving up cold start:

* the item tower may add a learned item-ID embedding; items never seen in
  training use row 0, which ID dropout trains to mean "features only";
* the user tower may add a history bag: the mean of learned embeddings of the
  user's recent train items (YouTube-DNN style). It serves new visitors with a
  few rated items as naturally as existing users. During training a target's
  bag holds only what the user watched before it (never the target itself, or
  the tower would learn to copy its input; never later items, which serving
  cannot know).

Outputs for training: ``retrieval`` in-batch logits (B, B) with log-popularity
correction, and ``rating``, an affine map of the dot product onto the scaled
rating (or onto the logit of a binary label). ``ModelConfig(use_item_ids=False,
use_history=False)`` is the pure content model.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from .config import ModelConfig, TowerConfig

__all__ = ["ModelConfig", "TowerConfig", "build_two_tower"]

PACKAGE = "recengine"


@keras.saving.register_keras_serializable(package=PACKAGE)
class L2Normalize(layers.Layer):
    def call(self, x):
        return x / ops.sqrt(ops.maximum(ops.sum(x * x, axis=-1, keepdims=True), 1e-12))


@keras.saving.register_keras_serializable(package=PACKAGE)
class RowDropout(layers.Layer):
    """Replaces embedding rows by 0 ("unknown") at random while training."""

    def __init__(self, rate: float = 0.1, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed = seed
        self.seed_gen = keras.random.SeedGenerator(seed)

    def call(self, rows, training=None):
        if not training or self.rate <= 0:
            return rows
        keep = keras.random.uniform(ops.shape(rows), seed=self.seed_gen) >= self.rate
        return ops.where(keep, rows, ops.zeros_like(rows))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class HistoryBag(layers.Layer):
    """Mean embedding of the ``window`` history columns just before ``cutoff``.

    Training passes the target's own column as the cutoff, so a user's bag holds
    only what they watched before the item being predicted, exactly as at
    serving time (cutoff = history length: everything watched so far).
    """

    def __init__(self, window: int = 50, **kwargs):
        super().__init__(**kwargs)
        self.window = window

    def call(self, inputs):
        emb, rows, cutoff = inputs
        pos = ops.expand_dims(ops.arange(ops.shape(rows)[1], dtype="int32"), 0)
        cut = ops.expand_dims(ops.cast(cutoff, "int32"), -1)
        mask = ops.logical_and(rows > 0, ops.logical_and(pos < cut, pos >= cut - self.window))
        mask = ops.expand_dims(ops.cast(mask, emb.dtype), -1)
        total = ops.sum(emb * mask, axis=1)
        count = ops.maximum(ops.sum(mask, axis=1), 1.0)
        return total / count

    def get_config(self):
        return {**super().get_config(), "window": self.window}


@keras.saving.register_keras_serializable(package=PACKAGE)
class InBatchLogits(layers.Layer):
    """(B, B) logits ``v_u·v_m / T - w·log q(m)``: the diagonal holds the positives."""

    def __init__(self, temperature: float = 0.1, logq_weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.temperature = temperature
        self.logq_weight = logq_weight

    def call(self, inputs):
        vu, vm, logq = inputs
        logits = ops.matmul(vu, ops.transpose(vm)) / self.temperature
        return logits - self.logq_weight * ops.expand_dims(logq, 0)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature,
                "logq_weight": self.logq_weight}


@keras.saving.register_keras_serializable(package=PACKAGE)
class DotAffine(layers.Layer):
    """``a · (v_u·v_m) + c``: the dot product in rating (or logit) units."""

    def __init__(self, stop_gradient: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.stop_gradient = stop_gradient

    def get_config(self):
        return {**super().get_config(), "stop_gradient": self.stop_gradient}

    def build(self, input_shape):
        self.a = self.add_weight(shape=(), initializer=keras.initializers.Constant(1.0),
                                 name="scale")
        self.c = self.add_weight(shape=(), initializer="zeros", name="offset")

    def call(self, inputs):
        vu, vm = inputs
        dot = ops.sum(vu * vm, axis=-1)
        if self.stop_gradient:
            dot = ops.stop_gradient(dot)
        return self.a * dot + self.c


@keras.saving.register_keras_serializable(package=PACKAGE)
class SqueezeLast(layers.Layer):
    """(B, 1) -> (B,): bias terms must add to the dot product, not broadcast."""

    def call(self, x):
        return ops.squeeze(x, axis=-1)


def _mlp(x, cfg: TowerConfig, prefix: str):
    reg = keras.regularizers.L2(cfg.l2) if cfg.l2 else None
    for j, units in enumerate(cfg.hidden):
        x = layers.Dense(units, activation="relu", kernel_regularizer=reg,
                         name=f"{prefix}_dense{j}")(x)
        if cfg.dropout:
            x = layers.Dropout(cfg.dropout, name=f"{prefix}_dropout{j}")(x)
    x = layers.Dense(cfg.output, kernel_regularizer=reg, name=f"{prefix}_out")(x)
    return L2Normalize(name=f"{prefix}_l2")(x)


def build_user_tower(cfg: ModelConfig, n_user_features: int, n_rows: int,
                     history_len: int, seed: int = 0) -> keras.Model:
    feats = keras.Input((n_user_features,), name="user_features")
    hist = keras.Input((history_len,), dtype="int32", name="history")
    cutoff = keras.Input((), dtype="int32", name="cutoff")
    x = feats
    if cfg.use_history:
        rows = RowDropout(cfg.history_dropout, seed=seed + 1, name="history_dropout")(hist)
        emb = layers.Embedding(n_rows + 1, cfg.embedding_dim, name="history_embedding",
                               embeddings_regularizer=keras.regularizers.L2(1e-6))(rows)
        bag = HistoryBag(cfg.history_window, name="history_bag")([emb, rows, cutoff])
        x = layers.Concatenate(name="user_concat")([feats, bag])
    out = _mlp(x, cfg.user_tower, "user")
    return keras.Model([feats, hist, cutoff], out, name="user_tower")


def build_item_tower(cfg: ModelConfig, n_item_features: int, n_rows: int,
                     seed: int = 0) -> keras.Model:
    feats = keras.Input((n_item_features,), name="item_features")
    row = keras.Input((), dtype="int32", name="item_row")
    x = feats
    if cfg.use_item_ids:
        r = RowDropout(cfg.item_id_dropout, seed=seed + 2, name="id_dropout")(row)
        emb = layers.Embedding(n_rows + 1, cfg.embedding_dim, name="item_embedding",
                               embeddings_regularizer=keras.regularizers.L2(1e-6))(r)
        x = layers.Concatenate(name="item_concat")([feats, emb])
    out = _mlp(x, cfg.item_tower, "item")
    return keras.Model([feats, row], out, name="item_tower")


def build_user_bias(n_user_features: int) -> keras.Model:
    feats = keras.Input((n_user_features,), name="user_features")
    out = layers.Dense(1, name="user_bias_dense")(feats)
    return keras.Model(feats, SqueezeLast(name="user_bias_flat")(out), name="user_bias")


def build_item_bias(n_item_features: int, n_rows: int) -> keras.Model:
    feats = keras.Input((n_item_features,), name="item_features")
    row = keras.Input((), dtype="int32", name="item_row")
    linear = layers.Dense(1, name="item_bias_dense")(feats)
    offset = layers.Embedding(n_rows + 1, 1, embeddings_initializer="zeros",
                              embeddings_regularizer=keras.regularizers.L2(1e-5),
                              name="item_bias_embedding")(row)
    out = layers.Add(name="item_bias_sum")([SqueezeLast()(linear), SqueezeLast()(offset)])
    return keras.Model([feats, row], out, name="item_bias")


def build_two_tower(cfg: ModelConfig, n_user_features: int, n_item_features: int,
                    n_rows: int, history_len: int, seed: int = 0) -> keras.Model:
    """The training model: both towers, the in-batch logits and the rating head."""
    user_tower = build_user_tower(cfg, n_user_features, n_rows, history_len, seed)
    item_tower = build_item_tower(cfg, n_item_features, n_rows, seed)
    uf = keras.Input((n_user_features,), name="user_features")
    hist = keras.Input((history_len,), dtype="int32", name="history")
    cutoff = keras.Input((), dtype="int32", name="cutoff")
    itf = keras.Input((n_item_features,), name="item_features")
    row = keras.Input((), dtype="int32", name="item_row")
    logq = keras.Input((), name="logq")
    vu = user_tower([uf, hist, cutoff])
    vm = item_tower([itf, row])
    outputs = {}
    if cfg.objective in ("multitask", "retrieval"):
        outputs["retrieval"] = InBatchLogits(cfg.temperature, cfg.logq_weight,
                                             name="retrieval")([vu, vm, logq])
    if cfg.objective in ("multitask", "rating", "binary"):
        stop = cfg.rating_stop_gradient and cfg.objective == "multitask"
        rating = DotAffine(stop, name="rating_dot")([vu, vm])
        if cfg.rating_biases:
            ub = build_user_bias(n_user_features)(uf)
            ib = build_item_bias(n_item_features, n_rows)([itf, row])
            rating = layers.Add(name="rating_sum")([rating, ub, ib])
        outputs["rating"] = layers.Identity(name="rating")(rating)
    return keras.Model({"user_features": uf, "history": hist, "cutoff": cutoff,
                        "item_features": itf, "item_row": row, "logq": logq},
                       outputs, name="two_tower")
