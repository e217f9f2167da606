"""Approximate nearest-neighbour backends for the similar-items table, one interface.

Why approximate: the exact table is a 1M x 1M distance matrix (6e13 flops at
32 dimensions, tens of minutes on 2 cores); an index answers each item's top-n
by looking at a small share of the catalogue. Why three backends: which one is
fastest at a given recall depends on the vectors (bench/similar_table.py
measures them side by side, on the model's own item vectors and on random unit
vectors, and ``SimilarityConfig(method="auto")`` follows that measurement).

* ``faiss_ivf``: an inverted file over k-means cells (faiss ``IndexIVFFlat``);
  each query scans the ``nprobe`` cells nearest it, exactly. Learned item
  vectors cluster, so a few cells hold nearly all of an item's neighbours.
* ``faiss_hnsw``: faiss's HNSW graph (``IndexHNSWFlat``); robust without
  cluster structure, but its build inserts items one at a time.
* ``usearch_hnsw``: usearch's HNSW graph (a separate, compact implementation).

Every backend takes L2-normalised or raw float32 vectors and returns, per item,
``n`` neighbours by squared Euclidean distance, self excluded, ascending, with
the settings it used, so each table can record how it was made. faiss and
usearch are imported inside the functions: importing this module costs nothing
and the exact path never loads them.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np

#: neighbours per item come back as (indices int32, squared distances float32, settings)
AnnResult = tuple[np.ndarray, np.ndarray, dict]


@dataclass
class IVFConfig:
    """faiss IVF-Flat: ``nlist`` k-means cells, each query scans its ``nprobe`` nearest.

    ``nlist=None`` picks ``4 * sqrt(n_items)`` rounded to a power of two (4096 at
    1M items), the usual rule of thumb: cells of a few hundred items. The
    centroids are trained on ``train_per_list`` points per cell (a sample), for
    ``kmeans_iterations`` rounds: the cells only need to be good enough to route
    queries, and training on all 1M items would cost more than the search.

    Why a self-check: how many cells a query must scan depends on the vectors
    (learned vectors cluster and need few; random ones need many: at 1M random
    vectors 8 cells give Recall@10 near 0.4). With ``target_recall`` set, the
    index first searches ``check_queries`` sampled items, compares them with
    brute force, and doubles ``nprobe`` (up to ``max_nprobe``) until the
    sample's tie-aware Recall@10 reaches the target; only then does it search
    every item. The table records the ``nprobe`` chosen and the sample's recall,
    so a slow table says why it was slow. ``target_recall=None`` uses ``nprobe``
    as given. When even ``max_nprobe`` misses the target, ``on_miss="search"``
    searches at ``max_nprobe`` anyway (and records the miss); ``"refuse"`` raises
    :class:`RecallMiss` before the costly full search, so a caller can use a graph
    index instead (``method="auto"`` does: unstructured vectors are where IVF is
    slowest and HNSW does best).
    """

    nlist: int | None = None
    nprobe: int = 4
    target_recall: float | None = 0.97
    check_queries: int = 256
    #: 64 of 4096 cells at 1M items: scanning more costs more than an HNSW graph
    max_nprobe: int = 64
    on_miss: str = "search"  # "search" | "refuse"
    train_per_list: int = 64
    kmeans_iterations: int = 10
    seed: int = 0


class RecallMiss(RuntimeError):
    """An IVF index could not reach its target recall on the check sample."""

    def __init__(self, settings: dict):
        super().__init__(f"IVF sample Recall@10 {settings['check_recall10']} below "
                         f"{settings['target_recall']} at nprobe {settings['nprobe']}")
        self.settings = settings


@dataclass
class HNSWConfig:
    """faiss HNSW: ``m`` links per node, ``ef_construction`` / ``ef_search`` beam widths."""

    m: int = 32
    ef_construction: int = 64
    ef_search: int = 128


@dataclass
class USearchConfig:
    """usearch HNSW: ``connectivity`` links per node; ``dtype`` of the stored vectors."""

    connectivity: int = 16
    expansion_add: int = 64
    expansion_search: int = 64
    #: "f32" keeps distances exact; "f16"/"i8" shrink memory and speed up distance calls
    dtype: str = "f32"


def thread_count(threads: int | None) -> int:
    """The threads to use: as asked, else every core this process may run on."""
    if threads is not None:
        return max(1, int(threads))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_nlist(n_items: int) -> int:
    """``4 * sqrt(n)`` rounded to a power of two, at least 1 and at most n / 39.

    faiss warns below 39 training points per cell; keeping cells at least that
    full keeps k-means meaningful on small catalogues.
    """
    target = 4.0 * np.sqrt(n_items)
    nlist = 2 ** int(round(np.log2(max(target, 1.0))))
    return int(max(1, min(nlist, n_items // 39)))


def faiss_ivf(vectors: np.ndarray, n: int, config: IVFConfig, threads: int) -> AnnResult:
    """Every item's ``n`` nearest by an IVF-Flat index (exact distances within cells)."""
    import faiss

    faiss.omp_set_num_threads(threads)
    n_items, dim = vectors.shape
    nlist = int(config.nlist or default_nlist(n_items))
    nlist = max(1, min(nlist, n_items))
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, nlist, faiss.METRIC_L2)
    index.cp.niter = int(config.kmeans_iterations)
    index.cp.seed = int(config.seed)
    n_train = min(n_items, max(nlist, config.train_per_list * nlist))
    rng = np.random.default_rng(config.seed)
    sample = vectors if n_train >= n_items else vectors[np.sort(
        rng.choice(n_items, size=n_train, replace=False))]
    index.train(np.ascontiguousarray(sample))
    index.add(vectors)
    nprobe = max(1, min(int(config.nprobe), nlist))
    settings: dict = {"nlist": nlist, "nprobe": nprobe}
    if config.target_recall is not None and nprobe < nlist:
        nprobe, recall = _tune_nprobe(index, vectors, nprobe, config, rng)
        settings.update(nprobe=nprobe, check_recall10=round(recall, 4),
                        target_recall=config.target_recall)
        if recall < config.target_recall and config.on_miss == "refuse":
            raise RecallMiss(settings)
    index.nprobe = nprobe
    dist, idx = index.search(vectors, n + 1)
    indices, distances = drop_self(idx, dist, n)
    settings.update(train_points=n_train, kmeans_iterations=config.kmeans_iterations,
                    threads=threads)
    return indices, distances, settings


