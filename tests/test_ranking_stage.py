"""The ranking stages behind one protocol: LightGBM's parts sum to its score, the choice is
made on validation, and a saved stage scores the same after loading."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pytest

from recengine.ranking_stage import load_ranking_stage
from recengine.reranker import FEATURES, Reranker, fit_reranker
from recengine.reranker_lgbm import MODEL_KEY, LgbmConfig, LgbmRanker, fit_lgbm_ranker
from recengine.reranker_training import RerankerConfig, StageData, choose_stage, ranking_metrics

F = len(FEATURES)


def planted(n_users: int = 240, per_user: int = 40, seed: int = 0, interaction: bool = True
            ) -> StageData:
    """Candidates whose relevance is planted: x0 AND x1 (a product no logit can fit) or x0."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_users * per_user, F))
    signal = (x[:, 0] > 0.5) & (x[:, 1] > 0.5) if interaction else x[:, 0] > 1.0
    y = (signal & (rng.random(len(x)) < 0.9)).astype(float)
    groups = np.full(n_users, per_user)
    n_rel = np.add.reduceat(y, np.r_[0, np.cumsum(groups)[:-1]]).astype(np.int64)
    return StageData(x, y, groups, n_rel)


@pytest.fixture(scope="module")
def tiny_lgbm():
    d = planted(60, 20)
    return fit_lgbm_ranker(d.x, d.y, d.groups, LgbmConfig(rounds=20, min_data_in_leaf=10)), d


def test_lightgbm_parts_plus_intercept_are_its_raw_score(tiny_lgbm):
    stage, d = tiny_lgbm
    booster = lgb.Booster(model_str=stage.model_string)
    raw = booster.predict(d.x, raw_score=True)
    np.testing.assert_allclose(stage.score(d.x), raw, atol=1e-12)
    parts = stage.contributions(d.x)
    assert parts.shape == (len(d.x), F)
    np.testing.assert_allclose(parts.sum(axis=1) + stage.intercept, raw, atol=1e-9)
    assert stage.weight("dot") is None  # trees have no per-feature weight


def test_importance_is_each_features_share_of_split_gain_by_hand(tiny_lgbm):
    stage, _ = tiny_lgbm
    gain = dict.fromkeys(FEATURES, 0.0)

    def walk(node):
        if "split_feature" in node:
            gain[FEATURES[node["split_feature"]]] += node["split_gain"]
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in lgb.Booster(model_str=stage.model_string).dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    total = sum(gain.values())
    assert stage.importance() == pytest.approx({k: v / total for k, v in gain.items()},
                                               rel=1e-6)
    assert sum(stage.importance().values()) == pytest.approx(1.0)
    # the planted signal lives in x0 and x1: they carry most of the gain
    assert stage.importance()["dot"] + stage.importance()["sim_count"] > 0.5


def test_a_saved_lightgbm_stage_scores_identically_after_loading(tiny_lgbm):
    stage, d = tiny_lgbm
    arrays = stage.to_arrays()
    assert arrays[MODEL_KEY].dtype == np.uint8
    npz = {k: np.frombuffer(v.tobytes(), v.dtype) for k, v in arrays.items()}  # as loaded
    again = load_ranking_stage(npz)
    assert isinstance(again, LgbmRanker)
    np.testing.assert_array_equal(again.score(d.x), stage.score(d.x))
    np.testing.assert_array_equal(again.contributions(d.x[:5]), stage.contributions(d.x[:5]))
    assert again.intercept == stage.intercept


def test_unreadable_or_doubled_stages_are_refused_in_one_line(tiny_lgbm):
    stage, d = tiny_lgbm
    with pytest.raises(ValueError, match="not a readable LightGBM model"):
        LgbmRanker.from_arrays({MODEL_KEY: np.frombuffer(b"tree\nnonsense", np.uint8)})
    with pytest.raises(ValueError, match="1-d uint8"):
        LgbmRanker.from_arrays({MODEL_KEY: np.zeros(3, np.float32)})
    logistic = fit_reranker(d.x, d.y)
    with pytest.raises(ValueError, match="more than one ranking stage"):
        load_ranking_stage({**stage.to_arrays(), **logistic.to_arrays()})
    assert load_ranking_stage({}) is None


def test_a_logistic_stage_saved_before_the_new_features_keeps_its_scores():
    rng = np.random.default_rng(4)
    old = len(FEATURES) - 2  # saved before item_model_score and log_activity
    x = rng.normal(size=(50, old))
    arrays = {"reranker_mean": rng.normal(size=old), "reranker_std": rng.random(old) + 0.5,
              "reranker_weights": rng.normal(size=old), "reranker_bias": np.array([0.3])}
    before = ((x - arrays["reranker_mean"]) / arrays["reranker_std"]) @ \
        arrays["reranker_weights"] + 0.3
    stage = load_ranking_stage(arrays)
    assert isinstance(stage, Reranker)
    now = np.c_[x, rng.normal(size=(50, 2))]  # whatever the new inputs hold
    np.testing.assert_allclose(stage.score(now), before, atol=1e-12)


def test_ranking_metrics_by_hand():
    # user 1: 3 candidates, the relevant one scored 2nd of 3, 2 relevant in all (1 missed)
    # user 2: 2 candidates, the relevant one first
    d = StageData(np.zeros((5, F)), np.array([0, 1, 0, 1, 0.0]), np.array([3, 2]),
                  np.array([2, 1]))
    m = ranking_metrics(np.array([0.9, 0.5, 0.1, 3.0, 1.0]), d)
    assert m["recall@10"] == pytest.approx((1 / 2 + 1) / 2)
    ideal_1 = 1 + 1 / np.log2(3)
    assert m["ndcg@10"] == pytest.approx(((1 / np.log2(3)) / ideal_1 + 1.0) / 2)


