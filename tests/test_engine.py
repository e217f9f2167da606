"""Properties of the whole pipeline on small random catalogues (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recengine.engine import NO_HISTORY_NOTE, Engine, EngineConfig
from recengine.policy import ContentPolicy, PolicyRule
from recengine.ranking import Objective
from recengine.retrieval import RetrievalConfig
from recengine.schema import Dataset
from recengine.scoring import UserProfile, VectorScorer

GENRES = ["Action", "Comedy", "Drama", "Horror", "Sci-Fi"]
LABELS = ["", "", "graphic_violence", "drugs"]


def tiny_dataset(seed: int, n_items: int = 60, n_users: int = 8, per_user: int = 12,
                 regions: bool = True) -> Dataset:
    """Random items with genres and labels, users with (optional) regions, ratings."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({
        "item_id": np.arange(n_items, dtype=np.int64) * 7 + 3,
        "title": [f"Film {j}" for j in range(n_items)],
        "year": 2000.0,
        "genres": ["|".join(rng.choice(GENRES, size=rng.integers(1, 3), replace=False))
                   for _ in range(n_items)],
        "labels": rng.choice(LABELS, size=n_items),
    })
    users = pd.DataFrame({"user_id": np.arange(n_users, dtype=np.int64) + 1000})
    if regions:
        users["region"] = rng.choice(["FR", "DE", "BR"], size=n_users)
    per_user = min(per_user, n_items)
    rows = [(uid, iid) for uid in users["user_id"]
            for iid in rng.choice(items["item_id"], size=rng.integers(1, per_user + 1),
                                  replace=False)]
    inter = pd.DataFrame(rows, columns=["user_id", "item_id"])
    inter["rating"] = rng.integers(1, 6, size=len(inter)).astype(float)
    inter["timestamp"] = rng.integers(0, 1000, size=len(inter))
    return Dataset(items, users, inter)


def engine_for(data: Dataset, seed: int = 0, config: EngineConfig | None = None) -> Engine:
    scorer = VectorScorer.random(data.n_items, data.n_users, dim=8, seed=seed)
    scorer.item_ids = data.items["item_id"].to_numpy()
    return Engine.build(data, scorer, config=config)


def assert_claims_true(engine: Engine, result, seeds, genres, region, watched) -> None:
    """Each SourceHit's evidence can be checked against the precomputed lists."""
    index, cfg = engine.index, engine.config.retrieval
    pos = {int(i): j for j, i in enumerate(index.catalogue.item_ids)}
    for item in result.items:
        assert item.sources, f"item {item.item_id} has no source"
        j = pos[item.item_id]
        for hit in item.sources:
            if hit.source == "similar":
                s = pos[hit.detail["seed_item_id"]]
                assert s in set(seeds)
                row = index.table.indices[s, :cfg.similar_per_item]
                assert j in row.tolist()
                k = row.tolist().index(j)
                assert hit.detail["distance"] == pytest.approx(index.table.distances[s, k])
            elif hit.source == "genre":
                g = index.genre_code(hit.detail["genre"])
                assert g in genres
                assert index.top_in_genre[g][hit.detail["rank"] - 1] == j
            elif hit.source == "region":
                assert hit.detail["region"] == region
                r = index.region_code(region)
                assert index.top_in_region[r][hit.detail["rank"] - 1] == j
            elif hit.source == "cowatched":
                s = engine.data.item_index(hit.detail["seed_item_id"])[0]
                assert s in set(seeds)
                assert j in index.cowatch.indices[s].tolist()
            elif hit.source == "item_model":  # EASE-style score over the whole history
                model = index.item_model
                assert hit.detail["score"] == pytest.approx(
                    model.scores_for(watched, [j])[0], abs=1e-4)
                assert hit.detail["rank"] <= cfg.item_model_top
                seed = engine.data.item_index(hit.detail["seed_item_id"])[0]
                assert seed in set(watched.tolist())
                assert seed == model.strongest_seed(watched, j)
            elif hit.source == "overall":
                assert index.region_code(region) < 0  # only stands in for a missing region
                assert index.top_overall[hit.detail["rank"] - 1] == j
            else:
                pytest.fail(f"unexpected source {hit.source}")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_items=st.integers(12, 80), n_users=st.integers(2, 10),
       k=st.integers(1, 40), regions=st.booleans(),
       blocked=st.lists(st.sampled_from(["graphic_violence", "drugs"]), max_size=2,
                        unique=True))
