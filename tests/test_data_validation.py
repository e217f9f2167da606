"""Bad input, every loader: one DataError naming the file, the column and the rows.

Each case is one test, parametrised over the loaders it applies to. The data is
the same tiny catalogue written in each format; row numbers are 1-based data
rows (header excluded).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recengine.data import (
    load_csv_bundle,
    load_movielens_100k,
    load_movielens_latest,
    load_source,
)
from recengine.data.validate import year_from_title
from recengine.schema import DataError

ITEMS = [(1, "Alpha (1990)", "Drama"), (2, "Beta (1995)", "Comedy"),
         (3, "Gamma (2001)", "Action"), (4, "Delta (2010)", "Drama")]
USERS = [1, 2, 3]
RATINGS = [(1, 1, "4", 100), (1, 2, "3", 200), (2, 3, "5", 300), (2, 1, "2", 400),
           (3, 4, "1", 500)]
GENRES_100K = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
               "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
               "Romance", "Sci-Fi", "Thriller", "War", "Western"]

ALL = ["movielens-latest", "movielens-100k", "csv", "csv-upload"]
WITH_USERS = ["movielens-100k", "csv", "csv-upload"]
UTF8 = ["movielens-latest", "csv", "csv-upload"]  # 100K is latin-1 by its specification
#: (items file, interactions file, rating column name) per format
NAMES = {"movielens-latest": ("movies.csv", "ratings.csv"),
         "movielens-100k": ("u.item", "u.data"),
         "csv": ("items.csv", "interactions.csv"),
         "csv-upload": ("items.csv", "interactions.csv")}
#: the interactions file's own spelling of (user id, item id) per format: errors name these
ID_COLUMNS = {"movielens-latest": ("userId", "movieId"),
              "movielens-100k": ("user id", "item id"),  # the 100K README's field names
              "csv": ("user_id", "item_id"),
              "csv-upload": ("user_id", "item_id")}


def files_for(fmt: str, ratings=RATINGS) -> dict[str, bytes]:
    """The tiny catalogue as the files of ``fmt``."""
    if fmt == "movielens-latest":
        return {"movies.csv": ("movieId,title,genres\n" + "".join(
                    f"{i},{t},{g}\n" for i, t, g in ITEMS)).encode(),
                "ratings.csv": ("userId,movieId,rating,timestamp\n" + "".join(
                    f"{u},{i},{r},{ts}\n" for u, i, r, ts in ratings)).encode()}
    if fmt == "movielens-100k":
        def flags(genre):
            return "|".join("1" if g == genre else "0" for g in GENRES_100K)
        return {"u.item": "".join(f"{i}|{t}|01-Jan-1995||http://x.invalid/{i}|{flags(g)}\n"
                                  for i, t, g in ITEMS).encode("latin-1"),
                "u.user": "".join(f"{u}|30|F|other|5550{u}\n" for u in USERS).encode(),
                "u.genre": ("".join(f"{g}|{k}\n" for k, g in enumerate(GENRES_100K)) + "\n")
                .encode(),
                "u.data": "".join(f"{u}\t{i}\t{r}\t{ts}\n" for u, i, r, ts in ratings).encode()}
    return {"items.csv": ("item_id,title,genres\n" + "".join(
                f"{i},{t},{g}\n" for i, t, g in ITEMS)).encode(),
            "users.csv": ("user_id,region\n" + "".join(f"{u},X\n" for u in USERS)).encode(),
            "interactions.csv": ("user_id,item_id,rating,timestamp\n" + "".join(
                f"{u},{i},{r},{ts}\n" for u, i, r, ts in ratings)).encode()}


def load(fmt: str, files: dict[str, bytes], tmp_path: Path):
    if fmt == "csv-upload":
        return load_csv_bundle(files)
    folder = tmp_path / fmt
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    loader = {"movielens-latest": load_movielens_latest, "movielens-100k": load_movielens_100k,
              "csv": load_csv_bundle}[fmt]
    return loader(folder)


def refused(fmt, files, tmp_path, file) -> DataError:
    with pytest.raises(DataError) as err:
        load(fmt, files, tmp_path)
    assert err.value.file.endswith(file), err.value
    assert file in str(err.value)
    return err.value


def with_rating(row: int, value) -> list:
    """RATINGS with the rating of 1-based data row ``row`` replaced."""
    out = list(RATINGS)
    u, i, _, ts = out[row - 1]
    out[row - 1] = (u, i, value, ts)
    return out


@pytest.mark.parametrize("fmt", ALL)
def test_the_clean_files_load(fmt, tmp_path):
    data = load(fmt, files_for(fmt), tmp_path)
    assert (data.n_items, len(data.interactions)) == (4, 5)
    assert data.notes == []


@pytest.mark.parametrize("fmt", ALL)
@pytest.mark.parametrize("which", [0, 1])
def test_missing_file(fmt, which, tmp_path):
    name = NAMES[fmt][which]
    files = files_for(fmt)
    del files[name]
    err = refused(fmt, files, tmp_path, name)
    assert "missing" in str(err)


@pytest.mark.parametrize("fmt", ALL)
def test_missing_column(fmt, tmp_path):
    files = files_for(fmt)
    name = NAMES[fmt][1]
    if fmt == "movielens-100k":  # no header: every line lacks its fourth field
        files[name] = b"".join(line.rsplit(b"\t", 1)[0] + b"\n"
                               for line in files[name].splitlines())
        expected = "timestamp"
    else:
        files[name] = files[name].replace(b",rating,", b",score,", 1)
        expected = "rating"
    assert refused(fmt, files, tmp_path, name).column == expected


@pytest.mark.parametrize("fmt", ALL)
def test_non_numeric_rating(fmt, tmp_path):
    files = files_for(fmt, with_rating(3, "abc"))
    err = refused(fmt, files, tmp_path, NAMES[fmt][1])
    assert (err.column, err.rows) == ("rating", [3])


@pytest.mark.parametrize("fmt", ALL)
def test_out_of_range_rating(fmt, tmp_path):
    files = files_for(fmt, with_rating(2, "7"))
    err = refused(fmt, files, tmp_path, NAMES[fmt][1])
    assert (err.column, err.rows) == ("rating", [2])
    assert "outside the scale" in str(err)


@pytest.mark.parametrize("fmt", ALL)
def test_unknown_item(fmt, tmp_path):
    ratings = list(RATINGS)
    ratings[3] = (2, 99, "4", 400)
    err = refused(fmt, files_for(fmt, ratings), tmp_path, NAMES[fmt][1])
    assert (err.column, err.rows) == (ID_COLUMNS[fmt][1], [4])


@pytest.mark.parametrize("fmt", WITH_USERS)
def test_unknown_user(fmt, tmp_path):
    ratings = list(RATINGS)
    ratings[4] = (42, 4, "1", 500)
    err = refused(fmt, files_for(fmt, ratings), tmp_path, NAMES[fmt][1])
    assert (err.column, err.rows) == (ID_COLUMNS[fmt][0], [5])


@pytest.mark.parametrize("fmt", ALL)
@pytest.mark.parametrize("which", [0, 1])
def test_empty_file(fmt, which, tmp_path):
    name = NAMES[fmt][which]
    files = files_for(fmt)
    files[name] = b""
    assert "empty" in str(refused(fmt, files, tmp_path, name))


@pytest.mark.parametrize("fmt", UTF8)
def test_non_utf8_file(fmt, tmp_path):
    name = NAMES[fmt][0]
    files = files_for(fmt)
    files[name] = files[name].replace(b"Gamma", "Gämma".encode("latin-1"))
    assert "not UTF-8" in str(refused(fmt, files, tmp_path, name))


@pytest.mark.parametrize("fmt", ALL)
def test_duplicated_pairs_keep_the_latest_rating(fmt, tmp_path):
    ratings = [(1, 1, "5", 900)] + list(RATINGS)  # a later re-rating listed first
    data = load(fmt, files_for(fmt, ratings), tmp_path)
    assert len(data.interactions) == len(RATINGS)
    pair = data.interactions[(data.interactions["user_id"] == 1)
                             & (data.interactions["item_id"] == 1)]
    assert pair["rating"].tolist() == [5.0] and pair["timestamp"].tolist() == [900]
    assert len(data.notes) == 1 and "kept the latest" in data.notes[0]


def test_unknown_source_scheme_lists_the_valid_ones():
    with pytest.raises(ValueError) as err:
        load_source("parquet:/data/x")
    for scheme in ("synthetic", "movielens-latest", "movielens-100k", "csv", "download"):
        assert scheme in str(err.value)


@pytest.mark.parametrize("spec", ["synthetic:colour=blue", "synthetic:users=many",
                                  "download:ml-1b", "csv:"])
def test_bad_source_arguments_say_what_is_wrong(spec):
    with pytest.raises(ValueError):
        load_source(spec)


def test_year_from_title_reads_single_years_and_ranges():
    import pandas as pd

    years = year_from_title(pd.Series(["Heat (1995)", "Show (2006–2007)", "Untitled",
                                       "Odd (1999) "]))
    assert years.tolist()[:2] == [1995.0, 2006.0] and years.iloc[3] == 1999.0
    assert years.isna().tolist() == [False, False, True, False]
