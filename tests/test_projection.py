"""The 2-D map of item vectors: PCA that keeps requested items and is reproducible."""

import numpy as np

from recengine.projection import pca_2d


def test_pca_finds_the_direction_of_largest_spread():
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(0, 10, 500), rng.normal(0, 1, 500), rng.normal(0, 0.1, 500)]
    proj = pca_2d(x)
    assert proj.coords.shape == (500, 2)
    assert proj.explained[0] > 0.9 > proj.explained[1]
    assert abs(np.corrcoef(proj.coords[:, 0], x[:, 0])[0, 1]) > 0.99


def test_large_inputs_are_sampled_but_keep_requested_rows():
    x = np.random.default_rng(1).normal(size=(3000, 8))
    proj = pca_2d(x, max_points=200, seed=3, include=[7, 2999])
    assert len(proj.indices) <= 202 and {7, 2999} <= set(proj.indices.tolist())
    again = pca_2d(x, max_points=200, seed=3, include=[7, 2999])
    np.testing.assert_array_equal(proj.indices, again.indices)
    np.testing.assert_allclose(proj.coords, again.coords)
