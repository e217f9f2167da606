"""A learning-to-rank stage: LightGBM's lambdarank over the same features, grouped by user.

Why trees beside the logistic stage: the signals interact (a co-watch hit means
more for a light user than for one with a thousand ratings; popularity helps at
the top of a genre list and hurts deep in it), and a linear logit cannot bend.
Lambdarank optimises the order within each user's candidates (NDCG), which is
what the protocol measures, instead of a calibrated probability across users.

Why LightGBM rather than hand-written boosting: its tree SHAP
(``pred_contrib=True``) gives per-feature parts that sum *exactly* to the raw
score with a constant base value, so the explanation pages keep showing the
whole of the score, and its model string is a portable, text-only format that
the bundle stores as bytes (no pickle). LightGBM is imported lazily, so the
app's process loads it only when a bundle holds this stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .reranker import FEATURES

#: the bundle extras key of the model string (uint8 bytes of LightGBM's text format)
MODEL_KEY = "ranker_lgbm_model"


@dataclass
class LgbmConfig:
    """Lambdarank settings: common defaults, not tuned (variants measured on the inner
    validation split, none of which beat the logistic stage there, are in bench/README.md)."""

    #: "lambdarank" (the order within each user's candidates) or "binary" (log-loss)
    objective: str = "lambdarank"
    rounds: int = 300
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 100
    feature_fraction: float = 0.9
    l2: float = 1.0
    seed: int = 0
    #: one thread: on a shared machine, OpenMP threads spinning for busy cores cost more
    #: than they save (measured: 300 rounds took minutes at load 15 with two)
    threads: int = 1


def _booster(model_string: str):
    import lightgbm as lgb

    return lgb.Booster(model_str=model_string)


@dataclass
class LgbmRanker:
    """A trained lambdarank booster as a :class:`~recengine.ranking_stage.RankingStage`."""

    model_string: str
    _model: object = field(default=None, repr=False, compare=False)
    _intercept: float | None = field(default=None, repr=False, compare=False)

    name = "lightgbm"
    part_names = FEATURES  #: the columns of :meth:`contributions`
    description = ("gradient-boosted trees (LightGBM lambdarank) ordering each user's "
                   "candidates by what they watched and liked next")
    score_meaning = "ranking-stage score (LightGBM raw score: higher ranks first)"

    def __post_init__(self) -> None:
        names = self.booster.feature_name()
        if list(names) != list(FEATURES):
            raise ValueError(f"the saved LightGBM ranking stage has features {names}, this "
                             f"version's are {list(FEATURES)}: retrain the bundle")

    @property
    def booster(self):
        if self._model is None:
            self._model = _booster(self.model_string)
        return self._model

    def _x(self, features: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.atleast_2d(features), dtype=np.float64)

    def score(self, features: np.ndarray) -> np.ndarray:
        x = self._x(features)
        if not len(x):
            return np.zeros(0)
        return np.asarray(self.booster.predict(x, raw_score=True, num_threads=1), np.float64)

    def _contrib(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(self._x(features), pred_contrib=True,
                                               num_threads=1), np.float64)

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """(n, len(FEATURES)) tree-SHAP parts; each row plus :attr:`intercept` is the score."""
        x = self._x(features)
        if not len(x):
            return np.zeros((0, len(FEATURES)))
        return self._contrib(x)[:, :-1]

    @property
    def intercept(self) -> float:
        """The base value (the trees' expected output), the same for every row."""
        if self._intercept is None:
            self._intercept = float(self._contrib(np.zeros((1, len(FEATURES))))[0, -1])
        return self._intercept

    def weight(self, feature: str) -> float | None:
        """Trees have no per-feature weight: a feature's effect depends on the others."""
        return None

    def importance(self) -> dict[str, float]:
        """Each feature's share of the total split gain over all trees; sums to 1."""
        gain = np.asarray(self.booster.feature_importance("gain"), np.float64)
        total = float(gain.sum()) or 1.0
        return dict(zip(FEATURES, (gain / total).tolist(), strict=True))

    def explain(self) -> dict[str, float]:
        """Gain share per feature (rounded): what the stage learned to lean on."""
        return {k: round(v, 4) for k, v in self.importance().items()}

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {MODEL_KEY: np.frombuffer(self.model_string.encode("utf-8"), np.uint8).copy()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LgbmRanker | None:
        if MODEL_KEY not in arrays:
            return None
        raw = np.asarray(arrays[MODEL_KEY])
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"{MODEL_KEY} holds {raw.dtype} of shape {raw.shape}, expected "
                             "the model string as 1-d uint8 bytes: retrain the bundle")
        try:
            text = raw.tobytes().decode("utf-8")
            return cls(text)
        except ValueError:
            raise
        except Exception as exc:  # noqa: BLE001 - LightGBM raises its own error types
            raise ValueError(f"{MODEL_KEY} is not a readable LightGBM model "
                             f"({type(exc).__name__}): retrain the bundle") from exc


def fit_lgbm_ranker(x: np.ndarray, y: np.ndarray, groups: np.ndarray,
                    config: LgbmConfig | None = None) -> LgbmRanker:
    """Lambdarank on candidates grouped by user (``groups``: candidates per user, in order)."""
    import lightgbm as lgb

    cfg = config or LgbmConfig()
    if int(np.sum(groups)) != len(x):
        raise ValueError(f"groups sum to {int(np.sum(groups))}, but there are {len(x)} rows")
    params = {"objective": cfg.objective, "metric": "None",
              "learning_rate": cfg.learning_rate, "num_leaves": cfg.num_leaves,
              "min_data_in_leaf": cfg.min_data_in_leaf,
              "feature_fraction": cfg.feature_fraction, "lambda_l2": cfg.l2,
              "seed": cfg.seed, "deterministic": True, "force_row_wise": True,
              "num_threads": cfg.threads, "verbosity": -1}
    train = lgb.Dataset(np.asarray(x, np.float64), label=np.asarray(y, np.int32),
                        group=np.asarray(groups, np.int64), feature_name=list(FEATURES),
                        free_raw_data=True)
    booster = lgb.train(params, train, num_boost_round=cfg.rounds)
    return LgbmRanker(booster.model_to_string(), booster)


__all__ = ["LgbmConfig", "LgbmRanker", "MODEL_KEY", "fit_lgbm_ranker"]
