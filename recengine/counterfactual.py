"""Counterfactual "why": which of my rated items put this one in my list?

A score breakdown says how much each ranking feature added; it does not say
what the person could do about it. A counterfactual explanation does: "without
*Alien* and *Aliens* in your history, this would not be here" (in the spirit
of PRINCE, Ghazimatin et al., WSDM 2020, on the user's own actions). Every set
claimed here is a **real rerun** of the served pipeline on the reduced history:
retrieval's seeds, watched items and top genres, ``v_u`` and the rating bias
recomputed by the model, the content policy and the ranking stage's features
(:meth:`recengine.engine.Engine.candidates_without`), then
:meth:`~recengine.engine.Engine.rank`. Nothing is approximated by gradients or
feature attributions, so a claim is either confirmed by the pipeline or not made.

"Leaves the list" means: leaves the top k of the items the person has not
rated. ``candidates_without`` may propose a removed item again (it is no longer
watched), but an answer such as "without *Alien*, *Alien* would take its place"
explains nothing, so removed items are left out of every counterfactual list
(:func:`counterfactual_top`), as rated items are left out of the served one.

Why the search is fast enough to show beside every item: a rerun costs a few
milliseconds, most of it one eager Keras call for the user's vector. The search
therefore *screens* many removal sets at once: the user tower runs once, as a
compiled graph, over all their reduced histories (the same features and tower
as :meth:`recengine.bundle.ModelBundle.history_user`, batched; the vectors agree
with the eager ones to float32 rounding, about 1e-7), and then
``candidates_without`` itself runs for each set with that vector plugged in
(:class:`RerunCache`). A screened decision that lies within ``1e-5`` of the
cut is rerun eagerly before it counts. The final set is **verified** by a
fresh, unbatched ``candidates_without`` + ``rank``, which also gives the item's
new rank and what takes its place.

Also here: :func:`similar_first_baseline`, the simple PRINCE-like baseline
(remove the rated items nearest to the item in the embedding, one at a time),
and :func:`score_breakdown`, the cheaper view beside the counterfactual: each
ranking feature's exact part of the score and the retrieval sources with their
evidence.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from .candidates import Candidates
from .engine import Engine
from .policy import ContentPolicy
from .ranking import rank_order
from .ranking_stage import RankingStage
from .reranker import FEATURE_WORDS
from .results import RankedItem

#: the two methods, as ``Counterfactual.method`` names them
SEARCH = "search"
SIMILAR_FIRST = "similar-first"
#: a demoted candidate sorts below every other; in a margin it counts this much lower
_DEMOTED_PENALTY = 1e6
#: a screened margin this close to the cut (in score units) is rerun eagerly before it counts
_NEAR = 1e-5


@dataclass
class CounterfactualConfig:
    """How far the search looks; the defaults answer in tens of milliseconds per item."""

    k: int = 10  #: the list length the item must leave
    max_size: int = 3  #: the largest set of rated items tried
    pool: int = 8  #: how many of the user's rated items the search considers
    #: sets tried at each size from 2 on: the ones an additive model of the drops ranks best
    per_size: int = 4

    def __post_init__(self) -> None:
        for name in ("k", "max_size", "pool", "per_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass
class Counterfactual:
    """One item's counterfactual explanation, with what confirmed it and what it cost."""

    item_id: int
    title: str
    rank: int  #: its rank in the served top k
    removed: list[tuple[int, str]]  #: (item_id, title) of the rated items taken out
    found: bool  #: the search found a set of at most ``max_size`` items
    #: a fresh rerun of the real pipeline on that reduced history confirms it left the top k
    verified: bool
    #: its rank among all candidates after removal (removed items left out); None: not one
    new_rank: int | None
    replacement: tuple[int, str] | None  #: the best new entrant to the top k (not a removed one)
    #: reduced histories this explanation consulted (shared ones included), plus the verification
    tried: int
    seconds: float
    message: str  #: the explanation in plain words, as the app and the CLI show it
    user_id: int | None = None
    k: int = 10
    method: str = SEARCH  #: "search" (ours) or "similar-first" (the baseline)
    #: every proper subset of ``removed`` was rerun and kept the item in the list
    minimal: bool = False
    pool: list[tuple[int, str]] = field(default_factory=list)  #: the rated items considered

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FeaturePart:
    """One ranking feature's exact part of an item's score."""

    feature: str
    words: str  #: the feature in plain words (FEATURE_WORDS)
    contribution: float  #: weight x standardised value
    weight: float | None = None  #: per standard deviation (given the reranker)
    standardised: float | None = None  #: (value - train mean) / train std


