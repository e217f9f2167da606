"""Checks shared by every loader: one error type that names file, column, rows.

A loader reads through :func:`read_csv_checked` and passes its interactions
through :func:`check_interactions`, so every source reports bad input the same
way and nothing half-loaded ever reaches the engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..schema import DataError


def read_csv_checked(path: Path, required: list[str], **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` that turns every way a file can be wrong into DataError."""
    path = Path(path)
    if not path.exists():
        raise DataError("file is missing", file=str(path))
    try:
        frame = pd.read_csv(path, encoding=kwargs.pop("encoding", "utf-8"), **kwargs)
    except UnicodeDecodeError as exc:
        raise DataError(f"file is not UTF-8 text ({exc.reason} at byte {exc.start})",
                        file=str(path)) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError("file is empty", file=str(path)) from exc
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"file cannot be parsed: {exc}", file=str(path)) from exc
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}; found {list(frame.columns)}",
                        file=str(path), column=missing[0])
    if frame.empty:
        raise DataError("file has a header but no rows", file=str(path))
    return frame


def _bad_rows(mask: np.ndarray, frame: pd.DataFrame) -> list[int]:
    """1-based data-row numbers (header excluded) of the first offending rows."""
    return (np.flatnonzero(mask)[:5] + 1).tolist() if len(frame) else []


def check_numeric(frame: pd.DataFrame, column: str, file: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        raise DataError("non-numeric values", file=file, column=column,
                        rows=_bad_rows(bad, frame))
    return values


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
                        rows=_bad_rows(bad, out))
    unknown = ~out["item_id"].isin(pd.Index(item_ids)).to_numpy()
    if unknown.any():
        raise DataError("interaction names an unknown item", file=file, column="item_id",
                        rows=_bad_rows(unknown, out))
    if user_ids is not None:
        unknown = ~out["user_id"].isin(pd.Index(user_ids)).to_numpy()
        if unknown.any():
            raise DataError("interaction names an unknown user", file=file, column="user_id",
                            rows=_bad_rows(unknown, out))
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
