"""recengine: a two-tower content-based recommender that explains itself.

UI-free: nothing here imports Streamlit. The public API (README.md has a tour):

* data: :func:`load_source` (every source spec), :class:`Dataset`, :class:`DataError`
* protocol: :func:`temporal_split`
* model: :class:`TrainConfig`, :func:`train_two_tower`, :func:`save_bundle`, :func:`load_bundle`
* serving: :class:`Engine` (recommend, recommend_new_user, similar_items),
  :class:`UserProfile`, :class:`ContentPolicy`, :class:`Objective`,
  :class:`RecommendationResult`

Heavy names (anything that imports Keras) load on first use, so ``import recengine``
stays quick for the data tools.
"""

import importlib

from . import quiet

# TensorFlow's start-up chatter (oneDNN notice, C++ log lines, retracing warnings) is
# noise on a terminal and in the app's logs: silenced before keras loads (recengine.quiet).
quiet.install()

from .schema import DataError, Dataset  # noqa: E402
from .split import Split, temporal_split  # noqa: E402

_LAZY = {
    "load_source": ".data",
    "TrainConfig": ".config",
    "train_two_tower": ".fit",
    "save_bundle": ".bundle",
    "load_bundle": ".bundle",
    "Engine": ".engine",
    "Subject": ".subject",
    "serving_engine": ".serving",
    "protocol_engine": ".serving",
    "load_serving_engine": ".serving",
    "UserProfile": ".scoring",
    "ContentPolicy": ".policy",
    "Objective": ".ranking",
    "RecommendationResult": ".results",
}

__all__ = ["DataError", "Dataset", "Split", "temporal_split", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'recengine' has no attribute {name!r}")
