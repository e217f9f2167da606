"""Viewer controls on a small trained model: each control's effect, checked by hand.

Every expected list below is rebuilt from the engine's own public pieces
(candidates, rank, top lists, vectors), so a control is shown to do what its
docstring says and nothing else.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from recengine.controls import (
    GENRE_PENALTY,
    SEED_SOURCES,
    ViewerControls,
    apply_controls,
    dismiss,
    list_diff,
    mmr_order,
    rescore,
    seed_positions,
)
from recengine.list_metrics import intra_list_diversity
from recengine.policy import ContentPolicy
from recengine.results import RankedItem, RecommendationResult
from recengine.serving import serving_engine
from recengine.subject import Subject

K = 10


@pytest.fixture(scope="module")
def engine(small_trained):
    return serving_engine(*small_trained)


@pytest.fixture(scope="module")
def objectives(small_trained, engine):
    return Subject.build(*small_trained, served=engine).objectives


def ids(result) -> list[int]:
    return [it.item_id for it in result.items]


def dense(engine, item_ids) -> np.ndarray:
    return engine.data.item_index(list(item_ids))


def users(engine, n: int = 40) -> list[int]:
    return engine.data.users["user_id"].tolist()[:n]


def seeds_of(cands, position: int) -> set[int]:
    return {int(h.detail["seed_item_id"]) for h in cands.hits[position]
            if h.source in SEED_SOURCES}


def a_dislike_with_reach(engine):
    """(user, listed item) whose seeds also found other candidates (so there is an effect)."""
    for uid in users(engine):
        cands = engine.candidates(uid)
        listed = ids(engine.recommend(uid, K))
        for item in listed:
            p = cands.position(int(dense(engine, [item])[0]))
            seeds = seeds_of(cands, p)
            reach = [q for q in range(len(cands)) if q != p and seeds & seeds_of(cands, q)]
            if seeds and reach:
                return uid, item
    pytest.skip("no listed item shares its seeds with another candidate")


def test_default_controls_are_the_served_list(engine):
    policy = ContentPolicy(blocked_genres=(engine.data.genre_names[0],))
    for uid in users(engine, 5):
        for pol in (None, policy):
            got, want = apply_controls(engine, uid, K, ViewerControls(), pol), \
                engine.recommend(uid, K, pol)
            assert ids(got) == ids(want)
            assert [it.score for it in got.items] == [it.score for it in want.items]
            assert [a.item_id for a in got.displaced] == [a.item_id for a in want.displaced]
            assert got.ordering_rule == want.ordering_rule


def test_rescoring_with_unchanged_hits_reproduces_the_engine(engine):
    """The ranking stage re-scored by controls.rescore is the engine's own, feature by feature."""
    cands = engine.candidates(users(engine)[0])
    features, served = rescore(engine, cands, cands.hits, seed_positions(engine, cands))
    np.testing.assert_allclose(features, cands.features, rtol=0, atol=1e-9)
    np.testing.assert_allclose(served, cands.served, rtol=0, atol=1e-9)


def test_not_interested_removes_the_item_and_keeps_it_out(engine):
    uid, item = a_dislike_with_reach(engine)
    controls = ViewerControls(not_interested=(item,))
    first = apply_controls(engine, uid, K, controls)
    again = apply_controls(engine, uid, K, controls)
    assert item in ids(engine.recommend(uid, K))
    assert item not in ids(first)
    assert ids(again) == ids(first), "the next request with the same controls: same list"
    assert first.dismissal.removed == (item,)


