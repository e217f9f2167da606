"""Features are fitted on train only, and the spec rebuilds identical vectors."""

import numpy as np

from recengine.features import FeatureSpec, fit_feature_spec, history_matrix, item_rows
from recengine.scoring import UserProfile
from recengine.split import temporal_split
from tests.factories import tiny_dataset


def _all_features(data, train):
    spec = fit_feature_spec(data, train)
    rows = item_rows(spec, data.items["item_id"].to_numpy())
    return (spec.user_matrix(data.users, train, data.genre_matrix),
            spec.item_matrix(data.items, data.genre_matrix),
            history_matrix(spec, train, data.n_users, rows))


def test_a_planted_test_rating_moves_no_feature():
    data = tiny_dataset()
    split = temporal_split(data.interactions)
    before = _all_features(data, split.train)
    # plant a distinctive rating on a test row: the worst score on the scale
    planted = data.interactions.copy()
    test_row = split.test.index[0]
    planted.loc[planted.index == test_row, "rating"] = 0.5
    data2 = data.with_interactions(planted)
    split2 = temporal_split(data2.interactions)
    assert split2.test["rating"].min() == 0.5  # it really is in test
    after = _all_features(data2, split2.train)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_a_changed_train_rating_does_move_features():
    """The check above can fail: the same edit on a train row changes the vectors."""
    data = tiny_dataset()
    split = temporal_split(data.interactions)
    before = _all_features(data, split.train)
    planted = data.interactions.copy()
    planted.loc[planted.index == split.train.index[0], "rating"] = 0.5
    data2 = data.with_interactions(planted)
    after = _all_features(data2, temporal_split(data2.interactions).train)
    assert not np.array_equal(before[0], after[0])


def test_spec_round_trips_through_json_and_rebuilds_the_same_vectors():
    data = tiny_dataset()
    train = temporal_split(data.interactions).train
    spec = fit_feature_spec(data, train)
    again = FeatureSpec.from_json(spec.to_json(), spec.arrays())
    np.testing.assert_array_equal(spec.user_matrix(data.users, train, data.genre_matrix),
                                  again.user_matrix(data.users, train, data.genre_matrix))
    np.testing.assert_array_equal(spec.item_matrix(data.items, data.genre_matrix),
                                  again.item_matrix(data.items, data.genre_matrix))


def test_demographics_are_one_hot_and_cold_items_get_row_zero():
    data = tiny_dataset()
    train = temporal_split(data.interactions).train
    spec = fit_feature_spec(data, train)
    assert spec.vocab["region"] == ["north", "south"]
    assert spec.vocab["gender"] == ["F", "M"]
    unseen = sorted(set(data.items["item_id"]) - set(train["item_id"]))
    rows = item_rows(spec, data.items["item_id"].to_numpy())
    assert all(rows[data.item_index(unseen)] == 0)
    assert (rows[data.item_index(train["item_id"].unique())] > 0).all()


def test_a_new_visitor_profile_has_the_same_width_as_known_users():
    data = tiny_dataset()
    train = temporal_split(data.interactions).train
    spec = fit_feature_spec(data, train)
    profile = UserProfile(ratings={100: 5.0, 101: 1.0}, genres=["Comedy"],
                          demographics={"region": "north", "age": 30, "gender": "F"})
    x = spec.profile_matrix(profile, data.items["item_id"].to_numpy(), data.genre_matrix)
    assert x.shape == (1, spec.user_matrix(data.users, train, data.genre_matrix).shape[1])
    assert np.isfinite(x).all()


def test_the_package_exports_its_public_api():
    import recengine
    from recengine.engine import Engine
    from recengine.fit import train_two_tower

    assert recengine.Engine is Engine
    assert recengine.train_two_tower is train_two_tower
    assert set(recengine.__all__) >= {"load_source", "Dataset", "UserProfile", "ContentPolicy"}
