"""Checks shared by every loader: one error type that names file, column, rows.

A loader reads through :func:`read_csv_checked` (or :func:`read_headerless`),
parses ids and timestamps with :func:`check_integer`, every other number with
:func:`check_numeric` against its documented range in :data:`VALUE_RANGES`, and
passes its interactions through :func:`check_interactions`, so every source
reports bad input the same way and nothing half-loaded ever reaches the engine.
Row numbers in errors are 1-based *data* rows (the header, when there is one,
is not counted), which is what a person sees when they open the file in a
spreadsheet; column names are spelled as the file spells them (``movieId`` in
MovieLens latest, ``user id`` for the header-less MovieLens 100K, whose fields
are named as its README names them).

Every value is read as text and parsed here, not by pandas: an id or timestamp
must be an integer written with digits only and is parsed exactly (pandas would
go through float64, turning ``9007199254740993`` into ``...992`` and
``1e30`` into INT64_MIN), and every other number must be finite and inside its
documented range, so an ``inf`` year cannot turn training into NaN.

Why not a schema library such as pandera: it is not a dependency of this
project, and its errors name the failing check and the frame's index, not the
file's 1-based data rows and the file's own column spelling that this
project's one-line :class:`~recengine.schema.DataError` messages promise (and
that the CLI and the app show as they are). Turning its failure cases back into
that contract would take about as much code as the hand checks below (some 150
lines), so the checks stay by hand and the project gains no dependency.
"""

from __future__ import annotations

import codecs
import csv
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..schema import DataError

#: The documented range of every numeric attribute column, inclusive, in the
#: column's unit (docs/csv_bundle.md shows the same table). Values outside it,
#: and any non-finite value, are refused. Ratings are checked against the data
#: set's rating scale instead; ids and timestamps against the int64 range.
VALUE_RANGES: dict[str, tuple[float, float]] = {
    "year": (1800, 2100),  # release year
    "runtime": (0, 1000),  # minutes
    "price": (0, 10000),  # currency units
    "margin": (0, 1),  # share of the price
    "sponsored_bid": (0, 1000),  # currency units per recommendation
    "watch_minutes": (0, 1000),  # minutes
    "age": (0, 120),  # years
}

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INTEGER = r"[+-]?[0-9]+"  # ASCII digits only: no fraction, exponent, inf, nan, "٣"
_NON_FINITE = r"(?i)[+-]?(?:nan|inf|infinity)"
_UTF8 = ("utf-8", "utf-8-sig")


def _label_and_bytes(source: Path | str | bytes, name: str | None) -> tuple[str, bytes]:
    if isinstance(source, bytes | bytearray):
        return name or "<uploaded file>", bytes(source)
    path = Path(source)
    label = name or str(path)
    if not path.is_file():
        raise DataError("file is missing", file=label)
    try:
        return label, path.read_bytes()
    except OSError as exc:
        raise DataError(f"file cannot be read ({exc.strerror or exc})", file=label) from exc


def _column_at(data: bytes, line_start: int, offset: int, sep: str) -> str | None:
    """The header's name of the field that byte ``offset`` (on a data line) falls in."""
    try:
        header_end = data.find(b"\n")
        header = data[:header_end if header_end >= 0 else len(data)]
        names = next(csv.reader([header.decode("utf-8-sig").rstrip("\r")], delimiter=sep))
        prefix = data[line_start:offset].decode("utf-8", errors="replace")
        index = len(next(csv.reader([prefix], delimiter=sep), [""])) - 1
    except (UnicodeDecodeError, csv.Error, StopIteration, TypeError):
        return None
    return names[index].strip() if 0 <= index < len(names) else None


def check_utf8(data: bytes, file: str, *, header_lines: int = 1, sep: str = ",") -> None:
    """Refuse bytes that are not UTF-8, naming the line and data row of the first bad byte.

    The whole file is decoded here (pandas decodes in chunks, and its offsets are
    the chunk's, not the file's), so the offset, the line and the row are exact.
    """
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line = data.count(b"\n", 0, start) + 1
        row = line - header_lines
        line_start = data.rfind(b"\n", 0, start) + 1
        column = _column_at(data, line_start, start, sep) if header_lines and row >= 1 else None
        where = f"line {line}" + (" (the header)" if row < 1 else f", data row {row}")
        raise DataError(f"file is not UTF-8 text: byte 0x{data[start]:02x} on {where} "
                        f"(byte offset {start}) is not valid UTF-8 ({exc.reason}); save the "
                        "file as UTF-8 and load it again", file=file, column=column,
                        rows=[row] if row >= 1 else None) from None