def test_the_stage_that_wins_on_held_out_users_is_the_one_kept():
    cfg = RerankerConfig(lgbm=LgbmConfig(rounds=60, min_data_in_leaf=20))
    bent = choose_stage(planted(interaction=True), cfg)
    assert bent.chosen == "lightgbm" and isinstance(bent.stage, LgbmRanker)
    v = bent.validation
    assert v["lightgbm"]["ndcg@10"] > v["logistic"]["ndcg@10"]
    assert set(v["logistic"]) == {"recall@10", "ndcg@10"}
    meta = json.loads(json.dumps(bent.metadata()))  # JSON-ready for the bundle
    assert meta["stage"] == "lightgbm" and set(meta["features"]) == set(FEATURES)
    # one stage named: no competition, no held-out users
    only = choose_stage(planted(interaction=False), RerankerConfig(stages=("logistic",)))
    assert only.chosen == "logistic" and only.validation == {}
    with pytest.raises(ValueError, match="unknown ranking stage"):
        RerankerConfig(stages=("forest",))


def test_an_engine_serving_lightgbm_explains_each_score_exactly(small_trained, tmp_path):
    import dataclasses

    from recengine.bundle import load_bundle, save_bundle
    from recengine.counterfactual import score_breakdown
    from recengine.engine import Engine
    from recengine.split import temporal_split

    data, bundle = small_trained
    train = temporal_split(data.interactions).train
    engine = Engine.build(data, bundle, history=train)
    users = np.arange(40)
    blocks = [engine.candidate_features(int(u))[1] for u in users]
    x = np.vstack(blocks)
    y = (x[:, FEATURES.index("item_model_score")] > np.median(x[:, 0])).astype(float)
    stage = fit_lgbm_ranker(x, y, np.array([len(b) for b in blocks]),
                            LgbmConfig(rounds=15, min_data_in_leaf=5))
    extras = {k: v for k, v in bundle.extras.items() if not k.startswith("reranker_")}
    saved = dataclasses.replace(bundle, extras={**extras, **stage.to_arrays()})
    again = load_bundle(save_bundle(saved, tmp_path / "lgbm"))
    served = Engine.build(data, again, history=train)
    assert isinstance(served.reranker, LgbmRanker)
    assert "LightGBM" in served.served_objective.rule
    uid = int(data.users.user_id[3])
    result = served.recommend(uid, 10)
    assert result.intercept == pytest.approx(stage.intercept)
    for it in result.items:
        assert result.intercept + sum(it.contributions.values()) == pytest.approx(it.score,
                                                                                abs=1e-9)
        b = score_breakdown(it, result.intercept, served.reranker)
        assert b.total == pytest.approx(it.score, abs=1e-9)
        assert all(p.weight is None and p.standardised is None for p in b.parts)
    # the served order is the stage's own score of each candidate, best first
    items, feats = served.candidate_features(3)
    by_id = dict(zip(data.items.item_id.to_numpy()[items].tolist(), stage.score(feats),
                     strict=True))
    scores = [it.score for it in result.items]
    assert scores == sorted(scores, reverse=True)
    assert scores == pytest.approx([by_id[it.item_id] for it in result.items], abs=1e-12)
    assert scores[-1] >= max(v for k, v in by_id.items()
                             if k not in {it.item_id for it in result.items})


def test_item_model_is_eases_closed_form_on_the_most_watched_items():
    import pandas as pd

    from recengine.item_model import ItemModelConfig, build_item_model

    rng = np.random.default_rng(5)
    u, i = rng.integers(0, 30, 400), rng.integers(0, 25, 400)
    history = pd.DataFrame({"u": u, "i": i})
    model = build_item_model(history, 25, ItemModelConfig(top_items=12, l2=3.0))
    counts = np.bincount(i, minlength=25)
    top = np.sort(np.argsort(-counts, kind="stable")[:12])
    assert set(model.items.tolist()) == set(top.tolist()) or \
        sorted(counts[model.items]) == sorted(counts[top])  # ties may pick either
    x = np.zeros((30, 25))
    x[u, i] = 1.0
    x = x[:, model.items]
    p = np.linalg.inv(x.T @ x + 3.0 * np.eye(len(model.items)))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    np.testing.assert_allclose(model.weights, b, atol=1e-5)
    seen = i[u == 4]
    first = model.user_scores(seen)
    np.testing.assert_allclose(first, x[4] @ b, atol=1e-5)
    first[:] = -1.0  # a caller's edit does not reach the next request
    np.testing.assert_allclose(model.user_scores(seen), x[4] @ b, atol=1e-5)


def test_the_item_models_seed_is_the_history_item_adding_most_by_hand():
    from recengine.item_model import ItemModel

    # B over items 0..3 (rows: the history item, columns: the scored item)
    weights = np.array([[0.0, 0.5, 0.1, 0.0],
                        [0.2, 0.0, 0.7, 0.0],
                        [0.9, 0.3, 0.0, 0.0],
                        [0.0, 0.0, 0.0, 0.0]], np.float32)
    model = ItemModel(np.arange(4), np.array([0, 1, 2, 3, -1]), weights)
    history = np.array([0, 1, 4])  # item 4 lies outside the model
    # item 2: 0.1 from item 0, 0.7 from item 1 -> 1; item 3: all zero -> the first, 0;
    # item 4 is not in the model -> none
    assert model.strongest_seeds(history, np.array([2, 3, 4])).tolist() == [1, 0, -1]
    assert model.strongest_seed(history, 2) == 1
    assert model.user_scores(history).tolist() == pytest.approx([0.2, 0.5, 0.8, 0.0])
