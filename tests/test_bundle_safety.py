"""Bundles: what a load refuses (one BundleError line), the version rule, the data fingerprint.

Every refusal is checked on a tampered copy of one saved bundle, and leaves both
that copy and the saved bundle byte-identical: reading never writes.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recengine import bundle_io
from recengine.bundle import load_bundle, save_bundle
from recengine.bundle_io import BundleError
from recengine.schema import INTERACTION_REQUIRED, Dataset


# ----- helpers ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(small_trained, tmp_path_factory) -> Path:
    """The small trained bundle, saved once; tests tamper with copies of it."""
    _, bundle = small_trained
    return save_bundle(bundle, tmp_path_factory.mktemp("saved") / "bundle")


@pytest.fixture
def copy(saved, tmp_path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "copy", symlinks=True))


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (links as their target's text)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            out[str(p.relative_to(folder))] = "link:" + str(p.readlink())
        elif p.is_file():
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def write_manifest(folder: Path, value) -> None:
    (folder / "manifest.json").write_text(json.dumps(value))


def rewrite(folder: Path, name: str, data: bytes) -> None:
    """Replace a payload and re-sign it in the manifest, as a careful tamperer would."""
    (folder / name).write_bytes(data)
    entries = manifest(folder)
    entries[name] = hashlib.sha256(data).hexdigest()
    write_manifest(folder, entries)


def edit_metadata(folder: Path, edit) -> None:
    meta = json.loads((folder / "metadata.json").read_text())
    meta = edit(meta)
    rewrite(folder, "metadata.json", json.dumps(meta).encode())


def assert_refused(saved: Path, tampered: Path, match: str) -> BundleError:
    """A load of ``tampered`` raises one BundleError line and changes no file anywhere."""
    before, tampered_before = digests(saved), digests(tampered)
    with pytest.raises(BundleError, match=match) as info:
        load_bundle(tampered)
    assert "\n" not in str(info.value)
    assert digests(saved) == before, "a refused load changed the saved bundle"
    assert digests(tampered) == tampered_before, "a refused load changed the bundle it read"
    return info.value


# ----- bundles from other versions ------------------------------------------------------
def test_saved_metadata_records_the_format_and_project_version(saved):
    meta = json.loads((saved / "metadata.json").read_text())
    assert meta["format_version"] == bundle_io.FORMAT_VERSION
    assert meta["recengine_version"] == bundle_io.project_version() != "unknown"


def test_unknown_config_field_is_refused_naming_the_field_and_versions(saved, copy):
    def add_field(meta):
        meta["config"]["model"]["new_option"] = 1
        return meta

    edit_metadata(copy, add_field)
    err = assert_refused(saved, copy, r"config field 'model\.new_option' is unknown")
    this, fmt = bundle_io.project_version(), bundle_io.FORMAT_VERSION
    assert f"to recengine {this} (bundle format {fmt})" in str(err)
    assert f"written by recengine {this} (format {fmt})" in str(err)


def test_bundle_from_a_newer_format_is_refused(saved, copy):
    def newer(meta):
        meta["format_version"] = bundle_io.FORMAT_VERSION + 1
        return meta

    edit_metadata(copy, newer)
    assert_refused(saved, copy, f"bundle format {bundle_io.FORMAT_VERSION + 1} .* is newer than")


def test_bundle_from_before_format_versions_loads_only_if_its_fields_are_known(saved, copy):
    def before_versions(meta):
        meta.pop("format_version", None)
        meta.pop("recengine_version", None)
        return meta

    edit_metadata(copy, before_versions)
    assert load_bundle(copy).item_vectors.shape[0] > 0  # known fields: the current format

    def and_a_field_from_elsewhere(meta):
        meta["config"]["features"]["text_embeddings"] = True
        return meta

    edit_metadata(copy, and_a_field_from_elsewhere)
    assert_refused(saved, copy, r"'features\.text_embeddings' is unknown .* before bundle "
                                r"format versions were recorded")


def test_metadata_that_is_a_list_is_refused(saved, copy):
    rewrite(copy, "metadata.json", b"[1, 2, 3]")
    assert_refused(saved, copy, r"metadata\.json: the metadata is a list, expected a JSON "
                                "object")


def test_manifest_that_is_a_list_is_refused(saved, copy):
    write_manifest(copy, sorted(manifest(copy)))
    assert_refused(saved, copy, r"manifest\.json: the manifest is a list, expected a JSON "
                                "object")


# ----- the manifest ---------------------------------------------------------------------
@pytest.mark.parametrize("dropped", ["everything", "metadata.json", "model.keras", "spec.json",
                                     "arrays.npz"])
def test_manifest_must_list_every_file_the_bundle_needs(saved, copy, dropped):
    entries = manifest(copy)
    write_manifest(copy, {} if dropped == "everything" else
                   {k: v for k, v in entries.items() if k != dropped})
    expected = "metadata.json, model.keras, spec.json, arrays.npz" \
        if dropped == "everything" else dropped
    assert_refused(saved, copy, f"does not list {expected} ")


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_manifest_paths_must_stay_inside_the_bundle(saved, copy, tmp_path, how):
    outside = tmp_path / "outside.json"
    outside.write_bytes((copy / "spec.json").read_bytes())
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    entries = manifest(copy)
    if how == "symlink":  # a listed file that is a link out of the folder, same bytes
        (copy / "spec.json").unlink()
        (copy / "spec.json").symlink_to(outside)
        match = "'spec.json' resolves outside the bundle folder"
    else:
        name = "../outside.json" if how == "dotdot" else str(outside)
        entries[name] = digest
        write_manifest(copy, entries)
        match = "is not a plain file name inside the bundle"
    assert_refused(saved, copy, match)
    assert outside.read_bytes() == (saved / "spec.json").read_bytes()


# ----- the arrays -----------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("name", ["item_vectors", "user_vectors", "user_bias", "item_bias"])
def test_non_finite_vectors_and_biases_are_refused_naming_the_array(saved, copy, name, bad):
    with np.load(copy / "arrays.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays[name] = arrays[name].copy()
    arrays[name].flat[len(arrays[name].flat) // 2] = bad
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    rewrite(copy, "arrays.npz", buf.getvalue())
    assert_refused(saved, copy, rf"arrays\.npz: {name} holds 1 non-finite value")


def test_a_refused_load_leaves_the_saved_bundle_byte_identical(saved, copy):
    """The saved bundle, hashed before and after refused loads of tampered copies."""
    before = digests(saved)
    mtimes = {p: p.stat().st_mtime_ns for p in saved.iterdir()}
    write_manifest(copy, {})
    with pytest.raises(BundleError):
        load_bundle(copy)
    rewrite(copy, "metadata.json", b"[]")
    with pytest.raises(BundleError):
        load_bundle(copy)
    assert digests(saved) == before
    assert {p: p.stat().st_mtime_ns for p in saved.iterdir()} == mtimes
    assert load_bundle(saved).item_vectors.shape[0] > 0  # and still loads


# ----- the data fingerprint -------------------------------------------------------------
def rebuilt(data: Dataset, items: pd.DataFrame | None = None,
            users: pd.DataFrame | None = None) -> Dataset:
    """The same data with other item or user tables (a freshly built Dataset)."""
    return Dataset(data.items.copy() if items is None else items,
                   data.users.copy() if users is None else users,
                   data.interactions[list(INTERACTION_REQUIRED)].copy(),
                   name=data.name, source=data.source, rating_scale=data.rating_scale)


def _edited(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    frame = frame.copy()
    value = frame.loc[3, column]
    if column == "genres":
        frame.loc[3, column] = "Documentary" if value != "Documentary" else "Western"
    elif isinstance(value, str):
        frame.loc[3, column] = value + "x"
    else:
        frame.loc[3, column] = value + 1
    return frame


@pytest.mark.parametrize("table, column", [("items", "genres"), ("items", "year"),
                                           ("items", "runtime"), ("users", "age"),
                                           ("users", "gender"), ("users", "occupation"),
                                           ("users", "region")])
def test_editing_one_feature_value_changes_the_fingerprint(small_synthetic, table, column):
    data = small_synthetic
    users = data.users.assign(occupation=np.where(data.users.index % 2, "writer", "nurse"))
    base = rebuilt(data, users=users)
    frames = {"items": base.items, "users": base.users}
    frames[table] = _edited(frames[table], column)
    edited = rebuilt(base, **frames)
    assert edited.fingerprint != base.fingerprint


def test_fingerprint_ignores_columns_no_feature_reads(small_synthetic):
    items = small_synthetic.items.copy()
    items.loc[0, "title"] = "A Retitled Film (1990)"
    assert rebuilt(small_synthetic, items=items).fingerprint == small_synthetic.fingerprint


def test_reloading_identical_data_keeps_the_fingerprint(small_synthetic, tmp_path):
    from recengine.data import load_movielens_latest
    from recengine.data.synthetic import SyntheticConfig, make_synthetic

    again = make_synthetic(SyntheticConfig(n_users=200, n_items=400, seed=0))
    assert again.fingerprint == small_synthetic.fingerprint
    # the same values under other dtypes hash the same (type-normalised)
    items = small_synthetic.items.astype({"year": "Int64", "genres": "category"})
    users = small_synthetic.users.astype({"region": "category", "age": "int64"})
    assert rebuilt(small_synthetic, items, users).fingerprint == small_synthetic.fingerprint
    # and a data folder read twice
    movies = "movieId,title,genres\n1,Heat (1995),Crime|Drama\n2,Up (2009),Animation\n"
    ratings = "userId,movieId,rating,timestamp\n1,1,4.0,10\n1,2,3.5,20\n2,1,5.0,30\n"
    prints = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "movies.csv").write_text(movies)
        (folder / "ratings.csv").write_text(ratings)
        prints.append(load_movielens_latest(folder).fingerprint)
    assert prints[0] == prints[1]