def _tune_nprobe(index, vectors: np.ndarray, nprobe: int, config: IVFConfig,
                 rng: np.random.Generator, k: int = 10) -> tuple[int, float]:
    """The smallest ``nprobe * 2^j`` whose sample Recall@10 reaches the target."""
    n_items = len(vectors)
    queries = np.sort(rng.choice(n_items, size=min(config.check_queries, n_items),
                                 replace=False))
    k = min(k, n_items - 1)
    cut = brute_force_kth_distance(vectors, queries, k)
    limit = max(nprobe, min(int(config.max_nprobe), index.nlist))
    while True:
        index.nprobe = nprobe
        dist, idx = index.search(vectors[queries], k + 1)
        idx, _ = drop_self_rows(idx, dist, queries, k)
        recall = tie_aware_recall(vectors, queries, idx, cut)
        if recall >= config.target_recall or nprobe >= limit:
            return nprobe, recall
        nprobe = min(2 * nprobe, limit)


def brute_force_kth_distance(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Each query row's true ``k``-th smallest squared distance to another item."""
    out = np.empty(len(queries), np.float32)
    norms = np.einsum("ij,ij->i", vectors, vectors)
    for start in range(0, len(queries), 32):
        q = queries[start:start + 32]
        dist = norms[q][:, None] + norms[None, :] - 2.0 * (vectors[q] @ vectors.T)
        dist[np.arange(len(q)), q] = np.inf  # self excluded
        out[start:start + len(q)] = np.partition(dist, k - 1, axis=1)[:, k - 1]
    return np.maximum(out, 0.0)


def tie_aware_recall(vectors: np.ndarray, queries: np.ndarray, found: np.ndarray,
                     kth: np.ndarray) -> float:
    """Share of found neighbours no farther than the true k-th (ann-benchmarks' rule).

    Counting ids instead would punish an index for returning an exact duplicate of
    the item brute force happened to list: learned vectors of cold items with the
    same content are identical, so ties are common.
    """
    diff = vectors[queries][:, None, :] - vectors[np.maximum(found, 0)]
    dist = np.einsum("ijk,ijk->ij", diff, diff)
    hit = (dist <= kth[:, None] * (1 + 1e-5) + 1e-6) & (found >= 0)
    return float(hit.mean())


def faiss_hnsw(vectors: np.ndarray, n: int, config: HNSWConfig, threads: int) -> AnnResult:
    """Every item's ``n`` nearest by a faiss HNSW graph."""
    import faiss

    faiss.omp_set_num_threads(threads)
    index = faiss.IndexHNSWFlat(vectors.shape[1], config.m, faiss.METRIC_L2)
    index.hnsw.efConstruction = config.ef_construction
    index.add(vectors)
    index.hnsw.efSearch = max(config.ef_search, n + 1)
    dist, idx = index.search(vectors, n + 1)
    indices, distances = drop_self(idx, dist, n)
    return indices, distances, {**asdict(config), "threads": threads}


def usearch_hnsw(vectors: np.ndarray, n: int, config: USearchConfig, threads: int) -> AnnResult:
    """Every item's ``n`` nearest by a usearch HNSW graph (keys are row numbers)."""
    from usearch.index import Index

    index = Index(ndim=vectors.shape[1], metric="l2sq", dtype=config.dtype,
                  connectivity=config.connectivity, expansion_add=config.expansion_add,
                  expansion_search=max(config.expansion_search, n + 1))
    keys = np.arange(len(vectors), dtype=np.uint64)
    index.add(keys, vectors, threads=threads)
    found = index.search(vectors, n + 1, threads=threads)
    idx = np.asarray(found.keys).astype(np.int64)
    dist = np.asarray(found.distances, np.float32)
    missing = idx >= len(vectors)  # usearch pads short rows with an out-of-range key
    idx[missing] = -1
    indices, distances = drop_self(idx, dist, n)
    if config.dtype != "f32":  # quantised storage: report the true float32 distances
        distances = true_squared_distances(vectors, indices)
    return indices, distances, {**asdict(config), "threads": threads}


def true_squared_distances(vectors: np.ndarray, indices: np.ndarray,
                           chunk: int = 65536) -> np.ndarray:
    """``||x_i - x_j||²`` for every listed pair, in chunks (missing ``-1`` -> inf)."""
    out = np.empty(indices.shape, np.float32)
    for start in range(0, len(indices), chunk):
        idx = indices[start:start + chunk]
        diff = vectors[start:start + len(idx), None, :] - vectors[np.maximum(idx, 0)]
        out[start:start + len(idx)] = np.einsum("ijk,ijk->ij", diff, diff)
    out[indices < 0] = np.inf
    return out


def drop_self(idx: np.ndarray, dist: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index (usually first); keep ``n`` columns, ascending.

    An index may return an item's duplicate before the item itself, or not return
    the item at all, so self is found by value, not assumed to be column 0.
    Missing hits (``-1``) go last as index -1, distance inf.
    """
    return drop_self_rows(idx, dist, np.arange(len(idx)), n)


def drop_self_rows(idx: np.ndarray, dist: np.ndarray, rows: np.ndarray,
                   n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`drop_self` for result rows whose own item indices are ``rows``."""
    is_self = (idx == np.asarray(rows)[:, None]) | (idx < 0)
    # stable sort pushes self / missing hits to the end, keeping the others' order
    order = np.argsort(is_self, axis=1, kind="stable")[:, :n]
    out_idx = np.take_along_axis(idx, order, axis=1).astype(np.int32)
    out_dist = np.take_along_axis(dist, order, axis=1).astype(np.float32)
    missing = np.take_along_axis(is_self, order, axis=1)
    out_dist[missing] = np.inf
    out_idx[missing] = -1
    return out_idx, out_dist
