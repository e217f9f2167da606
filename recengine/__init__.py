"""recengine: a two-tower content-based recommender that explains itself.

UI-free: nothing here imports Streamlit. See README.md for the public API.
"""

import os

# TensorFlow's C++ start-up chatter (oneDNN notes, CPU feature lists) is noise on a
# terminal and in the app's logs; real errors still show. Set before keras loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .schema import DataError, Dataset  # noqa: E402
from .split import Split, temporal_split  # noqa: E402

__all__ = ["DataError", "Dataset", "Split", "temporal_split"]
