"""Synthetic data: deterministic, well-formed, and carrying the effects it plants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recengine.data import SyntheticConfig, load_source, make_synthetic, make_synthetic_with_truth
from recengine.data.synthetic import GENRES, LABELS
from recengine.split import temporal_split


def test_same_seed_same_frames_other_seed_other_data():
    cfg = SyntheticConfig(n_users=80, n_items=150, seed=7)
    a, b = make_synthetic(cfg), make_synthetic(cfg)
    for table in ("items", "users", "interactions"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table))
    other = make_synthetic(SyntheticConfig(n_users=80, n_items=150, seed=8))
    assert other.fingerprint != a.fingerprint


def test_schema_and_value_ranges(small_synthetic):
    data = small_synthetic
    items, users, inter = data.items, data.users, data.interactions
    assert (data.n_users, data.n_items) == (200, 400)
    assert items["item_id"].is_unique and users["user_id"].is_unique
    assert users["age"].between(16, 75).all()
    assert users["region"].nunique() >= 8
    n_genres = items["genres"].str.split("|").map(len)
    assert n_genres.between(1, 3).all()
    assert set("|".join(items["genres"]).split("|")) <= set(GENRES)
    assert items["title"].str.fullmatch(r"[A-Z][A-Za-z ]+ \(\d{4}\)").all()
    assert items["title"].nunique() > 0.95 * len(items)
    ratings = inter["rating"].to_numpy()
    assert ratings.min() >= 0.5 and ratings.max() <= 5.0
    assert np.allclose(ratings * 2, np.round(ratings * 2))
    assert not inter.duplicated(["user_id", "item_id"]).any()
    # timestamps strictly increase within each user's history, in row order
    diffs = inter.groupby("u")["timestamp"].diff().dropna()
    assert (diffs > 0).all()
    mean_per_user = len(inter) / data.n_users
    assert 25 < mean_per_user < 60  # default ~40
    assert data.rating_scale == (0.5, 5.0)


def test_every_simulated_column_is_marked(small_synthetic):
    data = small_synthetic
    for table in ("users", "items"):
        for col in getattr(data, table).columns:
            if not col.endswith("_id"):
                assert f"{table}.{col}" in data.simulated
    assert "interactions.rating" in data.simulated
    assert data.name == "synthetic" and "no real people" in data.license


def test_business_attributes_plant_the_sponsored_set():
    data, truth = make_synthetic_with_truth(SyntheticConfig(n_users=50, n_items=2000, seed=1))
    items = data.items
    sponsored = items["sponsored_bid"].to_numpy() > 0
    assert sponsored.mean() == pytest.approx(0.05, abs=0.005)
    assert items.loc[sponsored, "margin"].mean() > 2 * items.loc[~sponsored, "margin"].mean()
    assert truth.item_quality[sponsored].mean() < truth.item_quality[~sponsored].mean()
    assert (items["price"] > 0).all() and (items["watch_minutes"] > 0).all()


def test_labels_at_their_prevalence_and_boosted_engagement():
    cfg = SyntheticConfig(n_users=400, n_items=20000, seed=2, label_prevalence=0.05,
                          harm_engagement_boost=1.0)
    data, truth = make_synthetic_with_truth(cfg)
    items = data.items
    for label in LABELS:
        share = items["labels"].str.split("|").map(lambda xs, lb=label: lb in xs).mean()
        assert share == pytest.approx(0.05, abs=0.01)
    flagged = (items["labels"] != "").to_numpy()
    per_minute = items["watch_minutes"] / items["runtime"]
    assert per_minute[flagged].mean() > 1.6 * per_minute[~flagged].mean()
    counts = np.bincount(data.interactions["i"], minlength=data.n_items)
    assert counts[flagged].mean() > 1.3 * counts[~flagged].mean()
    # engaging is not the same as good: labelled items are no better
    assert truth.item_quality[flagged].mean() < truth.item_quality[~flagged].mean() + 0.05


def test_no_harm_boost_means_no_engagement_gap():
    cfg = SyntheticConfig(n_users=50, n_items=20000, seed=2, label_prevalence=0.05,
                          harm_engagement_boost=0.0)
    items = make_synthetic(cfg).items
    flagged = (items["labels"] != "").to_numpy()
    per_minute = items["watch_minutes"] / items["runtime"]
    assert per_minute[flagged].mean() == pytest.approx(per_minute[~flagged].mean(), rel=0.1)


def _recall_at_10(data, split, score) -> float:
    """The protocol's Recall@10: relevant = test ratings >= 4, candidates = unrated in train."""
    train, test = split.train, split.test
    relevant = test[test["rating"] >= 4].groupby("u")["i"].apply(set)
    seen = train.groupby("u")["i"].apply(list)
    recalls = []
    for u, rel in relevant.items():
        s = score(u).astype(float)
        s[seen.get(u, [])] = -np.inf
        top = np.argsort(-s, kind="stable")[:10]
        recalls.append(len(rel.intersection(top.tolist())) / min(len(rel), 10))
    return float(np.mean(recalls))