@dataclass
class SourceEvidence:
    """One retrieval source's claim on the item, in words and as evidence."""

    source: str
    words: str  #: e.g. "because you watched Alien"
    evidence: str  #: e.g. "distance 0.118", "rank 3"
    detail: dict


@dataclass
class ScoreBreakdown:
    """Why the item has its score (the features) and why it was a candidate (the sources)."""

    item_id: int
    title: str
    score: float
    intercept: float | None  #: None when no learned ranking stage ordered the list
    parts: list[FeaturePart]  #: largest absolute contribution first
    sources: list[SourceEvidence]
    note: str = ""

    @property
    def total(self) -> float | None:
        """Intercept plus every part: equals ``score`` (the stage is linear in its logit)."""
        if self.intercept is None:
            return None
        return float(self.intercept + sum(p.contribution for p in self.parts))

    def to_dict(self) -> dict:
        return {**asdict(self), "total": self.total}


# ----- the reruns -------------------------------------------------------------------------
@dataclass
class _Order:
    """One rerun's full served order: what rank and margin questions read."""

    items: np.ndarray  # dense item indices, best first (every candidate)
    keys: np.ndarray  # served score, demoted ones pushed below every other
    position: dict[int, int]
    exact: bool  # computed by the unbatched, eager pipeline (not screened)

    @classmethod
    def of(cls, engine: Engine, cands: Candidates, removed: frozenset[int] = frozenset(),
           exact: bool = True) -> _Order:
        """The served order of ``cands`` without the removed items (they were rated)."""
        scores = engine.served_objective.scores(cands)
        order = rank_order(scores, cands.items, cands.demoted, len(cands))
        if removed:
            order = order[~np.isin(cands.items[order], list(removed))]
        items = cands.items[order]
        keys = scores[order] - _DEMOTED_PENALTY * cands.demoted[order]
        return cls(items, keys, {int(j): p for p, j in enumerate(items.tolist())}, exact)

    def out(self, j: int, k: int) -> bool:
        """Whether item ``j`` is outside the top ``k`` (or no longer a candidate)."""
        p = self.position.get(j)
        return p is None or p >= k

    def margin(self, j: int, k: int) -> float:
        """How far ``j`` sits above the best item that would take its place (< 0: it left).

        The item's score minus the k-th best score among the other candidates:
        the score drop that matters, since the bar moves with the history too.
        """
        p = self.position.get(j)
        if p is None:
            return -np.inf
        other = k if p < k else k - 1  # the k-th best other candidate
        if other >= len(self.items):
            return np.inf  # too few candidates for it to leave the list
        return float(self.keys[p] - self.keys[other])


class _Prepared:
    """The engine's scorer, answering ``history_user`` from a batch computed beforehand.

    Everything else is the scorer's own. An answer is used only for a history of
    the expected length, so a mismatch falls back to the real computation.
    """

    def __init__(self, scorer) -> None:
        self._scorer = scorer
        self._answer: tuple[int, tuple[np.ndarray, float]] | None = None

    def __getattr__(self, name: str):
        return getattr(self._scorer, name)

    def prepare(self, n_rows: int, answer: tuple[np.ndarray, float]) -> None:
        self._answer = (n_rows, answer)

    def history_user(self, user: pd.DataFrame, history: pd.DataFrame):
        answer, self._answer = self._answer, None
        if answer is None or answer[0] != len(history):
            return self._scorer.history_user(user, history)
        return answer[1]


