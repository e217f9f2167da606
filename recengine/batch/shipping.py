"""The engine made light to ship to workers: every array, no Keras model.

A known user's recommendation reads only precomputed arrays (``v_u``, ``v_m``,
bias terms, tables) and the rating head's two weights (``rating_dot``: the
affine map of ``v_u·v_m``). Shipping the Keras model as well would make every
worker import TensorFlow (seconds of start-up and about half a gigabyte each)
for nothing, so the shipped bundle carries a :class:`FrozenModel` that holds
those weights and refuses anything that would need the towers (a new
visitor's vector, a counterfactual history): batch jobs serve known users.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..engine import Engine
from ..subject import Subject

#: the model layers whose weights known-user serving reads
SERVING_LAYERS = ("rating_dot",)


class TowersNotShipped(RuntimeError):
    """A batch worker was asked for something only the Keras towers can compute."""


@dataclasses.dataclass(frozen=True)
class FrozenLayer:
    name: str
    weights: tuple[np.ndarray, ...] | None  # None: not shipped

    def get_weights(self) -> list[np.ndarray]:
        if self.weights is None:
            raise TowersNotShipped(f"layer {self.name!r} is not shipped to batch workers: "
                                   "they serve known users only")
        return [np.array(w) for w in self.weights]

    def __call__(self, *args, **kwargs):
        raise TowersNotShipped(f"layer {self.name!r} cannot run on a batch worker: the "
                               "Keras model is not shipped (known users only)")


@dataclasses.dataclass(frozen=True)
class FrozenModel:
    """Stands in for the Keras model: its layer names and the serving layers' weights."""

    frozen: tuple[FrozenLayer, ...]

    @classmethod
    def of(cls, model) -> FrozenModel:
        return cls(tuple(FrozenLayer(layer.name,
                                     tuple(np.asarray(w) for w in layer.get_weights())
                                     if layer.name in SERVING_LAYERS else None)
                         for layer in model.layers))

    @property
    def layers(self) -> list[FrozenLayer]:
        return list(self.frozen)

    def get_layer(self, name: str) -> FrozenLayer:
        for layer in self.frozen:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r} in the model")

    def __call__(self, *args, **kwargs):
        raise TowersNotShipped("the Keras model is not shipped to batch workers "
                               "(known users only)")


def _light_scorer(scorer, done: dict):
    """The scorer with its Keras model frozen (one copy per distinct scorer)."""
    key = id(scorer)
    if key not in done:
        model = getattr(scorer, "model", None)
        done[key] = (dataclasses.replace(scorer, model=FrozenModel.of(model))
                     if model is not None and hasattr(model, "layers")
                     and dataclasses.is_dataclass(scorer) else scorer)
    return done[key]


def light_engine(engine: Engine, _done: dict | None = None) -> Engine:
    """A copy of ``engine`` that ships without Keras; every array is shared, not copied."""
    done = {} if _done is None else _done
    return dataclasses.replace(engine, scorer=_light_scorer(engine.scorer, done))


def light_subject(subject: Subject) -> Subject:
    """:func:`light_engine` for both engines and the objectives, sharing what they share."""
    done: dict = {}
    served = light_engine(subject.served, done)
    protocol = light_engine(subject.protocol, done)
    objectives = dataclasses.replace(subject.objectives, engine=served) \
        if subject.objectives.engine is subject.served else subject.objectives
    return dataclasses.replace(subject, bundle=_light_scorer(subject.bundle, done),
                               served=served, protocol=protocol, objectives=objectives)
