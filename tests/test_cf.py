"""Collaborative filtering on a planted two-cluster rating matrix.

Two groups of users, two clusters of items: a group rates its own cluster high
and the other low. Each user rates a random 60% of the items, so the other 40%
are held out with a known truth. One user rates nothing and one item is never
rated, to show the cold-start behaviour the seeds describe.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from recengine.bundle_io import BundleError
from recengine.cf import CFConfig, load_cf, save_cf, train_cf
from recengine.cf_training import cf_cost, value_and_grad
from recengine.schema import DataError, Dataset
from recengine.scoring import Scorer, UserProfile

N_USERS, N_ITEMS = 40, 30  # the last user and the last item have no ratings
TEST_CONFIG = CFConfig(n_features=4, l2=1.0, epochs=150, learning_rate=0.05)


def planted_data(seed: int = 0) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """The data set, each item's cluster, and the planted like (True) / dislike per pair."""
    rng = np.random.default_rng(seed)
    user_group = np.arange(N_USERS) % 2
    item_cluster = np.arange(N_ITEMS) % 2
    likes = user_group[:, None] == item_cluster[None, :]
    rows = []
    for u in range(N_USERS - 1):
        for i in rng.choice(N_ITEMS - 1, size=int(0.6 * (N_ITEMS - 1)), replace=False):
            base = 4.5 if likes[u, i] else 1.5
            rating = float(np.clip(np.round(2 * (base + rng.normal(0, 0.3))) / 2, 0.5, 5.0))
            rows.append((u + 1, i + 100, rating, 1000 + len(rows)))
    items = pd.DataFrame({"item_id": np.arange(N_ITEMS) + 100,
                          "title": [f"item {k}" for k in range(N_ITEMS)],
                          "year": np.nan, "genres": ""})
    users = pd.DataFrame({"user_id": np.arange(N_USERS) + 1})
    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return Dataset(items, users, inter, name="planted"), item_cluster, likes


@pytest.fixture(scope="module")
def planted():
    data, clusters, likes = planted_data()
    return data, clusters, likes, train_cf(data, data.interactions, TEST_CONFIG)


@pytest.fixture(scope="module")
def planted_binary(planted):
    data = planted[0]
    cfg = CFConfig(n_features=4, l2=1.0, epochs=150, learning_rate=0.05, binary=True)
    return train_cf(data, data.interactions, cfg)


def unrated_pairs(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    rated = np.zeros((N_USERS, N_ITEMS), bool)
    rated[data.interactions["u"], data.interactions["i"]] = True
    rated[-1, :] = rated[:, -1] = True  # cold user/item: no planted signal to recover
    return np.nonzero(~rated)


def test_a_user_with_no_ratings_is_predicted_the_item_means(planted):
    data, _, _, model = planted
    inter = data.interactions
    means = inter.groupby("i")["rating"].mean().reindex(range(N_ITEMS))
    means = means.fillna(inter["rating"].mean()).to_numpy()  # the unrated item: global mean
    cold_user = N_USERS - 1
    predicted = model.predict(np.full(N_ITEMS, cold_user), np.arange(N_ITEMS))
    np.testing.assert_allclose(predicted, means, atol=1e-5)
    visitor = model.item_vectors @ model.new_user_vector(UserProfile())
    np.testing.assert_allclose(model.to_rating(visitor), means, atol=1e-5)


def test_the_cost_falls_during_training_and_progress_sees_it():
    data, _, _ = planted_data()
    seen: list[tuple[int, float]] = []
    model = train_cf(data, data.interactions, TEST_CONFIG,
                     progress=lambda epoch, cost: seen.append((epoch, cost)))
    assert [e for e, _ in seen] == list(range(TEST_CONFIG.epochs))
    assert [c for _, c in seen] == model.history
    assert model.history[-1] < 0.2 * model.history[0]
    minibatch = train_cf(data, data.interactions, CFConfig(n_features=4, epochs=20, batch=64))
    assert minibatch.history[-1] < minibatch.history[0]


def test_the_model_recovers_held_out_planted_ratings_better_than_item_means(planted):
    data, _, likes, model = planted
    u, i = unrated_pairs(data)
    truth = np.where(likes[u, i], 4.5, 1.5)
    rmse_model = np.sqrt(np.mean((model.predict(u, i) - truth) ** 2))
    rmse_means = np.sqrt(np.mean((model.item_mean[i] - truth) ** 2))
    assert rmse_model < 0.5 * rmse_means


@pytest.mark.parametrize("binary", [False, True])
def test_the_loops_gradients_match_finite_differences(binary):
    rng = np.random.default_rng(1)
    x0, w0, b0 = rng.normal(size=(3, 2)), rng.normal(size=(4, 2)), rng.normal(size=4)
    u = np.array([0, 0, 1, 2, 3, 3, 1, 2])
    i = np.array([0, 1, 2, 0, 1, 2, 0, 2])
    y = rng.integers(0, 2, size=8).astype(float) if binary else rng.normal(size=8)
    params = [keras.Variable(p, dtype="float64") for p in (x0, w0, b0)]

    def cost(values):
        return cf_cost(*values, u, i, y, 0.7, binary)

    _, grads = value_and_grad(cost, params)
    values, eps = [x0, w0, b0], 1e-6
    for k, value in enumerate(values):
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            up, down = [v.copy() for v in values], [v.copy() for v in values]
            up[k][idx] += eps
            down[k][idx] -= eps
            numeric[idx] = (float(cost(up)) - float(cost(down))) / (2 * eps)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(grads[k]), numeric,
                                   rtol=1e-6, atol=1e-8)