class RerunCache:
    """One user's pipeline reruns on reduced histories, batched, screened and remembered.

    Keys are frozensets of dense item indices removed from the history. Each
    answer is the full served order of :meth:`Engine.candidates_without` for
    that history, so one rerun answers rank questions for every item of the
    list (:func:`explain_list` shares one cache over all of them).
    :meth:`orders` screens (the user tower batched as a compiled graph);
    :meth:`exact` reruns the eager pipeline unchanged; :meth:`decide` reruns
    exactly any screened answer too close to the cut to trust.
    """

    def __init__(self, engine: Engine, user_id: int, policy: ContentPolicy | None = None,
                 hidden_sources: frozenset[str] = frozenset()) -> None:
        self.engine = engine
        self.user_id = int(user_id)
        self.u = int(engine.data.user_index(user_id)[0])
        self.policy = policy
        self.hidden = frozenset(hidden_sources)
        self.watched = np.asarray(engine.index.watched(self.u), np.int64)
        self.served = engine.candidates_at(self.u, policy, self.hidden)
        history = engine.history
        self._mine = history[history["u"].to_numpy() == self.u]
        self._user = engine.data.users.iloc[[self.u]]
        self._scorer = _Prepared(engine.scorer)
        # the same engine, with the batch's vectors and only this user's history rows:
        # ``candidates_without`` reads the history for this user's rows alone, so a
        # slice of it gives the same answer without scanning every user's ratings
        self._fast = copy.copy(engine)
        self._fast.scorer = self._scorer
        self._fast.history = self._mine
        self._orders: dict[frozenset[int], _Order] = {frozenset(): _Order.of(engine,
                                                                             self.served)}
        self.reruns = 0  #: reruns computed (not answered from memory)

    def item_ids(self, removed: Iterable[int]) -> list[int]:
        """Item ids of dense indices, in a fixed order (the engine's input)."""
        cat = self.engine.index.catalogue
        return [int(cat.item_ids[j]) for j in sorted(removed)]

    def orders(self, sets: Sequence[frozenset[int]]) -> list[_Order]:
        """The served order after removing each set (missing ones screened as one batch)."""
        missing = [s for s in dict.fromkeys(sets) if s not in self._orders]
        if missing:
            items = self._mine["i"].to_numpy()
            histories = [self._mine[~np.isin(items, list(s))] for s in missing]
            answers, exact = self.engine.scorer.history_users(self._user, histories)
            for s, h, answer in zip(missing, histories, answers, strict=True):
                self._scorer.prepare(len(h), answer)
                cands = self._fast.candidates_without(self.user_id, self.item_ids(s),
                                                      self.policy, self.hidden)
                self._orders[s] = _Order.of(self.engine, cands, s, exact)
            self.reruns += len(missing)
        return [self._orders[s] for s in sets]

    def exact(self, removed: frozenset[int]) -> tuple[Candidates, _Order]:
        """A fresh rerun of the real pipeline, unbatched and eager; it replaces any screen."""
        cands = self.engine.candidates_without(self.user_id, self.item_ids(removed),
                                               self.policy, self.hidden)
        self.reruns += 1
        order = self._orders[removed] = _Order.of(self.engine, cands, removed)
        return cands, order

    def decide(self, removed: frozenset[int], j: int, k: int) -> bool:
        """Whether removing the set takes item ``j`` out of the top ``k``, trusted.

        A screened answer whose margin lies within ``_NEAR`` of the cut is rerun
        exactly first, so rounding in the compiled graph cannot decide it.
        """
        order = self.orders([removed])[0]
        if not order.exact and abs(order.margin(j, k)) < _NEAR:
            order = self.exact(removed)[1]
        return order.out(j, k)


