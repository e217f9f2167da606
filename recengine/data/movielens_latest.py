"""MovieLens latest-small (GroupLens): ratings.csv, movies.csv, tags.csv.

No demographics: user features come from rating history only, and the region
retrieval source is skipped for this data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..schema import Dataset
from .validate import (
    check_integer,
    check_interactions,
    check_unique,
    read_csv_checked,
    year_from_title,
)

LICENSE = ("MovieLens latest-small (GroupLens, University of Minnesota): research use only, "
           "no endorsement implied, no commercial use without permission; cite Harper & "
           "Konstan 2015 (see README.txt in the data folder).")

#: ratings.csv's spelling of the interaction columns; errors name these
RATING_COLUMNS = {"user_id": "userId", "item_id": "movieId", "rating": "rating",
                  "timestamp": "timestamp"}


def load_movielens_latest(path: str | Path) -> Dataset:
    """Read a ml-latest(-small) directory into a :class:`Dataset`.

    Every file is read as text and parsed by :mod:`recengine.data.validate`, so
    a bad cell is reported with the file's own column name (``movieId``...).
    """
    root = Path(path)
    notes: list[str] = []
    movies_file, ratings_file = str(root / "movies.csv"), str(root / "ratings.csv")
    movies = read_csv_checked(movies_file, ["movieId", "title", "genres"], dtype=str,
                              keep_default_na=False, notes=notes)
    ratings = read_csv_checked(ratings_file, ["userId", "movieId", "rating", "timestamp"],
                               dtype=str, keep_default_na=False, notes=notes)
    title = movies["title"].astype(str).str.strip()
    items = pd.DataFrame({
        "item_id": check_integer(movies, "movieId", movies_file),
        "title": title,
        "year": year_from_title(title),
        "genres": movies["genres"].astype(str).str.strip().replace("(no genres listed)", ""),
    })
    check_unique(items, "item_id", movies_file, display="movieId")
    tags_path = root / "tags.csv"
    if tags_path.exists():
        tags = read_csv_checked(tags_path, ["userId", "movieId", "tag", "timestamp"],
                                dtype=str, notes=notes)
        tags["movieId"] = check_integer(tags, "movieId", str(tags_path))
        joined = (tags.dropna(subset=["tag"]).groupby("movieId")["tag"]
                  .apply(lambda s: "|".join(sorted(set(map(str, s))))))
        items["tags"] = items["item_id"].map(joined).fillna("")
    inter = check_interactions(ratings, file=ratings_file, item_ids=items["item_id"],
                               user_ids=None, rating_scale=(0.5, 5.0), notes=notes,
                               columns=RATING_COLUMNS)
    users = pd.DataFrame({"user_id": np.sort(inter["user_id"].unique()).astype("int64")})
    return Dataset(items, users, inter, name="movielens-latest-small",
                   source=f"movielens-latest:{root}", license=LICENSE,
                   rating_scale=(0.5, 5.0), notes=notes)
