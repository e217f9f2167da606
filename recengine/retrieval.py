"""Retrieval: a broad candidate list from several cheap sources, with provenance.

The course's recipe: the 10 most similar items for each of the last 10 watched,
the top 10 in each of the user's 3 most watched genres, the top 20 in the user's
country; merge, keep every source's claim, drop what the user already watched.

Everything proportional to the catalogue or the history (top lists, each user's
watch order and genres) is precomputed once in a :class:`RetrievalIndex`, so a
request only slices arrays. A source is one function ``(RetrievalContext) ->
list[Candidate]`` registered in :data:`SOURCES`; adding "trending" or "editor's
picks" is one function and one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from .cowatch import CowatchTable, build_cowatch_table
from .item_model import ItemModel, ItemModelConfig, build_item_model
from .results import SourceHit
from .schema import Dataset
from .similarity import SimilarTable

TOP_RULES = ("popularity", "mean_rating")


@dataclass
class RetrievalConfig:
    """How broad retrieval is; defaults are the course's figures.

    ``top_rule`` ranks the top-in-genre and top-in-region lists by interaction
    count ("popularity") or by mean rating among items with at least
    ``min_ratings_for_mean`` ratings ("mean_rating").
    """

    #: the seeds say 10; 20 measured better on a validation split taken from train
    #: (bench/retrieval_tradeoff.py has the sweep)
    similar_per_item: int = 20
    last_watched: int = 10
    genre_top: int = 10
    n_genres: int = 3
    region_top: int = 20
    #: stands in for the region list where a user has no known region (the data has
    #: no location, or this user none): the top items overall, the seeds' fallback
    overall_top: int = 20
    #: co-watched items ("people who watched X also watched Y") per seed, from a table
    #: of each item's ``cowatch_neighbours`` strongest co-watched items (0: no table)
    cowatched_per_item: int = 10
    cowatch_neighbours: int = 50
    top_rule: str = "popularity"
    min_ratings_for_mean: int = 10
    #: "often liked by people like you": the top items of an EASE-style item model over
    #: the whole history (recengine.item_model); 0 proposes none (the model still feeds
    #: the ranking stage)
    item_model_top: int = 20
    item_model_items: int = ItemModelConfig.top_items  # items it covers (0: no model)
    item_model_l2: float = ItemModelConfig.l2
    sources: tuple[str, ...] = ("similar", "cowatched", "genre", "region", "overall",
                                "item_model")

    def __post_init__(self) -> None:
        if self.top_rule not in TOP_RULES:
            raise ValueError(f"unknown top_rule {self.top_rule!r}: use one of {TOP_RULES}")


class Candidate(NamedTuple):
    """One source's proposal: a dense item index and the evidence for it.

    A plugged-in source may return these or plain ``(item_idx, hit)`` pairs,
    which the merge reads the same way; the built-in sources build plain pairs,
    because a named tuple costs several times as much to make and a request
    makes hundreds (bench/recommend_latency.py times the whole request).
    """

    item_idx: int
    hit: SourceHit


def joined_tokens(joined: str) -> set[str]:
    """The lower-cased, stripped, non-empty parts of a "|"-joined column value."""
    return {t.strip().lower() for t in joined.split("|") if t.strip()}


class SourceSkipped(Exception):  # noqa: N818 - it is a signal, not a failure
    """Raised by a source that cannot run for this request; the reason is shown."""


@dataclass
class Catalogue:
    """Item columns as numpy arrays, so a request never touches a DataFrame."""

    item_ids: np.ndarray  # int64
    titles: np.ndarray  # object
    genres: np.ndarray  # object, "|"-joined
    labels: np.ndarray  # object, "|"-joined, "" when none
    tags: np.ndarray  # object, "|"-joined, "" when none
    #: (column, lower-cased token) -> items carrying it; built on first ask (see token_mask)
    _token_masks: dict[tuple[str, str], np.ndarray] = field(
        default_factory=dict, repr=False, compare=False)

    def token_mask(self, column: str, token: str) -> np.ndarray:
        """Bool mask over the catalogue: items whose ``column`` (genres, labels) has ``token``.

        A content policy asks the same few questions of every request's
        candidates; answering them once per catalogue turns a per-candidate
        string split into one array lookup. Case-insensitive, like the policy.
        """
        key = (column, token.strip().lower())
        mask = self._token_masks.get(key)
        if mask is None:
            joined = {"genres": self.genres, "labels": self.labels}[column]
            mask = np.fromiter((key[1] in joined_tokens(s) for s in joined.tolist()),
                               dtype=bool, count=len(joined))
            self._token_masks[key] = mask
        return mask

    @classmethod
    def from_items(cls, items: pd.DataFrame) -> Catalogue:
        def col(name: str) -> np.ndarray:
            if name not in items.columns:
                return np.full(len(items), "", dtype=object)
            return items[name].fillna("").astype(str).to_numpy(dtype=object)

        return cls(items["item_id"].to_numpy(dtype=np.int64), col("title"), col("genres"),
                   col("labels"), col("tags"))


@dataclass
class RetrievalIndex:
    """Everything retrieval precomputes from data, history and the similar table."""

    catalogue: Catalogue
    table: SimilarTable
    config: RetrievalConfig
    genre_names: list[str]
    genre_matrix: np.ndarray  # (n_items, n_genres) bool
    top_in_genre: list[np.ndarray]  # per genre code: item indices, best first
    genres_by_popularity: np.ndarray  # genre codes, most watched overall first
    region_names: list[str]
    top_in_region: list[np.ndarray]  # per region code: item indices, best first
    user_region: np.ndarray  # (n_users,) region code, -1 unknown
    #: the data's reason the region source cannot run at all, or None
    region_unavailable: str | None
    hist_indptr: np.ndarray  # (n_users + 1,) into hist_items
    hist_items: np.ndarray  # each user's items, most recent first
    user_top_genres: np.ndarray  # (n_users, n_genres) genre codes, -1 padded
    top_overall: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cowatch: CowatchTable | None = None
    item_model: ItemModel | None = None
    _genre_pos: dict[str, int] = field(default_factory=dict, repr=False)
    _region_pos: dict[str, int] = field(default_factory=dict, repr=False)

    def watched(self, user_idx: int) -> np.ndarray:
        """The user's history items, most recent first."""
        return self.hist_items[self.hist_indptr[user_idx]:self.hist_indptr[user_idx + 1]]

    def genre_code(self, name: str) -> int:
        try:
            return self._genre_pos[name]
        except KeyError:
            raise KeyError(f"unknown genre {name!r}; known: {', '.join(self.genre_names)}") \
                from None

    def region_code(self, name: object) -> int:
        return self._region_pos.get(str(name), -1) if name is not None else -1


