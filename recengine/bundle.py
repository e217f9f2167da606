"""A trained two-tower model as one reloadable, verifiable bundle.

Holds what serving needs and nothing it must recompute: the Keras model, the
feature spec (with its train statistics), ``v_m`` for every catalogue item and
``v_u`` for every known user, precomputed once, and the users' history bags so
a new visitor's vector is built exactly as training built them. Saved through
:mod:`recengine.bundle_io` (atomic write, SHA-256 manifest, fingerprint check)
and loaded with Keras safe mode, so a bundle that is truncated, edited or made
for other data is refused instead of served.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .bundle_io import REQUIRED_FILES, BundleError, read_bundle, write_bundle
from .config import TrainConfig
from .features import FeatureSpec, catalogue_positions, history_matrix
from .rating_head import METADATA_KEY, user_bias_from_ratings
from .scoring import UserProfile
from .similarity import SimilarityConfig, build_similar_table

KIND = "two_tower"


@dataclass
class ModelBundle:
    config: TrainConfig
    spec: FeatureSpec
    model: object  # keras.Model: the training model; towers are its sub-models
    item_vectors: np.ndarray
    user_vectors: np.ndarray
    item_ids: np.ndarray
    genre_matrix: np.ndarray
    history: np.ndarray  # (n_users, L) embedding rows of the users' train items
    rows: np.ndarray  # dense item index -> embedding row
    metadata: dict = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    #: rating-head bias terms, precomputed like the vectors (zeros without biases)
    user_bias: np.ndarray | None = None
    item_bias: np.ndarray | None = None
    #: the rating head's (scale, offset), read from the model once: reading a Keras
    #: variable costs milliseconds, more than the rest of a recommend call
    _rating_affine: tuple[float, float] | None = field(default=None, init=False, repr=False,
                                                       compare=False)

    def __post_init__(self):
        if self.user_bias is None:
            self.user_bias = np.zeros(len(self.user_vectors), np.float32)
        if self.item_bias is None:
            self.item_bias = np.zeros(len(self.item_vectors), np.float32)

    # ---- construction ---------------------------------------------------------------
    @classmethod
    def from_training(cls, data, cfg, spec, model, arrays, history: dict,
                      seconds: float, head=None, train: pd.DataFrame | None = None
                      ) -> ModelBundle:
        item_vectors = _predict(model.get_layer("item_tower"),
                                [arrays.item_x, arrays.rows])
        user_vectors = _predict(model.get_layer("user_tower"),
                                [arrays.user_x, arrays.history, _full(arrays.history)])
        metrics = {k: v[-1] for k, v in history.items()}
        # the best epoch by what early stopping watched; per-epoch series only (the
        # rating head's second stage has its own, shorter series: keep its last value)
        monitor = next((k for k in ("val_retrieval_loss", "val_loss") if k in history), None)
        if monitor is not None:
            best = int(np.argmin(history[monitor]))
            n = len(history[monitor])
            metrics.update({k: v[best] for k, v in history.items() if len(v) == n})
            metrics["best_epoch"] = best + 1
        meta = {"kind": KIND, "fingerprint": data.fingerprint, "data_source": data.source,
                "data_name": data.name, "license": data.license,
                "config": asdict(cfg), "history": history, "metrics": metrics,
                "train_seconds": seconds, "epochs_run": len(history.get("loss", []))}
        bundle = cls(cfg, spec, model, item_vectors, user_vectors,
                     data.items["item_id"].to_numpy(np.int64), data.genre_matrix.copy(),
                     arrays.history, arrays.rows, meta)
        if head is not None:  # closed-form head (recengine.rating_head)
            meta[METADATA_KEY] = head.describe()
            bundle.item_bias = np.asarray(head.item_bias, np.float32)
            bundle.user_bias = bundle._shrunk_user_biases(train, len(user_vectors))
        elif _has_layer(model, "user_bias"):
            bundle.user_bias = _predict(model.get_layer("user_bias"), arrays.user_x)
            bundle.item_bias = _predict(model.get_layer("item_bias"),
                                        [arrays.item_x, arrays.rows])
        bundle.extras.update(_similar_extras(item_vectors, cfg.similar_neighbours))
        return bundle

    # ---- the Scorer protocol --------------------------------------------------------
    @property
    def user_tower(self):
        return self.model.get_layer("user_tower")

    @property
    def item_tower(self):
        return self.model.get_layer("item_tower")

    def user_vector(self, user_idx: int) -> np.ndarray:
        return self.user_vectors[int(user_idx)]

    def user_offset(self, user_idx: int) -> float:
        return float(self.user_bias[int(user_idx)])

    def new_user_vector(self, profile: UserProfile) -> np.ndarray:
        x = self.spec.profile_matrix(profile, self.item_ids, self.genre_matrix)
        hist = np.zeros((1, self.history.shape[1]), np.int32)
        if profile.ratings:
            pos = catalogue_positions(self.item_ids, list(profile.ratings))
            liked = [p for p, r in zip(pos, profile.ratings.values())
                     if r >= self.spec.global_mean] or list(pos)
            rows = self.rows[np.asarray(liked)][-hist.shape[1]:]
            hist[0, hist.shape[1] - len(rows):] = rows
        return _predict(self.user_tower, [x, hist, _full(hist)])[0]

    def new_user_bias(self, profile: UserProfile) -> float:
        """The rating head's user bias for a visitor (0 without bias terms)."""
        if self.shrunk_head is not None:
            if not profile.ratings:
                return 0.0
            pos = catalogue_positions(self.item_ids, list(profile.ratings))
            return self._shrunk_bias(self.new_user_vector(profile), pos,
                                     np.asarray(list(profile.ratings.values()), np.float64))
        if not _has_layer(self.model, "user_bias"):
            return 0.0
        x = self.spec.profile_matrix(profile, self.item_ids, self.genre_matrix)
        return float(_predict(self.model.get_layer("user_bias"), x)[0])

    def to_rating(self, scores, item_idx, user_bias: float | np.ndarray) -> np.ndarray:
        """Raw ``v_u·v_m`` of (user, item) pairs -> rating units through the trained head.

        The head's bias terms (the user's, and each item's) are always added: a
        rating without them is the rating of no real pair.
        """
        s = np.asarray(scores, np.float64)
        objective = self.metadata["config"]["model"]["objective"]
        if objective == "retrieval":
            return self.spec.unscale_rating(s)
        if self._rating_affine is None:
            self._rating_affine = tuple(
                float(w) for w in self.model.get_layer("rating_dot").get_weights())
        a, c = self._rating_affine
        z = a * s + c + user_bias + self.item_bias[np.asarray(item_idx)]
        if objective == "binary":  # probability of a like, shown on the rating scale
            return self.spec.unscale_rating(2.0 / (1.0 + np.exp(-z)) - 1.0)
        return self.spec.unscale_rating(z)

    def scores_for_users(self, user_idx: np.ndarray) -> np.ndarray:
        """(len, n_items) raw scores: the whole-catalogue ranking the evaluation uses."""
        return self.user_vectors[np.asarray(user_idx)] @ self.item_vectors.T

    def predict(self, user_idx, item_idx) -> np.ndarray:
        """Predicted ratings for (user, item) pairs, in rating units."""
        u, i = np.asarray(user_idx), np.asarray(item_idx)
        s = np.sum(self.user_vectors[u] * self.item_vectors[i], axis=1)
        return self.to_rating(s, item_idx=i, user_bias=self.user_bias[u])

    def history_user(self, user, history) -> tuple[np.ndarray, float]:
        """``v_u`` and bias of one user from a given history, as :meth:`refresh_users` does."""
        rows = history.assign(u=0)
        x = self.spec.user_matrix(user, rows, self.genre_matrix)
        hist = history_matrix(self.spec, rows, 1, self.rows)
        v = _predict(self.user_tower, [x, hist, _full(hist)])[0]
        if self.shrunk_head is not None:
            return v, self._shrunk_bias(v, history["i"].to_numpy(np.int64),
                                        history["rating"].to_numpy(np.float64))
        bias = (float(_predict(self.model.get_layer("user_bias"), x)[0])
                if _has_layer(self.model, "user_bias") else 0.0)
        return v, bias

    def history_users(self, user, histories, screen: bool = True
                      ) -> tuple[list[tuple[np.ndarray, float]], bool]:
        """:meth:`history_user` for many histories of one user, in one model call.

        Each history runs as its own pseudo-user through the same features and
        tower; ``screen`` runs them as a compiled graph (float32 rounding away
        from eager; a counterfactual search screens with it and verifies
        eagerly). Returns the answers and whether they are exact (eager).
        """
        if not histories:
            return [], True
        graph = _user_graph(self) if screen else None
        out: list[tuple[np.ndarray, float]] = []
        for start in range(0, len(histories), _SMALL_BATCH):
            chunk = histories[start:start + _SMALL_BATCH]
            n = len(chunk)
            rows = pd.concat([h.assign(u=b) for b, h in enumerate(chunk)], ignore_index=True)
            x = self.spec.user_matrix(user.iloc[[0] * n], rows, self.genre_matrix)
            hist = history_matrix(self.spec, rows, n, self.rows)
            if graph is not None:
                v, bias = (np.asarray(a, np.float32) for a in graph(x, hist, _full(hist)))
            else:
                v = _predict(self.user_tower, [x, hist, _full(hist)])
                bias = (_predict(self.model.get_layer("user_bias"), x)
                        if _has_layer(self.model, "user_bias")
                        else np.zeros((n, 1), np.float32))
            bias = np.asarray(bias).reshape(n, -1)[:, 0]
            if self.shrunk_head is not None:
                bias = [self._shrunk_bias(v[b], h["i"].to_numpy(np.int64),
                                          h["rating"].to_numpy(np.float64))
                        for b, h in enumerate(chunk)]
            out += [(v[b], float(bias[b])) for b in range(n)]
        return out, graph is None

    def refresh_users(self, users, history_interactions) -> None:
        """Recompute ``v_u`` from another history (e.g. all ratings, for serving)."""
        x = self.spec.user_matrix(users, history_interactions, self.genre_matrix)
        self.history = history_matrix(self.spec, history_interactions, len(users), self.rows)
        self.user_vectors = _predict(self.user_tower, [x, self.history, _full(self.history)])
        if self.shrunk_head is not None:
            self.user_bias = self._shrunk_user_biases(history_interactions, len(users))
        elif _has_layer(self.model, "user_bias"):
            self.user_bias = _predict(self.model.get_layer("user_bias"), x)

    # ---- the closed-form rating head (recengine.rating_head) ------------------------
    @property
    def shrunk_head(self) -> dict | None:
        """The closed-form head's parameters; None for bundles with the Keras bias head."""
        return self.metadata.get(METADATA_KEY)

    def _shrunk_bias(self, v_u: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> float:
        """One user's bias from their ratings: :func:`user_bias_from_ratings`, one rule."""
        head = self.shrunk_head
        items = np.asarray(items, np.int64)
        dots = self.item_vectors[items].astype(np.float64) @ np.asarray(v_u, np.float64)
        return user_bias_from_ratings(head["scale"], head["offset"], head["user_shrink"],
                                      dots, self.item_bias[items],
                                      self.spec.scale_rating(ratings))

    def _shrunk_user_biases(self, history: pd.DataFrame, n_users: int) -> np.ndarray:
        """Every user's bias from ``history`` (u, i, rating), against the current ``v_u``."""
        head = self.shrunk_head
        u = history["u"].to_numpy(np.int64)
        i = history["i"].to_numpy(np.int64)
        dots = np.sum(self.user_vectors[u].astype(np.float64) * self.item_vectors[i], axis=1)
        resid = (self.spec.scale_rating(history["rating"].to_numpy(np.float64))
                 - head["scale"] * dots - head["offset"] - self.item_bias[i])
        total = np.bincount(u, weights=resid, minlength=n_users)
        count = np.bincount(u, minlength=n_users)
        return (total / (count + head["user_shrink"])).astype(np.float32)


#: histories per model call in :meth:`ModelBundle.history_users` (``_predict``'s direct-call limit)
_SMALL_BATCH = 256
#: the user tower (and bias head) of each bundle's model as one compiled graph
_GRAPHS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _user_graph(bundle: ModelBundle):
    """``(x, hist, cutoff) -> (v_u, bias)`` compiled once per model; None off TensorFlow.

    An eager Keras call costs about 4 ms whatever its batch size, the compiled
    graph under 1 ms; both run the same layers, so the vectors agree to float32
    rounding. TensorFlow is imported here because only this path needs it.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    model = bundle.model
    try:
        return _GRAPHS[model]
    except (KeyError, TypeError):
        pass
    import tensorflow as tf

    tower = bundle.user_tower
    head = model.get_layer("user_bias") if _has_layer(model, "user_bias") else None

    def run(x, hist, cutoff):
        v = tower([x, hist, cutoff], training=False)
        b = head(x, training=False) if head is not None else tf.zeros((tf.shape(x)[0], 1))
        return v, b

    graph = tf.function(run, reduce_retracing=True)
    try:
        _GRAPHS[model] = graph
    except TypeError:  # a model that takes no weak reference: compile per call
        pass
    return graph


def _has_layer(model, name: str) -> bool:
    return any(layer.name == name for layer in model.layers)


def _full(history: np.ndarray) -> np.ndarray:
    """Serving cut-off: the bag may read everything the user watched so far."""
    return np.full(len(history), history.shape[1], np.int32)


def _predict(model, inputs) -> np.ndarray:
    """Batch prediction; a direct call for small inputs (one visitor's vector).

    ``Model.predict`` compiles a function per input shape, so serving one new user
    at a time through it retraces and warns; a plain call does not.
    """
    import keras

    rows = len(inputs[0]) if isinstance(inputs, list | tuple) else len(inputs)
    if rows <= 256:
        return np.asarray(keras.ops.convert_to_numpy(model(inputs, training=False)),
                          dtype=np.float32)
    out = model.predict(inputs, batch_size=4096, verbose=0)
    return np.asarray(out, dtype=np.float32)


def _similar_extras(item_vectors: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The similar-items lookup table, precomputed at training time and saved with it."""
    return build_similar_table(item_vectors, SimilarityConfig(n_neighbours=n)).to_extras()


def save_bundle(bundle: ModelBundle, path: str | Path) -> Path:
    """Write atomically; the manifest makes any later edit detectable."""
    arrays = {"item_vectors": bundle.item_vectors, "user_vectors": bundle.user_vectors,
              "user_bias": bundle.user_bias, "item_bias": bundle.item_bias,
              "item_ids": bundle.item_ids, "genre_matrix": bundle.genre_matrix,
              "history": bundle.history, "rows": bundle.rows,
              **{f"spec_{k}": v for k, v in bundle.spec.arrays().items()},
              **{f"extra_{k}": v for k, v in bundle.extras.items()}}
    writers = {
        "model.keras": lambda p: bundle.model.save(p),
        "spec.json": lambda p: p.write_text(bundle.spec.to_json()),
        "arrays.npz": lambda p: _save_npz(p, arrays),
    }
    return write_bundle(path, bundle.metadata, writers)


def _save_npz(path: Path, arrays: dict) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def load_bundle(path: str | Path, fingerprint: str | None = None) -> ModelBundle:
    """Verify the bundle (see :mod:`recengine.bundle_io`), then load it in Keras safe mode.

    Refuses, with one :class:`BundleError` line, anything :func:`read_bundle`
    refuses (incomplete manifest, paths leaving the folder, checksums, metadata
    from an unknown config or format version), a payload that does not load, a
    missing array, and non-finite vectors or biases.
    """
    import keras

    from . import model as _layers  # noqa: F401  registers the custom layers (loads Keras)

    path = Path(path)
    meta = read_bundle(path, fingerprint=fingerprint, kind=KIND,
                       required=REQUIRED_FILES[KIND], config_class=TrainConfig)
    try:
        model = keras.saving.load_model(path / "model.keras", safe_mode=True, compile=False)
        with np.load(path / "arrays.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # noqa: BLE001 - any failure here means an unusable bundle
        raise BundleError(f"{path}: cannot be loaded ({type(exc).__name__}: "
                          f"{_one_line(exc)})") from exc
    _check_arrays(path, arrays)
    try:
        spec = FeatureSpec.from_json((path / "spec.json").read_text(encoding="utf-8"),
                                     {k[5:]: v for k, v in arrays.items()
                                      if k.startswith("spec_")})
        cfg = TrainConfig(**json.loads(json.dumps(meta["config"])))
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BundleError(f"{path}: unreadable spec or config ({type(exc).__name__}: "
                          f"{_one_line(exc)})") from exc
    return ModelBundle(cfg, spec, model, arrays["item_vectors"], arrays["user_vectors"],
                       arrays["item_ids"], arrays["genre_matrix"], arrays["history"],
                       arrays["rows"], meta,
                       {k[6:]: v for k, v in arrays.items() if k.startswith("extra_")},
                       arrays["user_bias"], arrays["item_bias"])


#: arrays that must be there, and those of them served as numbers (finite only)
_ARRAYS = ("item_vectors", "user_vectors", "user_bias", "item_bias", "item_ids",
           "genre_matrix", "history", "rows", "spec_stat_item_ids", "spec_stat_mean",
           "spec_stat_count")
_FINITE = ("item_vectors", "user_vectors", "user_bias", "item_bias")


def _check_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Every array serving reads is present; vectors and biases hold finite numbers."""
    missing = [k for k in _ARRAYS if k not in arrays]
    if missing:
        raise BundleError(f"{path / 'arrays.npz'}: missing array(s) {', '.join(missing)}; "
                          "retrain or restore the bundle")
    for name in _FINITE:
        values = arrays[name]
        if not np.issubdtype(values.dtype, np.number):
            raise BundleError(f"{path / 'arrays.npz'}: {name} holds {values.dtype}, "
                              "not numbers")
        bad = ~np.isfinite(values)
        if bad.any():
            raise BundleError(f"{path / 'arrays.npz'}: {name} holds {int(bad.sum())} "
                              "non-finite value(s) (NaN or inf); refusing to serve it, "
                              "retrain the bundle")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