def test_not_interested_seeds_mode_by_hand(engine):
    """Candidates found only via the disliked item's seeds go; others lose those hits."""
    uid, item = a_dislike_with_reach(engine)
    cands = engine.candidates(uid)
    p = cands.position(int(dense(engine, [item])[0]))
    seeds = seeds_of(cands, p)
    keep, dropped, weakened = [], [], []
    cat_ids = engine.index.catalogue.item_ids
    for q, hits in enumerate(cands.hits):
        if q == p:
            continue
        left = [h for h in hits if not (h.source in SEED_SOURCES
                                        and int(h.detail["seed_item_id"]) in seeds)]
        if not left:
            dropped.append(int(cat_ids[cands.items[q]]))
        else:
            keep.append(int(cat_ids[cands.items[q]]))
            if len(left) < len(hits):
                weakened.append(int(cat_ids[cands.items[q]]))
    out, what, penalty = dismiss(engine, cands, [item], "seeds")
    assert penalty is None
    assert set(what.seeds) == seeds
    assert list(cat_ids[out.items]) == keep
    assert list(what.dropped) == dropped and list(what.weakened) == weakened
    assert dropped or weakened, "the dislike reached other candidates"
    for hits in out.hits:
        assert not any(h.source in SEED_SOURCES and int(h.detail["seed_item_id"]) in seeds
                       for h in hits)
    # the weakened ones were re-scored by the ranking stage: their served score moved
    before = dict(zip(cat_ids[cands.items].tolist(), cands.served.tolist(), strict=True))
    after = dict(zip(cat_ids[out.items].tolist(), out.served.tolist(), strict=True))
    assert all(after[i] != pytest.approx(before[i], abs=1e-9) for i in weakened)
    assert all(after[i] == pytest.approx(before[i], abs=1e-9) for i in keep
               if i not in weakened)
    # and the list is the engine's ranking of exactly those candidates
    result = apply_controls(engine, uid, K, ViewerControls(not_interested=(item,)))
    assert ids(result) == ids(engine.rank(out, K, None, uid))


def test_not_interested_genre_mode_by_hand(engine):
    uid = users(engine)[0]
    item = ids(engine.recommend(uid, K))[0]
    cands = engine.candidates(uid)
    controls = ViewerControls(not_interested=(item,), not_interested_mode="genre")
    result = apply_controls(engine, uid, K, controls)
    j = int(dense(engine, [item])[0])
    gm = engine.index.genre_matrix
    rest = cands.items[cands.items != j]
    served = dict(zip(cands.items.tolist(), cands.served.tolist(), strict=True))
    spread = max(served[x] for x in rest.tolist()) - min(served[x] for x in rest.tolist())
    expected = {int(engine.index.catalogue.item_ids[x]):
                served[x] - GENRE_PENALTY * spread * float((gm[x] & gm[j]).any())
                for x in rest.tolist()}
    top = sorted(expected, key=lambda i: (-expected[i], int(dense(engine, [i])[0])))[:K]
    assert item not in ids(result)
    assert ids(result) == top
    for it in result.items:
        assert it.score == pytest.approx(expected[it.item_id], abs=1e-9)
    assert result.dismissal.weakened, "items sharing its genres were penalised"


@pytest.mark.parametrize("source", ["similar", "region", "cowatched"])
def test_a_hidden_source_contributes_nothing(engine, source):
    uid = next(u for u in users(engine)
               if any(h.source == source for it in engine.recommend(u, K).items
                      for h in it.sources))
    result = apply_controls(engine, uid, K, ViewerControls(hidden_sources={source}))
    by_hand = engine.rank(engine.candidates_at(int(engine.data.user_index(uid)[0]), None,
                                               frozenset({source})), K, None, uid)
    assert not any(h.source == source for it in result.items for h in it.sources)
    assert ids(result) == ids(by_hand)
    assert [it.score for it in result.items] == [it.score for it in by_hand.items]
    assert ids(result) != ids(engine.recommend(uid, K)), "hiding it changed the list"
    assert result.skipped_sources[source] == "hidden at your request"


def test_switching_the_objective_orders_by_it(engine, objectives):
    uid = users(engine)[1]
    cands = engine.candidates(uid)
    for name, weights in (("rating", (0.6, 0.2, 0.2)), ("profit", (0.6, 0.2, 0.2)),
                          ("blend", (0.0, 1.0, 1.0))):
        controls = ViewerControls(objective=name, weights=weights)
        result = apply_controls(engine, uid, K, controls, objectives=objectives)
        want = engine.rank(cands, K, objectives.objective(name, controls.weight_map), uid)
        assert ids(result) == ids(want) and result.objective == name
        assert result.ordering_rule == want.ordering_rule
    rating = apply_controls(engine, uid, K, ViewerControls(objective="rating"),
                            objectives=objectives)
    scores = [it.predicted_rating for it in rating.items]
    assert scores == sorted(scores, reverse=True)


