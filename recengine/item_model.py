"""An EASE-style item model over the most watched items: "often liked by people like you".

The two towers and the co-watch table see each item pair on its own; EASE
(Steck, 2019) learns, for every item, the weights of all other items that best
reconstruct who watched it, so an item's score sums the evidence of the user's
*whole* history at once. On the protocol it is the strongest baseline, which is
why the pipeline uses it as one retrieval source and one ranking-stage input.

Why restricted to the ``top_items`` most watched items: the closed form inverts
an ``m x m`` Gram matrix, O(m^3), and almost every relevant next watch is among
the popular items. With ``m`` bounded (2,500 by default) the model builds in
about a second from the history the engine may read (train only offline) and
one user's scores are a sum of at most ``len(history)`` rows of ``m`` floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass
class ItemModelConfig:
    #: how many of the most watched items the model covers (0: no item model)
    top_items: int = 2500
    #: L2 weight of the closed form (EVALUATION.md's EASE uses 300)
    l2: float = 300.0


@dataclass
class ItemModel:
    """``B`` restricted to ``items``: score(user, j) = sum of B[h, j] over history h."""

    items: np.ndarray  # (m,) dense item indices the model covers
    position: np.ndarray  # (n_items,) row of each item in B, -1 outside the model
    weights: np.ndarray  # (m, m) float32, zero diagonal
    #: the last history's scores: a request asks twice (the source, then the feature)
    _last: tuple[bytes, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def _rows(self, history: np.ndarray) -> np.ndarray:
        rows = self.position[np.asarray(history, np.int64)]
        return np.unique(rows[rows >= 0])  # an item watched twice counts once

    def user_scores(self, history: np.ndarray) -> np.ndarray:
        """(m,) scores of the covered items for a user who watched ``history``."""
        rows = self._rows(history)
        if not len(rows):
            return np.zeros(len(self.items), np.float64)
        key, last = rows.tobytes(), self._last  # one read: safe across threads
        if last is not None and last[0] == key:
            return last[1].copy()
        scores = self.weights[rows].sum(axis=0, dtype=np.float64)
        self._last = (key, scores)
        return scores.copy()

    def scores_for(self, history: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Scores of ``candidates`` (dense indices); 0 for items the model does not cover."""
        candidates = np.asarray(candidates, np.int64)
        pos = self.position[candidates]
        full = self.user_scores(history)
        return np.where(pos >= 0, full[np.maximum(pos, 0)], 0.0)

    def strongest_seed(self, history: np.ndarray, item: int) -> int:
        """The history item that adds most to ``item``'s score (the "because of" item)."""
        return int(self.strongest_seeds(history, np.asarray([item]))[0])

    def strongest_seeds(self, history: np.ndarray, items: np.ndarray) -> np.ndarray:
        """:meth:`strongest_seed` of each of ``items`` (-1 where none), in one gather.

        Why batched: the retrieval source asks for the seed of each of its 20
        proposals on every request; one ``(history x proposals)`` slice of ``B``
        costs what one item's lookup did.
        """
        items = np.asarray(items, np.int64)
        out = np.full(len(items), -1, np.int64)
        rows = self._rows(history)
        cols = self.position[items]
        ok = cols >= 0
        if len(rows) and ok.any():
            best = np.argmax(self.weights[np.ix_(rows, cols[ok])], axis=0)
            out[ok] = self.items[rows[best]]
        return out


def build_item_model(history: pd.DataFrame, n_items: int,
                     config: ItemModelConfig | None = None) -> ItemModel | None:
    """EASE's closed form on the binary history of the ``top_items`` most watched items."""
    cfg = config or ItemModelConfig()
    if cfg.top_items <= 0 or not len(history):
        return None
    if cfg.l2 <= 0:
        raise ValueError(f"item model l2 must be positive, got {cfg.l2}")
    u = history["u"].to_numpy(np.int64)
    i = history["i"].to_numpy(np.int64)
    count = np.bincount(i, minlength=n_items)
    watched = np.flatnonzero(count > 0)
    # most watched first, ties to the lower index; at most top_items of them
    items = watched[np.lexsort((watched, -count[watched]))][:cfg.top_items]
    items = np.sort(items)
    position = np.full(n_items, -1, np.int64)
    position[items] = np.arange(len(items))
    keep = position[i] >= 0
    x = sp.csr_matrix((np.ones(int(keep.sum()), np.float64), (u[keep], position[i[keep]])),
                      shape=(int(u.max()) + 1, len(items)))
    x.sum_duplicates()
    x.data[:] = 1.0  # duplicates count once
    gram = (x.T @ x).toarray()
    gram[np.diag_indices_from(gram)] += cfg.l2
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)[None, :]
    b[np.diag_indices_from(b)] = 0.0
    return ItemModel(items, position, b.astype(np.float32))


__all__ = ["ItemModel", "ItemModelConfig", "build_item_model"]
