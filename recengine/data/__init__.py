"""Data sources: every loader returns a :class:`recengine.schema.Dataset`.

Pick one by spec string with :func:`load_source` (``"synthetic"``,
``"movielens-latest:PATH"``, ``"movielens-100k:PATH"``, ``"csv:PATH"``,
``"download:ml-latest-small"``), or call a loader directly.
"""

from .csv_bundle import load_csv_bundle, write_csv_bundle
from .download import ArchiveError, DownloadError, default_cache_dir, download_movielens
from .movielens_100k import load_movielens_100k
from .movielens_latest import load_movielens_latest
from .sources import SCHEMES, describe_sources, load_source, load_with_fallback
from .synthetic import SyntheticConfig, SyntheticTruth, make_synthetic, make_synthetic_with_truth

__all__ = [
    "ArchiveError",
    "DownloadError",
    "SCHEMES",
    "SyntheticConfig",
    "SyntheticTruth",
    "default_cache_dir",
    "describe_sources",
    "download_movielens",
    "load_csv_bundle",
    "load_movielens_100k",
    "load_movielens_latest",
    "load_source",
    "load_with_fallback",
    "make_synthetic",
    "make_synthetic_with_truth",
    "write_csv_bundle",
]
