"""recengine: a two-tower content-based recommender that explains itself.

UI-free: nothing here imports Streamlit. See README.md for the public API.
"""

from .schema import DataError, Dataset
from .split import Split, temporal_split

__all__ = ["DataError", "Dataset", "Split", "temporal_split"]
