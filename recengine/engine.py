"""The recommendation pipeline: retrieval, content policy, ranking, one result.

An :class:`Engine` ties a model (any :class:`~recengine.scoring.Scorer`) to its
data and to the history it may read (train only when evaluating), precomputes
everything proportional to the catalogue once, and answers requests for known
users, new visitors and similar items. Each answer is a
:class:`~recengine.results.RecommendationResult` that carries its own
provenance, policy actions and funnel, so the app and the audits read it rather
than recompute it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .business import attach_business
from .candidates import Candidates
from .new_user_prior import NewUserPriorConfig, VisitorBlend, blend_visitor
from .policy import ContentPolicy
from .ranking import SERVED, Objective, rank_candidates, rank_order
from .ranking_stage import RankingStage, load_ranking_stage
from .reranker import FEATURE_WORDS, FEATURES, candidate_features
from .results import RankedItem, RecommendationResult
from .retrieval import (
    RetrievalConfig,
    RetrievalContext,
    RetrievalIndex,
    Retrieved,
    build_retrieval_index,
    retrieve,
    top_genre_codes,
)
from .schema import Dataset
from .scoring import Scorer, UserProfile, predict_ratings
from .similarity import SimilarityConfig, SimilarTable, build_similar_table, exact_neighbours

NO_HISTORY_NOTE = "no history: genre and region sources only"
#: the ranking-stage feature a visitor's popularity prior is reported under
POPULARITY_FEATURE = "log_popularity"


@dataclass
class EngineConfig:
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    similarity: SimilarityConfig = field(default_factory=SimilarityConfig)
    #: visitors: how fast the served score moves from popularity to the personal score
    new_user_prior: NewUserPriorConfig = field(default_factory=NewUserPriorConfig)


@dataclass
class Engine:
    """A model, its data, the history it may read, and everything precomputed."""

    data: Dataset
    scorer: Scorer
    history: pd.DataFrame
    similar_table: SimilarTable
    index: RetrievalIndex
    config: EngineConfig
    item_vectors: np.ndarray
    #: the learned ranking stage (None: the served order is v_u · v_m, as the seeds rank)
    reranker: RankingStage | None = None
    log_popularity: np.ndarray | None = None  # log1p of history interactions per item
    log_recent_popularity: np.ndarray | None = None  # the same over the latest 10% of time

    # ----- construction ---------------------------------------------------------------
    @classmethod
    def build(cls, data: Dataset, scorer: Scorer, history: pd.DataFrame | None = None,
              similar_table: SimilarTable | None = None,
              config: EngineConfig | None = None) -> Engine:
        """Precompute the similar table (unless given) and the retrieval index.

        ``history`` is what users watched and what the top lists count; pass the
        train split when evaluating so no test rating leaks into retrieval. Without
        ``similar_table``, the one saved with the model (``scorer.extras``) is used
        when it is wide enough for the retrieval settings; otherwise one is built.
        """
        config = config or EngineConfig()
        data = attach_business(data)
        vectors = np.ascontiguousarray(scorer.item_vectors, dtype=np.float32)
        if len(vectors) != data.n_items:
            raise ValueError(f"the model has {len(vectors)} item vectors, the data "
                             f"{data.n_items} items: trained on another catalogue")
        history = data.interactions if history is None else history
        if "u" not in history.columns or "i" not in history.columns:
            history = history.assign(u=data.user_index(history["user_id"]),
                                     i=data.item_index(history["item_id"]))
        extras = scorer.extras
        if similar_table is None:
            similar_table = SimilarTable.from_extras(extras)
            if (similar_table is not None
                    and similar_table.n_neighbours < config.retrieval.similar_per_item):
                similar_table = None  # too narrow for these settings
        if similar_table is None:
            similar_table = build_similar_table(vectors, config.similarity)
        index = build_retrieval_index(data, history, similar_table, config.retrieval)
        i, ts = history["i"].to_numpy(), history["timestamp"].to_numpy()
        log_pop = np.log1p(np.bincount(i, minlength=data.n_items))
        recent = ts >= np.quantile(ts, 0.9) if len(ts) else np.zeros(0, bool)
        log_recent = np.log1p(np.bincount(i[recent], minlength=data.n_items))
        reranker = load_ranking_stage(extras)
        return cls(data, scorer, history, similar_table, index, config, vectors, reranker,
                   log_pop.astype(np.float64), log_recent.astype(np.float64))

    # ----- what orders the list -------------------------------------------------------
    @property
    def served_objective(self) -> Objective:
        """The order users are served, named for what it is (the audits' baseline)."""
        if self.reranker is None:
            return Objective(SERVED, "Ordered by the two-tower match score v_u·v_m (this model "
                             "has no learned ranking stage)", "match score v_u·v_m")
        top = sorted(self.reranker.importance().items(), key=lambda kv: -kv[1])[:3]
        words = "; ".join(f"{FEATURE_WORDS[name]} ({share:.0%})" for name, share in top)
        return Objective(SERVED, f"Ordered by the learned ranking stage, "
                         f"{self.reranker.description}; its main parameters by importance: "
                         f"{words}", self.reranker.score_meaning)

    # ----- candidates ----------------------------------------------------------------
    def candidates(self, user_id: int, policy: ContentPolicy | None = None) -> Candidates:
        """A known user's candidates after retrieval and policy; KeyError names an unknown id."""
        u = int(self.data.user_index(user_id)[0])
        return self.candidates_at(u, policy)

    def candidates_at(self, u: int, policy: ContentPolicy | None = None,
                      hidden_sources: frozenset[str] = frozenset()) -> Candidates:
        """:meth:`candidates` by dense user index (the audits iterate over indices).

        ``hidden_sources`` are retrieval sources this request leaves out (a viewer
        control): they propose nothing and feed no ranking-stage feature.
        """
        return self._known_user_candidates(u, policy, hidden_sources)[0]

    def _known_user_candidates(self, u: int, policy: ContentPolicy | None,
                               hidden_sources: frozenset[str] = frozenset(),
                               with_unfiltered: bool = False
                               ) -> tuple[Candidates, Candidates | None]:
        """A known user's candidates; with ``with_unfiltered`` also the same request's
        candidates without the policy, sharing its retrieval and feature pass."""
        ctx, notes = self._user_context(u, hidden=hidden_sources)
        v_u = np.asarray(self.scorer.user_vector(u), dtype=np.float32)
        bias, found = self.scorer.user_offset(u), retrieve(ctx)
        if not with_unfiltered:
            return self._candidates(u, ctx, v_u, bias, policy, notes, found), None
        without = self._candidates(u, ctx, v_u, bias, None, notes, found)
        return self._candidates(u, ctx, v_u, bias, policy, notes, found, without), without

    def candidates_without(self, user_id: int, removed_item_ids,
                           policy: ContentPolicy | None = None,
                           hidden_sources: frozenset[str] = frozenset()) -> Candidates:
        """The user's candidates had these items never been in their history.

        The whole per-user path runs again on the reduced history: retrieval's
        seeds, watched items and top genres, ``v_u`` and the rating bias
        recomputed by the model (:meth:`Scorer.history_user`), the policy, and the
        ranking stage's features. Catalogue-wide tables (top lists, popularity,
        co-watch counts) stay as they are: one user's ratings barely move them.
        A removed item is no longer "watched", so it may itself be recommended.
        """
        u = int(self.data.user_index(user_id)[0])
        removed = self.data.item_index(list(removed_item_ids)) if len(removed_item_ids) \
            else np.zeros(0, np.int64)
        ctx, notes = self._user_context(u, removed, hidden_sources)
        mine = self.history[self.history["u"].to_numpy() == u]
        mine = mine[~np.isin(mine["i"].to_numpy(), removed)]
        v_u, bias = self.scorer.history_user(self.data.users.iloc[[u]], mine)
        return self._candidates(u, ctx, np.asarray(v_u, np.float32), bias, policy, notes)

    def visitor_candidates(self, profile: UserProfile,
                           policy: ContentPolicy | None = None) -> Candidates:
        """A visitor's candidates: rated items seed the similar source, genres the genre one.

        Rated items are never returned; genres come from the profile first, then
        from the rated items; with neither, the most watched genres overall stand
        in, and the notes say so.
        """
        cfg, index = self.config.retrieval, self.index
        rated = (self.data.item_index(list(profile.ratings)) if profile.ratings
                 else np.zeros(0, dtype=np.int64))
        genres = [index.genre_code(g) for g in profile.genres]
        if len(rated):
            counts = index.genre_matrix[rated].sum(axis=0)
            genres += [int(g) for g in np.lexsort((np.arange(len(counts)), -counts))
                       if counts[g] > 0]
        genres = list(dict.fromkeys(genres))
        notes = []
        if not len(rated):
            notes.append(NO_HISTORY_NOTE)
        if not genres:
            genres = index.genres_by_popularity[:cfg.n_genres].tolist()
            notes.append("no genres given: using the most watched genres overall")
        region = profile.demographics.get("region")
        ctx = RetrievalContext(index, rated[::-1], genres,
                               None if region is None or pd.isna(region) else str(region),
                               rated)
        v_u = np.asarray(self.scorer.new_user_vector(profile), dtype=np.float32)
        cands = self._candidates(None, ctx, v_u, self.scorer.new_user_bias(profile), policy,
                                 notes)
        return self._with_popularity_prior(cands, len(rated))

    def with_visitor_prior(self, cands: Candidates, personal: np.ndarray) -> np.ndarray:
        """Served scores from personal ones: a visitor's prior re-applied, others unchanged.

        For callers that re-score some candidates (the viewer controls), so a
        visitor's re-scored list carries the same popularity prior as the first.
        """
        personal = np.asarray(personal, np.float64)
        if cands.blend is None:
            return personal
        return cands.blend.apply(personal, self.log_popularity[cands.items])

    def _with_popularity_prior(self, cands: Candidates, n_ratings: int) -> Candidates:
        """A visitor's served score: the popularity prior giving way to the personal score."""
        pop = self.log_popularity[cands.items]
        blend = blend_visitor(cands.served, pop, n_ratings, self.config.new_user_prior)
        cands.served = blend.apply(cands.served, pop)
        cands.blend = blend
        cands.notes.append(blend.note())
        return cands

    # ----- requests -------------------------------------------------------------------
    def recommend(self, user_id: int, k: int = 10, policy: ContentPolicy | None = None,
                  objective: Objective | None = None) -> RecommendationResult:
        """Top ``k`` for a known user (the served order unless an objective is given)."""
        u = int(self.data.user_index(user_id)[0])
        # with a policy, the list without it (for what it displaced) shares this request's
        # retrieval and ranking features: the policy acts after both, item by item
        cands, without = self._known_user_candidates(
            u, policy, with_unfiltered=policy is not None and not policy.is_empty)
        return self.rank(cands, k, objective, int(user_id), without)

    def recommend_new_user(self, profile: UserProfile, k: int = 10,
                           policy: ContentPolicy | None = None,
                           objective: Objective | None = None) -> RecommendationResult:
        """Top ``k`` for a visitor described by ratings, liked genres and demographics."""
        cands = self.visitor_candidates(profile, policy)
        without = (self.visitor_candidates(profile, None)
                   if policy is not None and not policy.is_empty else None)
        return self.rank(cands, k, objective, None, without)

    def recommend_topk_batch(self, user_idx, k: int = 10,
                             policy: ContentPolicy | None = None,
                             objective: Objective | None = None) -> list[np.ndarray]:
        """Dense item indices of each user's top ``k``: the same order :meth:`recommend` gives."""
        objective = objective or self.served_objective
        out = []
        for u in np.asarray(user_idx, dtype=np.int64).tolist():
            cands = self.candidates_at(u, policy)
            out.append(cands.items[rank_candidates(cands, k, objective)])
        return out

    def pair_ratings(self, user_idx, item_idx) -> np.ndarray:
        """Predicted ratings of (user, item) pairs (dense indices), bias terms included.

        The same :func:`~recengine.scoring.predict_ratings` serving uses, one
        user at a time, so an audit's RMSE is the RMSE of the served predictions.
        """
        u = np.asarray(user_idx, np.int64)
        i = np.asarray(item_idx, np.int64)
        out = np.empty(len(u), np.float64)
        order = np.argsort(u, kind="stable")
        bounds = np.flatnonzero(np.diff(u[order])) + 1
        for chunk in np.split(order, bounds) if len(u) else []:
            user = int(u[chunk[0]])
            out[chunk] = predict_ratings(self.scorer, self.scorer.user_vector(user),
                                         self.scorer.user_offset(user), i[chunk])
        return out

    def similar_items(self, item_id: int, n: int = 10) -> pd.DataFrame:
        """The ``n`` nearest items to one item, with squared distances."""
        j = int(self.data.item_index(item_id)[0])
        if n <= self.similar_table.n_neighbours:
            idx, dist = self.similar_table.neighbours(j, n)
            keep = idx >= 0
            idx, dist = idx[keep], dist[keep]
        else:  # wider than the table: one exact query, O(catalogue) but rare
            idx, dist = exact_neighbours(self.item_vectors, self.item_vectors[[j]], n,
                                         exclude=np.array([j]))
            idx, dist = idx[0], dist[0]
        cat = self.index.catalogue
        return pd.DataFrame({"item_id": cat.item_ids[idx], "title": cat.titles[idx],
                             "genres": cat.genres[idx], "distance": dist.astype(float)})

    def candidate_features(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        """One user's retrieved candidates and the ranking stage's features for them."""
        ctx, _ = self._user_context(u)
        v_u = np.asarray(self.scorer.user_vector(u), dtype=np.float32)
        found = retrieve(ctx)
        return found.items, self._features(ctx, v_u, found.items, found.hits)

    # ----- ranking into a result ------------------------------------------------------
    def rank(self, cands: Candidates, k: int, objective: Objective | None = None,
             user_id: int | None = None, without: Candidates | None = None
             ) -> RecommendationResult:
        """The top ``k`` of ``cands`` as a result: every item with its score and its why.

        ``without`` (the same request with no policy) lets the result say which of
        the policy's actions took an item out of the slots the user would have seen.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        objective = objective or self.served_objective
        scores = objective.scores(cands)
        order = rank_order(scores, cands.items, cands.demoted, k)
        parts = (self.reranker.contributions(cands.features[order])
                 if objective.is_served and self.reranker is not None and len(order)
                 else None)
        intercept = self.reranker.intercept if parts is not None else None
        if parts is not None and cands.blend is not None:  # a visitor's prior, split exactly
            parts, intercept = _blend_parts(parts, intercept, cands.blend,
                                            self.log_popularity[cands.items[order]])
        cat = self.index.catalogue
        out = []
        for r, pos in enumerate(order.tolist(), start=1):
            j = int(cands.items[pos])
            why = (dict(zip(self.reranker.part_names, parts[r - 1].tolist(), strict=True))
                   if parts is not None else None)
            out.append(RankedItem(rank=r, item_id=int(cat.item_ids[j]), title=cat.titles[j],
                                  genres=cat.genres[j], score=float(scores[pos]),
                                  predicted_rating=float(cands.ratings[pos]),
                                  sources=cands.hits[pos], demoted_by=cands.demoted_by.get(j),
                                  contributions=why))
        displaced: list = []
        if without is not None and cands.actions:
            shown = set(cat.item_ids[without.items[rank_candidates(without, k, objective)]]
                        .tolist())
            displaced = [a for a in cands.actions if a.item_id in shown]
        counts = dict(cands.retrieved.stage_counts)
        counts["after_policy"] = len(cands.items)
        counts["returned"] = len(out)
        notes = list(cands.notes)
        if cands.retrieved.skipped:
            notes += [f"{name} source skipped: {why}"
                      for name, why in cands.retrieved.skipped.items()]
        if len(out) < k:
            notes.append(f"only {len(out)} candidates survived retrieval and policy (k={k})")
        return RecommendationResult(
            user_id=user_id, items=out, filtered=list(cands.actions),
            stage_counts=counts, skipped_sources=dict(cands.retrieved.skipped), notes=notes,
            objective=objective.name, ordering_rule=objective.rule,
            score_meaning=objective.score_meaning,
            intercept=intercept,
            displaced=displaced)

    # ----- internals ------------------------------------------------------------------
    def _candidates(self, u: int | None, ctx: RetrievalContext, v_u: np.ndarray,
                    user_bias: float, policy: ContentPolicy | None,
                    notes: list[str], found: Retrieved | None = None,
                    unfiltered: Candidates | None = None) -> Candidates:
        """Retrieve (or take ``found``), apply the policy, score.

        Ranking features are always computed over everything retrieved, then the
        rows of the items the policy keeps are taken (a row depends on its item,
        its hits and the user only). So a request with a policy and the same
        request's list without it (``unfiltered``, whose rows are reused) agree
        to the last bit with every other caller of this method.
        """
        found = retrieve(ctx) if found is None else found
        keep, demoted_mask, hits, (actions, demoted) = self._apply_policy(
            found.items, found.hits, policy)
        items = found.items[keep]
        dots = (self.item_vectors[items] @ v_u).astype(np.float64)
        ratings = predict_ratings(self.scorer, v_u, user_bias, items)
        features = None
        served = dots
        if self.reranker is not None and len(items):
            if unfiltered is not None and unfiltered.features is not None:
                every = unfiltered.features
            else:
                every = self._features(ctx, v_u, found.items, found.hits)
            features = every if len(items) == len(found.items) else every[keep]
            served = self.reranker.score(features)
        return Candidates(u, v_u, float(user_bias), items, hits, demoted_mask, demoted,
                          actions, dots, ratings, np.asarray(served, np.float64), features,
                          found, list(notes))

    def _features(self, ctx: RetrievalContext, v_u: np.ndarray, items: np.ndarray,
                  hits: list) -> np.ndarray:
        cat = self.index.catalogue
        seeds = ctx.seeds[:self.config.retrieval.last_watched].tolist()
        position = {int(cat.item_ids[s]): p for p, s in enumerate(seeds)}
        dots = self.item_vectors[items] @ v_u
        gm = self.index.genre_matrix
        taste = gm[ctx.watched].mean(axis=0) if len(ctx.watched) else np.zeros(gm.shape[1])
        recent = self.item_vectors[ctx.watched[:50]].mean(axis=0) if len(ctx.watched) \
            else np.zeros(self.item_vectors.shape[1], np.float32)
        recent = recent / max(float(np.linalg.norm(recent)), 1e-9)
        cowatch = self.index.cowatch
        # a hidden co-watched source feeds no feature either: its affinity reads nothing
        affinity = (cowatch.affinity(ctx.watched[:50], items)
                    if cowatch is not None and "cowatched" not in ctx.hidden
                    else np.zeros(len(items)))
        model = self.index.item_model
        # like co-watch, a hidden item-model source feeds no feature either
        item_model = (model.scores_for(ctx.watched, items)
                      if model is not None and "item_model" not in ctx.hidden
                      else np.zeros(len(items)))
        activity = np.full(len(items), np.log1p(len(ctx.watched)))
        columns = np.c_[self.log_popularity[items], self.scorer.item_bias[items],
                        gm[items] @ taste, self.log_recent_popularity[items],
                        self.item_vectors[items] @ recent, affinity, item_model, activity]
        return candidate_features(dots, hits, position, columns)

    def _user_context(self, u: int, removed: np.ndarray | None = None,
                      hidden: frozenset[str] = frozenset()
                      ) -> tuple[RetrievalContext, list[str]]:
        """A known user's request context; ``removed`` items taken out of their history.

        Without removals the genres are the index's precomputed ones; with them
        the same rule (:func:`~recengine.retrieval.top_genre_codes`) runs on the
        reduced history, so a counterfactual is retrieved as the served list was.
        """
        index, cfg = self.index, self.config.retrieval
        watched = index.watched(u)
        top = index.user_top_genres[u]
        if removed is not None and len(removed):
            watched = watched[~np.isin(watched, removed)]
            counts = index.genre_matrix[watched].sum(axis=0).astype(np.float64)
            top = top_genre_codes(counts[None, :], cfg.n_genres)[0]
        genres = [int(g) for g in top if g >= 0]
        notes = []
        if not len(watched):
            notes.append(NO_HISTORY_NOTE)
            genres = index.genres_by_popularity[:cfg.n_genres].tolist()
            notes.append("no watched genres: using the most watched genres overall")
        code = int(index.user_region[u])
        region = index.region_names[code] if code >= 0 else None
        return RetrievalContext(index, watched, genres, region, watched,
                                frozenset(hidden)), notes

    def _apply_policy(self, items: np.ndarray, hits: list, policy: ContentPolicy | None):
        """(keep mask over ``items``, demoted mask over the kept, kept hits, actions)."""
        if policy is None:
            return np.ones(len(items), bool), np.zeros(len(items), bool), hits, ([], {})
        keep, demoted, actions = policy.apply(self.index.catalogue, items)
        kept = items[keep]
        hits = [h for h, ok in zip(hits, keep.tolist(), strict=True) if ok]
        demoted_mask = np.fromiter((j in demoted for j in kept.tolist()), bool, len(kept))
        return keep, demoted_mask, hits, (actions, demoted)


def _blend_parts(parts: np.ndarray, intercept: float, blend: VisitorBlend,
                 log_popularity: np.ndarray) -> tuple[np.ndarray, float]:
    """The ranking stage's parts scaled by ``w``; the prior's varying part is popularity's.

    ``score = (1-w)·prior + w·(intercept + sum(parts))``; the prior's constant
    goes to the intercept, its popularity-driven rest to the popularity feature,
    so the parts still sum exactly to each served score.
    """
    w = blend.weight
    out = np.asarray(parts, np.float64) * w
    column = FEATURES.index(POPULARITY_FEATURE)
    out[:, column] += (1 - w) * (blend.prior(log_popularity) - blend.centre)
    return out, w * float(intercept) + (1 - w) * blend.centre
