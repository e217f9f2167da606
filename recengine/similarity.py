"""The similar-items table: each item's nearest items by ``||v_m(k) - v_m(i)||²``.

Precomputed once per model ("overnight" in the course), so a request only reads a
row. Small catalogues get exact search in memory-bounded blocks (one matrix
product per block); large ones an approximate index (:mod:`recengine.similarity_ann`),
chosen by ``SimilarityConfig.method``. bench/similar_table.py measures each
index's build time and recall against exact search at 1M items, and ``auto``
follows that measurement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np

from .similarity_ann import (
    HNSWConfig,
    IVFConfig,
    RecallMiss,
    USearchConfig,
    faiss_hnsw,
    faiss_ivf,
    thread_count,
    usearch_hnsw,
)

#: what ``SimilarityConfig.method`` accepts
METHODS = ("auto", "exact", "faiss-ivf", "faiss-hnsw", "usearch")
#: the index ``auto`` uses above ``exact_max_items``: measured fastest at Recall@10
#: >= 0.95 on the model's own item vectors at 1M items (bench/README.md)
AUTO_INDEX = "faiss-ivf"
#: the bundle extra that records how a table was built (JSON text)
METHOD_EXTRA = "similar_method"


@dataclass
class SimilarityConfig:
    """How many neighbours to keep and how to find them.

    ``method="auto"`` is exact up to ``exact_max_items`` items and
    :data:`AUTO_INDEX` above; when that IVF index cannot reach its target recall
    on its check sample within ``ivf.max_nprobe`` cells (vectors without cluster
    structure), auto builds the faiss HNSW graph instead and records why.
    ``"exact"``, ``"faiss-ivf"``, ``"faiss-hnsw"`` and
    ``"usearch"`` force one. Each index has its own settings dataclass; the
    defaults are the ones bench/similar_table.py picked (bench/README.md).
    ``backend`` is the old name of ``method`` (``"faiss"`` meant HNSW) and still
    works.
    """

    n_neighbours: int = 20
    exact_max_items: int = 20000
    method: str = "auto"
    backend: str | None = None
    #: rows per block of exact search, at most; a block holds about
    #: rows * n_items * 16 bytes of temporaries, kept under max_block_mb
    block_rows: int = 1024
    max_block_mb: int = 256
    ivf: IVFConfig = field(default_factory=IVFConfig)
    hnsw: HNSWConfig = field(default_factory=HNSWConfig)
    usearch: USearchConfig = field(default_factory=USearchConfig)
    #: index threads; None uses every core this process may run on
    threads: int | None = None

    def resolved_method(self, n_items: int) -> str:
        """The method a catalogue of ``n_items`` gets (``auto`` decided)."""
        method = self.method
        if self.backend is not None:
            method = "faiss-hnsw" if self.backend == "faiss" else self.backend
        if method == "auto":
            return "exact" if n_items <= self.exact_max_items else AUTO_INDEX
        if method not in METHODS:
            raise ValueError(f"unknown similarity method {method!r} (SimilarityConfig.method, "
                             "formerly backend): use "
                             + ", ".join(repr(m) for m in METHODS))
        return method


@dataclass
class SimilarTable:
    """``indices[i]``: the nearest items to item ``i`` (self excluded), ascending distance.

    ``distances`` are squared Euclidean distances between item vectors.
    ``method`` names how the table was built and ``settings`` the parameters it
    used (``{}`` for exact search), so a saved table says what it is.
    """

    indices: np.ndarray  # (n_items, n) int32
    distances: np.ndarray  # (n_items, n) float32
    method: str
    settings: dict = field(default_factory=dict)

    @property
    def n_neighbours(self) -> int:
        return int(self.indices.shape[1])

    def describe(self) -> str:
        """``method(key=value,...)``: one line for logs and reports."""
        if not self.settings:
            return self.method
        return self.method + "(" + ",".join(f"{k}={v}" for k, v in self.settings.items()) + ")"

    def to_extras(self) -> dict[str, np.ndarray]:
        """The arrays a model bundle stores the table under (method as JSON text)."""
        text = json.dumps({"method": self.method, "settings": self.settings}, sort_keys=True)
        return {"similar_idx": self.indices, "similar_dist": self.distances,
                METHOD_EXTRA: np.asarray(text)}

    @classmethod
    def from_extras(cls, extras: dict | None) -> SimilarTable | None:
        """The table a bundle was saved with, or None when it has none.

        Its ``method`` is ``"bundle"`` (serving reads that to know the table was
        not rebuilt); how it was built is kept in ``settings["built_with"]`` with
        that build's settings. Bundles saved before tables recorded their method
        have no ``built_with``.
        """
        extras = extras or {}
        if "similar_idx" not in extras or "similar_dist" not in extras:
            return None
        settings = {}
        if METHOD_EXTRA in extras:
            info = json.loads(str(np.asarray(extras[METHOD_EXTRA])))
            settings = {"built_with": str(info["method"]), **info["settings"]}
        return cls(np.asarray(extras["similar_idx"], np.int32),
                   np.asarray(extras["similar_dist"], np.float32), "bundle", settings)

    def neighbours(self, item_idx: int, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` nearest items of one item and their squared distances."""
        n = self.n_neighbours if n is None else min(int(n), self.n_neighbours)
        return self.indices[item_idx, :n], self.distances[item_idx, :n]


