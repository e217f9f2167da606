"""A protocol engine as a protocol system: its served order, its rating predictions.

Apart from :mod:`.systems` (which trains models, and so imports Keras) because
an already built engine needs no training: ``python -m audits batch`` runs the
offline protocol on a batch worker that holds the light engine only
(:mod:`recengine.batch.shipping`), and that worker must not load Keras.
"""

from __future__ import annotations

import pandas as pd

from ..engine import Engine
from ..schema import Dataset
from .protocol import System, SystemFit


def engine_system(engine: Engine, name: str = "pipeline") -> SystemFit:
    """The one way a protocol engine becomes a protocol system: the served order, top k.

    Its lists are :meth:`Engine.recommend_topk_batch` (the order
    :meth:`Engine.recommend` serves) and its ratings :meth:`Engine.pair_ratings`
    (the one rating prediction). The fit refuses a train split other than the
    history the engine reads, so a figure can never come from an engine that saw
    test ratings.
    """
    def fit(train: pd.DataFrame, data: Dataset) -> System:
        if len(train) != len(engine.history):
            raise ValueError(f"the engine reads {len(engine.history)} interactions, the "
                             f"protocol's train split has {len(train)}: its figures would "
                             "leak test ratings")
        return System(name, topk_fn=engine.recommend_topk_batch,
                      predict_fn=engine.pair_ratings)

    return fit