@dataclass
class RetrievalContext:
    """One request: whose history seeds the sources and what to exclude."""

    index: RetrievalIndex
    seeds: np.ndarray  # item indices, most recent first
    genres: list[int]  # genre codes, strongest first
    region: str | None
    watched: np.ndarray  # item indices never to return
    #: sources the person asked not to use for this request (viewer controls)
    hidden: frozenset[str] = frozenset()


@dataclass
class Retrieved:
    """Merged candidates with every source's hits, and the funnel so far."""

    items: np.ndarray  # dense indices, in order of discovery
    hits: list[list[SourceHit]]  # parallel to items
    stage_counts: dict[str, int]
    skipped: dict[str, str]


#: what a source returns: (dense item index, hit) pairs, plain or as :class:`Candidate`
Proposals = list[tuple[int, SourceHit]]
Source = Callable[[RetrievalContext], Proposals]


# ----- sources ------------------------------------------------------------------------
def similar_source(ctx: RetrievalContext) -> Proposals:
    """Nearest items of each seed (the user's last watched) from the similar table."""
    cfg, cat, table = ctx.index.config, ctx.index.catalogue, ctx.index.table
    seeds = ctx.seeds[:cfg.last_watched]
    if len(seeds) == 0:
        raise SourceSkipped("no watched or rated items to find similar items for")
    n = min(cfg.similar_per_item, table.n_neighbours)
    idx, dist = table.indices[seeds, :n], table.distances[seeds, :n]
    out: Proposals = []
    for s, row_idx, row_dist in zip(seeds.tolist(), idx.tolist(), dist.tolist(), strict=True):
        seed_id, seed_title = int(cat.item_ids[s]), cat.titles[s]
        out += [(j, SourceHit("similar", {
                    "seed_item_id": seed_id, "seed_title": seed_title, "distance": d}))
                for j, d in zip(row_idx, row_dist) if j >= 0]
    return out


