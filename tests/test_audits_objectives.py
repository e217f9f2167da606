"""The objectives audit: hand-checked metrics, the served list as the baseline, and what
profit and engagement promote."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audits.compare import compare_user
from audits.objectives import (
    ObjectiveAuditConfig,
    audit_objectives,
    candidate_pool,
    pool_lists,
    rank_pool,
)
from audits.tradeoff import pareto_front, tradeoff_sweep, weight_grid
from audits.transparency import order_is_truthful, statement
from recengine.business import business_attributes, flagged_mask, simulate_column, unit_profit
from recengine.list_metrics import (
    catalogue_coverage,
    exposure_counts,
    gini,
    intra_list_diversity,
    jaccard,
)
from recengine.logistic import fit_logistic, sigmoid
from recengine.objectives import OBJECTIVES, SERVED, blend_scores, minmax
from recengine.schema import Dataset
from recengine.subject import Subject


@pytest.fixture(scope="module")
def subject(small_trained) -> Subject:
    return Subject.build(*small_trained)


@pytest.fixture(scope="module")
def engine(subject):
    return subject.served


@pytest.fixture(scope="module")
def model(subject):
    return subject.objectives


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
    w, b = fit_logistic([-1, -1, 1, 1], [0, 1, 0, 1], l2=1e-6)  # x says nothing, balanced
    assert w[0] == pytest.approx(0, abs=1e-6) and b == pytest.approx(0, abs=1e-6)
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000)
    y = rng.random(20_000) < sigmoid(2.0 * x - 1.0)
    w, b = fit_logistic(x, y, l2=1e-6)
    assert w[0] == pytest.approx(2.0, abs=0.15) and b == pytest.approx(-1.0, abs=0.1)


def test_business_columns_from_data_or_simulated_and_labelled_so(small_synthetic):
    biz = business_attributes(small_synthetic)
    assert np.array_equal(biz.price, small_synthetic.items["price"].to_numpy())
    assert all(p == "data (simulated by the loader)" for p in biz.provenance.values())
    bare_items = small_synthetic.items[["item_id", "title", "year", "genres"]]
    bare = Dataset(bare_items, small_synthetic.users, small_synthetic.interactions[
        ["user_id", "item_id", "rating", "timestamp"]])
    sim = business_attributes(bare)
    assert set(sim.simulated) == {"price", "margin", "sponsored_bid", "watch_minutes", "labels"}
    assert all(p.startswith("simulated here") for p in sim.provenance.values())
    assert sim.sponsored.sum() == round(0.05 * bare.n_items)
    assert np.array_equal(sim.labels, simulate_column("labels", bare_items, seed=0))
    assert unit_profit([10.0], [0.3], [0.5]).tolist() == [pytest.approx(3.5)]
    assert flagged_mask(["", "scam", "a|b", None]).tolist() == [False, True, True, False]


# ----- on a trained model -------------------------------------------------------------
def test_the_audited_served_list_is_the_served_list_for_every_user(engine, model):
    """One truth: what the audits call "served" is exactly what Engine.recommend returns."""
    users = np.arange(engine.data.n_users)
    pool = candidate_pool(engine, users)
    audited = pool_lists(pool, rank_pool(pool, model.objective(SERVED), 10))
    ids = engine.data.items["item_id"].to_numpy()
    for u, lst in zip(users.tolist(), audited, strict=True):
        uid = int(engine.data.users["user_id"].iloc[u])
        served = [it.item_id for it in engine.recommend(uid, 10).items]
        assert ids[lst].tolist() == served
    audit = audit_objectives(model, ObjectiveAuditConfig(n_users=engine.data.n_users, k=10))
    assert all(np.array_equal(a, b) for a, b in zip(audit.lists[SERVED], audited, strict=True))


def test_the_statement_matches_the_order_of_every_list(engine, model):
    for u in range(0, engine.data.n_users, 7):
        uid = int(engine.data.users["user_id"].iloc[u])
        for name in OBJECTIVES:
            objective = model.objective(name)
            result = engine.recommend(uid, 10, objective=objective)
            assert order_is_truthful(result)
            assert statement(result).startswith(objective.rule)
            if name == "rating":  # "ordered by predicted rating" means exactly that
                ratings = [it.predicted_rating for it in result.items]
                assert ratings == sorted(ratings, reverse=True)
            if name == SERVED:  # each score is the ranking stage's, split exactly
                for it in result.items:
                    assert sum(it.contributions.values()) + result.intercept == \
                        pytest.approx(it.score, abs=1e-9)
    served = engine.recommend(int(engine.data.users["user_id"].iloc[0]), 10)
    assert "v_u·v_m" not in served.score_meaning  # the stage's score, named as such
    assert "learned ranking stage" in served.ordering_rule


def test_pool_ranking_is_the_engines_ranking(engine, model):
    users = np.arange(20)
    profit = model.objective("profit")
    pool = candidate_pool(engine, users)
    ours = pool_lists(pool, rank_pool(pool, profit, 10))
    theirs = engine.recommend_topk_batch(users, 10, objective=profit)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_predicted_ratings_carry_the_bias_terms(engine, subject):
    """The one rating prediction equals the bundle's own predict on the same vectors."""
    bundle = subject.bundle
    u = np.repeat(np.arange(5), 4)
    i = np.tile(np.arange(4), 5)
    np.testing.assert_allclose(subject.protocol.pair_ratings(u, i), bundle.predict(u, i),
                               rtol=1e-6)
    cands = engine.candidates(int(engine.data.users["user_id"].iloc[2]))
    scorer = engine.scorer
    a, c = (float(w) for w in scorer.model.get_layer("rating_dot").get_weights())
    z = a * cands.dots + c + cands.user_bias + scorer.item_bias[cands.items]
    np.testing.assert_allclose(cands.ratings, scorer.spec.unscale_rating(z), rtol=1e-6)


