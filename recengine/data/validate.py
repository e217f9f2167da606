"""Checks shared by every loader: one error type that names file, column, rows.

A loader reads through :func:`read_csv_checked` and passes its interactions
through :func:`check_interactions`, so every source reports bad input the same
way and nothing half-loaded ever reaches the engine. Row numbers in errors are
1-based *data* rows (the header, when there is one, is not counted), which is
what a person sees when they open the file in a spreadsheet.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..schema import DataError


def read_csv_checked(source: Path | str | bytes, required: list[str], *,
                     name: str | None = None, **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` that turns every way a file can be wrong into DataError.

    ``source`` is a path, or the raw bytes of an uploaded file (then ``name`` is
    the file name the error shows). ``required`` columns are checked by header
    name; pass ``[]`` for header-less files and check the field count yourself.
    """
    if isinstance(source, bytes | bytearray):
        label = name or "<uploaded file>"
        handle = io.BytesIO(bytes(source))
    else:
        path = Path(source)
        label = name or str(path)
        if not path.is_file():
            raise DataError("file is missing", file=label)
        handle = path
    try:
        with warnings.catch_warnings():
            # pandas only warns when a header-less line has extra fields, then drops them
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(handle, encoding=kwargs.pop("encoding", "utf-8"), **kwargs)
    except pd.errors.ParserWarning as exc:
        raise DataError(f"a line has more fields than expected ({exc})", file=label) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"file is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                        "save it as UTF-8 and load it again", file=label) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError("file is empty", file=label) from exc
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"file cannot be parsed: {exc}", file=label) from exc
    if kwargs.get("header", "infer") is not None:
        frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}; found {list(frame.columns)}",
                        file=label, column=missing[0])
    if frame.empty:
        raise DataError("file has a header but no rows", file=label)
    return frame


def _check_field_counts(path: Path, names: list[str], sep: str, encoding: str) -> None:
    if not Path(path).is_file():
        return
    text = Path(path).read_text(encoding=encoding, errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    counts = np.fromiter((ln.count(sep) + 1 for ln in lines), dtype=np.int64, count=len(lines))
    wrong = counts != len(names)
    if wrong.any():
        first = int(counts[np.flatnonzero(wrong)[0]])
        column = names[first] if first < len(names) else None
        where = "every line has" if wrong.all() else "some lines have"
        raise DataError(f"expected {len(names)} fields per line ({', '.join(names)}); "
                        f"{where} {first}", file=str(path), column=column,
                        rows=bad_rows(wrong))


def read_headerless(path: Path, names: list[str], *, sep: str, encoding: str,
                    **kwargs) -> pd.DataFrame:
    """A header-less file (MovieLens 100K) with named columns, as text.

    Fields are counted on every line (such files hold no quoting), so a line
    with too few or too many fields is reported by row and by the first column
    it lacks, rather than shifting values into the wrong columns.
    """
    try:
        frame = read_csv_checked(path, [], header=None, names=names, dtype=str, sep=sep,
                                 encoding=encoding, keep_default_na=False, index_col=False,
                                 **kwargs)
    except DataError:
        _check_field_counts(path, names, sep, encoding)  # the more precise error, if any
        raise
    _check_field_counts(path, names, sep, encoding)
    return frame


def bad_rows(mask: np.ndarray) -> list[int]:
    """1-based data-row numbers (header excluded) of the first offending rows."""
    return (np.flatnonzero(mask)[:5] + 1).tolist()


_bad_rows = bad_rows  # the name earlier modules used


def check_numeric(frame: pd.DataFrame, column: str, file: str, *,
                  allow_missing: bool = False) -> pd.Series:
    """The column as numbers; text that is not a number raises DataError.

    ``allow_missing`` lets empty cells through as NaN (optional attributes such
    as a price nobody filled in) while still refusing text like ``"abc"``.
    """
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy()
    if allow_missing:
        bad = bad & raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
    if bad.any():
        raise DataError("non-numeric values", file=file, column=column, rows=bad_rows(bad))
    return values.astype(float)


def check_unique(frame: pd.DataFrame, column: str, file: str) -> None:
    """Ids must name one row each, or dense indices would be ambiguous."""
    dup = frame[column].duplicated(keep="first").to_numpy()
    if dup.any():
        raise DataError("duplicated ids", file=file, column=column, rows=bad_rows(dup))


def year_from_title(titles: pd.Series) -> pd.Series:
    """The year in a trailing "(1995)" or "(2006-2007)" of a title, NaN when absent."""
    found = titles.astype(str).str.extract(r"\((\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")[0]
    return pd.to_numeric(found, errors="coerce").astype(float)


def check_interactions(frame: pd.DataFrame, *, file: str, item_ids, user_ids,
                       rating_scale: tuple[float, float], notes: list[str]) -> pd.DataFrame:
    """Validate and normalise (user_id, item_id, rating, timestamp) rows.

    Unknown users or items, non-numeric or out-of-range ratings raise DataError.
    Duplicated (user, item) pairs keep the latest rating and add a note saying so.
    ``user_ids=None`` accepts any user (sources without a user table).
    """
    out = pd.DataFrame({
        "user_id": check_numeric(frame, "user_id", file).astype("int64"),
        "item_id": check_numeric(frame, "item_id", file).astype("int64"),
        "rating": check_numeric(frame, "rating", file).astype(float),
        "timestamp": check_numeric(frame, "timestamp", file).astype("int64"),
    })
    lo, hi = rating_scale
    bad = ((out["rating"] < lo) | (out["rating"] > hi)).to_numpy()
    if bad.any():
        raise DataError(f"rating outside the scale {lo}-{hi}", file=file, column="rating",
                        rows=bad_rows(bad))
    unknown = ~out["item_id"].isin(pd.Index(item_ids)).to_numpy()
    if unknown.any():
        raise DataError("interaction names an unknown item", file=file, column="item_id",
                        rows=bad_rows(unknown))
    if user_ids is not None:
        unknown = ~out["user_id"].isin(pd.Index(user_ids)).to_numpy()
        if unknown.any():
            raise DataError("interaction names an unknown user", file=file, column="user_id",
                            rows=bad_rows(unknown))
    dup = out.duplicated(["user_id", "item_id"], keep=False).to_numpy()
    if dup.any():
        n_pairs = int(out[dup].drop_duplicates(["user_id", "item_id"]).shape[0])
        # keep the latest rating: stable sort by time, keep last
        order = np.lexsort((np.arange(len(out)), out["timestamp"].to_numpy()))
        kept = out.iloc[order].drop_duplicates(["user_id", "item_id"], keep="last")
        notes.append(f"{file}: {n_pairs} duplicated (user, item) pair(s); kept the latest "
                     f"rating of each ({int(dup.sum()) - n_pairs} row(s) dropped)")
        out = kept.sort_index()
    return out.reset_index(drop=True)
