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
from pathlib import Path

import numpy as np
import pandas as pd

from .policy import ContentPolicy
from .ranking import Objective, rank_candidates
from .reranker import Reranker, candidate_features
from .results import RankedItem, RecommendationResult
from .retrieval import (
    RetrievalConfig,
    RetrievalContext,
    RetrievalIndex,
    build_retrieval_index,
    retrieve,
)
from .schema import Dataset
from .scoring import Scorer, UserProfile
from .similarity import SimilarityConfig, SimilarTable, build_similar_table, exact_neighbours

NO_HISTORY_NOTE = "no history: genre and region sources only"


@dataclass
class EngineConfig:
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    similarity: SimilarityConfig = field(default_factory=SimilarityConfig)


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
    #: the learned ranking stage (None: rank by v_u · v_m alone, as the seeds do)
    reranker: Reranker | None = None
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
        vectors = np.ascontiguousarray(scorer.item_vectors, dtype=np.float32)
        if len(vectors) != data.n_items:
            raise ValueError(f"the model has {len(vectors)} item vectors, the data "
                             f"{data.n_items} items: trained on another catalogue")
        history = data.interactions if history is None else history
        if "u" not in history.columns or "i" not in history.columns:
            history = history.assign(u=data.user_index(history["user_id"]),
                                     i=data.item_index(history["item_id"]))
        extras = getattr(scorer, "extras", None) or {}
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
        reranker = Reranker.from_arrays(extras)
        return cls(data, scorer, history, similar_table, index, config, vectors, reranker,
                   log_pop.astype(np.float64), log_recent.astype(np.float64))

    @classmethod
    def from_bundle(cls, path: str | Path, data: Dataset | None = None,
                    history: pd.DataFrame | str = "all",
                    config: EngineConfig | None = None) -> Engine:
        """Load a saved model and its data (``metadata["data_source"]``).

        Refuses a bundle trained on other data. Uses the bundle's similar table
        when it has one. ``history="all"`` (serving) never re-recommends anything
        a user rated; ``"train"`` reads only the protocol's train split (offline
        evaluation); a DataFrame is used as given.
        """
        from .bundle import load_bundle
        from .bundle_io import BundleError

        bundle = load_bundle(path)
        meta = bundle.metadata
        if data is None:
            from .data import load_source

            data = load_source(meta["data_source"])
        expected = meta.get("fingerprint")
        if expected and expected != data.fingerprint:
            raise BundleError(f"{path}: trained on other data (fingerprint {expected[:12]}..., "
                              f"this data {data.fingerprint[:12]}...)")
        if isinstance(history, str):
            if history not in ("all", "train"):
                raise ValueError(f"history must be 'all', 'train' or a DataFrame, "
                                 f"got {history!r}")
            if history == "train":
                from .split import temporal_split

                history = temporal_split(data.interactions).train
            else:
                history = data.interactions
        return cls.build(data, bundle, history, config=config)

    # ----- requests -------------------------------------------------------------------
    def recommend(self, user_id: int, k: int = 10, policy: ContentPolicy | None = None,
                  objective: Objective | None = None) -> RecommendationResult:
        """Top ``k`` for a known user; KeyError names an unknown id."""
        u = int(self.data.user_index(user_id)[0])
        ctx, notes = self._user_context(u)
        v_u = np.asarray(self.scorer.user_vector(u), dtype=np.float32)
        return self._answer(int(user_id), ctx, v_u, k, policy, objective, notes,
                            self._user_bias(u))

    def recommend_new_user(self, profile: UserProfile, k: int = 10,
                           policy: ContentPolicy | None = None,
                           objective: Objective | None = None) -> RecommendationResult:
        """Top ``k`` for a visitor described by ratings, liked genres and demographics.

        Rated items seed the similar source and are never returned; genres come
        from the profile first, then from the rated items; with neither, the most
        watched genres overall stand in, and the notes say so.
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
        bias_of = getattr(self.scorer, "new_user_bias", None)
        return self._answer(None, ctx, v_u, k, policy, objective, notes,
                            bias_of(profile) if bias_of else 0.0)

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

    def recommend_topk_batch(self, user_idx, k: int = 10,
                             policy: ContentPolicy | None = None,
                             objective: Objective | None = None) -> list[np.ndarray]:
        """Dense item indices of each user's top ``k`` (offline evaluation)."""
        out = []
        for u in np.asarray(user_idx, dtype=np.int64).tolist():
            ctx, _ = self._user_context(u)
            v_u = np.asarray(self.scorer.user_vector(u), dtype=np.float32)
            found = retrieve(ctx)
            items, demoted, hits, _ = self._apply_policy(found.items, found.hits, policy)
            objective_u = objective or self._stage_objective(ctx, v_u, items, hits)
            out.append(rank_candidates(self.scorer, self.item_vectors, v_u, items, k,
                                       demoted, objective_u).items)
        return out

    def candidate_features(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        """One user's retrieved candidates and the ranking stage's features for them."""
        ctx, _ = self._user_context(u)
        v_u = np.asarray(self.scorer.user_vector(u), dtype=np.float32)
        found = retrieve(ctx)
        return found.items, self._features(ctx, v_u, found.items, found.hits)

    # ----- internals ------------------------------------------------------------------
    def _features(self, ctx: RetrievalContext, v_u: np.ndarray, items: np.ndarray,
                  hits: list) -> np.ndarray:
        cat = self.index.catalogue
        seeds = ctx.seeds[:self.config.retrieval.last_watched].tolist()
        position = {int(cat.item_ids[s]): p for p, s in enumerate(seeds)}
        dots = self.item_vectors[items] @ v_u
        gm = self.index.genre_matrix
        taste = gm[ctx.watched].mean(axis=0) if len(ctx.watched) else np.zeros(gm.shape[1])
        item_bias = getattr(self.scorer, "item_bias", None)
        recent = self.item_vectors[ctx.watched[:50]].mean(axis=0) if len(ctx.watched) \
            else np.zeros(self.item_vectors.shape[1], np.float32)
        recent = recent / max(float(np.linalg.norm(recent)), 1e-9)
        cowatch = self.index.cowatch
        affinity = (cowatch.affinity(ctx.watched[:50], items) if cowatch is not None
                    else np.zeros(len(items)))
        columns = np.c_[self.log_popularity[items],
                        item_bias[items] if item_bias is not None else np.zeros(len(items)),
                        gm[items] @ taste, self.log_recent_popularity[items],
                        self.item_vectors[items] @ recent, affinity]
        return candidate_features(dots, hits, position, columns)

    def _stage_objective(self, ctx: RetrievalContext, v_u: np.ndarray, items: np.ndarray,
                         hits: list) -> Objective | None:
        """The learned ranking stage as an objective over these candidates (or None)."""
        if self.reranker is None or not len(items):
            return None
        scores = self.reranker.score(self._features(ctx, v_u, items, hits))
        by_item = dict(zip(items.tolist(), scores.tolist(), strict=True))
        return Objective("rating", lambda _v, cand: np.array([by_item[j] for j in cand]))

    def _user_bias(self, u: int) -> float:
        biases = getattr(self.scorer, "user_bias", None)
        return float(biases[u]) if biases is not None else 0.0

    def _ratings(self, items: np.ndarray, dots: np.ndarray, user_bias: float) -> np.ndarray:
        """Predicted ratings with the rating head's bias terms when the model has them."""
        if hasattr(self.scorer, "item_bias"):
            return self.scorer.to_rating(dots, item_idx=items, user_bias=user_bias)
        return self.scorer.to_rating(dots)

    def _user_context(self, u: int) -> tuple[RetrievalContext, list[str]]:
        index, cfg = self.index, self.config.retrieval
        watched = index.watched(u)
        genres = [int(g) for g in index.user_top_genres[u] if g >= 0]
        notes = []
        if not len(watched):
            notes.append(NO_HISTORY_NOTE)
            genres = index.genres_by_popularity[:cfg.n_genres].tolist()
            notes.append("no watched genres: using the most watched genres overall")
        code = int(index.user_region[u])
        region = index.region_names[code] if code >= 0 else None
        return RetrievalContext(index, watched, genres, region, watched), notes

    def _apply_policy(self, items: np.ndarray, hits: list, policy: ContentPolicy | None):
        if policy is None:
            return items, np.zeros(len(items), bool), hits, ([], {})
        keep, demoted, actions = policy.apply(self.index.catalogue, items)
        items = items[keep]
        hits = [h for h, ok in zip(hits, keep.tolist(), strict=True) if ok]
        demoted_mask = np.fromiter((j in demoted for j in items.tolist()), bool, len(items))
        return items, demoted_mask, hits, (actions, demoted)

    def _answer(self, user_id: int | None, ctx: RetrievalContext, v_u: np.ndarray, k: int,
                policy: ContentPolicy | None, objective: Objective | None,
                notes: list[str], user_bias: float = 0.0) -> RecommendationResult:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        found = retrieve(ctx)
        items, demoted_mask, hits, (actions, demoted) = self._apply_policy(
            found.items, found.hits, policy)
        stage = objective or self._stage_objective(ctx, v_u, items, hits)
        ranked = rank_candidates(self.scorer, self.item_vectors, v_u, items, k,
                                 demoted_mask, stage)
        ranked.ratings = self._ratings(ranked.items, self.item_vectors[ranked.items] @ v_u,
                                       user_bias)
        hits_of = dict(zip(items.tolist(), hits, strict=True))
        cat = self.index.catalogue
        out = [RankedItem(rank=r, item_id=int(cat.item_ids[j]), title=cat.titles[j],
                          genres=cat.genres[j], score=float(s), predicted_rating=float(p),
                          sources=hits_of[j], demoted_by=demoted.get(j))
               for r, (j, s, p) in enumerate(zip(ranked.items.tolist(), ranked.scores.tolist(),
                                                 ranked.ratings.tolist(), strict=True), start=1)]
        counts = dict(found.stage_counts)
        counts["after_policy"] = len(items)
        counts["returned"] = len(out)
        notes = list(notes)
        if found.skipped:
            notes += [f"{name} source skipped: {why}" for name, why in found.skipped.items()]
        if len(out) < k:
            notes.append(f"only {len(out)} candidates survived retrieval and policy (k={k})")
        return RecommendationResult(user_id=user_id, items=out, filtered=actions,
                                    stage_counts=counts, skipped_sources=dict(found.skipped),
                                    notes=notes,
                                    objective=objective.name if objective else "rating")
