"""MovieLens 100K (GroupLens): u.data, u.item, u.user, u.genre.

The one classic MovieLens set with demographics (age, gender, occupation, zip
code), so it is the real-data source for the user tower's demographic features
and for the region retrieval source. The region is the US national zip-code
area (the first digit of a US zip code); non-numeric zip codes (Canadian
postcodes in the real data) become "outside US". The files are latin-1 by the
data set's own specification, so no encoding check applies here. The files
have no header: errors name each field as the data set's README does ("user
id", "item id", "movie id", "zip code"...), and a genre flag as "genre flag"
plus the genre's name from u.genre.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..schema import DataError, Dataset
from .validate import (
    VALUE_RANGES,
    check_integer,
    check_interactions,
    check_numeric,
    check_unique,
    read_headerless,
    year_from_title,
)

LICENSE = ("MovieLens 100K (GroupLens, University of Minnesota): research use only, no "
           "redistribution, no endorsement implied, no commercial use without permission; "
           "cite Harper & Konstan 2015 (see README in the data folder).")

#: u.genre's order in the published data, used when u.genre is absent.
GENRES_100K = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
               "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
               "Romance", "Sci-Fi", "Thriller", "War", "Western"]

_READ = {"sep": "|", "encoding": "latin-1", "quoting": 3}  # QUOTE_NONE: titles hold quotes

#: the fields of each file as the 100K README names them (the files have no header)
ITEM_FIELDS = ["movie id", "movie title", "release date", "video release date", "IMDb URL"]
USER_FIELDS = ["user id", "age", "gender", "occupation", "zip code"]
DATA_FIELDS = ["user id", "item id", "rating", "timestamp"]


def zip_region(zips: pd.Series) -> pd.Series:
    """US zip code -> "US area N" (its first digit); any other code -> "outside US"."""
    z = zips.fillna("").astype(str).str.strip()
    region = pd.Series(np.where(z.str.fullmatch(r"\d+"), "US area " + z.str[:1], "outside US"),
                       index=zips.index, dtype=object)
    region[z == ""] = None
    return region


def _read_genres(root: Path, notes: list[str]) -> list[str]:
    path = root / "u.genre"
    if not path.is_file():
        notes.append("u.genre is missing: used the published 19-genre order")
        return list(GENRES_100K)
    lines = [ln.strip() for ln in path.read_text(encoding="latin-1").splitlines()]
    pairs = [ln.rsplit("|", 1) for ln in lines if ln]
    bad = [k + 1 for k, p in enumerate(pairs)
           if len(p) != 2 or re.fullmatch(r"[0-9]{1,6}", p[1].strip()) is None]
    if bad:
        raise DataError("expected name|index on every line", file=str(path), rows=bad)
    by_index = {int(ix.strip()): name for name, ix in pairs}
    if sorted(by_index) != list(range(len(by_index))):
        raise DataError(f"genre indices are not 0..{len(by_index) - 1}", file=str(path),
                        column="index")
    return [by_index[k] for k in range(len(by_index))]


def _read_items(root: Path, genres: list[str], notes: list[str]) -> pd.DataFrame:
    file = str(root / "u.item")
    flag_cols = [f"genre flag {g}" for g in genres]
    if len(set(flag_cols)) != len(flag_cols):
        raise DataError("a genre name appears twice", file=str(root / "u.genre"),
                        column="name")
    raw = read_headerless(root / "u.item", ITEM_FIELDS + flag_cols, notes=notes, **_READ)
    ids = check_integer(raw, "movie id", file)
    flags = np.column_stack([check_integer(raw, c, file, limits=(0, 1)).to_numpy()
                             for c in flag_cols])
    flags = flags.astype(bool)
    # the "unknown" genre flags items with no genre information: no genre, like ML-latest
    keep = np.array([g.lower() != "unknown" for g in genres])
    flags, kept = flags[:, keep], np.array(genres, dtype=object)[keep]
    codes, uniques = np.unique(flags, axis=0, return_inverse=True)
    strings = np.array(["|".join(kept[row]) for row in codes], dtype=object)
    title = raw["movie title"].str.strip()
    year = pd.to_datetime(raw["release date"].str.strip(), format="%d-%b-%Y",
                          errors="coerce").dt.year.astype(float)
    year = year.where(year.between(*VALUE_RANGES["year"]))
    from_title = year_from_title(title)
    items = pd.DataFrame({
        "item_id": ids,
        "title": title,
        "year": year.fillna(from_title).astype(float),
        "genres": strings[uniques.reshape(-1)],
        "release_date": raw["release date"].str.strip(),
        "url": raw["IMDb URL"].str.strip(),
    })
    check_unique(items, "item_id", file, display="movie id")
    return items


def _read_users(root: Path, notes: list[str]) -> pd.DataFrame:
    file = str(root / "u.user")
    raw = read_headerless(root / "u.user", USER_FIELDS, notes=notes, **_READ)
    users = pd.DataFrame({
        "user_id": check_integer(raw, "user id", file),
        "age": check_numeric(raw, "age", file, limits=VALUE_RANGES["age"]),
        "gender": raw["gender"].str.strip(),
        "occupation": raw["occupation"].str.strip(),
        "zip": raw["zip code"].str.strip(),
    })
    users["region"] = zip_region(users["zip"])
    check_unique(users, "user_id", file, display="user id")
    return users


def load_movielens_100k(path: str | Path) -> Dataset:
    """Read a ml-100k directory (the real one or a file in its layout) into a Dataset."""
    root = Path(path)
    if not root.is_dir():
        raise DataError("not a directory (expected the ml-100k folder)", file=str(root))
    notes: list[str] = []
    genres = _read_genres(root, notes)
    items = _read_items(root, genres, notes)
    users = _read_users(root, notes)
    file = str(root / "u.data")
    raw = read_headerless(root / "u.data", DATA_FIELDS, sep="\t", encoding="latin-1",
                          notes=notes)
    inter = check_interactions(raw, file=file, item_ids=items["item_id"],
                               user_ids=users["user_id"], rating_scale=(1.0, 5.0), notes=notes,
                               columns=dict(zip(("user_id", "item_id", "rating", "timestamp"),
                                                DATA_FIELDS)))
    return Dataset(items, users, inter, name="movielens-100k", source=f"movielens-100k:{path}",
                   license=LICENSE, rating_scale=(1.0, 5.0), notes=notes)
