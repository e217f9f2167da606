"""The approximate similar-items backends against exact search and planted truth."""

from __future__ import annotations

import io

import numpy as np
import pytest

from recengine.similarity import (
    AUTO_INDEX,
    SimilarityConfig,
    SimilarTable,
    build_similar_table,
)
from recengine.similarity_ann import IVFConfig, USearchConfig, default_nlist

INDEXES = ["faiss-ivf", "faiss-hnsw", "usearch"]


def planted_clusters(n_clusters: int, per_cluster: int, dim: int, seed: int):
    """Unit vectors in tight, well-separated clusters: an item's true neighbours are its
    cluster mates (noise 0.02 per axis against centres about 1.4 apart)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    cluster = np.repeat(np.arange(n_clusters), per_cluster)
    x = centres[cluster] + rng.normal(0, 0.02, size=(len(cluster), dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), cluster


def recall_at(approx: np.ndarray, exact: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(a[:k]) & set(e[:k])) / k
                          for a, e in zip(approx, exact, strict=True)]))


@pytest.mark.parametrize("method", INDEXES)
def test_each_index_finds_the_planted_neighbours(method):
    x, cluster = planted_clusters(n_clusters=250, per_cluster=20, dim=16, seed=0)
    table = build_similar_table(x, SimilarityConfig(n_neighbours=10, method=method))
    exact = build_similar_table(x, SimilarityConfig(n_neighbours=10, method="exact"))
    assert table.method == method and table.settings["threads"] >= 1
    # the planted truth: all 10 neighbours of every item are its cluster mates
    assert (exact.indices >= 0).all()
    assert (cluster[exact.indices] == cluster[:, None]).all()
    assert (cluster[table.indices] == cluster[:, None]).mean() >= 0.95
    # and the index agrees with exact search to the stated recall
    assert recall_at(table.indices, exact.indices, 10) >= 0.95
    assert (table.indices != np.arange(len(x))[:, None]).all()  # self excluded
    assert (np.diff(table.distances, axis=1) >= 0).all()


@pytest.mark.parametrize("method", ["exact", *INDEXES])
def test_distances_are_squared_euclidean_of_unit_vectors(method):
    # four unit vectors at known angles: ||a - b||² = 2 - 2 cos(angle between them)
    degrees = np.array([0.0, 60.0, 180.0, 100.0])
    x = np.stack([np.cos(np.radians(degrees)), np.sin(np.radians(degrees))], axis=1)
    table = build_similar_table(x, SimilarityConfig(n_neighbours=3, method=method))
    # by hand: item 0 -> 60° away (item 1), 100° (item 3), 180° (item 2); and so on
    want_idx = np.array([[1, 3, 2], [3, 0, 2], [3, 1, 0], [1, 2, 0]])
    angle = np.radians(np.array([[60, 100, 180], [40, 60, 120], [80, 120, 180],
                                 [40, 80, 100]], dtype=float))
    np.testing.assert_array_equal(table.indices, want_idx)
    np.testing.assert_allclose(table.distances, 2 - 2 * np.cos(angle), atol=1e-5)


def test_quantised_usearch_still_reports_float32_distances():
    x, _ = planted_clusters(n_clusters=50, per_cluster=20, dim=16, seed=1)
    config = SimilarityConfig(n_neighbours=5, method="usearch",
                              usearch=USearchConfig(dtype="i8"))
    table = build_similar_table(x, config)
    diff = x[:, None, :] - x[table.indices]
    np.testing.assert_allclose(table.distances, (diff ** 2).sum(axis=2), atol=1e-5)
    assert table.settings["dtype"] == "i8"


def test_auto_is_exact_up_to_the_threshold_and_the_measured_index_above():
    x, _ = planted_clusters(n_clusters=30, per_cluster=10, dim=8, seed=2)
    config = SimilarityConfig(n_neighbours=5, exact_max_items=300)
    assert config.resolved_method(300) == "exact"
    assert build_similar_table(x, config).method == "exact"
    assert config.resolved_method(301) == AUTO_INDEX
    smaller_limit = SimilarityConfig(n_neighbours=5, exact_max_items=299)
    assert build_similar_table(x, smaller_limit).method == AUTO_INDEX
    # the old ``backend`` spelling still chooses the method
    assert SimilarityConfig(backend="faiss").resolved_method(10) == "faiss-hnsw"
    assert SimilarityConfig(backend="exact").resolved_method(10**7) == "exact"


def test_ivf_records_the_cells_it_used():
    x, _ = planted_clusters(n_clusters=100, per_cluster=40, dim=8, seed=3)
    table = build_similar_table(x, SimilarityConfig(
        n_neighbours=5, method="faiss-ivf", ivf=IVFConfig(nlist=64, nprobe=4)))
    assert table.settings["nlist"] == 64 and table.settings["nprobe"] == 4
    assert table.describe().startswith("faiss-ivf(nlist=64,nprobe=4,")
    # the rule of thumb: 4 sqrt(n) to a power of two, cells of at least 39 items
    assert default_nlist(1_000_000) == 4096  # 4 * 1000 = 4000 -> 2^12
    assert default_nlist(100_000) == 1024  # 4 * 316 = 1265 -> 2^10
    assert default_nlist(1000) == 25  # 4 * 31.6 = 126 -> 128, capped at 1000 // 39


def test_the_table_round_trips_through_the_bundles_arrays():
    x, _ = planted_clusters(n_clusters=40, per_cluster=10, dim=8, seed=4)
    table = build_similar_table(x, SimilarityConfig(n_neighbours=6, method="faiss-ivf"))
    buffer = io.BytesIO()  # what save_bundle / load_bundle do with extras
    np.savez(buffer, **{f"extra_{k}": v for k, v in table.to_extras().items()})
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        extras = {k[6:]: npz[k] for k in npz.files}
    back = SimilarTable.from_extras(extras)
    np.testing.assert_array_equal(back.indices, table.indices)
    np.testing.assert_array_equal(back.distances, table.distances)
    # "bundle": serving knows the table was loaded, not rebuilt; and how it was built
    assert back.method == "bundle"
    assert back.settings == {"built_with": "faiss-ivf", **table.settings}
    # a bundle saved before tables recorded their method still loads
    old = SimilarTable.from_extras({"similar_idx": table.indices,
                                    "similar_dist": table.distances})
    assert old.method == "bundle" and old.settings == {}
    assert SimilarTable.from_extras({}) is None


def test_ivf_scans_more_cells_until_a_sample_meets_the_target_recall():
    # random vectors have no clusters: one cell of 64 holds few of an item's neighbours
    x = np.random.default_rng(5).normal(size=(6000, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    exact = build_similar_table(x, SimilarityConfig(n_neighbours=10, method="exact"))
    fixed = build_similar_table(x, SimilarityConfig(
        n_neighbours=10, method="faiss-ivf", ivf=IVFConfig(nlist=64, nprobe=1,
                                                           target_recall=None)))
    checked = build_similar_table(x, SimilarityConfig(
        n_neighbours=10, method="faiss-ivf", ivf=IVFConfig(nlist=64, nprobe=1,
                                                           target_recall=0.97)))
    assert recall_at(fixed.indices, exact.indices, 10) < 0.8
    assert fixed.settings["nprobe"] == 1
    assert checked.settings["nprobe"] in (2, 4, 8, 16, 32, 64)  # doubled from 1
    assert checked.settings["check_recall10"] >= 0.97
    assert recall_at(checked.indices, exact.indices, 10) >= 0.95


def test_auto_uses_the_graph_when_ivf_cannot_reach_its_recall():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(6000, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    few_cells = IVFConfig(nlist=64, nprobe=1, max_nprobe=2)
    auto = build_similar_table(x, SimilarityConfig(n_neighbours=10, exact_max_items=1000,
                                                   ivf=few_cells))
    assert auto.method == "faiss-hnsw"
    tried = auto.settings["instead_of"]
    assert tried["method"] == "faiss-ivf" and tried["nprobe"] == 2
    assert tried["check_recall10"] < 0.97
    exact = build_similar_table(x, SimilarityConfig(n_neighbours=10, method="exact"))
    assert recall_at(auto.indices, exact.indices, 10) >= 0.95
    # asked for by name, IVF searches anyway and records its sample's recall
    forced = build_similar_table(x, SimilarityConfig(n_neighbours=10, method="faiss-ivf",
                                                     ivf=few_cells))
    assert forced.method == "faiss-ivf" and forced.settings["check_recall10"] < 0.97
    # clustered vectors keep the IVF index under auto
    clustered, _ = planted_clusters(n_clusters=300, per_cluster=20, dim=16, seed=7)
    assert build_similar_table(clustered, SimilarityConfig(
        n_neighbours=10, exact_max_items=1000)).method == "faiss-ivf"
