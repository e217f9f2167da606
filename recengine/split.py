"""The protocol's per-user temporal hold-out (../shared/EVALUATION.md).

Everything a model or a feature sees is computed from ``train``: this module is
the only place that decides which rating is which, so a leak has one place to
hide and one place to be tested.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .schema import Dataset


@dataclass(frozen=True)
class Split:
    """Train and test interactions (same columns as ``Dataset.interactions``)."""

    train: pd.DataFrame
    test: pd.DataFrame

    def counts(self) -> dict:
        return {"train": int(len(self.train)), "test": int(len(self.test))}


def temporal_split(interactions: pd.DataFrame, test_fraction: float = 0.2) -> Split:
    """Last ``round(test_fraction * n)`` ratings of each user (by time) go to test.

    Stable sort, so ties keep file order; Python's banker's rounding as the
    protocol says (``np.round`` rounds half to even too).
    """
    # rows keep their original index labels: a split of a split (validation inside
    # train) still points at the same rows, which training relies on
    df = interactions
    order = np.lexsort((np.arange(len(df)), df["timestamp"].to_numpy(), df["u"].to_numpy()))
    df = df.iloc[order]
    u = df["u"].to_numpy()
    n = np.bincount(u)
    n_test = np.round(test_fraction * n).astype(np.int64)
    # position of each row inside its user's sorted history
    first = np.r_[0, np.cumsum(n)[:-1]]
    pos = np.arange(len(df)) - first[u]
    is_test = pos >= (n - n_test)[u]
    return Split(train=df[~is_test].copy(), test=df[is_test].copy())


def validation_split(train: pd.DataFrame, fraction: float = 0.1) -> Split:
    """The same temporal rule applied inside train: tune here, never on test."""
    return temporal_split(train, fraction)


def split_dataset(data: Dataset, test_fraction: float = 0.2) -> Split:
    return temporal_split(data.interactions, test_fraction)


@dataclass(frozen=True)
class ColdSplit:
    """The protocol's cold-start items: removed from training entirely."""

    cold_items: np.ndarray  # dense item indices
    train: pd.DataFrame  # warm interactions the model may see
    cold: pd.DataFrame  # every interaction with a cold item (train or test)


def cold_item_split(data: Dataset, fraction: float = 0.1, seed: int = 0) -> ColdSplit:
    """A seeded random ``fraction`` of items leaves training with all its ratings."""
    rng = np.random.default_rng(seed)
    n_cold = int(round(fraction * data.n_items))
    cold = np.sort(rng.choice(data.n_items, size=n_cold, replace=False))
    mask = np.isin(data.interactions["i"].to_numpy(), cold)
    return ColdSplit(cold_items=cold, train=data.interactions[~mask].copy(),
                     cold=data.interactions[mask].copy())