def cowatched_source(ctx: RetrievalContext) -> Proposals:
    """Items most often watched together with each seed, by other users."""
    cfg, cat, table = ctx.index.config, ctx.index.catalogue, ctx.index.cowatch
    if table is None:
        raise SourceSkipped("no co-watch table (cowatch_neighbours is 0)")
    seeds = ctx.seeds[:cfg.last_watched]
    if len(seeds) == 0:
        raise SourceSkipped("no watched or rated items to find co-watched items for")
    n = min(cfg.cowatched_per_item, table.n_neighbours)
    out: Proposals = []
    rows_idx, rows_sim = table.indices[seeds, :n].tolist(), table.similarity[seeds, :n].tolist()
    for s, row_idx, row_sim in zip(seeds.tolist(), rows_idx, rows_sim, strict=True):
        seed_id, seed_title = int(cat.item_ids[s]), cat.titles[s]
        out += [(j, SourceHit("cowatched", {
                    "seed_item_id": seed_id, "seed_title": seed_title,
                    "similarity": round(sim, 4)}))
                for j, sim in zip(row_idx, row_sim) if j >= 0]
    return out


def genre_source(ctx: RetrievalContext) -> Proposals:
    """Top items of each of the user's strongest genres."""
    index = ctx.index
    genres = ctx.genres[:index.config.n_genres]
    if not genres:
        raise SourceSkipped("no genres known for this user")
    out = []
    for g in genres:
        name = index.genre_names[g]
        for rank, j in enumerate(index.top_in_genre[g].tolist(), start=1):
            out.append((j, SourceHit("genre", {"genre": name, "rank": rank})))
    return out


def region_source(ctx: RetrievalContext) -> Proposals:
    """Top items among users of the user's region."""
    index = ctx.index
    if index.region_unavailable:
        raise SourceSkipped(index.region_unavailable)
    if ctx.region is None:
        raise SourceSkipped("no region known for this user")
    code = index.region_code(ctx.region)
    if code < 0:
        raise SourceSkipped(f"no history from region {ctx.region!r}")
    return [(j, SourceHit("region", {"region": ctx.region, "rank": rank}))
            for rank, j in enumerate(index.top_in_region[code].tolist(), start=1)]


def overall_source(ctx: RetrievalContext) -> Proposals:
    """Top items overall, for users the region source cannot serve."""
    index = ctx.index
    if (not index.region_unavailable and ctx.region is not None
            and index.region_code(ctx.region) >= 0):
        return []  # the region list serves this user: nothing to stand in for
    return [(j, SourceHit("overall", {"rank": rank}))
            for rank, j in enumerate(index.top_overall.tolist(), start=1)]


def item_model_source(ctx: RetrievalContext) -> Proposals:
    """The item model's best unwatched items for the whole history, with the seed behind each."""
    index, model = ctx.index, ctx.index.item_model
    n = index.config.item_model_top
    if model is None or n <= 0:
        raise SourceSkipped("no item model (item_model_items or item_model_top is 0)")
    if len(ctx.watched) == 0:
        raise SourceSkipped("no watched or rated items for the item model")
    scores = model.user_scores(ctx.watched)
    scores[model.position[ctx.watched][model.position[ctx.watched] >= 0]] = -np.inf
    scores[scores <= 0] = -np.inf  # no positive evidence from the history: not proposed
    n = min(n, int(np.isfinite(scores).sum()))
    top = np.argpartition(-scores, n - 1)[:n] if n else np.zeros(0, np.int64)
    top = top[np.lexsort((model.items[top], -scores[top]))]  # best first, ties by index
    cat, out = index.catalogue, []
    seeds = model.strongest_seeds(ctx.watched, model.items[top]).tolist()
    for rank, (row, seed) in enumerate(zip(top.tolist(), seeds, strict=True), start=1):
        j = int(model.items[row])
        out.append((j, SourceHit("item_model", {
            "rank": rank, "score": round(float(scores[row]), 4),
            "seed_item_id": int(cat.item_ids[seed]) if seed >= 0 else None,
            "seed_title": cat.titles[seed] if seed >= 0 else None})))
    return out


