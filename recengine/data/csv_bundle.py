"""A user's own catalogue as three CSV files: items, users (optional), interactions.

The way to bring data that is neither MovieLens nor synthetic: a folder, or the
bytes of files uploaded in the app. The schema is documented, with an example,
in docs/csv_bundle.md. Every file is read as UTF-8 (a byte-order mark, as
spreadsheet programs write, is accepted) and every problem raises DataError
naming the file, the column and the first offending data rows. Ids and
timestamps are integers parsed exactly; every other number must be finite and
within its documented range (:data:`~recengine.data.validate.VALUE_RANGES`).
A byte-order mark or Windows (CRLF) line endings are accepted and noted in
``Dataset.notes``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

import pandas as pd

from ..schema import DataError, Dataset
from .validate import (
    VALUE_RANGES,
    check_integer,
    check_interactions,
    check_numeric,
    check_unique,
    read_csv_checked,
    year_from_title,
)

ITEMS, USERS, INTERACTIONS = "items.csv", "users.csv", "interactions.csv"
FILE_NAMES = (ITEMS, USERS, INTERACTIONS)
ITEM_NUMERIC = ("year", "runtime", "price", "margin", "sponsored_bid", "watch_minutes")
ITEM_TEXT = ("labels", "tags")
USER_TEXT = ("gender", "occupation", "region", "zip")
LICENSE = "user-supplied CSV bundle: the supplier's terms apply"

Source = str | Path | dict[str, bytes]


def _uploaded(files: dict[str, bytes]) -> dict[str, bytes]:
    """Uploaded files by bare name (a browser may send "folder/items.csv")."""
    out: dict[str, bytes] = {}
    for name, data in files.items():
        base = PurePosixPath(str(name).replace("\\", "/")).name.lower()
        if base in FILE_NAMES:
            out[base] = bytes(data)
    return out


def _reader(source: Source):
    """(read(name, required, **kw) -> frame, exists(name) -> bool, label(name) -> str)."""
    if isinstance(source, dict):
        files = _uploaded(source)

        def read(name, required, **kw):
            if name not in files:
                raise DataError("file is missing from the upload", file=name)
            return read_csv_checked(files[name], required, name=name, **kw)

        return read, files.__contains__, (lambda name: name)
    root = Path(source)
    if not root.is_dir():
        raise DataError("not a directory (expected a folder with items.csv and "
                        "interactions.csv)", file=str(root))

    def read(name, required, **kw):
        return read_csv_checked(root / name, required, **kw)

    return read, (lambda name: (root / name).is_file()), (lambda name: str(root / name))


def _text(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).str.strip()


def _items(read, label, notes: list[str]) -> pd.DataFrame:
    file = label(ITEMS)
    raw = read(ITEMS, ["item_id", "title", "genres"], encoding="utf-8-sig", dtype=str,
               keep_default_na=False, notes=notes)
    items = pd.DataFrame({
        "item_id": check_integer(raw, "item_id", file),
        "title": _text(raw["title"]),
        "genres": _text(raw["genres"]).replace("(no genres listed)", ""),
    })
    check_unique(items, "item_id", file)
    for col in ITEM_NUMERIC:
        if col in raw.columns:
            items[col] = check_numeric(raw, col, file, allow_missing=True,
                                       limits=VALUE_RANGES[col])
    if "year" not in items.columns or items["year"].isna().all():
        items["year"] = year_from_title(items["title"])
    for col in ITEM_TEXT:
        if col in raw.columns:
            items[col] = _text(raw[col])
    first = ["item_id", "title", "year", "genres"]
    return items[first + [c for c in items.columns if c not in first]]


def _users(read, label, notes: list[str]) -> pd.DataFrame:
    file = label(USERS)
    raw = read(USERS, ["user_id"], encoding="utf-8-sig", dtype=str, keep_default_na=False,
               notes=notes)
    users = pd.DataFrame({"user_id": check_integer(raw, "user_id", file)})
    check_unique(users, "user_id", file)
    if "age" in raw.columns:
        users["age"] = check_numeric(raw, "age", file, allow_missing=True,
                                     limits=VALUE_RANGES["age"])
    for col in USER_TEXT:
        if col in raw.columns:
            users[col] = _text(raw[col]).replace("", None)
    return users


def load_csv_bundle(path_or_files: Source,
                    rating_scale: tuple[float, float] = (0.5, 5.0)) -> Dataset:
    """Read a CSV bundle (a folder, or {file name: bytes} from an upload) into a Dataset.

    Without users.csv the users are the distinct user ids of interactions.csv
    (no demographics). A folder's Dataset has ``source`` ``"csv:PATH"`` (plus
    ``#scale=LO-HI`` when the scale is not the default), which
    :func:`recengine.data.sources.load_source` reloads; uploaded bytes have no
    path to reload from, so save them first with :func:`write_csv_bundle`.
    """
    lo, hi = (float(x) for x in rating_scale)
    if not lo < hi:
        raise ValueError(f"rating_scale must be (low, high) with low < high, got {rating_scale}")
    read, exists, label = _reader(path_or_files)
    notes: list[str] = []
    items = _items(read, label, notes)
    users = _users(read, label, notes) if exists(USERS) else None
    raw = read(INTERACTIONS, ["user_id", "item_id", "rating", "timestamp"],
               encoding="utf-8-sig", dtype=str, keep_default_na=False, notes=notes)
    inter = check_interactions(raw, file=label(INTERACTIONS), item_ids=items["item_id"],
                               user_ids=None if users is None else users["user_id"],
                               rating_scale=(lo, hi), notes=notes)
    if users is None:
        users = pd.DataFrame({"user_id": pd.Series(inter["user_id"].unique()).sort_values()
                              .to_numpy(dtype="int64")})
        notes.append("users.csv absent: users inferred from interactions.csv (no demographics)")
    if isinstance(path_or_files, dict):
        digest = hashlib.sha256()
        for name in sorted(_uploaded(path_or_files)):
            digest.update(name.encode() + b"\0" + _uploaded(path_or_files)[name])
        source, name = f"csv-upload:{digest.hexdigest()[:12]}", "csv-upload"
    else:
        scale = "" if (lo, hi) == (0.5, 5.0) else f"#scale={lo:g}-{hi:g}"
        source, name = f"csv:{path_or_files}{scale}", f"csv:{Path(path_or_files).name}"
    return Dataset(items, users, inter, name=name, source=source, license=LICENSE,
                   rating_scale=(lo, hi), notes=notes)


def write_csv_bundle(files: dict[str, bytes], directory: str | Path) -> Path:
    """Save uploaded bundle files into ``directory`` so ``csv:DIRECTORY`` reloads them.

    Only the three bundle file names are written (by bare name), so an upload
    cannot place a file anywhere else.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    for name, data in _uploaded(files).items():
        (target / name).write_bytes(data)
    return target
