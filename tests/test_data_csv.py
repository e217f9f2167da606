"""CSV bundles: the documented example loads, from a folder or from uploaded bytes."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from recengine.data import load_csv_bundle, load_source, write_csv_bundle
from recengine.schema import DataError

DOC = Path(__file__).resolve().parents[1] / "docs" / "csv_bundle.md"


def doc_example() -> dict[str, bytes]:
    """The three example files exactly as docs/csv_bundle.md shows them."""
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"`(\w+\.csv)`\s*```csv\n(.*?)```", text, flags=re.S)
    return {name: body.encode() for name, body in blocks}


@pytest.fixture
def bundle_dir(tmp_path) -> Path:
    return write_csv_bundle(doc_example(), tmp_path / "bundle")


def test_documented_example_loads(bundle_dir):
    assert sorted(p.name for p in bundle_dir.iterdir()) == [
        "interactions.csv", "items.csv", "users.csv"]
    data = load_csv_bundle(bundle_dir)
    assert (data.n_items, data.n_users, len(data.interactions)) == (3, 2, 3)
    items = data.items.set_index("item_id")
    assert items.loc[1, "genres"] == "Drama|Mystery"
    assert items.loc[2, "sponsored_bid"] == 1.5
    assert items.loc[3, "labels"] == "graphic_violence" and items.loc[1, "labels"] == ""
    assert data.users.set_index("user_id").loc[11, "region"] == "Spain"
    assert data.has_regions
    assert data.source == f"csv:{bundle_dir}"


def test_upload_bytes_give_the_same_data_as_the_folder(bundle_dir):
    uploaded = {f"my export/{k}": v for k, v in doc_example().items()}
    from_upload = load_csv_bundle(uploaded)
    assert from_upload.fingerprint == load_csv_bundle(bundle_dir).fingerprint
    assert from_upload.source.startswith("csv-upload:")


def test_users_are_inferred_without_users_csv(tmp_path):
    files = {k: v for k, v in doc_example().items() if k != "users.csv"}
    data = load_csv_bundle(write_csv_bundle(files, tmp_path / "b"))
    assert data.users["user_id"].tolist() == [10, 11]
    assert not data.has_regions
    assert any("inferred" in note for note in data.notes)


def test_minimal_items_take_the_year_from_the_title(tmp_path):
    files = {
        "items.csv": b"item_id,title,genres\n7,Old Film (1950),Drama\n8,No Year,\n",
        "interactions.csv": "\ufeffuser_id,item_id,rating,timestamp\n1,7,4,10\n1,8,3,20\n"
        .encode(),  # with the byte-order mark spreadsheets write
    }
    data = load_csv_bundle(files)
    years = data.items.set_index("item_id")["year"]
    assert years[7] == 1950.0 and math.isnan(years[8])
    assert data.items.set_index("item_id").loc[8, "genres"] == ""


def test_empty_optional_cells_become_missing_values():
    files = doc_example()
    files["items.csv"] = (b"item_id,title,genres,price\n1,A,Drama,\n2,B,Comedy,2.5\n"
                          b"3,C,Action,\n")
    data = load_csv_bundle(files)
    prices = data.items["price"].tolist()
    assert math.isnan(prices[0]) and prices[1] == 2.5


def test_other_rating_scale_and_its_source_spec(tmp_path):
    files = doc_example()
    files["interactions.csv"] = b"user_id,item_id,rating,timestamp\n10,1,1,5\n11,2,10,6\n"
    folder = write_csv_bundle(files, tmp_path / "b")
    with pytest.raises(DataError, match="outside the scale"):
        load_csv_bundle(folder)
    data = load_csv_bundle(folder, rating_scale=(1, 10))
    assert data.rating_scale == (1.0, 10.0)
    assert data.source == f"csv:{folder}#scale=1-10"
    again = load_source(data.source)
    assert again.rating_scale == (1.0, 10.0) and again.fingerprint == data.fingerprint


def test_duplicated_item_ids_are_refused():
    files = doc_example()
    files["items.csv"] = b"item_id,title,genres\n1,A,Drama\n2,B,Drama\n1,C,Drama\n"
    with pytest.raises(DataError) as err:
        load_csv_bundle(files)
    assert err.value.file == "items.csv" and err.value.column == "item_id"
    assert err.value.rows == [3]


def test_non_numeric_optional_attribute_names_its_row():
    files = doc_example()
    files["items.csv"] = b"item_id,title,genres,margin\n1,A,Drama,0.2\n2,B,Drama,high\n3,C,,\n"
    with pytest.raises(DataError) as err:
        load_csv_bundle(files)
    assert (err.value.column, err.value.rows) == ("margin", [2])


def test_upload_ignores_other_file_names(tmp_path):
    files = doc_example() | {"../../etc/evil.csv": b"x", "notes.txt": b"hello"}
    folder = write_csv_bundle(files, tmp_path / "b")
    assert sorted(p.name for p in folder.iterdir()) == [
        "interactions.csv", "items.csv", "users.csv"]
