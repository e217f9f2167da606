"""The closed-form rating head: planted biases recovered, a least-squares reference matched,
and one user-bias rule for known users, refreshed histories and visitors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from recengine.evaluation.baselines import fit_bias
from recengine.features import FeatureConfig, fit_feature_spec
from recengine.rating_head import (
    ITEM_MEAN_COLUMN,
    RatingHeadConfig,
    choose_shrinkage,
    fit_biased_head,
    item_content,
    user_bias_from_ratings,
)
from recengine.scoring import UserProfile
from recengine.split import temporal_split
from tests.factories import tiny_dataset


def planted(n_users=300, n_items=200, per_user=40, noise=0.3, seed=0):
    """Ratings = 0.2 + 0.8 * dot + b_u + (0.5 * feature + e_i) + noise: every part known."""
    rng = np.random.default_rng(seed)
    bu = rng.normal(0, 0.3, n_users)
    e = rng.normal(0, 0.2, n_items)
    feature = rng.normal(0, 1, (n_items, 1))
    u = np.repeat(np.arange(n_users), per_user)
    i = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    dots = rng.uniform(-1, 1, len(u))
    bi = 0.5 * feature[:, 0] + e
    y = 0.2 + 0.8 * dots + bu[u] + bi[i] + rng.normal(0, noise, len(u))
    return dict(u=u, i=i, dots=dots, y=y, feature=feature, bu=bu, bi=bi, n_users=n_users)


def test_planted_biases_are_recovered_and_the_bias_baseline_is_beaten():
    p = planted()
    held = np.arange(len(p["u"])) % 5 == 0
    fit = {k: p[k][~held] for k in ("u", "i", "dots", "y")}
    head = fit_biased_head(fit["dots"], fit["u"], fit["i"], fit["y"], p["feature"],
                           p["n_users"], user_shrink=2.0, item_shrink=2.0)
    assert head.scale == pytest.approx(0.8, abs=0.03)
    # offsets are identified up to a shared constant: compare after centring
    assert np.corrcoef(head.user_bias, p["bu"])[0, 1] > 0.95
    assert np.corrcoef(head.item_bias, p["bi"])[0, 1] > 0.95
    pred = head.predict(p["dots"][held], p["u"][held], p["i"][held])
    ours = np.sqrt(np.mean((pred - p["y"][held]) ** 2))
    frame = pd.DataFrame({"u": fit["u"], "i": fit["i"], "rating": fit["y"]})
    baseline = fit_bias(frame, len(p["feature"]), p["n_users"])
    theirs = np.sqrt(np.mean((baseline.predict(p["u"][held], p["i"][held])
                              - p["y"][held]) ** 2))
    assert ours < 0.9 * theirs  # the baseline cannot see the dot product's 0.8 * dot
    assert ours == pytest.approx(0.3, abs=0.05)  # close to the planted noise


def test_block_updates_reach_the_ridge_least_squares_solution():
    rng = np.random.default_rng(1)
    n_users, n_items, n = 6, 5, 40
    u, i = rng.integers(0, n_users, n), rng.integers(0, n_items, n)
    dots, y = rng.normal(size=n), rng.normal(size=n)
    content = rng.normal(size=(n_items, 2))
    lu, li, lw = 1.5, 0.7, 0.3
    head = fit_biased_head(dots, u, i, y, content, n_users, lu, li, lw, iterations=3000)
    # reference: one stacked least-squares problem, penalties as extra rows
    cols = 2 + 2 + n_items + n_users
    design = np.zeros((n, cols))
    design[:, 0], design[:, 1] = dots, 1.0
    design[:, 2:4] = content[i]
    design[np.arange(n), 4 + i] = 1.0
    design[np.arange(n), 4 + n_items + u] = 1.0
    penalty = np.zeros((cols - 2, cols))
    weights = [lw] * 2 + [li] * n_items + [lu] * n_users
    penalty[np.arange(cols - 2), 2 + np.arange(cols - 2)] = np.sqrt(weights)
    theta = np.linalg.lstsq(np.vstack([design, penalty]),
                            np.r_[y, np.zeros(cols - 2)], rcond=None)[0]
    assert head.scale == pytest.approx(theta[0], abs=1e-6)
    assert head.offset == pytest.approx(theta[1], abs=1e-6)
    expected_bi = content @ theta[2:4] + theta[4:4 + n_items]
    np.testing.assert_allclose(head.item_bias, expected_bi, atol=1e-5)
    np.testing.assert_allclose(head.user_bias, theta[4 + n_items:], atol=1e-5)


def test_user_bias_is_the_shrunk_mean_residual_by_hand():
    # residuals: 1 - 2*0.5 - 0.1 - 0.1 = -0.2 and 0 - 2*(-0.5) - 0.1 - 0 = 0.9
    bias = user_bias_from_ratings(2.0, 0.1, 2.0, np.array([0.5, -0.5]), np.array([0.1, 0.0]),
                                  np.array([1.0, 0.0]))
    assert bias == pytest.approx(0.7 / 4)
    assert user_bias_from_ratings(2.0, 0.1, 2.0, np.zeros(0), np.zeros(0), np.zeros(0)) == 0


def test_noisier_ratings_choose_more_shrinkage_on_validation():
    cfg = RatingHeadConfig(user_shrinks=(0.5, 5.0, 50.0), item_shrinks=(0.5, 5.0, 50.0))
    chosen = []
    for noise in (0.05, 2.0):
        p = planted(per_user=8, noise=noise, seed=2)
        val = np.arange(len(p["u"])) % 4 == 0
        rows = [{k: p[k][m] for k in ("u", "i", "dots", "y")} for m in (~val, val)]
        lu, li, scores = choose_shrinkage(rows[0], rows[1], p["feature"], p["n_users"], cfg)
        assert scores[f"user {lu:g} item {li:g}"] == min(scores.values())
        chosen.append(lu + li)
    assert chosen[1] > chosen[0]


def test_the_dropped_item_column_is_the_train_mean_rating():
    data = tiny_dataset()
    train = data.interactions.assign(u=data.user_index(data.interactions["user_id"]),
                                     i=data.item_index(data.interactions["item_id"]))
    spec = fit_feature_spec(data, train, FeatureConfig())
    before = spec.item_matrix(data.items, data.genre_matrix)
    spec.stat_mean = spec.stat_mean + 1.0
    changed = np.flatnonzero(np.any(spec.item_matrix(data.items, data.genre_matrix) != before,
                                    axis=0))
    assert changed.tolist() == [ITEM_MEAN_COLUMN]
    content = item_content(before, (ITEM_MEAN_COLUMN,))
    np.testing.assert_array_equal(content, np.delete(before, ITEM_MEAN_COLUMN, axis=1))


def test_one_bias_rule_for_stored_refreshed_counterfactual_and_visitor(small_trained):
    data, bundle = small_trained
    head = bundle.metadata["rating_head"]
    assert head["kind"] == "shrunk_biases" and head["validation_rmse_scaled"]
    train = temporal_split(data.interactions).train
    u = int(train["u"].iloc[0])
    mine = train[train["u"] == u]
    v, bias = bundle.history_user(data.users.iloc[[u]], mine)
    assert bias == pytest.approx(float(bundle.user_bias[u]), abs=1e-5)
    (answers, _) = bundle.history_users(data.users.iloc[[u]], [mine, mine.iloc[:2]],
                                        screen=False)
    assert answers[0][1] == pytest.approx(bias, abs=1e-6)
    # by hand for the two-rating history: shrunk mean residual against its own vector
    v2 = answers[1][0]
    items = mine["i"].to_numpy()[:2]
    y = bundle.spec.scale_rating(mine["rating"].to_numpy()[:2])
    resid = y - head["scale"] * (bundle.item_vectors[items] @ v2) - head["offset"] \
        - bundle.item_bias[items]
    assert answers[1][1] == pytest.approx(resid.sum() / (2 + head["user_shrink"]), abs=1e-5)
    profile = UserProfile(ratings=dict(zip(mine["item_id"].astype(int)[:3],
                                           mine["rating"].astype(float)[:3], strict=True)))
    vv = bundle.new_user_vector(profile)
    items = data.item_index(list(profile.ratings))
    y = bundle.spec.scale_rating(np.array(list(profile.ratings.values())))
    resid = y - head["scale"] * (bundle.item_vectors[items] @ vv) - head["offset"] \
        - bundle.item_bias[items]
    assert bundle.new_user_bias(profile) == pytest.approx(
        resid.sum() / (3 + head["user_shrink"]), abs=1e-5)
    assert bundle.new_user_bias(UserProfile()) == 0.0


def test_the_served_rating_uses_the_head_written_into_the_model(small_trained):
    data, bundle = small_trained
    head = bundle.metadata["rating_head"]
    a, c = (float(w) for w in bundle.model.get_layer("rating_dot").get_weights())
    assert (a, c) == pytest.approx((head["scale"], head["offset"]), abs=1e-6)
    u, i = np.array([0, 1, 2]), np.array([3, 4, 5])
    z = a * np.sum(bundle.user_vectors[u] * bundle.item_vectors[i], axis=1) \
        + bundle.user_bias[u] + bundle.item_bias[i] + c
    np.testing.assert_allclose(bundle.predict(u, i), bundle.spec.unscale_rating(z), atol=1e-5)


def test_bad_shrinkage_grid_is_refused_in_one_line():
    with pytest.raises(ValueError, match="user_shrinks must be non-empty and >= 0"):
        RatingHeadConfig(user_shrinks=(-1.0,))


def test_a_bundle_with_the_keras_bias_head_still_loads_and_predicts_as_saved(tmp_path):
    """Bundles written before the closed-form head have no metadata['rating_head']."""
    from recengine.bundle import load_bundle, save_bundle
    from recengine.training import train_towers
    from tests.factories import SMALL_TRAINING

    data = tiny_dataset()
    train = temporal_split(data.interactions).train
    cfg = replace(SMALL_TRAINING, epochs=1, rating_head="learned", rating_head_epochs=1)
    bundle = train_towers(data, train.reset_index(drop=True), cfg)
    assert "rating_head" not in bundle.metadata
    loaded = load_bundle(save_bundle(bundle, tmp_path / "old"))
    u, i = np.array([0, 1]), np.array([2, 3])
    np.testing.assert_allclose(loaded.predict(u, i), bundle.predict(u, i), atol=1e-6)
    mine = train[train["u"] == 0]
    _, bias = loaded.history_user(data.users.iloc[[0]], mine)
    assert bias == pytest.approx(float(loaded.user_bias[0]), abs=1e-5)  # the Keras layer's