def test_profit_promotes_the_planted_sponsored_items(audit, model):
    share = audit.metrics["sponsored_share"]
    catalogue_share = model.business.sponsored.mean()
    assert share["profit"] > 3 * share[SERVED]
    assert share["profit"] > 3 * catalogue_share
    assert audit.metrics.loc["profit", "expected_profit"] > \
        audit.metrics.loc[SERVED, "expected_profit"]
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
        assert row["overlap_with_served"] == pytest.approx(np.mean(
            [jaccard(a, b) for a, b in zip(lists, audit.lists[SERVED], strict=True)]))
    assert np.allclose(np.diag(audit.overlap), 1.0)
    assert audit.overlap.loc[SERVED, "profit"] < 1.0
    assert set(audit.simulated) >= {"expected_profit", "flagged_share"}, "synthetic is simulated"


def test_tradeoff_sweep_ends_match_the_single_objectives(model, audit):
    cfg = ObjectiveAuditConfig(n_users=150, k=10)
    sweep = tradeoff_sweep(model, cfg, steps=3)
    assert sweep["setting"].tolist() == [SERVED] + ["blend"] * 6
    assert sweep.iloc[0]["mean_predicted_rating"] == pytest.approx(
        audit.metrics.loc[SERVED, "mean_predicted_rating"])
    blends = sweep[sweep["setting"] == "blend"]
    pure_rating = blends[blends["w_rating"] == 1.0].iloc[0]
    assert pure_rating["mean_predicted_rating"] == pytest.approx(
        audit.metrics.loc["rating", "mean_predicted_rating"])
    pure_profit = blends[blends["w_profit"] == 1.0].iloc[0]
    assert pure_profit["expected_profit"] == pytest.approx(
        audit.metrics.loc["profit", "expected_profit"])
    pts = blends[["mean_predicted_rating", "expected_watch_minutes", "expected_profit"]]
    assert blends["pareto"].tolist() == pareto_front(pts.to_numpy()).tolist()


def test_one_user_side_by_side_says_why(model, engine):
    uid = int(engine.data.users["user_id"].iloc[3])
    cmp = compare_user(model, uid, k=10)
    assert set(cmp.lists) == set(OBJECTIVES)
    served = [it.item_id for it in engine.recommend(uid, 10).items]
    assert cmp.lists[SERVED]["item_id"].tolist() == served
    served_ids = set(served)
    promoted = cmp.changes[(cmp.changes["objective"] == "profit")
                           & (cmp.changes["change"] == "promoted")]
    assert set(promoted["item_id"]) == set(cmp.lists["profit"]["item_id"]) - served_ids
    assert promoted["reason"].str.startswith("promoted by profit:").all()
    bids = engine.data.items.set_index("item_id").loc[promoted["item_id"], "sponsored_bid"]
    for reason, bid in zip(promoted["reason"], bids, strict=True):
        assert ("sponsored bid" in reason) == (bid > 0)
    dropped = cmp.changes[(cmp.changes["objective"] == "profit")
                          & (cmp.changes["change"] == "dropped")]
    assert set(dropped["item_id"]) == served_ids - set(cmp.lists["profit"]["item_id"])
    assert isinstance(cmp.changes, pd.DataFrame)
