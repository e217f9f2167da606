"""Retrieval sources, their precomputed lists, and the merge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recengine.results import SourceHit
from recengine.retrieval import (
    SOURCES,
    Candidate,
    RetrievalConfig,
    RetrievalContext,
    build_retrieval_index,
    register_source,
    retrieve,
)
from recengine.schema import Dataset
from recengine.similarity import SimilarityConfig, build_similar_table

GENRES = ["Action", "Comedy", "Drama", "Horror"]


def random_dataset(seed: int = 0, n_items: int = 50, n_users: int = 12,
                   regions: bool = True) -> Dataset:
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({
        "item_id": np.arange(n_items, dtype=np.int64) + 100,
        "title": [f"Item {j}" for j in range(n_items)],
        "year": np.nan,
        "genres": ["|".join(rng.choice(GENRES, size=rng.integers(1, 3), replace=False))
                   for _ in range(n_items)],
    })
    users = pd.DataFrame({"user_id": np.arange(n_users, dtype=np.int64)})
    if regions:
        users["region"] = rng.choice(["FR", "JP"], size=n_users)
    # skewed popularity so top lists are not all ties
    p = 1.0 / np.arange(1, n_items + 1)
    rows = [(u, i) for u in range(n_users)
            for i in rng.choice(items["item_id"], size=15, replace=False, p=p / p.sum())]
    inter = pd.DataFrame(rows, columns=["user_id", "item_id"])
    inter["rating"] = rng.integers(1, 11, size=len(inter)) / 2
    inter["timestamp"] = rng.permutation(len(inter))
    return Dataset(items, users, inter)


def index_for(data: Dataset, config: RetrievalConfig | None = None):
    x = np.random.default_rng(1).normal(size=(data.n_items, 6)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    table = build_similar_table(x, SimilarityConfig(n_neighbours=10))
    return build_retrieval_index(data, data.interactions, table, config)


def pandas_top(frame: pd.DataFrame, k: int, rule: str = "popularity",
               min_n: int = 0) -> list[int]:
    """Top items of some interactions, computed independently with pandas."""
    stats = frame.groupby("i")["rating"].agg(["size", "mean"]).reset_index()
    if rule == "mean_rating":
        stats = stats[stats["size"] >= min_n]
        stats = stats.sort_values(["mean", "size", "i"], ascending=[False, False, True])
    else:
        stats = stats.sort_values(["size", "mean", "i"], ascending=[False, False, True])
    return stats["i"].head(k).tolist()


@pytest.mark.parametrize("rule", ["popularity", "mean_rating"])
def test_top_in_genre_and_region_match_pandas(rule):
    data = random_dataset()
    cfg = RetrievalConfig(top_rule=rule, min_ratings_for_mean=3, genre_top=5, region_top=7)
    index = index_for(data, cfg)
    inter = data.interactions
    for g, name in enumerate(index.genre_names):
        in_genre = data.items["genres"].str.split("|").apply(lambda gs, n=name: n in gs)
        rows = inter[in_genre.to_numpy()[inter["i"]]]
        assert index.top_in_genre[g].tolist() == pandas_top(rows, 5, rule, 3)
    region_of = data.users["region"].to_numpy()
    for r, name in enumerate(index.region_names):
        rows = inter[region_of[inter["u"]] == name]
        assert index.top_in_region[r].tolist() == pandas_top(rows, 7, rule, 3)


def test_users_history_is_most_recent_first_and_top_genres_are_most_watched():
    data = random_dataset(2)
    index = index_for(data)
    for u in range(data.n_users):
        mine = data.interactions[data.interactions["u"] == u]
        assert index.watched(u).tolist() == \
            mine.sort_values("timestamp", ascending=False)["i"].tolist()
        counts = mine["i"].map(lambda j: data.items["genres"][j]).str.split("|").explode()
        best = counts.value_counts()
        top = [index.genre_names[g] for g in index.user_top_genres[u] if g >= 0]
        assert best[top[0]] == best.max()
        assert len(top) == min(3, len(best))


def test_merge_keeps_every_hit_and_drops_watched_items():
    data = random_dataset(3)
    index = index_for(data)
    u = 0
    watched = index.watched(u)
    ctx = RetrievalContext(index, watched, [int(g) for g in index.user_top_genres[u]
                                            if g >= 0], data.users["region"][u], watched)
    found = retrieve(ctx)
    assert not set(found.items.tolist()) & set(watched.tolist())
    assert len(set(found.items.tolist())) == len(found.items)
    assert found.stage_counts["merged"] >= found.stage_counts["after_watched"] == len(found.items)
    by_item = dict(zip(found.items.tolist(), found.hits, strict=True))
    # an item in several sources' lists carries a hit from each of them
    for j, hits in by_item.items():
        in_region = j in index.top_in_region[index.region_code(ctx.region)].tolist()
        assert in_region == any(h.source == "region" for h in hits)
        in_genres = any(j in index.top_in_genre[g].tolist() for g in ctx.genres)
        assert in_genres == any(h.source == "genre" for h in hits)


def test_region_source_is_skipped_with_the_reason():
    index = index_for(random_dataset(4, regions=False))
    ctx = RetrievalContext(index, index.watched(0), [0], None, index.watched(0))
    found = retrieve(ctx)
    assert found.skipped == {"region": "the data has no user location"}
    assert found.stage_counts["source:region"] == 0
    index = index_for(random_dataset(4))
    found = retrieve(RetrievalContext(index, index.watched(0), [0], "Atlantis",
                                      index.watched(0)))
    assert "Atlantis" in found.skipped["region"]


def test_a_plugged_in_source_is_one_function():
    def editors_picks(ctx: RetrievalContext) -> list[Candidate]:
        return [Candidate(j, SourceHit("editors", {"pick": n}))
                for n, j in enumerate([1, 2, 3])]

    register_source("editors", editors_picks)
    try:
        index = index_for(random_dataset(5), RetrievalConfig(sources=("genre", "editors")))
        found = retrieve(RetrievalContext(index, np.zeros(0, np.int64), [0], None,
                                          np.array([2])))
        assert found.stage_counts["source:editors"] == 3
        hits = dict(zip(found.items.tolist(), found.hits, strict=True))
        assert 2 not in hits and any(h.source == "editors" for h in hits[1])
    finally:
        del SOURCES["editors"]


def test_unknown_source_and_rule_are_refused():
    with pytest.raises(ValueError, match="top_rule"):
        RetrievalConfig(top_rule="vibes")
    index = index_for(random_dataset(6), RetrievalConfig(sources=("trending",)))
    with pytest.raises(KeyError, match="trending"):
        retrieve(RetrievalContext(index, np.zeros(0, np.int64), [], None, np.zeros(0)))