def read_csv_checked(source: Path | str | bytes, required: list[str], *,
                     name: str | None = None, notes: list[str] | None = None,
                     **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` that turns every way a file can be wrong into DataError.

    ``source`` is a path, or the raw bytes of an uploaded file (then ``name`` is
    the file name the error shows). ``required`` columns are checked by header
    name; pass ``[]`` for header-less files and check the field count yourself.
    A UTF-8 file may start with a byte-order mark and may use Windows (CRLF)
    line endings; both are accepted and, when ``notes`` is given, noted there.
    """
    label, data = _label_and_bytes(source, name)
    encoding = kwargs.pop("encoding", "utf-8")
    has_header = kwargs.get("header", "infer") is not None
    try:
        utf8 = codecs.lookup(encoding).name in _UTF8
    except LookupError as exc:
        raise ValueError(f"unknown encoding {encoding!r}") from exc
    if utf8:
        check_utf8(data, label, header_lines=1 if has_header else 0,
                   sep=kwargs.get("sep", ","))
        encoding = "utf-8-sig"  # a byte-order mark is not part of the first column's name
        if data.startswith(codecs.BOM_UTF8) and notes is not None:
            notes.append(f"{label}: starts with a byte-order mark (as spreadsheet programs "
                         "write it); it was ignored")
    if b"\r\n" in data and notes is not None:
        notes.append(f"{label}: Windows line endings (CRLF); read as ordinary line ends")
    try:
        with warnings.catch_warnings():
            # pandas only warns when a header-less line has extra fields, then drops them
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(io.BytesIO(data), encoding=encoding, **kwargs)
    except pd.errors.ParserWarning as exc:
        raise DataError(f"a line has more fields than expected ({exc})", file=label) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"file is not {encoding} text ({exc.reason})", file=label) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError("file is empty", file=label) from exc
    except (ValueError, OverflowError, pd.errors.ParserError) as exc:
        raise DataError(f"file cannot be parsed: {exc}", file=label) from exc
    if has_header:
        frame.columns = [str(c).strip() for c in frame.columns]
        twice = frame.columns[frame.columns.duplicated()]
        if len(twice):
            raise DataError("column appears more than once in the header", file=label,
                            column=str(twice[0]))
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
                    notes: list[str] | None = None, **kwargs) -> pd.DataFrame:
    """A header-less file (MovieLens 100K) with named columns, as text.

    ``names`` are the fields as the format's documentation names them; errors
    use them as the column. Fields are counted on every line (such files hold
    no quoting), so a line with too few or too many fields is reported by row
    and by the first column it lacks, rather than shifting values into the
    wrong columns.
    """
    try:
        frame = read_csv_checked(path, [], header=None, names=names, dtype=str, sep=sep,
                                 encoding=encoding, keep_default_na=False, index_col=False,
                                 notes=notes, **kwargs)
    except DataError:
        _check_field_counts(path, names, sep, encoding)  # the more precise error, if any
        raise
    _check_field_counts(path, names, sep, encoding)
    return frame


def bad_rows(mask: np.ndarray) -> list[int]:
    """1-based data-row numbers (header excluded) of the first offending rows."""
    return (np.flatnonzero(mask)[:5] + 1).tolist()


_bad_rows = bad_rows  # the name earlier modules used


def _cells(raw: pd.Series) -> pd.Series:
    """A column's cells as stripped text; a missing cell is ""."""
    return raw.fillna("").astype(str).str.strip()


def _shown(text: pd.Series, mask: np.ndarray) -> str:
    value = str(text.iloc[int(np.flatnonzero(mask)[0])])
    if not value:
        return "an empty cell"
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _refuse(message: str, text: pd.Series, mask: np.ndarray, file: str, name: str,
            hint: str = ""):
    """Raise "MESSAGE (first: 'VALUE'); HINT" for the rows in ``mask``."""
    raise DataError(f"{message} (first: {_shown(text, mask)})" + (f"; {hint}" if hint else ""),
                    file=file, column=name, rows=bad_rows(mask))


def _limit(x: float) -> str:
    return f"{x:g}" if abs(x) < 1e15 else str(int(x))


def check_integer(frame: pd.DataFrame, column: str, file: str, display: str | None = None,
                  *, limits: tuple[int, int] | None = None) -> pd.Series:
    """An id or timestamp column as exact int64; anything else raises DataError.

    Each cell must be an integer written with digits only (an optional sign,
    surrounding spaces allowed) and within the int64 range: fractions
    (``21.7``), exponents (``1e30``), ``inf``, ``nan``, empty cells and overflow
    (``99999999999999999999``) are refused, never rounded or wrapped. The value
    is parsed from its text, so ``9007199254740993`` keeps its last digit.
    ``display`` is the column's name as the file spells it (defaults to
    ``column``); ``limits`` an inclusive range the values must also lie in.
    """
    name = display or column
    raw = frame[column]
    if pd.api.types.is_integer_dtype(raw.dtype):
        text, values = raw.astype(str), raw.astype("int64")
    else:
        text = _cells(raw)
        ok = text.str.fullmatch(_INTEGER).to_numpy(dtype=bool)
        if not ok.all():
            _refuse("not an integer", text, ~ok, file, name,
                    "write whole numbers with digits only: no decimal point, exponent, inf or "
                    "nan")
        digits = text.str.lstrip("+-").str.lstrip("0").str.len().to_numpy()
        wide = np.flatnonzero(digits >= 19)  # the only ones that can leave int64
        if len(wide):
            over = np.zeros(len(text), dtype=bool)
            over[wide] = [not INT64_MIN <= int(text.iloc[k]) <= INT64_MAX for k in wide]
            if over.any():
                _refuse("integer outside the 64-bit range", text, over, file, name,
                        f"integers must lie within {INT64_MIN} to {INT64_MAX}")
        values = text.astype("int64")
    if limits is not None:
        lo, hi = limits
        out = ((values < lo) | (values > hi)).to_numpy()
        if out.any():
            _refuse(f"values outside the documented range {lo} to {hi}", text, out, file, name)
    return pd.Series(values.to_numpy(dtype=np.int64), index=frame.index, name=column)


def check_numeric(frame: pd.DataFrame, column: str, file: str, *,
                  allow_missing: bool = False, display: str | None = None,
                  limits: tuple[float, float] | None = None) -> pd.Series:
    """The column as finite float numbers; anything else raises DataError.

    Text that is not a number, a non-finite value (``inf``, ``-inf``, ``nan``,
    or a number too large for a float such as ``1e309``) and, when ``limits``
    is given, a value outside that inclusive range are refused. ``allow_missing``
    lets empty cells through as NaN (optional attributes such as a price nobody
    filled in). ``display`` is the column's name as the file spells it.
    """
    name = display or column
    raw = frame[column]
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.astype(float)  # already parsed: a NaN is an empty cell
        text = values.astype(str)
        empty = values.isna().to_numpy() & allow_missing
        spelled = values.isna().to_numpy()
    else:
        text = _cells(raw)
        values = pd.to_numeric(text, errors="coerce").astype(float)
        empty = (text == "").to_numpy() & allow_missing
        spelled = text.str.fullmatch(_NON_FINITE).to_numpy(dtype=bool)
    finite = np.isfinite(values.to_numpy())
    not_number = ~finite & ~empty & ~spelled & values.isna().to_numpy()
    if not_number.any():
        _refuse("non-numeric values", text, not_number, file, name)
    non_finite = ~finite & ~empty
    if non_finite.any():
        _refuse("non-finite values", text, non_finite, file, name,
                "every number must be finite: inf, -inf and nan are refused")
    if limits is not None:
        lo, hi = limits
        out = ((values < lo) | (values > hi)).to_numpy()
        if out.any():
            _refuse(f"values outside the documented range {_limit(lo)} to {_limit(hi)}",
                    text, out, file, name)
    return values.astype(float)


def check_unique(frame: pd.DataFrame, column: str, file: str,
                 display: str | None = None) -> None:
    """Ids must name one row each, or dense indices would be ambiguous."""
    dup = frame[column].duplicated(keep="first").to_numpy()
    if dup.any():
        raise DataError("duplicated ids", file=file, column=display or column,
                        rows=bad_rows(dup))


def year_from_title(titles: pd.Series) -> pd.Series:
    """The year in a trailing "(1995)" or "(2006-2007)" of a title, NaN when absent.

    A number outside the documented year range (e.g. "(0001)") is not a year.
    """
    found = titles.astype(str).str.extract(r"\((\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")[0]
    years = pd.to_numeric(found, errors="coerce").astype(float)
    lo, hi = VALUE_RANGES["year"]
    return years.where(years.between(lo, hi))


def check_interactions(frame: pd.DataFrame, *, file: str, item_ids, user_ids,
                       rating_scale: tuple[float, float], notes: list[str],
                       columns: dict[str, str] | None = None) -> pd.DataFrame:
    """Validate and normalise (user_id, item_id, rating, timestamp) rows.

    ``columns`` maps those four names to the file's own spelling (e.g.
    ``{"item_id": "movieId"}``); ``frame`` has the file's columns and every
    error names the file's spelling. Ids and timestamps are parsed exactly
    (:func:`check_integer`); unknown users or items, non-numeric, non-finite or
    out-of-scale ratings raise DataError. Duplicated (user, item) pairs keep the
    latest rating and add a note saying so. ``user_ids=None`` accepts any user
    (sources without a user table).
    """
    spelled = {c: c for c in ("user_id", "item_id", "rating", "timestamp")} | dict(columns or {})
    out = pd.DataFrame({
        "user_id": check_integer(frame, spelled["user_id"], file),
        "item_id": check_integer(frame, spelled["item_id"], file),
        "rating": check_numeric(frame, spelled["rating"], file),
        "timestamp": check_integer(frame, spelled["timestamp"], file),
    })
    lo, hi = rating_scale
    bad = ((out["rating"] < lo) | (out["rating"] > hi)).to_numpy()
    if bad.any():
        raise DataError(f"rating outside the scale {lo}-{hi}", file=file,
                        column=spelled["rating"], rows=bad_rows(bad))
    unknown = ~out["item_id"].isin(pd.Index(item_ids)).to_numpy()
    if unknown.any():
        raise DataError("interaction names an unknown item", file=file,
                        column=spelled["item_id"], rows=bad_rows(unknown))
    if user_ids is not None:
        unknown = ~out["user_id"].isin(pd.Index(user_ids)).to_numpy()
        if unknown.any():
            raise DataError("interaction names an unknown user", file=file,
                            column=spelled["user_id"], rows=bad_rows(unknown))
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