def test_recommend_properties(seed, n_items, n_users, k, regions, blocked):
    data = tiny_dataset(seed, n_items, n_users, regions=regions)
    engine = engine_for(data, seed)
    policy = ContentPolicy(blocked_labels=tuple(blocked))
    labels = data.items.set_index("item_id")["labels"]
    for u, user_id in enumerate(data.users["user_id"].tolist()):
        result = engine.recommend(user_id, k=k, policy=policy)
        returned = [it.item_id for it in result.items]
        watched = set(data.interactions.loc[data.interactions["u"] == u, "item_id"])
        assert not watched & set(returned)
        assert len(returned) == len(set(returned))
        assert len(returned) <= k
        assert [it.rank for it in result.items] == list(range(1, len(returned) + 1))
        # a blocked item never appears, and every blocked candidate is reported with its rule
        assert all(labels[i] not in blocked for i in returned)
        for action in result.filtered:
            assert action.action == "removed"
            assert action.rule == f"label:{labels[action.item_id]}"
        everything = engine.recommend(user_id, k=10**6)  # every candidate, no policy
        blocked_candidates = {it.item_id for it in everything.items
                              if labels[it.item_id] in blocked}
        assert blocked_candidates == {a.item_id for a in result.filtered}
        assert result.stage_counts["returned"] == len(returned)
        assert (result.stage_counts["after_watched"] - len(result.filtered)
                == result.stage_counts["after_policy"])
        seeds = engine.index.watched(u)[:engine.config.retrieval.last_watched]
        region = data.users["region"].iloc[u] if regions else None
        assert_claims_true(engine, result, seeds, list(engine.index.user_top_genres[u]), region,
                           engine.index.watched(u))
        if not regions:
            assert "region" in result.skipped_sources


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n_rated=st.integers(0, 6), k=st.integers(1, 15))
def test_new_user_properties(seed, n_rated, k):
    data = tiny_dataset(seed, 50, 5)
    engine = engine_for(data, seed)
    rng = np.random.default_rng(seed)
    rated = rng.choice(data.items["item_id"], size=n_rated, replace=False).tolist()
    profile = UserProfile(ratings={i: 5.0 for i in rated}, genres=["Drama"],
                          demographics={"region": "FR"})
    result = engine.recommend_new_user(profile, k=k)
    returned = [it.item_id for it in result.items]
    assert result.user_id is None
    assert not set(rated) & set(returned)
    assert len(returned) == len(set(returned)) and len(returned) <= k
    genres = [engine.index.genre_code("Drama")] + list(range(len(GENRES)))
    seeds = data.item_index(rated)
    assert_claims_true(engine, result, seeds, genres, "FR", seeds)
    if n_rated == 0:
        assert NO_HISTORY_NOTE in result.notes
        assert "similar" in result.skipped_sources


def test_new_user_without_history_uses_genre_and_region_and_says_so():
    engine = engine_for(tiny_dataset(1))
    result = engine.recommend_new_user(UserProfile(demographics={"region": "DE"}), k=10)
    assert len(result.items) == 10
    sources = {h.source for it in result.items for h in it.sources}
    assert sources <= {"genre", "region"} and "region" in sources
    assert NO_HISTORY_NOTE in result.notes
    assert any("most watched genres overall" in n for n in result.notes)
    assert result.stage_counts["source:similar"] == 0


def test_region_is_skipped_with_a_reason_when_data_has_no_location():
    engine = engine_for(tiny_dataset(2, regions=False))
    result = engine.recommend(1000, k=5)
    assert result.skipped_sources["region"] == "the data has no user location"
    assert result.stage_counts["source:region"] == 0
    assert any("region source skipped" in n for n in result.notes)


def test_demoted_items_go_to_the_bottom_with_their_rule():
    data = tiny_dataset(3, n_items=40)
    engine = engine_for(data)
    policy = ContentPolicy(rules=(PolicyRule("genre", "Drama", "demote"),))
    result = engine.recommend(1001, k=1000, policy=policy)
    flags = [it.demoted_by is not None for it in result.items]
    assert any(flags) and not all(flags)
    first_demoted = flags.index(True)
    assert all(flags[first_demoted:])
    assert all(it.demoted_by == "genre:Drama" and "Drama" in it.genres.split("|")
               for it in result.items[first_demoted:])
    demoted_ids = {a.item_id for a in result.filtered if a.action == "demoted"}
    assert demoted_ids == {it.item_id for it in result.items if it.demoted_by}


def test_ranking_is_by_score_and_an_objective_can_replace_it():
    data = tiny_dataset(4)
    engine = engine_for(data)
    default = engine.recommend(1002, k=50)
    scores = [it.score for it in default.items]
    assert scores == sorted(scores, reverse=True)
    assert default.objective == "served"
    assert default.ordering_rule == engine.served_objective.rule
    assert "v_u·v_m" in default.score_meaning  # no ranking stage here: the served score is
    contrarian = Objective("least_liked", "Ordered by the lowest match first",
                           "negated match score", lambda c: -c.dots)
    flipped = engine.recommend(1002, k=50, objective=contrarian)
    assert flipped.objective == "least_liked"
    assert [it.item_id for it in flipped.items] == [it.item_id for it in default.items][::-1]