def test_the_non_profiling_list_is_the_same_for_everyone(engine):
    a, b = users(engine)[0], users(engine)[1]
    ha = set(engine.index.watched(int(engine.data.user_index(a)[0])).tolist())
    hb = set(engine.index.watched(int(engine.data.user_index(b)[0])).tolist())
    assert ha != hb, "two users with different histories"
    controls = ViewerControls(non_profiling=True)
    ra, rb = (apply_controls(engine, u, K, controls) for u in (a, b))
    top = engine.index.catalogue.item_ids[engine.index.top_overall[:K]].tolist()
    assert ids(ra) == ids(rb) == top
    assert ids(ra) != ids(engine.recommend(a, K))
    assert ra.ordering_rule.startswith("Not based on profiling")
    assert all(math.isnan(it.predicted_rating) for it in ra.items)
    region = engine.index.region_names[0]
    controls = ViewerControls(non_profiling=True, region=region)
    ra, rb = (apply_controls(engine, u, K, controls) for u in (a, b))
    code = engine.index.region_code(region)
    assert ids(ra) == ids(rb) == engine.index.catalogue.item_ids[
        engine.index.top_in_region[code][:K]].tolist()
    assert all(h.source == "region" and h.detail["region"] == region
               for it in ra.items for h in it.sources)
    # the score is what ordered it: ratings from that region
    u_region = engine.index.user_region[engine.history["u"].to_numpy()]
    first = int(dense(engine, [ra.items[0].item_id])[0])
    count = int(((engine.history["i"].to_numpy() == first) & (u_region == code)).sum())
    assert ra.items[0].score == count


def test_more_variety_raises_diversity_at_the_reported_cost(engine):
    vec = engine.item_vectors

    def ild(uid, controls):
        return intra_list_diversity(vec[dense(engine, ids(apply_controls(engine, uid, K,
                                                                         controls)))])

    # greedy MMR lowers the *closest* similarity, so one list's mean pairwise diversity
    # may dip; over users it rises
    some = users(engine)[:10]
    assert np.mean([ild(u, ViewerControls(diversity=0.7)) for u in some]) > \
        np.mean([ild(u, ViewerControls()) for u in some])
    uid = users(engine)[2]
    plain = apply_controls(engine, uid, K, ViewerControls())
    varied = apply_controls(engine, uid, K, ViewerControls(diversity=0.7))
    ild_plain = intra_list_diversity(vec[dense(engine, ids(plain))])
    ild_varied = intra_list_diversity(vec[dense(engine, ids(varied))])
    cost = varied.diversity
    assert cost.ild_before == pytest.approx(ild_plain) and cost.ild_after == pytest.approx(
        ild_varied)
    by_hand = (np.mean([it.predicted_rating for it in plain.items])
               - np.mean([it.predicted_rating for it in varied.items]))
    assert cost.cost == pytest.approx(by_hand, abs=1e-12)
    assert [it.rank for it in varied.items] == list(range(1, K + 1))
    # each item keeps the score the plain order gave it
    cands = engine.candidates(uid)
    served = dict(zip(engine.index.catalogue.item_ids[cands.items].tolist(),
                      cands.served.tolist(), strict=True))
    assert all(it.score == pytest.approx(served[it.item_id]) for it in varied.items)


def test_mmr_by_hand():
    """Two near-duplicates on top: with variety the third, different one comes second."""
    scores = np.array([1.0, 0.95, 0.5, 0.0])
    vectors = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.7, 0.7]])
    demoted = np.zeros(4, bool)
    assert mmr_order(scores, vectors, demoted, 4, 0.0).tolist() == [0, 1, 2, 3]
    # strength 0.5: after 0, gains are 1: 0.5*0.95 - 0.5*0.995 < 2: 0.5*0.5 - 0 = 0.25
    assert mmr_order(scores, vectors, demoted, 2, 0.5).tolist() == [0, 2]
    demoted[2] = True
    assert mmr_order(scores, vectors, demoted, 4, 0.5).tolist()[-1] == 2


