"""Viewer controls: what a person can change about their own list, and links that carry it.

The EU DSA asks a platform to say what orders a list and how to change it
(Art. 27) and, for the largest ones, to offer at least one option not based on
profiling (Art. 38). Each control here is one engine-side function over the
same :class:`~recengine.candidates.Candidates` the served list ranks, so a
changed list differs from the served one by that control and nothing else:

* **not interested** in an item (:func:`dismiss`): it is left out, and what it
  stood for is down-weighted, in one of two stated modes (:data:`NI_MODES`);
* **hide a retrieval source** (``hidden_sources``): the engine's sources leave
  it out, so it proposes nothing and feeds no ranking feature;
* **switch the objective** (served, predicted rating, engagement, profit, a blend);
* **a list not based on profiling** (:func:`non_profiling`): popular in the
  catalogue or in a region the person picks, none of their data read;
* **show me something different** (:func:`mmr_order`): a diversity re-rank
  whose cost in mean predicted rating is reported (:class:`DiversityCost`).

:func:`apply_controls` is the one call the app makes; :class:`ViewerControls`'
defaults change nothing (the served list, exactly). :func:`list_diff` says what
a change did to the list. :mod:`recengine.links` carries the controls (and
everything else the page shows) in a URL.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .candidates import Candidates
from .engine import Engine
from .list_metrics import intra_list_diversity
from .objectives import BASE_OBJECTIVES, DEFAULT_BLEND, OBJECTIVES, PLAIN, ObjectiveSet
from .policy import ContentPolicy
from .ranking import SERVED, Objective, rank_order
from .reranker import FEATURES, ITEM_COLUMNS, candidate_features
from .results import RankedItem, RecommendationResult, SourceHit
from .scoring import UserProfile

#: "not interested" modes, see :func:`dismiss`
NI_MODES = ("seeds", "genre")
#: sources whose evidence is one of the person's own items (a seed)
SEED_SOURCES = ("similar", "cowatched")
#: genre mode: the penalty per disliked item sharing a genre, as a share of the spread
#: (highest minus lowest) of the ordering score over the request's candidates
GENRE_PENALTY = 0.25
NON_PROFILING = "non_profiling"
DEFAULT_K, MAX_K = 10, 50


# ----- the controls ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ViewerControls:
    """Every viewer control of one list; the defaults change nothing.

    ``weights`` are the blend's (rating, engagement, profit) weights, read only
    when ``objective`` is ``"blend"``. ``diversity`` is the MMR strength in
    [0, 1] (0: no re-rank). ``region`` is the region the person picked for the
    non-profiling list (None: the whole catalogue).
    """

    not_interested: tuple[int, ...] = ()
    not_interested_mode: str = "seeds"
    hidden_sources: frozenset[str] = frozenset()
    objective: str = SERVED
    weights: tuple[float, float, float] = DEFAULT_BLEND
    non_profiling: bool = False
    region: str | None = None
    diversity: float = 0.0

    def __post_init__(self) -> None:
        # normalised here so two equal settings compare equal, however they were built
        ids = tuple(dict.fromkeys(int(i) for i in self.not_interested))
        object.__setattr__(self, "not_interested", ids)
        object.__setattr__(self, "hidden_sources", frozenset(self.hidden_sources))
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        if self.not_interested_mode not in NI_MODES:
            raise ValueError(f"unknown not-interested mode {self.not_interested_mode!r}; "
                             f"use one of {NI_MODES}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; use one of {OBJECTIVES}")
        if len(self.weights) != len(BASE_OBJECTIVES) or not all(
                math.isfinite(w) and w >= 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError(f"blend weights must be {len(BASE_OBJECTIVES)} non-negative "
                             f"numbers, not all zero ({', '.join(BASE_OBJECTIVES)}); "
                             f"got {self.weights}")
        if not (math.isfinite(self.diversity) and 0.0 <= self.diversity <= 1.0):
            raise ValueError(f"diversity must be in [0, 1], got {self.diversity}")

    @property
    def is_default(self) -> bool:
        """Whether every control is at its default (the served list, unchanged)."""
        return self == ViewerControls()

    def describe(self) -> str:
        """The settings in one line, for a reader who has not opened the controls."""
        if self.objective == "blend":
            order = "a blend of " + ", ".join(
                f"{PLAIN[o]} {w:g}" for o, w in zip(BASE_OBJECTIVES, self.weights, strict=True))
        else:
            order = PLAIN[self.objective]
        parts = [f"Ordered by {order}"]
        if self.non_profiling:
            parts.append("not based on profiling (popular in "
                         f"{self.region or 'the whole catalogue'})")
        if self.hidden_sources:
            parts.append("sources hidden: " + ", ".join(sorted(self.hidden_sources)))
        if self.diversity > 0:
            parts.append(f"more variety {self.diversity:g}")
        n = len(self.not_interested)
        parts.append(f"{n} item{'s' if n != 1 else ''} marked not interested" if n
                     else "nothing marked not interested")
        return "; ".join(parts) + "."

    @property
    def weight_map(self) -> dict[str, float]:
        """The blend weights by objective name, as :meth:`ObjectiveSet.objective` takes them."""
        return dict(zip(BASE_OBJECTIVES, self.weights, strict=True))


@dataclass(frozen=True)
class Dismissal:
    """What "not interested" did to one request (item ids throughout)."""

    mode: str
    removed: tuple[int, ...]  # the disliked items that were candidates, left out
    absent: tuple[int, ...]  # disliked items this request did not propose anyway
    seeds: tuple[int, ...] = ()  # seeds mode: the person's items the disliked ones stood for
    dropped: tuple[int, ...] = ()  # seeds mode: found only through those seeds, left out
    weakened: tuple[int, ...] = ()  # seeds: lost those hits; genre: penalised
    genres: tuple[str, ...] = ()  # genre mode: the disliked items' genres

    def describe(self, titles: Mapping[int, str] | None = None) -> str:
        """The effect in plain words (titles by item id when given)."""
        def name(i: int) -> str:
            return str(titles.get(i, f"item {i}")) if titles else f"item {i}"

        n = len(self.removed) + len(self.absent)
        text = f"{n} item{'s' if n != 1 else ''} you marked not interested left out"
        if self.mode == "seeds":
            if not self.seeds:
                return text + "; they were not found through anything you watched, so " \
                              "nothing else is down-weighted."
            return (text + f"; what led to them ({', '.join(name(s) for s in self.seeds)}) "
                    f"no longer counts as evidence: {len(self.dropped)} candidates found only "
                    f"through it dropped, {len(self.weakened)} lost those hits and were "
                    "re-scored.")
        if not self.genres:
            return text + "; they have no genre, so nothing else is penalised."
        return (text + f"; {len(self.weakened)} candidates sharing their genres "
                f"({', '.join(self.genres)}) penalised.")


@dataclass(frozen=True)
class DiversityCost:
    """What "show me something different" bought and cost against the list before it."""

    strength: float
    ild_before: float  # intra-list diversity, 1 - mean pairwise cosine of v_m
    ild_after: float
    mean_rating_before: float  # mean predicted rating of the listed items
    mean_rating_after: float

    @property
    def cost(self) -> float:
        """Mean predicted rating given up (before minus after; negative: a gain)."""
        return self.mean_rating_before - self.mean_rating_after

    def describe(self) -> str:
        return (f"Variety {self.strength:.2f}: diversity {self.ild_before:.3f} → "
                f"{self.ild_after:.3f}; mean predicted rating {self.mean_rating_before:.2f} → "
                f"{self.mean_rating_after:.2f} (cost {self.cost:+.2f}).")


@dataclass
class ControlledResult(RecommendationResult):
    """A result with the controls that made it and what two of them did."""

    controls: ViewerControls = field(default_factory=ViewerControls)
    dismissal: Dismissal | None = None
    diversity: DiversityCost | None = None
    non_profiling: bool = False


@dataclass(frozen=True)
class ListDiff:
    """Two lists compared: what left, what came, what moved (item ids, ranks from 1)."""

    left: tuple[int, ...]  # in their old order
    came: tuple[int, ...]  # in their new order
    moved: tuple[tuple[int, int, int], ...]  # (item id, old rank, new rank), new order
    titles: dict[int, str] = field(default_factory=dict, compare=False)

    @property
    def unchanged(self) -> bool:
        return not (self.left or self.came or self.moved)

    def describe(self, limit: int = 5) -> str:
        """One line: "2 left: A, B · 1 new: C · 3 moved: D 4→2, ..." (plain text)."""
        def names(ids) -> str:
            shown = [self.titles.get(i, f"item {i}") for i in ids[:limit]]
            return ", ".join(shown) + (f" and {len(ids) - limit} more" if len(ids) > limit
                                       else "")

        if self.unchanged:
            return "The list did not change."
        parts = []
        if self.left:
            parts.append(f"{len(self.left)} left: {names(self.left)}")
        if self.came:
            parts.append(f"{len(self.came)} new: {names(self.came)}")
        if self.moved:
            moves = [f"{self.titles.get(i, f'item {i}')} {a}→{b}"
                     for i, a, b in self.moved[:limit]]
            more = f" and {len(self.moved) - limit} more" if len(self.moved) > limit else ""
            parts.append(f"{len(self.moved)} moved: {', '.join(moves)}{more}")
        return " · ".join(parts)


def list_diff(before: RecommendationResult, after: RecommendationResult) -> ListDiff:
    """What changed from ``before`` to ``after``: shown instead of a second list."""
    old = {it.item_id: it.rank for it in before.items}
    new = {it.item_id: it.rank for it in after.items}
    titles = {it.item_id: it.title for it in [*before.items, *after.items]}
    return ListDiff(left=tuple(i for i in old if i not in new),
                    came=tuple(i for i in new if i not in old),
                    moved=tuple((i, old[i], r) for i, r in new.items()
                                if i in old and old[i] != r),
                    titles=titles)


# ----- candidates: subsets, seeds, re-scoring -------------------------------------------------
def take(cands: Candidates, positions, hits: list | None = None) -> Candidates:
    """The candidates at ``positions`` (in that order), every parallel array with them."""
    pos = np.asarray(positions, np.int64)
    items = cands.items[pos]
    kept = set(items.tolist())
    return dataclasses.replace(
        cands, items=items, hits=hits if hits is not None else [cands.hits[p] for p in pos],
        demoted=cands.demoted[pos], dots=cands.dots[pos], ratings=cands.ratings[pos],
        served=cands.served[pos],
        demoted_by={j: r for j, r in cands.demoted_by.items() if j in kept},
        features=None if cands.features is None else cands.features[pos],
        notes=list(cands.notes))


def seed_positions(engine: Engine, cands: Candidates,
                   profile: UserProfile | None = None) -> dict[int, int]:
    """Seed item id -> recency (0 = last watched): how the engine's features rank seeds.

    A known user's seeds are their history, most recent first; a visitor's are
    their rated items, last given first (the engine's own retrieval context).
    """
    n = engine.config.retrieval.last_watched
    if cands.user_idx is not None:
        seeds = engine.index.watched(cands.user_idx)[:n]
    elif profile is not None and profile.ratings:
        seeds = engine.data.item_index(list(profile.ratings))[::-1][:n]
    else:
        seeds = np.zeros(0, np.int64)
    ids = engine.index.catalogue.item_ids
    return {int(ids[s]): p for p, s in enumerate(np.asarray(seeds).tolist())}


def rescore(engine: Engine, cands: Candidates, hits: list, position: dict[int, int]
            ) -> tuple[np.ndarray | None, np.ndarray]:
    """Ranking-stage features and served score for the same candidates with other hits.

    The per-item columns (popularity, bias, affinity...) do not depend on the
    hits and are kept; the hit-derived ones are recomputed by the engine's own
    :func:`~recengine.reranker.candidate_features`.
    """
    if engine.reranker is None or cands.features is None or not len(cands.items):
        return cands.features, engine.with_visitor_prior(cands, cands.dots)
    f = cands.features
    columns = f[:, [FEATURES.index(c) for c in ITEM_COLUMNS]]
    features = candidate_features(f[:, FEATURES.index("dot")], hits, position, columns)
    return features, engine.with_visitor_prior(cands, engine.reranker.score(features))


# ----- not interested --------------------------------------------------------------------------
def dismiss(engine: Engine, cands: Candidates, item_ids: Sequence[int], mode: str = "seeds",
            profile: UserProfile | None = None
            ) -> tuple[Candidates, Dismissal, np.ndarray | None]:
    """Leave out the disliked items and down-weight what they stood for.

    Both modes remove the disliked items themselves. Then:

    * ``"seeds"``: the seed items (the person's own watched or rated items)
      through which retrieval found a disliked item ("similar" and "often
      watched with" evidence) stop counting as evidence for this list. A
      candidate whose every hit came from those seeds is dropped; one also
      found otherwise loses those hits, and its ranking-stage features and
      served score are recomputed without them.
    * ``"genre"``: every other candidate sharing a genre with a disliked item
      loses :data:`GENRE_PENALTY` x the spread of the ordering score over this
      request's candidates, once per such disliked item. Returned as a
      per-catalogue-item penalty for :func:`apply_controls` to subtract.

    Returns the new candidates, what was done, and the genre penalty (or None).
    Deterministic in (candidates, item ids, mode): the same request with the same
    controls gives the same list, which is how the effect persists.
    """
    if mode not in NI_MODES:
        raise ValueError(f"unknown not-interested mode {mode!r}; use one of {NI_MODES}")
    ids = engine.index.catalogue.item_ids
    pos_of = {int(i): j for j, i in enumerate(ids.tolist())}
    disliked = {pos_of[int(i)] for i in item_ids if int(i) in pos_of}
    items = cands.items.tolist()
    gone = [p for p, j in enumerate(items) if j in disliked]
    removed = tuple(int(ids[items[p]]) for p in gone)
    absent = tuple(i for i in dict.fromkeys(int(i) for i in item_ids) if i not in set(removed))
    if mode == "genre":
        keep = np.setdiff1d(np.arange(len(items)), gone)
        out = take(cands, keep)
        gm = engine.index.genre_matrix
        marked = sorted(disliked)
        shared = (gm[out.items].astype(np.int64) @ gm[marked].T.astype(np.int64) > 0
                  if marked and len(out.items) else np.zeros((len(out.items), 0), bool))
        count = shared.sum(axis=1) if shared.size else np.zeros(len(out.items), np.int64)
        penalty = np.zeros(len(ids), np.float64)
        penalty[out.items] = count
        names = engine.index.genre_names
        genres = tuple(names[g] for g in np.flatnonzero(gm[marked].any(axis=0))) \
            if marked else ()
        weakened = tuple(int(ids[j]) for j in out.items[count > 0].tolist())
        return out, Dismissal(mode, removed, absent, weakened=weakened, genres=genres), penalty
    seeds: dict[int, None] = {}
    for p in gone:
        for h in cands.hits[p]:
            if h.source in SEED_SOURCES:
                seeds[int(h.detail["seed_item_id"])] = None
    keep, hits, dropped, weakened = [], [], [], []
    for p, item_hits in enumerate(cands.hits):
        if p in gone:
            continue
        left = [h for h in item_hits if not (h.source in SEED_SOURCES
                                             and int(h.detail["seed_item_id"]) in seeds)]
        if item_hits and not left:
            dropped.append(int(ids[items[p]]))
            continue
        if len(left) < len(item_hits):
            weakened.append(int(ids[items[p]]))
        keep.append(p)
        hits.append(left)
    out = take(cands, keep, hits)
    if weakened:
        features, served = rescore(engine, out, hits, seed_positions(engine, cands, profile))
        out = dataclasses.replace(out, features=features, served=served)
    return out, Dismissal(mode, removed, absent, tuple(seeds), tuple(dropped),
                          tuple(weakened)), None


def _penalised(objective: Objective, cands: Candidates, count: np.ndarray) -> Objective:
    """``objective`` minus the genre mode's penalty (fixed per item from this request)."""
    scores = objective.scores(cands)
    spread = float(scores.max() - scores.min()) if len(scores) else 0.0
    penalty = GENRE_PENALTY * (spread if spread > 0 else 1.0) * count

    def score(c: Candidates) -> np.ndarray:
        return objective.scores(c) - penalty[c.items]

    return Objective(objective.name, objective.rule + f"; minus {GENRE_PENALTY:.0%} of the "
                     "score range per item you marked not interested that shares a genre",
                     objective.score_meaning + ", less the not-interested penalty", score)


# ----- show me something different -------------------------------------------------------------
def mmr_order(scores, vectors, demoted, k: int, strength: float) -> np.ndarray:
    """Positions of a maximal-marginal-relevance top ``k`` (Carbonell & Goldstein, 1998).

    Each next item maximises ``(1 - strength) x score' - strength x max cos(v_m, v_s)``
    over the items ``s`` already chosen, where ``score'`` is the ordering score
    min-max scaled to [0, 1] over the candidates. Demoted items still come after
    all others; ties go to the item the plain order puts first. ``strength`` 0
    is the plain order.
    """
    scores = np.asarray(scores, np.float64)
    demoted = np.asarray(demoted, bool)
    base = rank_order(scores, np.arange(len(scores)), demoted, len(scores))
    k = min(int(k), len(scores))
    if strength <= 0 or k == 0:
        return base[:k]
    lo, hi = (scores.min(), scores.max()) if len(scores) else (0.0, 0.0)
    rel = (scores - lo) / (hi - lo) if hi > lo else np.zeros_like(scores)
    v = np.asarray(vectors, np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    chosen: list[int] = []
    closest = np.full(len(scores), -np.inf)  # each item's highest cosine to those chosen
    for group in (base[~demoted[base]], base[demoted[base]]):
        pool = list(group.tolist())
        while pool and len(chosen) < k:
            near = closest[pool]
            gain = (1 - strength) * rel[pool] - strength * np.where(np.isfinite(near), near, 0.0)
            chosen.append(pool.pop(int(np.argmax(gain))))  # first maximum: plain order's tie
            closest = np.maximum(closest, v @ v[chosen[-1]])
    return np.asarray(chosen, np.int64)


def _frozen(objective: Objective, cands: Candidates) -> Objective:
    """The objective's scores over the whole request, kept fixed for any subset of it.

    The blend scales each component over the request's candidates, so ranking a
    subset afresh would change every score; the served score needs no freezing.
    """
    if objective.is_served:
        return objective
    lookup = dict(zip(cands.items.tolist(), objective.scores(cands).tolist(), strict=True))
    return Objective(objective.name, objective.rule, objective.score_meaning,
                     lambda c: np.array([lookup[int(j)] for j in c.items], np.float64))


def _diversified(engine: Engine, cands: Candidates, k: int, objective: Objective,
                 strength: float) -> np.ndarray:
    """:func:`mmr_order` over a request's candidates with the model's item vectors."""
    return mmr_order(objective.scores(cands), engine.item_vectors[cands.items],
                     cands.demoted, k, strength)


def list_figures(engine: Engine, result: RecommendationResult) -> tuple[float, float]:
    """(intra-list diversity over v_m, mean predicted rating) of a result's items."""
    ids = [it.item_id for it in result.items]
    vectors = engine.item_vectors[engine.data.item_index(ids)] if ids else np.zeros((0, 1))
    mean = float(np.mean([it.predicted_rating for it in result.items])) if ids else math.nan
    return intra_list_diversity(vectors), mean


# ----- the one call the app makes --------------------------------------------------------------
def _objective(controls: ViewerControls, engine: Engine,
               objectives: ObjectiveSet | None) -> Objective:
    """The chosen ordering; only the served one works without business attributes."""
    if controls.objective == SERVED:
        return engine.served_objective
    if objectives is None:
        raise ValueError(f"objective {controls.objective!r} needs the ObjectiveSet "
                         "(business attributes and P(watch)); pass objectives=")
    return objectives.objective(controls.objective, controls.weight_map)


def _extend(result: RecommendationResult, **extra) -> ControlledResult:
    """The engine's result, field for field, with what the controls did added."""
    base = {f.name: getattr(result, f.name) for f in dataclasses.fields(RecommendationResult)}
    return ControlledResult(**base, **extra)


def apply_controls(engine: Engine, user_id: int | None, k: int,
                   controls: ViewerControls | None = None, policy: ContentPolicy | None = None,
                   objectives: ObjectiveSet | None = None,
                   profile: UserProfile | None = None) -> ControlledResult:
    """The top ``k`` for a known user (or, with ``user_id=None``, the visitor ``profile``).

    Order of operations: non-profiling short-circuits everything personal
    (:func:`non_profiling`); otherwise retrieval (minus hidden sources), the
    content policy, "not interested" (:func:`dismiss`), the objective, and the
    diversity re-rank last. With default controls the result is exactly
    :meth:`Engine.recommend`'s. A visitor's request cannot hide sources (the
    engine's visitor path has no such switch); a note says so.
    """
    controls = controls or ViewerControls()
    if user_id is None and profile is None:
        raise ValueError("give a user_id or a visitor profile")
    if controls.non_profiling:
        return non_profiling(engine, k, controls.region, policy, controls.not_interested,
                             controls)
    extra_notes = []
    if user_id is not None:
        u = int(engine.data.user_index(user_id)[0])

        def request(pol: ContentPolicy | None) -> Candidates:
            return engine.candidates_at(u, pol, controls.hidden_sources)
    else:
        if controls.hidden_sources:
            extra_notes.append("hiding a source applies to known users' lists only; "
                               "nothing was hidden for this visitor")

        def request(pol: ContentPolicy | None) -> Candidates:
            return engine.visitor_candidates(profile, pol)

    base = _objective(controls, engine, objectives)
    with_policy = policy is not None and not policy.is_empty

    def prepared(pol: ContentPolicy | None
                 ) -> tuple[Candidates, Objective, Dismissal | None, int]:
        cands = request(pol)
        n = len(cands.items)
        if not controls.not_interested:
            return cands, base, None, n
        cands, what, count = dismiss(engine, cands, controls.not_interested,
                                     controls.not_interested_mode, profile)
        return cands, (base if count is None else _penalised(base, cands, count)), what, n

    def counted(result: RecommendationResult) -> RecommendationResult:
        result.notes += extra_notes
        if dismissal is not None:  # the funnel's step for "not interested"
            result.stage_counts["after_policy"] = after_policy
            result.stage_counts["after_not_interested"] = len(cands.items)
        return result

    cands, objective, dismissal, after_policy = prepared(policy)
    without, w_objective, _, _ = prepared(None) if with_policy else (None, None, None, 0)
    before = counted(engine.rank(cands, k, objective, user_id, without))
    if controls.diversity <= 0:
        return _extend(before, controls=controls, dismissal=dismissal)
    order = _diversified(engine, cands, k, objective, controls.diversity)
    after = engine.rank(take(cands, order), k, _frozen(objective, cands), user_id, None)
    by_id = {it.item_id: it for it in after.items}
    ids = engine.index.catalogue.item_ids
    after.items = [dataclasses.replace(by_id[int(ids[j])], rank=r)
                   for r, j in enumerate(cands.items[order].tolist(), start=1)]
    after.stage_counts["after_policy"] = len(cands.items)
    after = counted(after)
    if without is not None and cands.actions:
        shown = set(ids[without.items[_diversified(engine, without, k, w_objective,
                                                   controls.diversity)]].tolist())
        after.displaced = [a for a in cands.actions if a.item_id in shown]
    after.ordering_rule += (f"; then re-ranked for variety (strength {controls.diversity:.2f}):"
                            " each next item trades its score, scaled to 0-1, against its "
                            "closest cosine similarity (v_m) to the items above it")
    ild_b, mean_b = list_figures(engine, before)
    ild_a, mean_a = list_figures(engine, after)
    cost = DiversityCost(controls.diversity, ild_b, ild_a, mean_b, mean_a)
    return _extend(after, controls=controls, dismissal=dismissal, diversity=cost)


# ----- not based on profiling (EU DSA Art. 38) -------------------------------------------------
def non_profiling(engine: Engine, k: int, region: str | None = None,
                  policy: ContentPolicy | None = None, exclude: Sequence[int] = (),
                  controls: ViewerControls | None = None) -> ControlledResult:
    """The most popular items overall or in a ``region`` the person picked: no profiling.

    Built from the engine's top lists only (``index.top_overall`` and
    ``index.top_in_region``, counted over everyone's history), so it is the
    same list for every person who picks the same region. Nothing of theirs is
    read: not their history (so items they rated are not removed), not their
    demographics (the region is theirs to pick, not their profile's), not the
    model's vector of them (so no predicted rating is shown). The content policy
    still applies, and ``exclude`` (items the person marked not interested in
    this session, their explicit choice) are left out.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    index = engine.index
    cfg = engine.config.retrieval
    hist_i = engine.history["i"].to_numpy(np.int64)
    if region is not None:
        code = index.region_code(region)
        if index.region_unavailable or code < 0:
            raise ValueError(f"unknown region {region!r}; known: {', '.join(index.region_names)}")
        pool = np.asarray(index.top_in_region[code], np.int64)
        rows = index.user_region[engine.history["u"].to_numpy(np.int64)] == code
        where = f"in region {region}"
        hits = [SourceHit("region", {"region": region, "rank": r})
                for r in range(1, len(pool) + 1)]
    else:
        pool = np.asarray(index.top_overall, np.int64)
        rows = np.ones(len(hist_i), bool)
        where = "in the whole catalogue"
        hits = [SourceHit("overall", {"rank": r}) for r in range(1, len(pool) + 1)]
    count = np.bincount(hist_i[rows], minlength=engine.data.n_items)
    total = np.bincount(hist_i[rows], minlength=engine.data.n_items,
                        weights=engine.history["rating"].to_numpy(np.float64)[rows])
    if cfg.top_rule == "mean_rating":
        score = total / np.maximum(count, 1)
        meaning = f"mean rating {where}"
        rule_words = f"the highest mean rating {where} (items with at least " \
                     f"{cfg.min_ratings_for_mean} ratings)"
    else:
        score = count.astype(np.float64)
        meaning = f"number of ratings {where}"
        rule_words = f"the most rated items {where}"
    cat = index.catalogue
    skip = {int(i) for i in exclude}
    keep = np.array([int(cat.item_ids[j]) not in skip for j in pool.tolist()], bool)
    pool, hits = pool[keep], [h for h, ok in zip(hits, keep.tolist(), strict=True) if ok]
    actions, demoted = [], {}
    if policy is not None and not policy.is_empty:
        ok, demoted, actions = policy.apply(cat, pool)
        pool, hits = pool[ok], [h for h, y in zip(hits, ok.tolist(), strict=True) if y]
    # the top list's own order, demoted items after every other
    order = sorted(range(len(pool)), key=lambda p: (int(pool[p]) in demoted, p))[:k]
    items = [RankedItem(rank=r, item_id=int(cat.item_ids[pool[p]]), title=cat.titles[pool[p]],
                        genres=cat.genres[pool[p]], score=float(score[pool[p]]),
                        predicted_rating=math.nan, sources=[hits[p]],
                        demoted_by=demoted.get(int(pool[p])))
             for r, p in enumerate(order, start=1)]
    shown = {it.item_id for it in items}
    notes = ["not based on profiling: your history, demographics and the model's picture of "
             "you are not used, so items you already rated can appear"]
    if skip:
        notes.append(f"{len(skip)} item(s) you marked not interested are left out")
    if controls is not None and (controls.objective != SERVED or controls.hidden_sources
                                 or controls.diversity > 0):
        notes.append("the objective, hidden sources and variety settings apply to the "
                     "personalised list only, not to this one")
    if len(items) < k:
        notes.append(f"only {len(items)} items in this top list (k={k})")
    name = "overall" if region is None else "region"
    counts = {f"source:{name}": int(len(keep)), "merged": int(len(keep)),
              "after_watched": int(len(keep)), "after_policy": len(pool),
              "returned": len(items)}
    result = RecommendationResult(
        user_id=None, items=items, filtered=list(actions), stage_counts=counts, notes=notes,
        objective=NON_PROFILING,
        ordering_rule=f"Not based on profiling (EU DSA Art. 38): {rule_words}, counted over "
                      "everyone's ratings, the same list for anyone who chooses it",
        score_meaning=meaning, displaced=[a for a in actions if a.item_id in shown])
    return _extend(result, controls=controls or ViewerControls(non_profiling=True,
                                                               region=region),
                   non_profiling=True)


__all__ = ["ControlledResult", "DEFAULT_K", "Dismissal", "DiversityCost", "GENRE_PENALTY",
           "ListDiff", "MAX_K", "NI_MODES", "SEED_SOURCES", "ViewerControls", "apply_controls",
           "dismiss", "list_diff", "list_figures", "mmr_order", "non_profiling", "rescore",
           "seed_positions", "take"]