def build_similar_table(item_vectors: np.ndarray,
                        config: SimilarityConfig | None = None) -> SimilarTable:
    """Nearest neighbours of every item, exact or approximate per ``config.method``."""
    config = config or SimilarityConfig()
    vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
    n_items = len(vectors)
    if n_items < 2:
        raise ValueError(f"a similar-items table needs at least 2 items, got {n_items}")
    n = min(config.n_neighbours, n_items - 1)
    method = config.resolved_method(n_items)
    if method == "exact":
        rows = max(1, min(config.block_rows, config.max_block_mb * 2**20 // (16 * n_items)))
        return _exact(vectors, n, rows)
    threads = thread_count(config.threads)
    if method == "faiss-ivf":
        ivf = config.ivf
        if config.method == "auto" and config.backend is None:  # auto may fall back
            ivf = replace(ivf, on_miss="refuse")
        try:
            indices, distances, settings = faiss_ivf(vectors, n, ivf, threads)
        except RecallMiss as miss:
            indices, distances, settings = faiss_hnsw(vectors, n, config.hnsw, threads)
            settings["instead_of"] = {"method": "faiss-ivf", **miss.settings}
            method = "faiss-hnsw"
    elif method == "faiss-hnsw":
        indices, distances, settings = faiss_hnsw(vectors, n, config.hnsw, threads)
    else:
        indices, distances, settings = usearch_hnsw(vectors, n, config.usearch, threads)
    return SimilarTable(indices, distances, method, settings)


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, n: int,
                     exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``n`` nearest catalogue rows for each query vector (squared distances).

    ``exclude[j]`` is a catalogue row query ``j`` may not return (itself), or -1.
    Ties go to the lower item index, so results are reproducible.
    """
    norms = np.einsum("ij,ij->i", vectors, vectors)
    qnorms = np.einsum("ij,ij->i", queries, queries)
    dist = qnorms[:, None] + norms[None, :] - 2.0 * (queries @ vectors.T)
    np.maximum(dist, 0.0, out=dist)
    if exclude is not None:
        rows = np.flatnonzero(exclude >= 0)
        dist[rows, exclude[rows]] = np.inf
    n = min(n, vectors.shape[0])
    part = np.argpartition(dist, n - 1, axis=1)[:, :n] if n < dist.shape[1] else \
        np.tile(np.arange(dist.shape[1]), (len(dist), 1))
    part_dist = np.take_along_axis(dist, part, axis=1)
    order = np.lexsort((part, part_dist), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    return idx.astype(np.int32), np.take_along_axis(part_dist, order, axis=1).astype(np.float32)


def _exact(vectors: np.ndarray, n: int, block_rows: int) -> SimilarTable:
    n_items = len(vectors)
    indices = np.empty((n_items, n), dtype=np.int32)
    distances = np.empty((n_items, n), dtype=np.float32)
    for start in range(0, n_items, block_rows):
        rows = np.arange(start, min(start + block_rows, n_items))
        idx, dist = exact_neighbours(vectors, vectors[rows], n, exclude=rows)
        indices[rows] = idx
        distances[rows] = dist
    return SimilarTable(indices, distances, method="exact")