def test_planted_tastes_beat_popularity_on_recall_at_10():
    cfg = SyntheticConfig(n_users=300, n_items=600, seed=0)
    data, truth = make_synthetic_with_truth(cfg)
    split = temporal_split(data.interactions)
    popularity = np.bincount(split.train["i"], minlength=data.n_items).astype(float)
    items = np.arange(data.n_items)

    def oracle(u):
        return truth.selection_logit(np.full(data.n_items, u), items, cfg.affinity_strength)

    pop_recall = _recall_at_10(data, split, lambda u: popularity.copy())
    oracle_recall = _recall_at_10(data, split, oracle)
    assert oracle_recall > 1.3 * pop_recall


def test_region_popularity_differs_by_country():
    data = make_synthetic(SyntheticConfig(n_users=1500, n_items=400, seed=0))
    region = data.users["region"].to_numpy()[data.interactions["u"]]
    share = pd.crosstab(data.interactions["i"], region, normalize="columns")
    top = {c: set(share[c].nlargest(20).index) for c in ("United States", "India")}
    assert len(top["United States"] & top["India"]) < 15


def test_spec_round_trip_rebuilds_the_same_data():
    data = load_source("synthetic:users=60,items=120,seed=3,harm_engagement_boost=0.25")
    assert data.n_users == 60 and data.n_items == 120
    assert data.source == "synthetic:n_users=60,n_items=120,seed=3,harm_engagement_boost=0.25"
    assert load_source(data.source).fingerprint == data.fingerprint
    assert make_synthetic().source == "synthetic"


def test_large_catalogue_stays_sparse():
    """Sizes scale independently: many items, few ratings each, no dense user x item step."""
    data = make_synthetic(SyntheticConfig(n_users=100, n_items=50_000, ratings_per_user=10,
                                          seed=4))
    assert data.n_items == 50_000
    assert 500 < len(data.interactions) < 2000
    assert data.interactions["i"].max() < data.n_items


@pytest.mark.parametrize("bad", [dict(n_users=0), dict(sponsored_share=1.5),
                                 dict(harm_engagement_boost=-1)])
def test_bad_config_is_refused(bad):
    with pytest.raises(ValueError):
        SyntheticConfig(**bad)


def test_one_user_lookup_agrees_with_the_many_users_lookup(small_synthetic):
    ids = small_synthetic.users["user_id"].to_numpy()
    many = small_synthetic.user_index(ids)
    assert many.tolist() == list(range(len(ids)))
    assert [int(small_synthetic.user_index(int(u))[0]) for u in ids[::7]] == many[::7].tolist()
    assert small_synthetic.user_index(np.int64(ids[3])).tolist() == [3]
    with pytest.raises(KeyError, match="unknown user id"):
        small_synthetic.user_index(int(ids.max()) + 1)