# ----- explanations -----------------------------------------------------------------------
def explain_item(engine: Engine, user_id: int, item_id: int,
                 config: CounterfactualConfig | None = None,
                 policy: ContentPolicy | None = None,
                 hidden_sources: frozenset[str] = frozenset(),
                 cache: RerunCache | None = None) -> Counterfactual:
    """The smallest set of the user's rated items whose removal takes the item out of the list.

    The search, cheapest evidence first (one batch of screened reruns per step):

    1. **Pool**: the rated items that fed the item's retrieval hits (the seeds
       of its similar and co-watched hits), nearest to the item first, then the
       other rated items by squared distance of ``v_m`` to the item's, up to
       ``config.pool``.
    2. **Singles**: each pool item removed alone. The *drop* of an item is how
       much the item's margin over the k-th other candidate (the score drop
       that matters, since the bar moves too) falls when it alone is removed.
       Any single that takes the item out is the answer (size 1).
    3. **Sizes 2..max_size**, greedy growth with an additive lookahead: every
       set tried at the size below, grown by each other pool item, is ranked
       by its margin minus that item's drop; the ``config.per_size`` best are
       rerun. The first size with a working set wins (the one that pushes the
       item furthest down). Every single of the pool was tried, so a pair is
       the smallest size within the pool; a triple is smallest among the sets
       tried.
    4. **Minimal**: every proper subset of the chosen set is decided (most are
       remembered); if one works it replaces the set, so the answer is minimal
       by inclusion (``minimal=True``).
    5. **Verified** by a fresh, unbatched ``candidates_without`` + ``rank``.

    The item must be in the served top ``config.k`` for this policy and these
    hidden sources (ValueError otherwise; KeyError names an unknown id).
    ``cache`` shares reruns between items of one user's list.
    """
    config = config or CounterfactualConfig()
    start = time.perf_counter()
    cache, j, rank = _start(engine, user_id, item_id, config, policy, hidden_sources, cache)
    asked: set[frozenset[int]] = set()
    k = config.k
    pool = _pool(engine, cache, j, config.pool)
    margins: dict[frozenset[int], float] = {}

    def evaluate(sets: list[frozenset[int]]) -> frozenset[int] | None:
        """Rerun the sets; the working one that pushes the item furthest down, if any."""
        asked.update(sets)
        working = []
        for s, o in zip(sets, cache.orders(sets), strict=True):
            margins[s] = o.margin(j, k)
            if o.out(j, k) and cache.decide(s, j, k):
                working.append(s)
        return min(working, key=lambda s: (margins[s], sorted(s))) if working else None

    chosen = evaluate([frozenset([p]) for p in pool])
    base = cache.orders([frozenset()])[0].margin(j, k)
    # inf - inf (too few candidates for any rank to change) carries no information: 0
    drop = {p: float(np.nan_to_num(base - margins[frozenset([p])], nan=0.0)) for p in pool}
    frontier = [frozenset([p]) for p in pool]
    for _ in range(2, min(config.max_size, len(pool)) + 1):
        if chosen is not None:
            break
        grown: dict[frozenset[int], float] = {}
        for s in frontier:
            for p in pool:
                if p not in s:
                    t = s | {p}
                    grown[t] = min(grown.get(t, np.inf), margins[s] - drop[p])
        frontier = sorted((t for t in grown if t not in margins),
                          key=lambda t: (grown[t], sorted(t)))[:config.per_size]
        chosen = evaluate(frontier)
    minimal = False
    if chosen is not None:
        chosen, minimal = _minimise(cache, chosen, j, k, asked)
    return _finish(engine, cache, j, rank, chosen, minimal, pool, len(asked), start, config,
                   SEARCH)


def similar_first_baseline(engine: Engine, user_id: int, item_id: int,
                           config: CounterfactualConfig | None = None,
                           policy: ContentPolicy | None = None,
                           hidden_sources: frozenset[str] = frozenset(),
                           cache: RerunCache | None = None) -> Counterfactual:
    """The PRINCE-like baseline: remove the rated items nearest the item until it leaves.

    Rated items are taken by smallest squared distance of ``v_m`` to the item,
    one more per step (one screened rerun each, stopping at the first that
    works), up to ``config.max_size``; the set is verified like
    :func:`explain_item`'s. It claims minimality only for a single item (the
    prefixes skip most subsets). Same reruns, same verification: the two
    differ only in which sets they try.
    """
    config = config or CounterfactualConfig()
    start = time.perf_counter()
    cache, j, rank = _start(engine, user_id, item_id, config, policy, hidden_sources, cache)
    nearest = _nearest(engine, cache.watched, j)[:config.max_size]
    chosen, tried = None, 0
    for n in range(1, len(nearest) + 1):
        s = frozenset(nearest[:n].tolist())
        tried += 1
        if cache.decide(s, j, config.k):
            chosen = s
            break
    pool = nearest[:tried].tolist()
    return _finish(engine, cache, j, rank, chosen, chosen is not None and len(chosen) == 1,
                   pool, tried, start, config, SIMILAR_FIRST)


def explain_list(engine: Engine, user_id: int, config: CounterfactualConfig | None = None,
                 policy: ContentPolicy | None = None,
                 hidden_sources: frozenset[str] = frozenset()) -> list[Counterfactual]:
    """:func:`explain_item` for every item of the served top k, sharing one rerun cache.

    A rerun answers for the whole list, so explaining all items together costs
    less than explaining each alone (each result's ``seconds`` is its own share).
    """
    config = config or CounterfactualConfig()
    cache = RerunCache(engine, user_id, policy, hidden_sources)
    top = engine.rank(cache.served, config.k)
    return [explain_item(engine, user_id, it.item_id, config, policy, hidden_sources, cache)
            for it in top.items]


