"""The objectives audit: hand-checked metrics, and what profit and engagement promote."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from audits.business import business_attributes, flagged_mask, simulate_column, unit_profit

from audits.bias import catalogue_coverage, exposure_counts, gini, intra_list_diversity, jaccard
from audits.objectives import (
    OBJECTIVES,
    ObjectiveAuditConfig,
    audit_objectives,
    blend_scores,
    candidate_pool,
    compare_user,
    fit_logistic_1d,
    minmax,
    objective_model,
    pareto_front,
    rank_pool,
    sigmoid,
    tradeoff_sweep,
    weight_grid,
)
from recengine.engine import Engine
from recengine.schema import Dataset


@pytest.fixture(scope="module")
def engine(small_trained) -> Engine:
    return Engine.build(*small_trained)


@pytest.fixture(scope="module")
def model(engine):
    return objective_model(engine)


@pytest.fixture(scope="module")
def audit(model):
    return audit_objectives(model, ObjectiveAuditConfig(n_users=150, k=10))


# ----- metrics by hand ----------------------------------------------------------------
def test_gini_of_equal_and_concentrated_exposure():
    assert gini([3, 3, 3, 3]) == pytest.approx(0.0)
    # all exposure on one of four items: sum |xi - xj| = 24, 2 n^2 mean = 32
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)
    assert gini([1, 3]) == pytest.approx(0.25)  # |1-3| x 2 / (2 x 4 x 2)


def test_intra_list_diversity_is_one_minus_mean_pairwise_cosine():
    assert intra_list_diversity(np.eye(3)) == pytest.approx(1.0)
    assert intra_list_diversity(np.array([[1.0, 0], [2.0, 0]])) == pytest.approx(0.0)
    # cosines: (a,b)=0, (a,c)=(b,c)=1/sqrt(2) -> mean sqrt(2)/3
    v = np.array([[1.0, 0], [0, 1.0], [1.0, 1.0]])
    assert intra_list_diversity(v) == pytest.approx(1 - np.sqrt(2) / 3)
    assert np.isnan(intra_list_diversity(np.ones((1, 2))))


def test_jaccard_coverage_and_exposure():
    assert jaccard([1, 2, 3], [2, 3, 4]) == pytest.approx(2 / 4)
    assert jaccard([], []) == 1.0
    assert catalogue_coverage([[0, 1], [1, 2]], 10) == pytest.approx(0.3)
    assert exposure_counts([[0, 1], [1, 2]], 4).tolist() == [1, 2, 1, 0]


def test_minmax_blend_and_weight_grid():
    assert minmax([2.0, 4.0, 3.0]).tolist() == [0.0, 1.0, 0.5]
    assert minmax([5.0, 5.0]).tolist() == [0.0, 0.0]
    comps = {"rating": np.array([1.0, 3.0]), "engagement": np.array([10.0, 0.0]),
             "profit": np.array([0.0, 0.0])}
    # weights 2:2:0 -> 0.5 each: item 0 = 0.5*0 + 0.5*1, item 1 = 0.5*1 + 0.5*0
    assert blend_scores(comps, {"rating": 2, "engagement": 2}).tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match="all zero"):
        blend_scores(comps, {"rating": 0})
    grid = weight_grid(3)
    assert len(grid) == 6
    assert all(sum(w.values()) == pytest.approx(1.0) for w in grid)
    assert {"rating": 0.5, "engagement": 0.0, "profit": 0.5} in grid


def test_pareto_front_keeps_only_undominated_points():
    pts = [[1, 1], [2, 0], [0, 2], [0.5, 0.5], [2, 0]]
    assert pareto_front(pts).tolist() == [True, True, True, False, True]


def test_logistic_fit_by_hand_and_by_recovery():
    a, b = fit_logistic_1d([-1, -1, 1, 1], [0, 1, 0, 1])  # x says nothing, classes balanced
    assert a == pytest.approx(0, abs=1e-6) and b == pytest.approx(0, abs=1e-6)
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000)
    y = rng.random(20_000) < sigmoid(2.0 * x - 1.0)
    a, b = fit_logistic_1d(x, y)
    assert a == pytest.approx(2.0, abs=0.15) and b == pytest.approx(-1.0, abs=0.1)


def test_business_columns_from_data_or_simulated_and_labelled_so(small_synthetic):
    biz = business_attributes(small_synthetic)
    assert np.array_equal(biz.price, small_synthetic.items["price"].to_numpy())
    assert all(p == "data (simulated by the loader)" for p in biz.provenance.values())
    bare_items = small_synthetic.items[["item_id", "title", "year", "genres"]]
    bare = Dataset(bare_items, small_synthetic.users, small_synthetic.interactions[
        ["user_id", "item_id", "rating", "timestamp"]])
    sim = business_attributes(bare, seed=3)
    assert set(sim.simulated) == {"price", "margin", "sponsored_bid", "watch_minutes", "labels"}
    assert all(p.startswith("simulated here") for p in sim.provenance.values())
    assert sim.sponsored.sum() == round(0.05 * bare.n_items)
    assert np.array_equal(sim.labels, simulate_column("labels", bare_items, seed=3))
    assert unit_profit([10.0], [0.3], [0.5]).tolist() == [pytest.approx(3.5)]
    assert flagged_mask(["", "scam", "a|b", None]).tolist() == [False, True, True, False]


# ----- on a trained model -------------------------------------------------------------
def test_pool_ranking_is_the_engines_ranking(engine, model):
    users = np.arange(20)
    profit = model.objective("profit")
    pool = candidate_pool(engine, users)
    ours = rank_pool(model, pool, profit, 10)
    theirs = engine.recommend_topk_batch(users, 10, objective=profit)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_profit_promotes_the_planted_sponsored_items(audit, model):
    share = audit.metrics["sponsored_share"]
    catalogue_share = model.business.sponsored.mean()
    assert share["profit"] > 3 * share["rating"]
    assert share["profit"] > 3 * catalogue_share
    assert audit.metrics.loc["profit", "expected_profit"] > \
        audit.metrics.loc["rating", "expected_profit"]
    assert audit.metrics.loc["rating", "mean_predicted_rating"] >= \
        audit.metrics.loc["profit", "mean_predicted_rating"]


def test_metrics_table_is_computed_from_the_lists(audit, model, engine):
    for name in OBJECTIVES:
        lists = audit.lists[name]
        flat = np.concatenate(lists)
        row = audit.metrics.loc[name]
        assert row["sponsored_share"] == pytest.approx(model.business.sponsored[flat].mean())
        assert row["flagged_share"] == pytest.approx(model.business.flagged[flat].mean())
        assert row["coverage"] == pytest.approx(len(set(flat.tolist())) / engine.data.n_items)
        assert row["exposure_gini"] == pytest.approx(
            gini(np.bincount(flat, minlength=engine.data.n_items)))
    assert np.allclose(np.diag(audit.overlap), 1.0)
    assert audit.overlap.loc["rating", "profit"] < 1.0
    assert set(audit.simulated) >= {"expected_profit", "flagged_share"}, "synthetic is simulated"


def test_tradeoff_sweep_ends_match_the_single_objectives(model, audit):
    cfg = ObjectiveAuditConfig(n_users=150, k=10)
    sweep = tradeoff_sweep(model, cfg, steps=3)
    assert len(sweep) == 6
    pure_rating = sweep[sweep["w_rating"] == 1.0].iloc[0]
    assert pure_rating["mean_predicted_rating"] == pytest.approx(
        audit.metrics.loc["rating", "mean_predicted_rating"])
    pure_profit = sweep[sweep["w_profit"] == 1.0].iloc[0]
    assert pure_profit["expected_profit"] == pytest.approx(
        audit.metrics.loc["profit", "expected_profit"])
    pts = sweep[["mean_predicted_rating", "expected_watch_minutes", "expected_profit"]]
    assert sweep["pareto"].tolist() == pareto_front(pts.to_numpy()).tolist()
    assert sweep["pareto_rating_profit"].any()


def test_one_user_side_by_side_says_why(model, engine):
    uid = int(engine.data.users["user_id"].iloc[3])
    cmp = compare_user(model, uid, k=10)
    assert set(cmp.lists) == set(OBJECTIVES)
    assert all(len(f) == 10 for f in cmp.lists.values())
    rating_ids = set(cmp.lists["rating"]["item_id"])
    promoted = cmp.changes[(cmp.changes["objective"] == "profit")
                           & (cmp.changes["change"] == "promoted")]
    assert set(promoted["item_id"]) == set(cmp.lists["profit"]["item_id"]) - rating_ids
    assert promoted["reason"].str.startswith("promoted by profit:").all()
    bids = engine.data.items.set_index("item_id").loc[promoted["item_id"], "sponsored_bid"]
    for reason, bid in zip(promoted["reason"], bids, strict=True):
        assert ("sponsored bid" in reason) == (bid > 0)
    dropped = cmp.changes[(cmp.changes["objective"] == "profit")
                          & (cmp.changes["change"] == "dropped")]
    assert set(dropped["item_id"]) == rating_ids - set(cmp.lists["profit"]["item_id"])
    assert isinstance(cmp.changes, pd.DataFrame)
