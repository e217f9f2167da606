"""MovieLens loaders: the shared latest-small data and the 100K layout fixture."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from recengine.data import load_movielens_100k, load_movielens_latest, load_source
from recengine.data.movielens_100k import zip_region
from recengine.schema import DataError


def test_latest_small_counts_genres_and_years(ml_latest_path):
    data = load_movielens_latest(ml_latest_path)
    assert (data.n_items, data.n_users, len(data.interactions)) == (9742, 610, 100836)
    assert "(no genres listed)" not in data.genre_names
    assert {"Drama", "Comedy", "Sci-Fi"} <= set(data.genre_names)
    toy = data.items.loc[data.items["item_id"] == 1].iloc[0]
    assert toy["title"].startswith("Toy Story") and toy["year"] == 1995.0
    assert set(toy["genres"].split("|")) >= {"Animation", "Children", "Comedy"}
    # a year is read from almost every title, and a range "(2006–2007)" gives its start
    assert data.items["year"].notna().mean() > 0.99
    assert data.items["year"].dropna().between(1900, 2025).all()
    death_note = data.items["title"] == "Death Note: Desu nôto (2006–2007)"
    assert data.items.loc[death_note, "year"].tolist() == [2006.0]
    assert data.rating_scale == (0.5, 5.0)
    assert data.interactions[["u", "i"]].min().min() >= 0


def test_latest_small_reloads_from_its_source(ml_latest_path):
    data = load_source(f"movielens-latest:{ml_latest_path}")
    assert load_source(data.source).fingerprint == data.fingerprint


def test_100k_fixture_reads_every_file(ml_100k_fixture_path):
    data = load_movielens_100k(ml_100k_fixture_path)
    raw = pd.read_csv(ml_100k_fixture_path / "u.data", sep="\t", header=None)
    assert len(data.interactions) == len(raw)
    assert data.n_items == 40 and data.n_users == 30
    assert data.rating_scale == (1.0, 5.0)
    assert data.users["age"].dtype == float
    assert {"gender", "occupation", "zip", "region"} <= set(data.users.columns)
    # latin-1 titles decode to accented letters
    assert "Misérables, Les (1995)" in set(data.items["title"])
    # genres follow u.genre order and drop "unknown"
    first = data.items.iloc[0]
    assert first["genres"] == "Adventure|Animation|Children's"
    assert "unknown" not in data.genre_names


def test_100k_year_from_release_date_else_title(ml_100k_fixture_path, tmp_path):
    copy = tmp_path / "ml-100k"
    shutil.copytree(ml_100k_fixture_path, copy)
    lines = (copy / "u.item").read_text(encoding="latin-1").splitlines()
    fields = lines[0].split("|")
    fields[2] = "15-Mar-1977"  # release date disagrees with the title's (1980)
    lines[0] = "|".join(fields)
    (copy / "u.item").write_text("\n".join(lines) + "\n", encoding="latin-1")
    items = load_movielens_100k(copy).items.set_index("item_id")
    assert items.loc[1, "year"] == 1977.0
    # item 21 has an empty release date: the year comes from its title
    assert items.loc[21, "year"] == 1965.0


def test_zip_codes_become_regions():
    regions = zip_region(pd.Series(["55106", "T8H1N", "07982", ""]))
    assert regions.tolist()[:3] == ["US area 5", "outside US", "US area 0"]
    assert regions.iloc[3] is None


def test_100k_users_regions_match_their_zip(ml_100k_fixture_path):
    users = load_movielens_100k(ml_100k_fixture_path).users
    numeric = users["zip"].str.fullmatch(r"\d+")
    assert (users.loc[numeric, "region"] == "US area " + users.loc[numeric, "zip"].str[0]).all()
    assert (users.loc[~numeric, "region"] == "outside US").all()
    assert (~numeric).any()


def test_100k_without_u_genre_uses_published_order(ml_100k_fixture_path, tmp_path):
    copy = tmp_path / "ml-100k"
    shutil.copytree(ml_100k_fixture_path, copy)
    (copy / "u.genre").unlink()
    data = load_movielens_100k(copy)
    assert data.items.iloc[0]["genres"] == "Adventure|Animation|Children's"
    assert any("u.genre" in note for note in data.notes)


@pytest.mark.parametrize("file, damage, column, rows", [
    # a line lacking genre flags: the first missing field is named
    ("u.item", lambda t: t.replace("|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0", "|0|0", 1),
     "genre flag Adventure", [1]),
    ("u.user", lambda t: t.replace("1|36|M|salesman|96976", "1|thirty|M|salesman|96976"),
     "age", [1]),
    ("u.user", lambda t: t.replace("|64589\n", "|64589|extra\n"), None, [2]),
    ("u.data", lambda t: t.replace("3\t16\t1\t883588740", "3\t16\t1", 1), "timestamp", [1]),
    ("u.data", lambda t: t.replace("5\t32\t1\t887908225", "5\t32\t1\t887908225\t9"), None,
     [2]),
    ("u.genre", lambda t: t.replace("Action|1", "Action"), None, [2]),
])
def test_100k_broken_copies_are_refused(ml_100k_fixture_path, tmp_path, file, damage, column,
                                        rows):
    copy = tmp_path / "ml-100k"
    shutil.copytree(ml_100k_fixture_path, copy)
    path = copy / file
    path.write_text(damage(path.read_text(encoding="latin-1")), encoding="latin-1")
    with pytest.raises(DataError) as err:
        load_movielens_100k(copy)
    assert err.value.file.endswith(file)
    assert (err.value.column, err.value.rows) == (column, rows)


def test_100k_missing_directory_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="not a directory"):
        load_movielens_100k(tmp_path / "nowhere")


def test_100k_ids_map_to_dense_indices(ml_100k_fixture_path):
    data = load_movielens_100k(ml_100k_fixture_path)
    inter = data.interactions
    assert np.array_equal(data.items["item_id"].to_numpy()[inter["i"]], inter["item_id"])
    assert np.array_equal(data.users["user_id"].to_numpy()[inter["u"]], inter["user_id"])