def counterfactual_frame(explanations: Sequence[Counterfactual]) -> pd.DataFrame:
    """One row per explained item: the sentence, the removed ids and whether it was verified.

    The columns the Recommendations page's CSV download adds beside each item.
    """
    return pd.DataFrame([{"item_id": cf.item_id, "counterfactual": cf.message,
                          "counterfactual_removed_ids": "|".join(str(i) for i, _ in cf.removed),
                          "counterfactual_verified": cf.verified} for cf in explanations],
                        columns=["item_id", "counterfactual", "counterfactual_removed_ids",
                                 "counterfactual_verified"])


def score_breakdown(result_item: RankedItem, intercept: float | None,
                    reranker: RankingStage | None = None) -> ScoreBreakdown:
    """Each ranking feature's exact part of the item's score, and the sources that found it.

    Either ranking stage's score is exactly the intercept plus these parts
    (logistic: weight x standardised value; LightGBM: tree SHAP with its base
    value), so the parts are the whole of the score. With a ``reranker`` that
    has weights (the logistic one) each part also gives its weight and
    standardised value; trees have none. A list ordered without the stage
    (or by another objective) has no parts; the note says so.
    """
    parts: list[FeaturePart] = []
    note = ""
    if result_item.contributions is None or intercept is None:
        note = ("no per-feature breakdown: this list was not ordered by the learned ranking "
                "stage")
    else:
        for name, value in sorted(result_item.contributions.items(),
                                  key=lambda kv: (-abs(kv[1]), kv[0])):
            w = reranker.weight(name) if reranker is not None else None
            parts.append(FeaturePart(name, FEATURE_WORDS.get(name, name), float(value), w,
                                     float(value) / w if w else None))
    sources = [SourceEvidence(h.source, h.describe(), _evidence(h.detail), dict(h.detail))
               for h in result_item.sources]
    return ScoreBreakdown(result_item.item_id, result_item.title, float(result_item.score),
                          None if intercept is None else float(intercept), parts, sources,
                          note)


def counterfactual_top(engine: Engine, cands: Candidates, removed_item_ids: Sequence[int],
                       k: int) -> list[RankedItem]:
    """The top ``k`` of a reduced-history rerun, the removed items left out.

    ``candidates_without`` may propose a removed item (it is no longer
    "watched"), but the person has rated it: an explanation whose answer is
    "without *Alien*, *Alien* takes its place" says nothing. So every claim here
    is about the list of items the person has not rated, as the served list is.
    """
    removed = {int(i) for i in removed_item_ids}
    items = engine.rank(cands, k + len(removed)).items
    return [it for it in items if it.item_id not in removed][:k]


# ----- internals --------------------------------------------------------------------------
def _start(engine: Engine, user_id: int, item_id: int, config: CounterfactualConfig,
           policy: ContentPolicy | None, hidden: Iterable[str], cache: RerunCache | None
           ) -> tuple[RerunCache, int, int]:
    """The rerun cache, the item's dense index and its served rank (errors for bad input)."""
    j = int(engine.data.item_index(item_id)[0])  # KeyError names an unknown item
    hidden = frozenset(hidden)
    if cache is None or cache.engine is not engine or (
            (cache.user_id, cache.policy, cache.hidden) != (int(user_id), policy, hidden)):
        cache = RerunCache(engine, user_id, policy, hidden)
    served = cache.orders([frozenset()])[0]
    if served.out(j, config.k):
        raise ValueError(f"item {item_id} is not in user {user_id}'s top {config.k}: only "
                         "an item in the list can be explained")
    return cache, j, served.position[j] + 1


def _pool(engine: Engine, cache: RerunCache, j: int, size: int) -> list[int]:
    """Seeds of the item's similar, co-watched and item-model hits first, then rated items
    nearest it."""
    hits = cache.served.hits[cache.served.position(j)]
    seeds = [int(h.detail["seed_item_id"]) for h in hits
             if h.source in ("similar", "cowatched", "item_model")
             and h.detail.get("seed_item_id") is not None]
    seed_idx = {int(s) for s in engine.data.item_index(seeds)} if seeds else set()
    nearest = _nearest(engine, cache.watched, j).tolist()
    ordered = [s for s in nearest if s in seed_idx] + [s for s in nearest if s not in seed_idx]
    return ordered[:size]