def test_save_then_load_gives_identical_predictions(planted, tmp_path):
    data, _, _, model = planted
    save_cf(model, tmp_path / "cf")
    loaded = load_cf(tmp_path / "cf", fingerprint=data.fingerprint)
    u, i = np.meshgrid(np.arange(N_USERS), np.arange(N_ITEMS))
    np.testing.assert_array_equal(loaded.predict(u.ravel(), i.ravel()),
                                  model.predict(u.ravel(), i.ravel()))
    assert loaded.history == model.history and loaded.config == model.config
    with pytest.raises(BundleError, match="other data"):
        load_cf(tmp_path / "cf", fingerprint="0" * 64)


def test_a_tampered_bundle_is_refused(planted, tmp_path):
    path = save_cf(planted[3], tmp_path / "cf")
    raw = bytearray((path / "arrays.npz").read_bytes())
    raw[-100] ^= 0xFF
    (path / "arrays.npz").write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="checksum"):
        load_cf(path)


def test_binary_probabilities_separate_planted_likes_from_dislikes(planted, planted_binary):
    data, _, likes, _ = planted
    u, i = unrated_pairs(data)
    p = planted_binary.predict(u, i)
    assert np.all((p > 0) & (p < 1))
    liked, disliked = p[likes[u, i]], p[~likes[u, i]]
    auc = np.mean(liked[:, None] > disliked[None, :])
    assert auc > 0.95 and liked.mean() > 0.5 > disliked.mean()


def test_related_items_come_from_the_items_cluster(planted):
    _, clusters, _, model = planted
    idx, dist = model.related_items(0, n=5)
    assert 0 not in idx and N_ITEMS - 1 not in idx  # neither itself nor the unrated item
    assert np.mean(clusters[idx] == clusters[0]) >= 0.8
    np.testing.assert_allclose(dist, np.sum((model.x[idx] - model.x[0]) ** 2, axis=1),
                               rtol=1e-5)
    assert np.all(np.diff(dist) >= 0)


def test_it_is_a_scorer_whose_dot_product_is_the_prediction(planted):
    data, clusters, _, model = planted
    assert isinstance(model, Scorer)
    scores = model.item_vectors @ model.user_vector(3)
    np.testing.assert_allclose(model.to_rating(scores),
                               model.predict(np.full(N_ITEMS, 3), np.arange(N_ITEMS)), atol=1e-5)
    np.testing.assert_allclose(model.scores_for_user(3), scores)


def test_a_visitor_who_rates_a_few_items_gets_their_cluster_on_top(planted):
    data, clusters, _, model = planted
    liked = data.items["item_id"].to_numpy()[[0, 2, 4]]  # cluster 0
    disliked = data.items["item_id"].to_numpy()[[1, 3]]  # cluster 1
    profile = UserProfile(ratings={**{int(k): 5.0 for k in liked},
                                   **{int(k): 1.0 for k in disliked}})
    scores = model.item_vectors @ model.new_user_vector(profile)
    top = np.argsort(-scores[:-1])[:10]
    assert np.mean(clusters[top] == 0) >= 0.9
    with pytest.raises(KeyError, match="unknown item"):
        model.new_user_vector(UserProfile(ratings={999_999: 4.0}))


def test_train_interactions_without_dense_indices_are_refused(planted):
    data = planted[0]
    with pytest.raises(DataError, match="dense index"):
        train_cf(data, data.interactions.drop(columns=["u"]), TEST_CONFIG)
    broken = data.interactions.assign(i=data.interactions["i"] + N_ITEMS)
    with pytest.raises(DataError, match="unknown user or item"):
        train_cf(data, broken, TEST_CONFIG)