def test_batch_topk_matches_single_requests():
    data = tiny_dataset(5)
    engine = engine_for(data)
    batch = engine.recommend_topk_batch(np.arange(data.n_users), k=7)
    for u, top in enumerate(batch):
        single = engine.recommend(int(data.users["user_id"].iloc[u]), k=7)
        assert data.items["item_id"].to_numpy()[top].tolist() == \
            [it.item_id for it in single.items]


def test_unknown_ids_raise_key_error_naming_them():
    engine = engine_for(tiny_dataset(6))
    with pytest.raises(KeyError, match="999999"):
        engine.recommend(999999)
    with pytest.raises(KeyError, match="999999"):
        engine.similar_items(999999)
    with pytest.raises(KeyError, match="Western"):
        engine.recommend_new_user(UserProfile(genres=["Western"]))


def test_similar_items_frame_and_wider_than_table_requests_agree():
    data = tiny_dataset(7)
    cfg = EngineConfig()
    cfg.similarity.n_neighbours = 5
    engine = engine_for(data, config=cfg)
    near = engine.similar_items(3, n=5)
    wide = engine.similar_items(3, n=12)
    assert list(near.columns) == ["item_id", "title", "genres", "distance"]
    assert 3 not in near["item_id"].tolist()
    assert near["item_id"].tolist() == wide["item_id"].tolist()[:5]
    assert wide["distance"].is_monotonic_increasing


def test_smaller_retrieval_config_changes_the_funnel():
    data = tiny_dataset(8, n_items=80, per_user=20)
    narrow = EngineConfig(retrieval=RetrievalConfig(similar_per_item=2, last_watched=2,
                                                    genre_top=3, n_genres=1, region_top=4))
    wide = engine_for(data).recommend(1000, k=10).stage_counts
    small = engine_for(data, config=narrow).recommend(1000, k=10).stage_counts
    assert small["source:similar"] <= 4 and small["source:genre"] <= 3
    assert small["source:region"] <= 4
    assert small["merged"] < wide["merged"]


def test_history_decides_what_is_watched_and_what_is_popular():
    """Evaluation passes the train split: test ratings must not reach retrieval."""
    from recengine.split import temporal_split

    data = tiny_dataset(9, n_items=60, n_users=10, per_user=20)
    split = temporal_split(data.interactions, 0.5)
    engine = Engine.build(data, VectorScorer.random(data.n_items, data.n_users, dim=8),
                          history=split.train[["user_id", "item_id", "rating", "timestamp"]])
    index = engine.index
    for u in range(data.n_users):
        assert set(index.watched(u).tolist()) == set(split.train.loc[split.train["u"] == u, "i"])
    only_in_test = set(split.test["i"]) - set(split.train["i"])
    listed = {j for top in index.top_in_genre + index.top_in_region for j in top.tolist()}
    assert only_in_test and not only_in_test & listed


def test_a_policy_request_matches_its_parts_to_the_last_bit():
    """recommend shares one retrieval and one feature pass between the list and the list
    without the policy; what it returns is what the audits' two separate calls give."""
    from recengine.reranker import FEATURES, Reranker

    data = tiny_dataset(3, n_items=120, n_users=30)
    engine = engine_for(data)
    engine.reranker = Reranker(np.zeros(len(FEATURES)), np.ones(len(FEATURES)),
                               np.linspace(1.0, -0.5, len(FEATURES)), 0.1)
    caught = 0
    for policy in (ContentPolicy(blocked_labels=("graphic_violence",)),
                   ContentPolicy(rules=(PolicyRule("genre", "Drama", "demote"),))):
        for user_id in data.users["user_id"].tolist():
            u = int(data.user_index(user_id)[0])
            got = engine.recommend(user_id, k=10, policy=policy)
            apart = engine.rank(engine.candidates_at(u, policy), 10, None, user_id,
                                engine.candidates_at(u, None))
            assert [(i.item_id, i.score, i.contributions) for i in got.items] == \
                [(i.item_id, i.score, i.contributions) for i in apart.items]
            assert [a.item_id for a in got.displaced] == [a.item_id for a in apart.displaced]
            assert [a.item_id for a in got.filtered] == [a.item_id for a in apart.filtered]
            caught += len(got.displaced)
    assert caught > 0, "the policies displaced shown items, so the shared path was exercised"