#: name -> source; RetrievalConfig.sources picks which run, in this order.
SOURCES: dict[str, Source] = {
    "similar": similar_source,
    "cowatched": cowatched_source,
    "genre": genre_source,
    "region": region_source,
    "overall": overall_source,
    "item_model": item_model_source,
}


def register_source(name: str, source: Source) -> None:
    """Plug in a source (e.g. "trending"); list its name in RetrievalConfig.sources."""
    SOURCES[name] = source


# ----- merge --------------------------------------------------------------------------
def retrieve(ctx: RetrievalContext) -> Retrieved:
    """Run the configured sources, merge by item keeping all hits, drop watched items."""
    order: dict[int, list[SourceHit]] = {}
    counts: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for name in ctx.index.config.sources:
        if name not in SOURCES:
            raise KeyError(f"unknown retrieval source {name!r}; registered: {sorted(SOURCES)}")
        if name in ctx.hidden:
            skipped[name] = "hidden at your request"
            counts[f"source:{name}"] = 0
            continue
        try:
            found = SOURCES[name](ctx)
        except SourceSkipped as exc:
            skipped[name] = str(exc)
            found = []
        for item_idx, hit in found:
            hits = order.get(item_idx)
            if hits is None:
                order[item_idx] = [hit]
            else:
                hits.append(hit)
        counts[f"source:{name}"] = len({c[0] for c in found})
    items = np.fromiter(order.keys(), dtype=np.int64, count=len(order))
    hits = list(order.values())
    counts["merged"] = len(items)
    if len(items) and len(ctx.watched):
        keep = ~np.isin(items, ctx.watched)
        hits = [h for h, k in zip(hits, keep.tolist(), strict=True) if k]
        items = items[keep]
    counts["after_watched"] = len(items)
    return Retrieved(items, hits, counts, skipped)


# ----- precomputation -----------------------------------------------------------------
def top_genre_codes(genre_counts: np.ndarray, n_genres: int) -> np.ndarray:
    """(n_users, n) each user's most watched genre codes, strongest first, -1 padded.

    ``genre_counts`` is (n_users, n_genres) watches per genre; ties go to the
    lower genre code. The one rule for "a user's genres", whether from the whole
    history (the index) or a reduced one (a counterfactual).
    """
    n = min(int(n_genres), genre_counts.shape[1])
    top = np.argsort(-genre_counts, axis=1, kind="stable")[:, :n]
    return np.where(np.take_along_axis(genre_counts, top, axis=1) > 0, top, -1)


