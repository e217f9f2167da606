"""MovieLens latest-small (GroupLens): ratings.csv, movies.csv, tags.csv.

No demographics: user features come from rating history only, and the region
retrieval source is skipped for this data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..schema import Dataset
from .validate import check_interactions, check_unique, read_csv_checked, year_from_title

LICENSE = ("MovieLens latest-small (GroupLens, University of Minnesota): research use only, "
           "no endorsement implied, no commercial use without permission; cite Harper & "
           "Konstan 2015 (see README.txt in the data folder).")


def load_movielens_latest(path: str | Path) -> Dataset:
    """Read a ml-latest(-small) directory into a :class:`Dataset`."""
    root = Path(path)
    movies = read_csv_checked(root / "movies.csv", ["movieId", "title", "genres"],
                              dtype={"movieId": "int64", "title": str, "genres": str})
    ratings = read_csv_checked(root / "ratings.csv",
                               ["userId", "movieId", "rating", "timestamp"])
    items = pd.DataFrame({
        "item_id": movies["movieId"].astype("int64"),
        "title": movies["title"].astype(str).str.strip(),
        "year": year_from_title(movies["title"].astype(str).str.strip()),
        "genres": movies["genres"].fillna("").replace("(no genres listed)", ""),
    })
    check_unique(items, "item_id", str(root / "movies.csv"))
    tags_path = root / "tags.csv"
    if tags_path.exists():
        tags = read_csv_checked(tags_path, ["userId", "movieId", "tag", "timestamp"])
        joined = (tags.dropna(subset=["tag"]).groupby("movieId")["tag"]
                  .apply(lambda s: "|".join(sorted(set(map(str, s))))))
        items["tags"] = items["item_id"].map(joined).fillna("")
    inter = ratings.rename(columns={"userId": "user_id", "movieId": "item_id"})
    notes: list[str] = []
    inter = check_interactions(inter, file=str(root / "ratings.csv"),
                               item_ids=items["item_id"], user_ids=None,
                               rating_scale=(0.5, 5.0), notes=notes)
    users = pd.DataFrame({"user_id": np.sort(inter["user_id"].unique()).astype("int64")})
    return Dataset(items, users, inter, name="movielens-latest-small",
                   source=f"movielens-latest:{root}", license=LICENSE,
                   rating_scale=(0.5, 5.0), notes=notes)
