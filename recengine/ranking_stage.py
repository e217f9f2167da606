"""Which learned ranking stages a bundle may hold, and loading the one it holds.

:class:`~recengine.ranking_protocol.RankingStage` (re-exported here) is what
every stage offers. The logistic :class:`~recengine.reranker.Reranker` and the
LightGBM :class:`~recengine.reranker_lgbm.LgbmRanker` both implement it; which
one a bundle holds was chosen on a validation split
(recengine.reranker_training), and a popularity penalty chosen with it rides on
it (recengine.popularity_penalty).
"""

from __future__ import annotations

import numpy as np

from .popularity_penalty import load_penalty, with_penalty
from .ranking_protocol import RankingStage
from .reranker import Reranker
from .reranker_lgbm import LgbmRanker

#: the stages a bundle may hold, tried in this order
STAGES = (LgbmRanker, Reranker)


def load_ranking_stage(arrays: dict[str, np.ndarray]) -> RankingStage | None:
    """The stage saved in a bundle's extras, or None if it holds none.

    A stage this version cannot read (other features) raises ValueError with a
    one-line reason; a bundle holding two is refused rather than guessed at.
    """
    found = [stage for stage in (cls.from_arrays(arrays) for cls in STAGES)
             if stage is not None]
    if len(found) > 1:
        raise ValueError("the bundle holds more than one ranking stage "
                         f"({', '.join(s.name for s in found)}): retrain it")
    # a popularity penalty chosen with the stage (recengine.popularity_penalty) rides on it
    return with_penalty(found[0], load_penalty(arrays)) if found else None


__all__ = ["STAGES", "RankingStage", "load_ranking_stage"]
