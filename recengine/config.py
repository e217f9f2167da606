"""Configuration of the two-tower model and its training, in one keras-free module.

Why apart: the bundle (which stores a config), training (which reads one) and the
serving side (which reloads one) all need these dataclasses; keeping them in a
module that imports nothing heavy lets each of them import it at the top without
an import circle, and lets the CLI parse options without loading Keras.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .features import FeatureConfig
from .rating_head import RatingHeadConfig

#: how the rating head's second stage is fitted (see recengine.rating_head)
RATING_HEADS = ("shrunk", "learned")


@dataclass
class TowerConfig:
    hidden: tuple[int, ...] = (256, 128)
    output: int = 32
    l2: float = 1e-6
    dropout: float = 0.0


@dataclass
class ModelConfig:
    """One dataclass for the network; the defaults are the tuned hybrid model."""

    user_tower: TowerConfig = field(default_factory=TowerConfig)
    item_tower: TowerConfig = field(default_factory=TowerConfig)
    #: "multitask" (retrieval + rating), "rating" (MSE), "binary" (sigmoid + CE),
    #: "retrieval" (in-batch softmax only)
    objective: str = "multitask"
    use_item_ids: bool = True
    use_history: bool = True
    embedding_dim: int = 32
    temperature: float = 0.1
    logq_weight: float = 1.0  # 1 = full popularity correction, 0 = none
    rating_weight: float = 1.0
    item_id_dropout: float = 0.1
    #: share of training rows whose item is shown as a cold item would be: no ID row,
    #: train mean rating at the prior, rating count 0 (DropoutNet-style), so the
    #: content path learns to rank items in exactly the state a cold item arrives in
    cold_item_dropout: float = 0.0
    history_dropout: float = 0.1
    #: the bag averages the user's most recent ``history_window`` items: recent
    #: taste predicts the next watch better than a lifetime average
    history_window: int = 100
    binary_threshold: float = 4.0
    #: add a user bias (linear in user features) and an item bias (linear in item
    #: features plus a learned per-item offset) to the rating head, as the bias
    #: baseline and the seeds' CF ``b(j)`` do; False is the seeds' pure ``v_u·v_m``
    rating_biases: bool = True
    #: multitask only: let the rating loss fit the head (scale, offset, biases) but
    #: not move the towers, so ranking keeps the geometry the retrieval loss learned
    #: (what users watch) while ratings still come out in rating units
    rating_stop_gradient: bool = True

    def __post_init__(self):
        if not 0.0 <= self.cold_item_dropout < 1.0:
            raise ValueError(f"cold_item_dropout must be in [0, 1), got {self.cold_item_dropout}")
        if self.objective not in ("multitask", "rating", "binary", "retrieval"):
            raise ValueError(f"unknown objective {self.objective!r}; "
                             "use multitask, rating, binary or retrieval")
        if isinstance(self.user_tower, dict):
            self.user_tower = TowerConfig(**self.user_tower)
        if isinstance(self.item_tower, dict):
            self.item_tower = TowerConfig(**self.item_tower)
        self.user_tower.hidden = tuple(self.user_tower.hidden)
        self.item_tower.hidden = tuple(self.item_tower.hidden)

    @property
    def content_only(self) -> bool:
        return not (self.use_item_ids or self.use_history)


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    epochs: int = 20
    batch_size: int = 512
    learning_rate: float = 2e-3
    patience: int = 3  # epochs without val improvement before stopping
    validation_fraction: float = 0.1
    seed: int = 0
    similar_neighbours: int = 20
    #: after the towers stop improving, fit only the rating head this many more
    #: epochs (multitask with rating_stop_gradient: the head has its own optimum)
    rating_head_epochs: int = 20
    #: "shrunk": closed-form user and item biases around v_u·v_m, shrinkage chosen on
    #: the validation split (recengine.rating_head); "learned": the Adam head stage
    #: (``rating_head_epochs``). Multitask and rating objectives only.
    rating_head: str = "shrunk"
    rating_head_search: RatingHeadConfig = field(default_factory=RatingHeadConfig)
    #: also learn the pipeline's ranking stage (recengine.reranker): trains a second,
    #: inner model on the earlier part of train, so it roughly doubles training time
    ranking_stage: bool = True

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = ModelConfig(**self.model)
        if isinstance(self.features, dict):
            self.features = FeatureConfig(**self.features)
        if isinstance(self.rating_head_search, dict):
            self.rating_head_search = RatingHeadConfig(**self.rating_head_search)
        if self.rating_head not in RATING_HEADS:
            raise ValueError(f"unknown rating_head {self.rating_head!r}; use "
                             f"{' or '.join(RATING_HEADS)}")