def item(rank: int, item_id: int) -> RankedItem:
    return RankedItem(rank, item_id, f"T{item_id}", "", 0.0, 3.0, [])


def result_of(*item_ids: int) -> RecommendationResult:
    return RecommendationResult(None, [item(r, i) for r, i in enumerate(item_ids, 1)], [], {})


def test_list_diff_by_hand():
    diff = list_diff(result_of(1, 2, 3, 4), result_of(3, 1, 5))
    assert diff.left == (2, 4)
    assert diff.came == (5,)
    assert diff.moved == ((3, 3, 1), (1, 1, 2))
    assert diff.describe() == "2 left: T2, T4 · 1 new: T5 · 2 moved: T3 3→1, T1 1→2"
    same = list_diff(result_of(1, 2), result_of(1, 2))
    assert same.unchanged and same.describe() == "The list did not change."


def test_bad_controls_are_refused():
    with pytest.raises(ValueError, match="mode"):
        ViewerControls(not_interested_mode="later")
    with pytest.raises(ValueError, match="diversity"):
        ViewerControls(diversity=1.5)
    with pytest.raises(ValueError, match="weights"):
        ViewerControls(weights=(0.0, 0.0, 0.0))
    assert ViewerControls(not_interested=[3, 3, 1]).not_interested == (3, 1)


def test_a_visitors_list_takes_the_same_controls(engine):
    from recengine.scoring import UserProfile

    rated = engine.data.items["item_id"].tolist()[:3]
    profile = UserProfile(ratings={i: 5.0 for i in rated}, genres=[engine.data.genre_names[1]])
    plain = apply_controls(engine, None, K, ViewerControls(), profile=profile)
    assert ids(plain) == ids(engine.recommend_new_user(profile, K))
    item = ids(plain)[0]
    cands = engine.visitor_candidates(profile)
    p = cands.position(int(dense(engine, [item])[0]))
    out, what, _ = dismiss(engine, cands, [item], "seeds", profile)
    assert set(what.seeds) == seeds_of(cands, p) and set(what.seeds) <= set(rated)
    # re-scoring a visitor's candidates uses their rated items as seeds, as the engine does
    features, _ = rescore(engine, cands, cands.hits, seed_positions(engine, cands, profile))
    np.testing.assert_allclose(features, cands.features, rtol=0, atol=1e-9)
    result = apply_controls(engine, None, K, ViewerControls(not_interested=(item,),
                                                             hidden_sources={"region"}),
                            profile=profile)
    assert item not in ids(result)
    assert ids(result) == ids(engine.rank(out, K))
    assert any("known users' lists only" in n for n in result.notes)


def test_a_hidden_cowatched_source_feeds_no_ranking_feature(engine):
    from recengine.reranker import FEATURES

    u = 0
    cands = engine.candidates_at(u, None, frozenset({"cowatched"}))
    for name in ("cowatch_hits", "cowatch_affinity"):
        assert not cands.features[:, FEATURES.index(name)].any()


def test_the_controls_in_one_line():
    assert ViewerControls().is_default
    assert ViewerControls().describe() == (
        "Ordered by the served order (learned ranking stage); nothing marked not interested.")
    set_ = ViewerControls(objective="blend", weights=(0.5, 0.25, 0.25), non_profiling=True,
                          region="north", hidden_sources={"genre", "cowatched"}, diversity=0.3,
                          not_interested=(4, 9))
    assert not set_.is_default
    assert set_.describe() == (
        "Ordered by a blend of predicted rating 0.5, expected watch time 0.25, expected "
        "revenue to the service 0.25; not based on profiling (popular in north); sources "
        "hidden: cowatched, genre; more variety 0.3; 2 items marked not interested.")
    assert ViewerControls(not_interested=(4,), non_profiling=True).describe() == (
        "Ordered by the served order (learned ranking stage); not based on profiling "
        "(popular in the whole catalogue); 1 item marked not interested.")
