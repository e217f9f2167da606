"""Items watched together: the collaborative signal beside the content vectors.

The two towers place items by features and learned embeddings; "people who
watched X also watched Y" is evidence they only see indirectly. This table keeps,
for every item, its ``n`` strongest co-watched items by cosine similarity of the
binary history columns (the item-kNN baseline's similarity), computed from the
history the engine may read (train only offline). It feeds one retrieval source
(``cowatched``, with the seed item and the similarity as provenance) and one
feature of the ranking stage. Sparse products, a block of items at a time, so
memory follows the number of co-watched pairs, not the catalogue squared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass
class CowatchTable:
    indices: np.ndarray  # (n_items, n) int32, -1 padded, strongest first
    similarity: np.ndarray  # (n_items, n) float32 cosine, 0 padded

    @property
    def n_neighbours(self) -> int:
        return int(self.indices.shape[1])

    def affinity(self, seeds: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Sum over ``seeds`` of their co-watch similarity to each candidate.

        Reads only the seeds' rows: cost grows with the history read, not with
        the catalogue.
        """
        if not len(seeds) or not len(candidates):
            return np.zeros(len(candidates))
        idx = self.indices[seeds].ravel()
        sim = self.similarity[seeds].ravel()
        keep = idx >= 0
        uniq, inv = np.unique(idx[keep], return_inverse=True)
        total = np.bincount(inv, weights=sim[keep])
        pos = np.searchsorted(uniq, candidates)
        pos = np.minimum(pos, max(len(uniq) - 1, 0))
        found = len(uniq) > 0
        hit = (uniq[pos] == candidates) if found else np.zeros(len(candidates), bool)
        return np.where(hit, total[pos] if found else 0.0, 0.0)


def build_cowatch_table(history: pd.DataFrame, n_items: int, n_neighbours: int = 50,
                        block: int = 2048) -> CowatchTable:
    """Top ``n_neighbours`` co-watched items per item by cosine of binary columns."""
    u = history["u"].to_numpy(np.int64)
    i = history["i"].to_numpy(np.int64)
    n_users = int(u.max()) + 1 if len(u) else 0
    x = sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=(n_users, n_items))
    x.data[:] = 1.0  # duplicates count once
    xt = x.T.tocsr()
    norm = np.sqrt(np.asarray(x.sum(axis=0)).ravel())
    inv = np.where(norm > 0, 1.0 / np.maximum(norm, 1e-12), 0.0).astype(np.float32)
    n = int(n_neighbours)
    out_idx = np.full((n_items, n), -1, np.int32)
    out_sim = np.zeros((n_items, n), np.float32)
    active = np.flatnonzero(norm > 0)
    for start in range(0, len(active), block):
        rows = active[start:start + block]
        gram = (xt[rows] @ x).tocsr()  # sparse co-watch counts: memory follows the data
        for r, item in enumerate(rows.tolist()):
            lo, hi = gram.indptr[r], gram.indptr[r + 1]
            cols = gram.indices[lo:hi]
            sims = gram.data[lo:hi] * inv[item] * inv[cols]
            keep = cols != item  # an item is not its own neighbour
            cols, sims = cols[keep], sims[keep]
            if len(cols) > n:
                part = np.argpartition(-sims, n - 1)[:n]
                cols, sims = cols[part], sims[part]
            order = np.lexsort((cols, -sims))  # strongest first, ties to the lower index
            out_idx[item, :len(order)] = cols[order]
            out_sim[item, :len(order)] = sims[order]
    return CowatchTable(out_idx, out_sim)