def build_retrieval_index(data: Dataset, history: pd.DataFrame, table: SimilarTable,
                          config: RetrievalConfig | None = None) -> RetrievalIndex:
    """Precompute top lists and per-user arrays from ``history`` (train only, offline)."""
    config = config or RetrievalConfig()
    if len(table.indices) != data.n_items:
        raise ValueError(f"similar table has {len(table.indices)} rows, "
                         f"the catalogue {data.n_items} items")
    u = history["u"].to_numpy(dtype=np.int64)
    i = history["i"].to_numpy(dtype=np.int64)
    if (u < 0).any() or (i < 0).any():
        bad = history.loc[(u < 0) | (i < 0)].index[:5].tolist()
        raise KeyError(f"history rows with users or items not in the data: {bad}")
    rating = history["rating"].to_numpy(dtype=np.float64)
    ts = history["timestamp"].to_numpy(dtype=np.int64)
    n_users, n_items = data.n_users, data.n_items

    count = np.bincount(i, minlength=n_items)
    mean = np.bincount(i, weights=rating, minlength=n_items) / np.maximum(count, 1)

    gm = data.genre_matrix
    gi, gg = np.nonzero(gm[count > 0])
    gi = np.flatnonzero(count > 0)[gi]
    top_in_genre = _top_per_group(gg, gi, count[gi], mean[gi], len(data.genre_names), config,
                                  config.genre_top)
    genre_watch = np.bincount(gg, weights=count[gi], minlength=len(data.genre_names))
    genres_by_popularity = np.lexsort((np.arange(len(genre_watch)), -genre_watch))
    genres_by_popularity = genres_by_popularity[genre_watch[genres_by_popularity] > 0]

    region_names, user_region, top_in_region, unavailable = _regions(data, u, i, rating, config)

    # each user's history, most recent first (ties: later rows first)
    order = np.lexsort((-np.arange(len(u)), -ts, u))
    hist_items = i[order].astype(np.int32)
    hist_indptr = np.r_[0, np.cumsum(np.bincount(u, minlength=n_users))]

    user_genre = np.zeros((n_users, gm.shape[1]), dtype=np.float64)
    for g in range(gm.shape[1]):
        user_genre[:, g] = np.bincount(u, weights=gm[i, g], minlength=n_users)
    top_g = top_genre_codes(user_genre, config.n_genres)

    seen = np.flatnonzero(count > 0)
    top_overall = _top_per_group(np.zeros(len(seen), np.int64), seen, count[seen], mean[seen],
                                 1, config, config.overall_top)[0]

    cowatch = (build_cowatch_table(history, n_items, config.cowatch_neighbours)
               if config.cowatch_neighbours > 0 and len(history) else None)

    item_model = build_item_model(history, n_items, ItemModelConfig(config.item_model_items,
                                                                    config.item_model_l2))

    return RetrievalIndex(
        top_overall=top_overall, cowatch=cowatch, item_model=item_model,
        catalogue=Catalogue.from_items(data.items), table=table, config=config,
        genre_names=list(data.genre_names), genre_matrix=gm, top_in_genre=top_in_genre,
        genres_by_popularity=genres_by_popularity, region_names=region_names,
        top_in_region=top_in_region, user_region=user_region, region_unavailable=unavailable,
        hist_indptr=hist_indptr, hist_items=hist_items,
        user_top_genres=top_g.astype(np.int16),
        _genre_pos={g: k for k, g in enumerate(data.genre_names)},
        _region_pos={r: k for k, r in enumerate(region_names)})


def _regions(data: Dataset, u: np.ndarray, i: np.ndarray, rating: np.ndarray,
             config: RetrievalConfig):
    if not data.has_regions:
        return [], np.full(data.n_users, -1, np.int32), [], "the data has no user location"
    codes, names = pd.factorize(data.users["region"].astype("string"), use_na_sentinel=True)
    codes = codes.astype(np.int32)
    r = codes[u]
    ok = r >= 0
    # (region, item) pairs with their count and mean rating
    key = r[ok].astype(np.int64) * data.n_items + i[ok]
    uniq, inv = np.unique(key, return_inverse=True)
    cnt = np.bincount(inv)
    mean = np.bincount(inv, weights=rating[ok]) / cnt
    top = _top_per_group(uniq // data.n_items, uniq % data.n_items, cnt, mean, len(names),
                         config, config.region_top)
    return [str(x) for x in names], codes, top, None


def _top_per_group(group: np.ndarray, item: np.ndarray, count: np.ndarray, mean: np.ndarray,
                   n_groups: int, config: RetrievalConfig, k: int) -> list[np.ndarray]:
    """Best ``k`` items per group by the configured rule; ties to the lower item index."""
    if config.top_rule == "mean_rating":
        keep = count >= config.min_ratings_for_mean
        group, item, count, mean = group[keep], item[keep], count[keep], mean[keep]
        order = np.lexsort((item, -count, -mean, group))
    else:
        order = np.lexsort((item, -mean, -count, group))
    group, item = group[order], item[order]
    starts = np.searchsorted(group, np.arange(n_groups + 1))
    return [item[starts[g]:min(starts[g] + k, starts[g + 1])].astype(np.int64)
            for g in range(n_groups)]
