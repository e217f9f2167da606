"""A visitor's popularity prior: all popularity at 0 ratings, giving way as ratings arrive,
split exactly in the explanation."""

from __future__ import annotations

import numpy as np
import pytest

from recengine.engine import Engine, EngineConfig
from recengine.new_user_prior import (
    NewUserPriorConfig,
    blend_visitor,
    personal_weight,
)
from recengine.scoring import UserProfile, VectorScorer
from recengine.serving import protocol_engine
from recengine.split import temporal_split
from tests.factories import tiny_dataset


def test_the_personal_weight_is_n_over_n_plus_shrink():
    cfg = NewUserPriorConfig(shrink=3.0)
    assert [personal_weight(n, cfg) for n in (0, 1, 3, 9)] == [0.0, 0.25, 0.5, 0.75]
    assert personal_weight(0, NewUserPriorConfig(shrink=0.0)) == 1.0  # prior off


def test_popularity_is_put_on_the_personal_scale_by_hand():
    personal = np.array([3.0, 1.0])  # mean 2, standard deviation 1
    pop = np.log1p([0.0, 3.0])
    blend = blend_visitor(personal, pop, 1, NewUserPriorConfig(1.0))
    np.testing.assert_allclose(blend.prior(pop), [1.0, 3.0])  # z = -1, +1
    # w = 1/2: half of the prior (1, 3) and half of the personal score (3, 1)
    np.testing.assert_allclose(blend.apply(personal, pop), [2.0, 2.0])
    # a subset of the candidates is blended by the same request constants
    np.testing.assert_allclose(blend.apply(personal[1:], pop[1:]), [2.0])
    assert "50% popularity prior" in blend.note()


def test_bad_shrinkage_is_refused_in_one_line():
    with pytest.raises(ValueError, match="shrink must be a finite number >= 0"):
        NewUserPriorConfig(shrink=-1)


def _popularity_top(engine: Engine, k: int, exclude=()) -> list[int]:
    pop = engine.log_popularity.copy()
    pop[list(exclude)] = -np.inf
    order = np.lexsort((np.arange(len(pop)), -pop))[:k]
    return engine.data.items["item_id"].to_numpy()[order].tolist()


def test_with_no_ratings_the_visitor_gets_the_popularity_list():
    data = tiny_dataset(3, with_regions=False)  # no region: the overall-top source is used
    scorer = VectorScorer.random(data.n_items, data.n_users, dim=8, seed=3)
    engine = Engine.build(data, scorer)
    result = engine.recommend_new_user(UserProfile(), k=10)
    assert [it.item_id for it in result.items] == _popularity_top(engine, 10)
    assert any("100% popularity prior and 0% personal" in n for n in result.notes)


def test_the_prior_gives_way_as_ratings_arrive_and_scores_are_the_stated_blend():
    data = tiny_dataset(4, with_regions=False)
    scorer = VectorScorer.random(data.n_items, data.n_users, dim=8, seed=4)
    scorer.item_ids = data.items["item_id"].to_numpy()
    engine = Engine.build(data, scorer, config=EngineConfig(
        new_user_prior=NewUserPriorConfig(shrink=2.0)))
    ids = data.items["item_id"].to_numpy()
    weights = []
    for n in (1, 2, 6):
        profile = UserProfile(ratings={int(i): 4.0 for i in ids[:n]})
        cands = engine.visitor_candidates(profile)
        # by hand: no ranking stage, so the personal score is v_u · v_m
        personal = engine.item_vectors[cands.items] @ scorer.new_user_vector(profile)
        pop = engine.log_popularity[cands.items]
        prior = personal.mean() + personal.std() * (pop - pop.mean()) / pop.std()
        w = n / (n + 2.0)
        np.testing.assert_allclose(cands.served, (1 - w) * prior + w * personal, atol=1e-6)
        weights.append(cands.blend.weight)
    assert weights == pytest.approx([1 / 3, 1 / 2, 3 / 4])


def test_a_visitors_explanation_still_sums_to_each_score(small_trained):
    data, bundle = small_trained
    engine = protocol_engine(data, bundle, temporal_split(data.interactions).train)
    assert engine.reranker is not None
    ids = data.items["item_id"].to_numpy()
    profile = UserProfile(ratings={int(ids[0]): 5.0, int(ids[5]): 4.0, int(ids[9]): 2.0})
    result = engine.recommend_new_user(profile, k=10)
    k = engine.config.new_user_prior.shrink
    share = k / (3 + k)
    assert any(f"{share:.0%} popularity prior" in n for n in result.notes)
    for it in result.items:
        assert sum(it.contributions.values()) + result.intercept == pytest.approx(it.score,
                                                                                  abs=1e-9)
    # re-scoring (the viewer controls) re-applies the same prior to the personal score
    cands = engine.visitor_candidates(profile)
    np.testing.assert_allclose(
        engine.with_visitor_prior(cands, engine.reranker.score(cands.features)), cands.served)
    # a known user's list is untouched by the visitor prior
    known = engine.recommend(int(data.users["user_id"].iloc[0]), 10)
    assert not any("popularity prior" in n for n in known.notes)
