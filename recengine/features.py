"""Leak-free user and item features, described by a spec that is itself data.

``fit_feature_spec`` reads the TRAIN interactions only (the protocol's rule:
averages, popularity and scalers never see a test rating). The fitted
:class:`FeatureSpec` is saved inside the model bundle, so serving builds exactly
the vectors training saw: same genre order, same vocabularies, same scalers,
same per-item statistics.

User vector: demographics one-hot where the data has them (age band, gender,
occupation, region), the user's per-genre mean rating (as a deviation from the
user's own mean, shrunk towards 0 when based on few ratings) and per-genre share
of watches, log rating count and mean rating. Item vector: year, genre flags,
mean rating (shrunk towards the global mean), log popularity, runtime where
present. Users also carry their train history (item rows, most recent last) for
the history-bag embedding of the hybrid model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .schema import Dataset
from .scoring import UserProfile

AGE_BANDS = (0, 18, 25, 35, 45, 50, 56, 200)
CATEGORICAL = ("gender", "occupation", "region")


@dataclass
class FeatureConfig:
    shrink: float = 5.0  # pseudo-count pulling sparse averages to their prior
    max_history: int = 256  # most recent train items kept for the history bag
    demographics: bool = True


@dataclass
class FeatureSpec:
    """Everything needed to rebuild feature vectors; JSON plus three arrays."""

    genre_names: list[str]
    rating_scale: tuple[float, float]
    global_mean: float
    vocab: dict[str, list[str]]  # categorical demographic -> categories
    use_age: bool
    user_mean: list[float]  # scaler for the user's numeric block
    user_std: list[float]
    item_mean: list[float]
    item_std: list[float]
    has_runtime: bool
    config: FeatureConfig = field(default_factory=FeatureConfig)
    # arrays, saved in arrays.npz, not JSON: train statistics per catalogue item id
    stat_item_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    stat_mean: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    stat_count: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    # ---- sizes ----------------------------------------------------------------------
    @property
    def n_genres(self) -> int:
        return len(self.genre_names)

    def to_json(self) -> str:
        d = asdict(self)
        for k in ("stat_item_ids", "stat_mean", "stat_count"):
            d.pop(k)
        return json.dumps(d, indent=2)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"stat_item_ids": self.stat_item_ids, "stat_mean": self.stat_mean,
                "stat_count": self.stat_count}

    @classmethod
    def from_json(cls, text: str, arrays: dict[str, np.ndarray]) -> FeatureSpec:
        d = json.loads(text)
        d["config"] = FeatureConfig(**d["config"])
        d["rating_scale"] = tuple(d["rating_scale"])
        return cls(**d, **{k: np.asarray(arrays[k]) for k in
                           ("stat_item_ids", "stat_mean", "stat_count")})

    # ---- ratings <-> [-1, 1] --------------------------------------------------------
    def scale_rating(self, r) -> np.ndarray:
        lo, hi = self.rating_scale
        return (2.0 * (np.asarray(r, np.float32) - lo) / (hi - lo) - 1.0).astype(np.float32)

    def unscale_rating(self, s) -> np.ndarray:
        lo, hi = self.rating_scale
        return np.clip(lo + (np.asarray(s, np.float64) + 1.0) / 2.0 * (hi - lo), lo, hi)

    # ---- items ----------------------------------------------------------------------
    def item_stats(self, item_ids) -> tuple[np.ndarray, np.ndarray]:
        """Train mean rating (shrunk) and count per item; unseen items get the prior."""
        pos = pd.Series(np.arange(len(self.stat_item_ids)), index=self.stat_item_ids)
        idx = pos.reindex(np.asarray(item_ids)).to_numpy()
        seen = ~np.isnan(idx)
        mean = np.full(len(idx), self.global_mean, np.float32)
        count = np.zeros(len(idx), np.float32)
        mean[seen] = self.stat_mean[idx[seen].astype(int)]
        count[seen] = self.stat_count[idx[seen].astype(int)]
        return mean, count

    def _item_raw(self, items: pd.DataFrame) -> np.ndarray:
        mean, count = self.item_stats(items["item_id"].to_numpy())
        year = pd.to_numeric(items["year"], errors="coerce").to_numpy(np.float64)
        year = np.where(np.isnan(year), self.item_mean[0], year)
        cols = [year, mean, np.log1p(count)]
        if self.has_runtime:
            rt = pd.to_numeric(items.get("runtime"), errors="coerce").to_numpy(np.float64)
            cols.append(np.where(np.isnan(rt), self.item_mean[3], rt))
        return np.stack(cols, axis=1)

    def item_matrix(self, items: pd.DataFrame, genre_matrix: np.ndarray) -> np.ndarray:
        """(n_items, F_item) float32: scaled numeric block, then genre flags."""
        num = (self._item_raw(items) - np.asarray(self.item_mean)) / np.asarray(self.item_std)
        return np.concatenate([num, genre_matrix.astype(np.float64)], axis=1).astype(np.float32)

    # ---- users ----------------------------------------------------------------------
    def _demographic_block(self, users: pd.DataFrame) -> np.ndarray:
        blocks = []
        if self.use_age:
            age = pd.to_numeric(users.get("age"), errors="coerce").to_numpy(np.float64)
            band = np.digitize(np.nan_to_num(age, nan=-1), AGE_BANDS[1:-1])
            onehot = np.zeros((len(users), len(AGE_BANDS) - 1), np.float32)
            ok = ~np.isnan(age)
            onehot[np.flatnonzero(ok), band[ok]] = 1
            blocks.append(onehot)
        for col, cats in self.vocab.items():
            values = users[col].astype(str).to_numpy() if col in users else \
                np.full(len(users), "")
            pos = {c: j for j, c in enumerate(cats)}
            onehot = np.zeros((len(users), len(cats)), np.float32)
            for r, v in enumerate(values):
                j = pos.get(v)
                if j is not None:
                    onehot[r, j] = 1
            blocks.append(onehot)
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(users), 0), np.float32)

    def _history_raw(self, n_users: int, u: np.ndarray, rating: np.ndarray,
                     genres_of_rows: np.ndarray) -> np.ndarray:
        """Per-user numeric block from rating rows: count, mean, genre means and shares."""
        k = self.config.shrink
        g = self.n_genres
        count = np.bincount(u, minlength=n_users).astype(np.float64)
        total = np.bincount(u, weights=rating, minlength=n_users)
        mean = (total + k * self.global_mean) / (count + k)
        dev = rating - mean[u]
        gcount = np.zeros((n_users, g))
        gdev = np.zeros((n_users, g))
        np.add.at(gcount, u, genres_of_rows)
        np.add.at(gdev, u, genres_of_rows * dev[:, None])
        genre_mean = gdev / (gcount + k)
        share = gcount / np.maximum(count, 1)[:, None]
        return np.concatenate([np.log1p(count)[:, None], mean[:, None], genre_mean, share],
                              axis=1)

    def user_matrix(self, users: pd.DataFrame, history: pd.DataFrame,
                    genre_matrix: np.ndarray) -> np.ndarray:
        """(n_users, F_user) float32 for ``users`` rows from their ``history`` (u, i, rating)."""
        u = history["u"].to_numpy()
        raw = self._history_raw(len(users), u, history["rating"].to_numpy(np.float64),
                                genre_matrix[history["i"].to_numpy()].astype(np.float64))
        num = (raw - np.asarray(self.user_mean)) / np.asarray(self.user_std)
        return np.concatenate([self._demographic_block(users), num], axis=1).astype(np.float32)

    def profile_matrix(self, profile: UserProfile, item_ids: np.ndarray,
                       genre_matrix: np.ndarray) -> np.ndarray:
        """(1, F_user) for a new visitor: demographics plus their few ratings or genres.

        ``item_ids`` and ``genre_matrix`` describe the catalogue in dense order.
        """
        users = pd.DataFrame([{c: profile.demographics.get(c) for c in
                               ("age", *CATEGORICAL)}])
        ratings = dict(profile.ratings)
        rows = catalogue_positions(item_ids, list(ratings))
        r = np.asarray(list(ratings.values()), np.float64)
        gm = genre_matrix[rows].astype(np.float64)
        if profile.genres:  # a stated liked genre counts as one top-of-scale rating in it
            liked = np.zeros((len(profile.genres), self.n_genres))
            for j, name in enumerate(profile.genres):
                if name in self.genre_names:
                    liked[j, self.genre_names.index(name)] = 1
            gm = np.concatenate([gm, liked])
            r = np.concatenate([r, np.full(len(liked), self.rating_scale[1])])
        raw = self._history_raw(1, np.zeros(len(r), np.int64), r, gm)
        num = (raw - np.asarray(self.user_mean)) / np.asarray(self.user_std)
        return np.concatenate([self._demographic_block(users), num], axis=1).astype(np.float32)


def catalogue_positions(item_ids: np.ndarray, wanted) -> np.ndarray:
    """Dense catalogue positions of ``wanted`` ids; KeyError names unknown ones."""
    pos = pd.Series(np.arange(len(item_ids)), index=np.asarray(item_ids))
    idx = pos.reindex(np.asarray(list(wanted), dtype=np.int64))
    if idx.isna().any():
        bad = np.asarray(list(wanted))[idx.isna().to_numpy()][:5].tolist()
        raise KeyError(f"unknown item id(s): {bad}")
    return idx.to_numpy(np.int64)


def item_rows(spec: FeatureSpec, item_ids) -> np.ndarray:
    """Embedding row per item: 1 + position among items seen in train; 0 = unseen/cold."""
    pos = pd.Series(np.arange(1, len(spec.stat_item_ids) + 1), index=spec.stat_item_ids)
    return pos.reindex(np.asarray(item_ids)).fillna(0).to_numpy(np.int32)


def history_matrix(spec: FeatureSpec, history: pd.DataFrame, n_users: int,
                   catalogue_rows: np.ndarray, return_columns: bool = False):
    """(n_users, max_history) embedding rows of each user's most recent train items.

    Oldest to newest, right-aligned (the most recent item in the last column),
    0-padded. ``catalogue_rows`` maps dense item index -> embedding row (see
    :func:`item_rows`). With ``return_columns`` also returns, for every row of
    ``history`` in its order, the column holding it (-1 when older than the
    window): training uses it so a target's bag holds only what came before it.
    """
    L = spec.config.max_history
    h = history[["u", "i", "timestamp"]]
    order = np.lexsort((np.arange(len(h)), h["timestamp"].to_numpy(), h["u"].to_numpy()))
    u = h["u"].to_numpy()[order]
    rows = catalogue_rows[h["i"].to_numpy()[order]]
    counts = np.bincount(u, minlength=n_users)
    ends = np.cumsum(counts)
    pos_from_end = ends[u] - np.arange(len(u)) - 1  # 0 = most recent
    keep = pos_from_end < L
    out = np.zeros((n_users, L), np.int32)
    out[u[keep], L - 1 - pos_from_end[keep]] = rows[keep]
    if not return_columns:
        return out
    columns = np.full(len(h), -1, np.int32)
    columns[order[keep]] = (L - 1 - pos_from_end[keep]).astype(np.int32)
    return out, columns


def fit_feature_spec(data: Dataset, train: pd.DataFrame,
                     config: FeatureConfig | None = None) -> FeatureSpec:
    """Fit vocabularies, per-item statistics and scalers on ``train`` only."""
    config = config or FeatureConfig()
    k = config.shrink
    gmean = float(train["rating"].mean()) if len(train) else float(np.mean(data.rating_scale))
    stats = train.groupby("item_id")["rating"].agg(["sum", "count"])
    stat_mean = ((stats["sum"] + k * gmean) / (stats["count"] + k)).to_numpy(np.float32)
    vocab: dict[str, list[str]] = {}
    if config.demographics:
        for col in CATEGORICAL:
            if data.has_column("users", col):
                vocab[col] = sorted(data.users[col].dropna().astype(str).unique().tolist())
    use_age = config.demographics and data.has_column("users", "age")
    has_runtime = data.has_column("items", "runtime")
    spec = FeatureSpec(
        genre_names=list(data.genre_names), rating_scale=tuple(data.rating_scale),
        global_mean=gmean, vocab=vocab, use_age=bool(use_age), user_mean=[], user_std=[],
        item_mean=[], item_std=[], has_runtime=bool(has_runtime), config=config,
        stat_item_ids=stats.index.to_numpy(np.int64), stat_mean=stat_mean,
        stat_count=stats["count"].to_numpy(np.float32))
    # item scaler: fitted over the catalogue's feature values as train sees them. The
    # first pass only provides the fill values (means) that _item_raw uses for gaps.
    year = pd.to_numeric(data.items["year"], errors="coerce")
    spec.item_mean = [float(np.nanmean(year)) if year.notna().any() else 0.0, 0.0, 0.0]
    if has_runtime:
        spec.item_mean.append(float(pd.to_numeric(data.items["runtime"]).mean()))
    raw = spec._item_raw(data.items)
    spec.item_mean = raw.mean(axis=0).tolist()
    spec.item_std = np.maximum(raw.std(axis=0), 1e-6).tolist()
    # user scaler: fitted on the train users' history block
    raw_u = spec._history_raw(data.n_users, train["u"].to_numpy(),
                              train["rating"].to_numpy(np.float64),
                              data.genre_matrix[train["i"].to_numpy()].astype(np.float64))
    seen = np.bincount(train["u"].to_numpy(), minlength=data.n_users) > 0
    ref = raw_u[seen] if seen.any() else raw_u
    spec.user_mean = ref.mean(axis=0).tolist()
    spec.user_std = np.maximum(ref.std(axis=0), 1e-6).tolist()
    return spec
