"""Hostile input (issue 12, data): refused with one DataError naming file, column and rows.

One test per defect: non-finite and out-of-range numbers, ids and timestamps
that are not exact integers, column names not spelled as the file spells them,
a non-UTF-8 file reported without its line, accepted quirks (byte-order mark,
CRLF) left out of the notes; then one parametrised test over every hostile
input that asserts the DataError contract (and that nothing else leaks out).
Every file here is a tiny invented catalogue; rows are 1-based data rows.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

import pytest

from recengine.data import (
    load_csv_bundle,
    load_movielens_100k,
    load_movielens_latest,
    make_synthetic,
)
from recengine.data.synthetic import SyntheticConfig
from recengine.data.validate import VALUE_RANGES
from recengine.schema import DataError

DOC = Path(__file__).resolve().parents[1] / "docs" / "csv_bundle.md"
GENRES_100K = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
               "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
               "Romance", "Sci-Fi", "Thriller", "War", "Western"]
#: the header-less 100K files' fields, as the 100K README names them
FIELDS_100K = {
    "u.data": ["user id", "item id", "rating", "timestamp"],
    "u.user": ["user id", "age", "gender", "occupation", "zip code"],
    "u.item": ["movie id", "movie title", "release date", "video release date", "IMDb URL"]
    + [f"genre flag {g}" for g in GENRES_100K],
}
SEP_100K = {"u.data": "\t", "u.user": "|", "u.item": "|"}


def clean(fmt: str) -> dict[str, bytes]:
    """Three items, two users, three ratings in the files of ``fmt``."""
    if fmt == "movielens-latest":
        return {"movies.csv": b"movieId,title,genres\n1,Alpha (1990),Drama\n"
                              b"2,Beta (1995),Comedy\n3,Gamma (2001),Action\n",
                "ratings.csv": b"userId,movieId,rating,timestamp\n1,1,4.0,100\n1,2,3.5,200\n"
                               b"2,3,5.0,300\n",
                "tags.csv": b"userId,movieId,tag,timestamp\n1,1,calm,100\n2,2,loud,200\n"
                            b"2,3,fast,300\n"}
    if fmt == "movielens-100k":
        def flags(genre):
            return "|".join("1" if g == genre else "0" for g in GENRES_100K)
        items = [(1, "Alpha (1990)", "Drama"), (2, "Beta (1995)", "Comedy"),
                 (3, "Gamma (2001)", "Action")]
        return {"u.item": "".join(f"{i}|{t}|01-Jan-1995||http://x.invalid/{i}|{flags(g)}\n"
                                  for i, t, g in items).encode("latin-1"),
                "u.user": b"1|30|F|other|55501\n2|40|M|writer|55502\n",
                "u.genre": ("".join(f"{g}|{k}\n" for k, g in enumerate(GENRES_100K)) + "\n")
                .encode(),
                "u.data": b"1\t1\t4\t100\n1\t2\t3\t200\n2\t3\t5\t300\n"}
    return {"items.csv": b"item_id,title,genres,year,runtime,price,margin,sponsored_bid,"
                         b"watch_minutes\n1,Alpha,Drama,1990,100,3.99,0.2,0,90\n"
                         b"2,Beta,Comedy,1995,95,4.99,0.5,1.5,80\n"
                         b"3,Gamma,Action,2001,120,9.99,0.3,0,110\n",
            "users.csv": b"user_id,age,region\n1,30,X\n2,40,Y\n",
            "interactions.csv": b"user_id,item_id,rating,timestamp\n1,1,4,100\n1,2,3,200\n"
                                b"2,3,5,300\n"}


def set_cell(files: dict[str, bytes], file: str, row: int, field: str, value: str) -> None:
    """Write ``value`` as ``field`` of 1-based data row ``row`` of ``file``."""
    text = files[file].decode("latin-1")
    if file in FIELDS_100K:
        sep = SEP_100K[file]
        lines = text.splitlines()
        cells = lines[row - 1].split(sep)
        cells[FIELDS_100K[file].index(field)] = value
        lines[row - 1] = sep.join(cells)
        files[file] = ("\n".join(lines) + "\n").encode("latin-1")
        return
    table = list(csv.reader(io.StringIO(text)))
    table[row][table[0].index(field)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table)
    files[file] = out.getvalue().encode("latin-1")


def with_cell(fmt: str, file: str, field: str, value: str, row: int = 2) -> dict[str, bytes]:
    files = clean(fmt)
    set_cell(files, file, row, field, value)
    return files


def load(fmt: str, files: dict[str, bytes], tmp_path: Path):
    if fmt == "csv-upload":
        return load_csv_bundle(files)
    folder = tmp_path / fmt
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    loader = {"movielens-latest": load_movielens_latest, "movielens-100k": load_movielens_100k,
              "csv": load_csv_bundle}[fmt]
    return loader(folder)


def refused(fmt: str, files: dict[str, bytes], tmp_path: Path) -> DataError:
    with pytest.raises(DataError) as err:
        load(fmt, files, tmp_path)
    return err.value


# ----- non-finite and out-of-range numbers ----------------------------------------------------
@pytest.mark.parametrize("file, field, value", [
    ("items.csv", "year", "inf"), ("items.csv", "year", "-inf"), ("items.csv", "year", "nan"),
    ("items.csv", "price", "inf"), ("items.csv", "watch_minutes", "Infinity"),
    ("items.csv", "sponsored_bid", "1e309"), ("users.csv", "age", "inf"),
])
def test_non_finite_numbers_are_refused(file, field, value, tmp_path):
    err = refused("csv", with_cell("csv", file, field, value), tmp_path)
    assert err.file.endswith(file) and (err.column, err.rows) == (field, [2])
    assert "non-finite" in str(err) and repr(value) in str(err)


@pytest.mark.parametrize("fmt, file, field, value", [
    ("csv", "items.csv", "runtime", "1e308"), ("csv", "items.csv", "margin", "-0.1"),
    ("csv", "items.csv", "margin", "1.01"), ("csv", "items.csv", "year", "1799"),
    ("csv", "items.csv", "price", "10000.01"), ("csv", "items.csv", "watch_minutes", "-5"),
    ("csv", "items.csv", "sponsored_bid", "1001"), ("csv", "users.csv", "age", "121"),
    ("movielens-100k", "u.user", "age", "-1"),
])
def test_numbers_outside_their_documented_range_are_refused(fmt, file, field, value, tmp_path):
    err = refused(fmt, with_cell(fmt, file, field, value), tmp_path)
    assert err.file.endswith(file) and (err.column, err.rows) == (field, [2])
    lo, hi = VALUE_RANGES[field]
    assert f"documented range {lo:g} to {hi:g}" in str(err)


@pytest.mark.parametrize("field", sorted(set(VALUE_RANGES) - {"age"}))
def test_the_range_limits_themselves_load(field, tmp_path):
    lo, hi = VALUE_RANGES[field]
    files = with_cell("csv", "items.csv", field, f"{lo:g}", row=1)
    set_cell(files, "items.csv", 3, field, f"{hi:g}")
    values = load("csv", files, tmp_path).items[field].tolist()
    assert (values[0], values[2]) == (lo, hi)


def test_documented_range_table_matches_the_code():
    table = re.findall(r"^\| `(\w+)` \| `\w+\.csv` \| ([-\d.]+) to ([-\d.]+) \|", DOC.read_text(),
                       flags=re.M)
    assert {col: (float(lo), float(hi)) for col, lo, hi in table} == VALUE_RANGES


def test_a_title_year_outside_the_documented_range_is_unknown():
    files = clean("csv")
    files["items.csv"] = b"item_id,title,genres\n1,Alpha (0001),Drama\n2,Beta (1995),Comedy\n"
    files["interactions.csv"] = b"user_id,item_id,rating,timestamp\n1,1,4,100\n1,2,3,200\n"
    years = load_csv_bundle(files).items["year"].tolist()
    assert math.isnan(years[0]) and years[1] == 1995.0


def test_synthetic_data_lies_within_the_documented_ranges():
    data = make_synthetic(SyntheticConfig(n_users=100, n_items=200, seed=1))
    for field, (lo, hi) in VALUE_RANGES.items():
        frame = data.users if field == "age" else data.items
        assert frame[field].dropna().between(lo, hi).all(), field


# ----- ids and timestamps: exact integers -----------------------------------------------------
@pytest.mark.parametrize("fmt, file, field, value", [
    ("csv", "items.csv", "item_id", "21.7"), ("csv", "items.csv", "item_id", "inf"),
    ("csv", "users.csv", "user_id", "1e3"), ("csv", "interactions.csv", "timestamp", "1e30"),
    ("csv", "interactions.csv", "item_id", "nan"), ("csv", "interactions.csv", "user_id", ""),
    ("movielens-latest", "movies.csv", "movieId", "21.7"),
    ("movielens-latest", "ratings.csv", "timestamp", "1e30"),
    ("movielens-100k", "u.data", "item id", "2.0"),
    ("movielens-100k", "u.user", "user id", "inf"),
])
def test_ids_and_timestamps_must_be_whole_numbers(fmt, file, field, value, tmp_path):
    err = refused(fmt, with_cell(fmt, file, field, value), tmp_path)
    assert err.file.endswith(file) and (err.column, err.rows) == (field, [2])
    assert "not an integer" in str(err)


@pytest.mark.parametrize("fmt, file, field, value", [
    ("csv", "items.csv", "item_id", "99999999999999999999"),
    ("csv", "interactions.csv", "timestamp", "9223372036854775808"),
    ("csv", "interactions.csv", "user_id", "-9223372036854775809"),
    ("movielens-latest", "ratings.csv", "userId", "99999999999999999999"),
    ("movielens-100k", "u.data", "timestamp", "99999999999999999999"),
])
def test_integers_beyond_int64_are_refused_not_wrapped(fmt, file, field, value, tmp_path):
    err = refused(fmt, with_cell(fmt, file, field, value), tmp_path)
    assert err.file.endswith(file) and (err.column, err.rows) == (field, [2])
    assert "64-bit range" in str(err)


#: where the id of item 2 is written, per format: (file, field, data row)
ITEM_2 = {"csv": [("items.csv", "item_id", 2), ("interactions.csv", "item_id", 2)],
          "movielens-latest": [("movies.csv", "movieId", 2), ("ratings.csv", "movieId", 2),
                               ("tags.csv", "movieId", 2)],
          "movielens-100k": [("u.item", "movie id", 2), ("u.data", "item id", 2)]}


@pytest.mark.parametrize("fmt", sorted(ITEM_2))
def test_large_ids_and_timestamps_keep_every_digit(fmt, tmp_path):
    big = 9007199254740993  # 2**53 + 1: a float64 cannot hold it
    files = clean(fmt)
    for file, field, row in ITEM_2[fmt]:
        set_cell(files, file, row, field, str(big))
    rating_file = {"csv": "interactions.csv", "movielens-latest": "ratings.csv",
                   "movielens-100k": "u.data"}[fmt]
    set_cell(files, rating_file, 3, "timestamp", "9223372036854775807")
    data = load(fmt, files, tmp_path)
    assert data.items["item_id"].tolist() == [1, big, 3]
    assert data.interactions["item_id"].tolist() == [1, big, 3]
    assert data.interactions["timestamp"].tolist()[2] == 2**63 - 1


# ----- column names as the file spells them ---------------------------------------------------
@pytest.mark.parametrize("fmt, file, field, value, row", [
    ("movielens-latest", "movies.csv", "movieId", "abc", 2),
    ("movielens-latest", "movies.csv", "movieId", "1", 2),  # duplicated id
    ("movielens-latest", "ratings.csv", "userId", "x", 2),
    ("movielens-latest", "ratings.csv", "movieId", "99", 2),  # unknown item
    ("movielens-100k", "u.data", "item id", "x", 2),
    ("movielens-100k", "u.data", "item id", "99", 2),  # unknown item
    ("movielens-100k", "u.data", "user id", "99", 2),  # unknown user
    ("movielens-100k", "u.user", "user id", "1", 2),  # duplicated id
    ("movielens-100k", "u.item", "movie id", "x", 2),
])
def test_errors_name_columns_as_the_file_spells_them(fmt, file, field, value, row, tmp_path):
    err = refused(fmt, with_cell(fmt, file, field, value, row), tmp_path)
    assert err.file.endswith(file) and (err.column, err.rows) == (field, [row])


# ----- not UTF-8: the real line and row of the first bad byte ---------------------------------
@pytest.mark.parametrize("fmt, file", [("csv", "items.csv"), ("csv-upload", "interactions.csv"),
                                       ("movielens-latest", "movies.csv")])
@pytest.mark.parametrize("filler_rows", [0, 40000])  # a big file: past pandas' first chunk
def test_non_utf8_names_the_line_and_row_of_the_first_bad_byte(fmt, file, filler_rows,
                                                                 tmp_path):
    files = clean(fmt)
    header, *rows = files[file].decode().splitlines(keepends=True)
    if filler_rows:  # copies of row 1 (harmless: items would be duplicated, but UTF-8 fails first)
        rows = [rows[0]] * filler_rows + rows
    bad_row = len(rows) - 1  # the second-to-last data row
    target = rows[bad_row - 1]
    cells = target.split(",")
    column = header.strip().split(",")[1]
    cells[1] = cells[1] + "\xe9"
    rows[bad_row - 1] = ",".join(cells)
    data = "".join([header] + rows).encode("latin-1")
    files[file] = data
    err = refused(fmt, files, tmp_path)
    assert err.file.endswith(file) and (err.column, err.rows) == (column, [bad_row])
    offset = data.index(b"\xe9")
    assert f"line {bad_row + 1}" in str(err) and f"byte offset {offset}" in str(err)
    assert "not UTF-8" in str(err)


def test_non_utf8_header_names_line_one(tmp_path):
    files = clean("csv")
    files["users.csv"] = files["users.csv"].replace(b"region", b"r\xe9gion")
    err = refused("csv", files, tmp_path)
    assert "line 1 (the header)" in str(err) and err.rows == [] and err.file.endswith("users.csv")


# ----- what a loader accepts goes into the notes ----------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "csv-upload", "movielens-latest", "movielens-100k"])
def test_bom_and_crlf_are_accepted_and_noted(fmt, tmp_path):
    files = clean(fmt)
    first, second = sorted(n for n in files if n != "u.genre")[:2]
    if fmt != "movielens-100k":  # 100K is latin-1 by its specification: no byte-order mark
        files[first] = b"\xef\xbb\xbf" + files[first]
    files[second] = files[second].replace(b"\n", b"\r\n")
    reference = load(fmt, clean(fmt), tmp_path / "clean")
    data = load(fmt, files, tmp_path)
    assert data.fingerprint == reference.fingerprint
    crlf = [n for n in data.notes if "CRLF" in n]
    assert len(crlf) == 1 and crlf[0].split(":")[0].endswith(second)
    if fmt != "movielens-100k":
        bom = [n for n in data.notes if "byte-order mark" in n]
        assert len(bom) == 1 and bom[0].split(":")[0].endswith(first)


# ----- every hostile input: DataError naming file, column, rows; nothing else leaks -----------
HOSTILE = [
    ("csv", "items.csv", "year", "inf"), ("csv", "items.csv", "year", "nan"),
    ("csv", "items.csv", "price", "inf"), ("csv", "items.csv", "runtime", "1e308"),
    ("csv", "items.csv", "margin", "-0.5"), ("csv", "items.csv", "sponsored_bid", "-inf"),
    ("csv", "items.csv", "watch_minutes", "1e309"), ("csv", "users.csv", "age", "inf"),
    ("csv", "interactions.csv", "rating", "inf"), ("csv", "interactions.csv", "rating", "nan"),
    ("csv", "items.csv", "item_id", "99999999999999999999"),
    ("csv", "items.csv", "item_id", "inf"), ("csv", "items.csv", "item_id", "21.7"),
    ("csv", "users.csv", "user_id", "-inf"), ("csv", "interactions.csv", "timestamp", "1e30"),
    ("csv", "interactions.csv", "timestamp", "inf"),
    ("csv-upload", "interactions.csv", "item_id", "9223372036854775808"),
    ("movielens-latest", "movies.csv", "movieId", "99999999999999999999"),
    ("movielens-latest", "movies.csv", "movieId", "inf"),
    ("movielens-latest", "movies.csv", "movieId", ""),
    ("movielens-latest", "ratings.csv", "userId", "1e30"),
    ("movielens-latest", "ratings.csv", "movieId", "inf"),
    ("movielens-latest", "ratings.csv", "rating", "-inf"),
    ("movielens-latest", "ratings.csv", "timestamp", "nan"),
    ("movielens-latest", "tags.csv", "movieId", "1e400"),
    ("movielens-100k", "u.data", "user id", "99999999999999999999"),
    ("movielens-100k", "u.data", "item id", "inf"), ("movielens-100k", "u.data", "rating", "nan"),
    ("movielens-100k", "u.data", "timestamp", "1e30"), ("movielens-100k", "u.user", "age", "inf"),
    ("movielens-100k", "u.user", "user id", "21.7"),
    ("movielens-100k", "u.item", "movie id", "1e400"),
    ("movielens-100k", "u.item", "genre flag Action", "2"),
]


@pytest.mark.parametrize("fmt, file, field, value", HOSTILE,
                         ids=[f"{f}-{c}={v or 'empty'}" for _, f, c, v in HOSTILE])
def test_hostile_inputs_raise_a_data_error_naming_file_column_and_rows(fmt, file, field, value,
                                                                       tmp_path):
    with pytest.raises(DataError) as err:  # any other exception fails this test
        load(fmt, with_cell(fmt, file, field, value), tmp_path)
    message = str(err.value)
    assert err.value.file.endswith(file) and f"file: {err.value.file}" in message
    assert err.value.column == field and f"column: {field}" in message
    assert err.value.rows == [2] and "first offending rows: [2]" in message


def test_a_non_ascii_digit_in_u_genre_is_a_data_error(tmp_path):
    files = clean("movielens-100k")
    files["u.genre"] = files["u.genre"].replace(b"Action|1", "Action|\xb2".encode("latin-1"))
    err = refused("movielens-100k", files, tmp_path)
    assert err.file.endswith("u.genre") and err.rows == [2]


def test_a_header_with_a_column_twice_is_a_data_error(tmp_path):
    files = clean("csv")
    files["users.csv"] = b"user_id, user_id,region\n1,1,X\n2,2,Y\n"
    err = refused("csv", files, tmp_path)
    assert err.file.endswith("users.csv") and err.column == "user_id"
    assert "more than once" in str(err)
