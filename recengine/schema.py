"""One in-memory data model for every source: items, users, interactions.

Loaders (MovieLens, synthetic, CSV bundles) all return a :class:`Dataset`, so
features, training, retrieval, evaluation and the audits never care where the
rows came from. Kept apart from the algorithms, as LensKit keeps its data model.

Conventions every module relies on:

* ``items`` rows are in catalogue order; row ``i`` is the item with dense index
  ``i``. Required columns: ``item_id`` (int64), ``title`` (str), ``year``
  (float, NaN when unknown), ``genres`` ("|"-joined str, "" for none).
  Optional: ``runtime``, ``price``, ``margin``, ``sponsored_bid``,
  ``watch_minutes`` (expected minutes watched), ``labels`` ("|"-joined content
  labels such as ``graphic_violence``), ``tags`` ("|"-joined free text).
* ``users`` rows are in user order; row ``u`` has dense index ``u``. Required:
  ``user_id`` (int64). Optional demographics: ``age`` (float), ``gender``,
  ``occupation``, ``zip``, ``region`` (str; the location the region source
  uses: a country for synthetic data, a US national area for MovieLens 100K).
* ``interactions``: ``user_id``, ``item_id``, ``rating`` (float),
  ``timestamp`` (int64) plus the dense indices ``u`` and ``i`` (int32) that
  :meth:`Dataset.__post_init__` adds. One row per (user, item) pair.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

ITEM_REQUIRED = ("item_id", "title", "year", "genres")
USER_REQUIRED = ("user_id",)
INTERACTION_REQUIRED = ("user_id", "item_id", "rating", "timestamp")
DEMOGRAPHIC_COLUMNS = ("age", "gender", "occupation", "region")
BUSINESS_COLUMNS = ("price", "margin", "sponsored_bid", "watch_minutes", "labels")


class DataError(ValueError):
    """Bad input data: names the file, the column and the first offending rows.

    The one error type every loader raises, so the CLI and the app can show it in
    plain words and keep the previous data set active.
    """

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None,
                 rows: list | None = None):
        self.file = file
        self.column = column
        self.rows = list(rows or [])[:5]
        parts = [message]
        if file:
            parts.append(f"file: {file}")
        if column:
            parts.append(f"column: {column}")
        if self.rows:
            parts.append(f"first offending rows: {self.rows}")
        super().__init__(" | ".join(parts))


@dataclass
class Dataset:
    """Items, users and interactions with dense indices and provenance notes."""

    items: pd.DataFrame
    users: pd.DataFrame
    interactions: pd.DataFrame
    name: str = "dataset"
    source: str = ""
    license: str = ""
    rating_scale: tuple[float, float] = (0.5, 5.0)
    #: columns whose values are simulated, e.g. {"items.price", "users.region"};
    #: everything that shows them must label them "simulated".
    simulated: frozenset[str] = field(default_factory=frozenset)
    #: human-readable notes from loading (e.g. duplicates dropped).
    notes: list[str] = field(default_factory=list)
    #: how a simulated column was made, e.g. {"items.labels": "simulated here: ..."}
    provenance: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.items = self.items.reset_index(drop=True)
        self.users = self.users.reset_index(drop=True)
        item_pos = pd.Series(np.arange(len(self.items), dtype=np.int32),
                             index=self.items["item_id"].to_numpy())
        user_pos = pd.Series(np.arange(len(self.users), dtype=np.int32),
                             index=self.users["user_id"].to_numpy())
        inter = self.interactions.reset_index(drop=True)
        inter["u"] = user_pos.reindex(inter["user_id"].to_numpy()).to_numpy(dtype=np.int32)
        inter["i"] = item_pos.reindex(inter["item_id"].to_numpy()).to_numpy(dtype=np.int32)
        self.interactions = inter
        self._item_pos = item_pos
        self._user_pos = user_pos

    # ----- lookups -------------------------------------------------------------------
    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_users(self) -> int:
        return len(self.users)

    def item_index(self, item_ids) -> np.ndarray:
        """Dense indices of item ids; raises KeyError naming the unknown ids."""
        ids = np.atleast_1d(np.asarray(item_ids))
        idx = self._item_pos.reindex(ids)
        if idx.isna().any():
            raise KeyError(f"unknown item id(s): {ids[idx.isna().to_numpy()][:5].tolist()}")
        return idx.to_numpy(dtype=np.int64)

    def user_index(self, user_ids) -> np.ndarray:
        """Dense indices of user ids; raises KeyError naming the unknown ids."""
        ids = np.atleast_1d(np.asarray(user_ids))
        if len(ids) == 1:  # one request's user: a dict lookup, not a pandas reindex
            pos = self._user_lookup.get(ids[0].item())
            if pos is None:
                raise KeyError(f"unknown user id(s): {ids.tolist()}")
            return np.array([pos], dtype=np.int64)
        idx = self._user_pos.reindex(ids)
        if idx.isna().any():
            raise KeyError(f"unknown user id(s): {ids[idx.isna().to_numpy()][:5].tolist()}")
        return idx.to_numpy(dtype=np.int64)

    def has_column(self, table: str, column: str) -> bool:
        frame = getattr(self, table)
        return column in frame.columns and frame[column].notna().any()

    @property
    def has_regions(self) -> bool:
        return self.has_column("users", "region")

    # ----- derived, cached -----------------------------------------------------------
    @cached_property
    def _user_lookup(self) -> dict:
        """user id -> dense index, for single lookups (the same map as ``_user_pos``)."""
        return dict(zip(self._user_pos.index.tolist(), self._user_pos.tolist(), strict=True))

    @cached_property
    def genre_names(self) -> list[str]:
        names: set[str] = set()
        for g in self.items["genres"].fillna("").unique():
            names.update(x for x in str(g).split("|") if x and x != "(no genres listed)")
        return sorted(names)

    @cached_property
    def genre_matrix(self) -> np.ndarray:
        """Bool (n_items, n_genres) in :attr:`genre_names` order."""
        col = {g: j for j, g in enumerate(self.genre_names)}
        mat = np.zeros((self.n_items, len(col)), dtype=bool)
        codes, uniques = pd.factorize(self.items["genres"].fillna(""))
        for k, g in enumerate(uniques):
            js = [col[x] for x in str(g).split("|") if x in col]
            if js:
                rows = np.flatnonzero(codes == k)
                mat[np.ix_(rows, js)] = True
        return mat

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 over everything a trained model depends on: a model is tied to its data.

        Ids, ratings and timestamps, and every item and user column the features
        read (:mod:`recengine.features`): the items' ``year``, ``genres`` and
        ``runtime``, the users' ``age``, ``gender``, ``occupation`` and
        ``region``, so an edited catalogue or user table never reuses old
        vectors. Titles, tags and the business columns feed no vector and are
        left out (fixing a typo in a title keeps the model). Values are
        normalised before hashing, so reloading the same data gives the same
        digest whatever the dtypes: numbers as float64 (unparsable and missing
        alike as NaN, as the features read them), text as UTF-8 strings (missing
        as null); an absent column hashes differently from an empty one.
        """
        import json

        h = hashlib.sha256()
        h.update(self.items["item_id"].to_numpy(dtype=np.int64).tobytes())
        h.update(self.users["user_id"].to_numpy(dtype=np.int64).tobytes())
        for col, dt in (("u", np.int32), ("i", np.int32), ("rating", np.float64),
                        ("timestamp", np.int64)):
            h.update(self.interactions[col].to_numpy(dtype=dt).tobytes())
        columns = (("items", "year", "number"), ("items", "genres", "text"),
                   ("items", "runtime", "number"), ("users", "age", "number"),
                   ("users", "gender", "text"), ("users", "occupation", "text"),
                   ("users", "region", "text"))
        for table, col, kind in columns:
            frame = getattr(self, table)
            h.update(f"\0{table}.{col}:".encode())
            if col not in frame.columns:
                h.update(b"absent")
            elif kind == "number":
                x = pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64)
                # one NaN bit pattern, and -0.0 == 0.0
                h.update(np.where(np.isnan(x), np.nan, x + 0.0).tobytes())
            else:
                missing = frame[col].isna().to_numpy()
                values = [None if m else str(v) for v, m in zip(frame[col].tolist(), missing)]
                h.update(json.dumps(values, ensure_ascii=False).encode("utf-8"))
        return h.hexdigest()

    def summary(self) -> dict:
        """Counts and ranges the app's data page and the model card show."""
        r = self.interactions["rating"]
        return {
            "name": self.name,
            "source": self.source,
            "items": self.n_items,
            "users": self.n_users,
            "interactions": len(self.interactions),
            "density": len(self.interactions) / max(1, self.n_items * self.n_users),
            "rating_min": float(r.min()) if len(r) else None,
            "rating_max": float(r.max()) if len(r) else None,
            "rating_mean": float(r.mean()) if len(r) else None,
            "genres": len(self.genre_names),
            "demographics": [c for c in DEMOGRAPHIC_COLUMNS if self.has_column("users", c)],
            "business_attributes": [c for c in BUSINESS_COLUMNS if self.has_column("items", c)],
            "simulated": sorted(self.simulated),
            "license": self.license,
            "notes": list(self.notes),
        }

    def with_interactions(self, interactions: pd.DataFrame) -> Dataset:
        """The same catalogue and users with other interactions (e.g. the train split)."""
        return Dataset(self.items, self.users,
                       interactions[list(INTERACTION_REQUIRED)].copy(),
                       name=self.name, source=self.source, license=self.license,
                       rating_scale=self.rating_scale, simulated=self.simulated,
                       notes=list(self.notes), provenance=dict(self.provenance))

    def replace_items(self, items: pd.DataFrame, simulated: set[str] = frozenset(),
                      provenance: dict[str, str] | None = None) -> Dataset:
        """The same users and interactions with another item table (same rows, more columns).

        ``simulated`` names columns that join :attr:`simulated`; the interactions
        keep their dense indices because the catalogue order does not change.
        """
        if not np.array_equal(items["item_id"].to_numpy(), self.items["item_id"].to_numpy()):
            raise ValueError("replace_items keeps the catalogue: same item ids, same order")
        return Dataset(items, self.users, self.interactions[list(INTERACTION_REQUIRED)].copy(),
                       name=self.name, source=self.source, license=self.license,
                       rating_scale=self.rating_scale,
                       simulated=frozenset(self.simulated | set(simulated)),
                       notes=list(self.notes),
                       provenance=dict(self.provenance if provenance is None else provenance))