def _nearest(engine: Engine, watched: np.ndarray, j: int) -> np.ndarray:
    """Rated items by squared distance of ``v_m`` to item ``j`` (ties: more recent first)."""
    if not len(watched):
        return np.zeros(0, np.int64)
    v = engine.item_vectors
    d = ((v[watched] - v[j]) ** 2).sum(axis=1)
    return watched[np.argsort(d, kind="stable")]


def _minimise(cache: RerunCache, chosen: frozenset[int], j: int, k: int,
              asked: set[frozenset[int]]) -> tuple[frozenset[int], bool]:
    """Replace the set by a working proper subset until none works: minimal by inclusion."""
    while len(chosen) > 1:
        subs = [frozenset(c) for r in range(1, len(chosen))
                for c in combinations(sorted(chosen), r)]
        asked.update(subs)
        cache.orders(subs)  # one batch for the ones not yet remembered
        working = [s for s in subs if cache.decide(s, j, k)]
        if not working:
            break
        chosen = min(working, key=lambda s: (len(s), cache.orders([s])[0].margin(j, k),
                                             sorted(s)))
    return chosen, True


def _finish(engine: Engine, cache: RerunCache, j: int, rank: int,
            chosen: frozenset[int] | None, minimal: bool, pool: Sequence[int], tried: int,
            start: float, config: CounterfactualConfig, method: str) -> Counterfactual:
    """Verify the chosen set with a fresh rerun and put the answer in words."""
    cat = engine.index.catalogue
    item_id, title = int(cat.item_ids[j]), str(cat.titles[j])
    pool_named = [(int(cat.item_ids[p]), str(cat.titles[p])) for p in pool]
    if chosen is None:
        where = (f" (searched the {len(pool)} of your rated items closest to it)" if pool
                 else " (you have no rated items)")
        message = (f"No set of up to {config.max_size} of your rated items found whose "
                   f"removal takes this out of your list{where}.")
        return Counterfactual(item_id, title, rank, [], False, False, None, None, tried,
                              time.perf_counter() - start, message, cache.user_id, config.k,
                              method, False, pool_named)
    ids = cache.item_ids(chosen)
    removed = [(int(cat.item_ids[p]), str(cat.titles[p]))
               for p in _nearest(engine, np.asarray(sorted(chosen)), j).tolist()]
    cands = engine.candidates_without(cache.user_id, ids, cache.policy, cache.hidden)
    shown = counterfactual_top(engine, cands, ids, config.k)
    verified = item_id not in {it.item_id for it in shown}
    p = _Order.of(engine, cands, chosen).position.get(j)
    new_rank = None if p is None else p + 1
    before = set(cat.item_ids[cache.orders([frozenset()])[0].items[:config.k]].tolist())
    entrant = next((it for it in shown if it.item_id not in before), None)
    replacement = None if entrant is None else (entrant.item_id, entrant.title)
    names = _join([t for _, t in removed])
    if verified:
        where = (f"it would drop to #{new_rank}" if new_rank is not None
                 else "it would no longer be a candidate at all")
        message = f"Without {names} in your history, this would not be here; {where}."
        if replacement is not None:
            message += f" In its place: {replacement[1]}."
    else:
        message = (f"The search found that removing {names} takes this out of your list, but "
                   "a fresh rerun of the pipeline did not confirm it: treat it as unconfirmed.")
    return Counterfactual(item_id, title, rank, removed, True, verified, new_rank, replacement,
                          tried + 1, time.perf_counter() - start, message, cache.user_id,
                          config.k, method, minimal and verified, pool_named)


def _join(titles: list[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    if len(titles) <= 1:
        return "".join(titles)
    return ", ".join(titles[:-1]) + " and " + titles[-1]


def _evidence(detail: dict) -> str:
    """The number behind a source's claim: its distance, similarity or rank."""
    if "distance" in detail:
        return f"distance {float(detail['distance']):.3f}"
    if "similarity" in detail:
        return f"co-watch similarity {float(detail['similarity']):.3f}"
    if "rank" in detail:
        return f"rank {detail['rank']}"
    return ""


__all__ = ["Counterfactual", "CounterfactualConfig", "FeaturePart", "RerunCache",
           "ScoreBreakdown", "SourceEvidence", "counterfactual_frame", "counterfactual_top",
           "explain_item", "explain_list", "score_breakdown", "similar_first_baseline"]
