"""The similar-items table against brute force, exact and approximate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recengine.similarity import SimilarityConfig, build_similar_table, exact_neighbours


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pairwise squared distance, written out the slow obvious way."""
    diff = x[:, None, :].astype(np.float64) - x[None, :, :].astype(np.float64)
    dist = (diff ** 2).sum(axis=2)
    np.fill_diagonal(dist, np.inf)
    idx = np.argsort(dist, axis=1, kind="stable")[:, :n]
    return idx, np.take_along_axis(dist, idx, axis=1)


@settings(max_examples=40, deadline=None)
@given(n_items=st.integers(2, 60), dim=st.integers(2, 8), n=st.integers(1, 12),
       block_rows=st.integers(1, 17), seed=st.integers(0, 1000))
def test_exact_table_equals_brute_force(n_items, dim, n, block_rows, seed):
    x = unit_vectors(n_items, dim, seed)
    table = build_similar_table(x, SimilarityConfig(n_neighbours=n, block_rows=block_rows,
                                                    backend="exact"))
    want_idx, want_dist = brute_force(x, min(n, n_items - 1))
    assert table.method == "exact"
    assert table.indices.shape == want_idx.shape and table.indices.dtype == np.int32
    np.testing.assert_array_equal(table.indices, want_idx)
    np.testing.assert_allclose(table.distances, want_dist, atol=1e-5)
    assert (table.indices != np.arange(n_items)[:, None]).all()
    assert (np.diff(table.distances, axis=1) >= 0).all()


def test_neighbours_returns_the_first_n_of_a_row():
    table = build_similar_table(unit_vectors(30, 4, 0), SimilarityConfig(n_neighbours=8))
    idx, dist = table.neighbours(5, 3)
    np.testing.assert_array_equal(idx, table.indices[5, :3])
    np.testing.assert_array_equal(dist, table.distances[5, :3])
    assert len(table.neighbours(5, 100)[0]) == 8


def test_faiss_backend_recall_against_exact():
    x = unit_vectors(3000, 16, 1)
    approx = build_similar_table(x, SimilarityConfig(n_neighbours=10, backend="faiss"))
    exact = build_similar_table(x, SimilarityConfig(n_neighbours=10, backend="exact"))
    assert approx.method.startswith("faiss-hnsw")
    assert (approx.indices != np.arange(len(x))[:, None]).all()
    recall = np.mean([len(set(a) & set(e)) / 10
                      for a, e in zip(approx.indices, exact.indices, strict=True)])
    assert recall >= 0.95
    # reported distances are squared Euclidean distances of the returned pairs
    rows = np.arange(len(x))[:, None]
    true = ((x[rows] - x[approx.indices]) ** 2).sum(axis=2)
    np.testing.assert_allclose(approx.distances, true, atol=1e-4)


def test_auto_switches_to_the_index_above_the_exact_limit():
    x = unit_vectors(200, 8, 2)
    assert build_similar_table(x, SimilarityConfig(exact_max_items=500)).method == "exact"
    small_limit = SimilarityConfig(exact_max_items=100, n_neighbours=5)
    assert build_similar_table(x, small_limit).method.startswith("faiss")


def test_exact_neighbours_of_outside_queries():
    x = unit_vectors(50, 6, 3)
    idx, dist = exact_neighbours(x, x[[7]], 4)
    assert idx[0, 0] == 7 and dist[0, 0] == pytest.approx(0, abs=1e-5)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="backend"):
        build_similar_table(unit_vectors(5, 3, 0), SimilarityConfig(backend="annoy"))
    with pytest.raises(ValueError, match="at least 2 items"):
        build_similar_table(unit_vectors(1, 3, 0))
