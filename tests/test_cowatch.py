"""The co-watch table: cosine of binary history columns, strongest first."""

import numpy as np
import pandas as pd

from recengine.cowatch import build_cowatch_table


def history(pairs):
    u, i = zip(*pairs)
    return pd.DataFrame({"u": u, "i": i})


def test_neighbours_are_the_cosine_of_binary_columns_by_hand():
    # items 0 and 1 share users 0 and 1; item 2 shares only user 1 with them
    h = history([(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 3)])
    table = build_cowatch_table(h, n_items=5, n_neighbours=3)
    assert table.indices[0, :2].tolist() == [1, 2]
    assert np.isclose(table.similarity[0, 0], 2 / (np.sqrt(2) * np.sqrt(2)))
    assert np.isclose(table.similarity[0, 1], 1 / (np.sqrt(2) * 1))
    assert table.indices[3].tolist() == [-1, -1, -1]  # item 3's only user watched nothing else
    assert table.indices[4].tolist() == [-1, -1, -1]  # never watched


def test_affinity_sums_over_seeds_and_is_zero_for_strangers():
    h = history([(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 3)])
    table = build_cowatch_table(h, n_items=5, n_neighbours=3)
    got = table.affinity(np.array([0, 1]), np.array([2, 3, 1]))
    assert np.isclose(got[0], 2 / np.sqrt(2))  # 2 is a neighbour of both seeds
    assert got[1] == 0.0
    assert np.isclose(got[2], 1.0)  # 1 is a neighbour of seed 0 only (not of itself)
