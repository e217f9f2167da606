"""The product's models as protocol systems, the new-user test and the retrieval sweep."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from recengine.cf import CFConfig, train_cf
from recengine.config import TrainConfig
from recengine.evaluation import (
    evaluate_cold_items,
    recall_at_k,
    relevant_by_user,
    run_protocol,
)
from recengine.evaluation import systems as systems_mod
from recengine.evaluation.systems import (
    NewUserConfig,
    cf_cold_scorer,
    cf_system,
    content_cold_scorer,
    content_config,
    evaluate_new_users,
    hybrid_config,
    pipeline_system,
    popularity_new_user,
    ranking_only,
    two_tower_system,
)
from recengine.evaluation.tradeoff import (
    TradeoffSetting,
    default_settings,
    load_tradeoff_table,
    sweep_retrieval,
)
from recengine.scoring import VectorScorer
from recengine.split import temporal_split
from tests.factories import assert_pipeline_figures_by_hand

FAST = TrainConfig(epochs=1, batch_size=256)
FAST_CF = CFConfig(epochs=5, n_features=8)


def test_two_tower_and_pipeline_share_one_training_run(small_synthetic, monkeypatch):
    calls = []
    real = systems_mod.train_two_tower

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(systems_mod, "train_two_tower", counting)
    systems_mod.clear_cache()
    result = run_protocol(small_synthetic, {"pipeline": pipeline_system(FAST),
                                            "two_tower": two_tower_system(FAST)},
                          include_baselines=False)
    assert len(calls) == 1
    # same weights, so the same rating predictions; only the ranking route differs
    assert result["pipeline"]["rmse"] == pytest.approx(result["two_tower"]["rmse"])
    # by hand: the pipeline's figures are the protocol engine's lists and predictions
    bundle = next(iter(systems_mod._CACHE.values()))
    assert_pipeline_figures_by_hand(result, small_synthetic, bundle)


def test_cf_system_predicts_with_the_rating_variant_and_ranks(small_synthetic):
    result = run_protocol(small_synthetic, {"cf": cf_system(FAST_CF),
                                            "cf_rank_by_rating": cf_system(FAST_CF, "rating")},
                          include_baselines=False)
    # both take their predictions from the same rating model
    assert result["cf"]["rmse"] == pytest.approx(result["cf_rank_by_rating"]["rmse"])
    # by hand: the binary variant, fitted again (seeded), ranks every unrated item by
    # w.x + b + mean; Recall@10 over the users with a relevant test item
    split = temporal_split(small_synthetic.interactions)
    ranker = train_cf(small_synthetic, split.train, replace(FAST_CF, binary=True))
    rel = relevant_by_user(split.test)
    users = np.array(sorted(rel))
    scores = ranker.w[users] @ ranker.x.T + ranker.b[users][:, None] + ranker.item_mean
    rated = split.train.groupby("u")["i"].apply(lambda s: s.to_numpy()).to_dict()
    for row, u in enumerate(users.tolist()):
        scores[row, rated.get(u, [])] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    assert result["cf"]["recall@10"] == pytest.approx(
        recall_at_k(list(top), [rel[u] for u in users.tolist()], 10))
    with pytest.raises(ValueError, match="ranking"):
        cf_system(FAST_CF, "popularity")


def test_cold_start_configs_drop_or_keep_ids():
    content = content_config(FAST)
    assert not content.model.use_item_ids and not content.model.use_history
    hybrid = hybrid_config(content)
    assert hybrid.model.use_item_ids and hybrid.model.item_id_dropout > 0
    # ranking-only evaluations skip the head-only stage, which changes no vector
    lean = ranking_only(TrainConfig())
    assert lean.rating_head_epochs == 0 and not lean.ranking_stage
    assert lean.model == TrainConfig().model  # the towers themselves are unchanged


def test_content_model_ranks_cold_items_cf_cannot(small_synthetic):
    three_epochs = TrainConfig(epochs=3, batch_size=256)
    content = evaluate_cold_items(small_synthetic,
                                  content_cold_scorer(content_config(three_epochs)))
    # planted truth: cold items carry the genres the synthetic tastes are planted on
    assert content["auc"] > 0.65
    assert content["recall@10"] > 2 * content["random_recall@10"]

    train = temporal_split(small_synthetic.interactions).train
    score = cf_cold_scorer(FAST_CF)(train, small_synthetic.with_interactions(train))
    cold_items = np.setdiff1d(np.arange(small_synthetic.n_items), train["i"].unique())[:20]
    scores = score(np.array([0, 1, 2]), cold_items)
    # an item nobody rated has x = 0: every cold item scores the same (up to tie jitter)
    assert np.ptp(scores, axis=1).max() < 1e-8


def test_new_users_are_held_out_of_training(small_synthetic):
    seen_users = {}

    def spy(train: pd.DataFrame, data):
        seen_users["train"] = set(train["u"].unique().tolist())
        return popularity_new_user()(train, data)

    out = evaluate_new_users(small_synthetic, {"spy": spy, "popularity": popularity_new_user()},
                             NewUserConfig(n_ratings=3, user_fraction=0.2))
    assert out["users"] > 0
    assert out["spy"] == out["popularity"]
    all_users = set(small_synthetic.interactions["u"].unique().tolist())
    assert len(all_users - seen_users["train"]) == out["users"]


# ----- the retrieval sweep -----------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_inputs(small_synthetic):
    split = temporal_split(small_synthetic.interactions)
    scorer = VectorScorer.random(small_synthetic.n_items, small_synthetic.n_users, seed=1)
    return small_synthetic, scorer, split


def test_wider_retrieval_finds_at_least_as_much(sweep_inputs):
    data, scorer, split = sweep_inputs
    settings = [TradeoffSetting("narrow", {"similar_per_item": 5, "n_genres": 1,
                                           "region_top": 10, "overall_top": 10}),
                TradeoffSetting("default"),
                TradeoffSetting("wide", {"similar_per_item": 50, "n_genres": 5,
                                         "region_top": 50, "overall_top": 50})]
    table = sweep_retrieval(data, scorer, split, settings)
    assert list(table["setting"]) == ["narrow", "default", "wide",
                                      "full catalogue (no retrieval)"]
    recall = table["candidate_recall"].to_numpy()
    assert np.all(np.diff(recall) >= 0)  # each candidate set contains the previous one
    assert np.all(np.diff(table["candidates_mean"].to_numpy()) > 0)
    assert table["latency_p50_ms"].gt(0).all()
    assert table[["recall@10", "ndcg@10"]].apply(lambda c: c.between(0, 1)).all().all()


def test_default_settings_swap_region_for_an_overall_top_list():
    with_regions = {s.name for s in default_settings(True)}
    without = default_settings(False)
    assert "region_top=50" in with_regions
    assert any(s.retrieval.get("overall_top") == 50 for s in without)
    assert all("region_top" not in s.retrieval for s in without)
    assert all(s.config() is not None for s in without)  # every setting is a valid config


def test_tradeoff_table_round_trip(tmp_path, sweep_inputs):
    assert load_tradeoff_table(tmp_path / "missing.csv") is None
    data, scorer, split = sweep_inputs
    table = sweep_retrieval(data, scorer, split, [TradeoffSetting("default")],
                            full_catalogue=False)
    table.to_csv(tmp_path / "t.csv", index=False)
    back = load_tradeoff_table(tmp_path / "t.csv")
    assert back["recall@10"].tolist() == pytest.approx(table["recall@10"].tolist())


def test_pipeline_new_user_scores_its_list_first_and_in_order(small_synthetic):
    from recengine.evaluation.systems import pipeline_new_user
    from recengine.scoring import UserProfile
    from tests.factories import SMALL_TRAINING

    data = small_synthetic
    scores_of = pipeline_new_user(SMALL_TRAINING, depth=20)(
        temporal_split(data.interactions).train, data)
    rated = {int(data.items["item_id"][0]): 5.0, int(data.items["item_id"][1]): 4.0}
    scores = scores_of(UserProfile(ratings=rated))
    listed = np.flatnonzero(scores > 0)
    assert 0 < len(listed) <= 20
    assert not set(data.item_index(list(rated))) & set(listed)  # rated items never listed
    assert sorted(scores[listed], reverse=True) == list(range(len(listed), 0, -1))
