"""Collaborative filtering's optimisation: the seeds' cost and a custom Adam loop.

The cost is written in ``keras.ops`` so the same function serves every Keras 3
backend; only :func:`value_and_grad` knows how the backend differentiates
(TensorFlow: ``tf.GradientTape``; JAX: ``jax.value_and_grad``). Computation is
gathered over the rated pairs (index arrays ``u``, ``i``), never a dense
users x items matrix, so ml-latest-small (610 x 9,742, ~80k ratings) trains in
seconds on a CPU.

Kept free of :class:`recengine.schema.Dataset` and of the model class: it maps
arrays to arrays, which is what the gradient check in the tests needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops


@dataclass
class CFConfig:
    """Collaborative filtering, as the seeds teach it (defaults tuned on a validation split).

    ``n_features`` is the length of ``x(i)`` and ``w(j)``; ``l2`` is lambda in the
    cost; ``batch`` is ``"full"`` (one Adam step per epoch over every rated pair,
    as the seeds' loop does) or an int minibatch size. ``binary`` learns "liked"
    labels (``rating >= like_threshold``) through a sigmoid with the logistic loss.

    Defaults chosen on a validation split taken from ml-latest-small's train part
    (lambda 1-50, 5-100 features, 100-400 epochs): lambda 10 with 50 features had
    the lowest validation RMSE among the cheap settings; from lambda 20 up every
    factor shrinks to zero and the model degenerates to item mean + user offset.
    100 epochs matched 200 and 400 to the 4th decimal.
    """

    n_features: int = 50
    l2: float = 10.0
    learning_rate: float = 0.1
    epochs: int = 100
    binary: bool = False
    seed: int = 0
    mean_normalise: bool = True
    batch: str | int = "full"
    like_threshold: float = 4.0
    #: standard deviation of the random initial ``x`` and ``w``
    init_scale: float = 0.1

    def __post_init__(self) -> None:
        if self.n_features < 1 or self.epochs < 0 or self.l2 < 0 or self.learning_rate <= 0:
            raise ValueError(f"CFConfig: need n_features >= 1, epochs >= 0, l2 >= 0 and "
                             f"learning_rate > 0, got {self}")
        if self.batch != "full" and not (isinstance(self.batch, int) and self.batch > 0):
            raise ValueError(f"CFConfig.batch must be 'full' or a positive int, got "
                             f"{self.batch!r}")


def cf_cost(x, w, b, u, i, y, l2: float, binary: bool, reg_weight: float = 1.0):
    """The seeds' cost over the rated pairs given by ``u``, ``i`` (any Keras backend).

    Rating: ``1/2 sum (w(j).x(i) + b(j) - y)^2 + lambda/2 (sum w^2 + sum x^2)``.
    Binary: the logistic loss ``sum softplus(z) - y z`` with ``z = w(j).x(i) + b(j)``
    (the same as ``-y log f - (1-y) log(1-f)`` with ``f = sigmoid(z)``, written this
    way so a large ``|z|`` cannot produce ``log(0)``), plus the same L2 term.
    ``reg_weight`` scales the L2 term for a minibatch (its share of the ratings), so
    a whole epoch of minibatches adds up to the full cost.
    """
    z = ops.sum(ops.take(w, u, axis=0) * ops.take(x, i, axis=0), axis=1) + ops.take(b, u, axis=0)
    if binary:
        data_term = ops.sum(ops.softplus(z) - y * z)
    else:
        data_term = 0.5 * ops.sum(ops.square(z - y))
    reg = 0.5 * l2 * (ops.sum(ops.square(w)) + ops.sum(ops.square(x)))
    return data_term + reg_weight * reg


def value_and_grad(cost: Callable, variables: Sequence[keras.Variable]):
    """``cost(values)`` and its gradients with respect to ``variables``.

    The one backend-specific step of the loop. TensorFlow is what this project
    runs and tests; the JAX branch is the documented equivalent (jax is not
    installed here, so it is unexercised).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = cost(list(variables))
        return loss, tape.gradient(loss, list(variables))
    if backend == "jax":
        import jax

        return jax.value_and_grad(cost)([v.value for v in variables])
    raise NotImplementedError(f"collaborative filtering's training loop supports the "
                              f"tensorflow and jax Keras backends, not {backend!r}")


def fit_cf_parameters(u: np.ndarray, i: np.ndarray, y: np.ndarray, n_users: int,
                      n_items: int, config: CFConfig,
                      progress: Callable[[int, float], None] | None = None):
    """Learn ``x``, ``w``, ``b`` jointly by Adam on :func:`cf_cost`; return them and the history.

    Items and users without a rating start at zero: nothing but the L2 term would
    move them, and its gradient at zero is zero, so they stay exactly zero (no
    random vectors for things the data says nothing about). ``history[e]`` is the
    cost over the whole training set during epoch ``e`` (before that epoch's step
    for ``batch="full"``; the sum of the minibatch costs otherwise).
    """
    rng = np.random.default_rng(config.seed)
    k = config.n_features
    x0 = (rng.normal(size=(n_items, k)) * config.init_scale).astype(np.float32)
    w0 = (rng.normal(size=(n_users, k)) * config.init_scale).astype(np.float32)
    x0[np.bincount(i, minlength=n_items) == 0] = 0.0
    w0[np.bincount(u, minlength=n_users) == 0] = 0.0
    x = keras.Variable(x0, name="x")
    w = keras.Variable(w0, name="w")
    b = keras.Variable(np.zeros(n_users, np.float32), name="b")
    variables = [x, w, b]
    optimizer = keras.optimizers.Adam(learning_rate=config.learning_rate)
    optimizer.build(variables)

    n = len(y)
    batch = n if config.batch == "full" else min(int(config.batch), n)
    u32, i32, yf = u.astype(np.int32), i.astype(np.int32), y.astype(np.float32)
    history: list[float] = []
    for epoch in range(config.epochs):
        order = np.arange(n) if batch == n else rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch):
            sel = order[start:start + batch]
            bu, bi, by = u32[sel], i32[sel], yf[sel]
            share = len(sel) / n

            def cost(params, bu=bu, bi=bi, by=by, share=share):
                return cf_cost(*params, bu, bi, by, config.l2, config.binary, share)

            loss, grads = value_and_grad(cost, variables)
            optimizer.apply(grads, variables)
            total += float(ops.convert_to_numpy(loss))
        history.append(total)
        if progress is not None:
            progress(epoch, total)
    arrays = (ops.convert_to_numpy(v.value) for v in variables)
    x_out, w_out, b_out = (np.asarray(a, dtype=np.float32) for a in arrays)
    return x_out, w_out, b_out, history
