"""Rating vs engagement vs profit: the same candidates ranked by different goals.

The course: "the objective is a choice". Every objective here is a
:class:`recengine.ranking.Objective` run through the engine's own ranking
(:func:`recengine.ranking.rank_candidates`) over the engine's own candidates, so
the audit measures the pipeline users would get, not a re-implementation:

* **rating**: the model's predicted rating (the engine's default, ``v_u · v_m``);
* **engagement**: ``P(watch) x watch_minutes``;
* **profit**: ``P(watch) x (price x margin + sponsored_bid)`` (P(click or buy) is
  taken to be P(watch));
* **blend**: ``sum_o w_o x minmax_o``, each objective min-max normalised to
  [0, 1] over the user's candidates, so weights compare like with like.

``P(watch)`` is a monotone map of the model score: a logistic
``sigmoid(a x score + b)`` fitted on the history the engine reads (watched pairs
against uniformly drawn pairs, one negative per positive), its intercept
corrected by ``log`` of the negative sampling rate so it estimates the real
chance that a user watched an item with that score.

Watch minutes, prices, margins, bids and labels are often simulated
(:mod:`audits.business`); every figure that rests on them says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from recengine.engine import Engine
from recengine.policy import ContentPolicy
from recengine.ranking import Objective, rank_candidates

from .bias import (
    catalogue_coverage,
    exposure_counts,
    gini,
    intra_list_diversity,
    jaccard,
    long_tail_mask,
    pair_scores,
    sample_users,
)
from .business import BusinessAttributes, business_attributes

BASE_OBJECTIVES = ("rating", "engagement", "profit")
OBJECTIVES = (*BASE_OBJECTIVES, "blend")
DEFAULT_WEIGHTS = {"rating": 0.6, "engagement": 0.2, "profit": 0.2}
PLAIN = {"rating": "predicted enjoyment", "engagement": "expected watch time",
         "profit": "expected revenue to the service"}
#: which business columns each figure rests on (to label simulated figures)
RESTS_ON = {
    "mean_predicted_rating": (),
    "expected_watch_minutes": ("watch_minutes",),
    "expected_profit": ("price", "margin", "sponsored_bid"),
    "flagged_share": ("labels",),
    "sponsored_share": ("sponsored_bid",),
}


# ----- small pure pieces --------------------------------------------------------------
def sigmoid(z) -> np.ndarray:
    """The logistic function, computed without overflow for large |z|."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def fit_logistic_1d(x, y, ridge: float = 1e-6, iters: int = 100) -> tuple[float, float]:
    """Slope and intercept of ``P(y=1 | x) = sigmoid(a x + b)`` by Newton's method.

    A one-feature logistic regression in a dozen lines rather than a library
    call: it is the whole calibration, and a tiny ridge keeps separable data
    finite.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    X = np.column_stack([x, np.ones_like(x)])
    w = np.zeros(2)
    for _ in range(iters):
        p = sigmoid(X @ w)
        grad = X.T @ (p - y) + ridge * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + ridge * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def minmax(x) -> np.ndarray:
    """Scale to [0, 1] over the given values; all zeros when they are all equal."""
    x = np.asarray(x, np.float64)
    if len(x) == 0:
        return x
    lo, hi = x.min(), x.max()
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def normalise_weights(weights: dict[str, float]) -> dict[str, float]:
    """Non-negative weights over rating/engagement/profit, scaled to sum to 1."""
    unknown = set(weights) - set(BASE_OBJECTIVES)
    if unknown:
        raise ValueError(f"unknown objective(s) in weights: {sorted(unknown)}; "
                         f"use {BASE_OBJECTIVES}")
    w = {o: float(weights.get(o, 0.0)) for o in BASE_OBJECTIVES}
    if any(v < 0 for v in w.values()):
        raise ValueError(f"blend weights must be >= 0, got {w}")
    total = sum(w.values())
    if total <= 0:
        raise ValueError("blend weights are all zero: give at least one a positive weight")
    return {o: v / total for o, v in w.items()}


def blend_scores(components: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """``sum_o w_o x minmax(component_o)`` with weights normalised to sum to 1."""
    w = normalise_weights(weights)
    n = len(next(iter(components.values())))
    out = np.zeros(n)
    for name, weight in w.items():
        if weight:
            out += weight * minmax(components[name])
    return out


def weight_grid(steps: int = 5) -> list[dict[str, float]]:
    """Every (rating, engagement, profit) weight triple on a simplex grid of ``steps`` levels.

    ``steps=3`` gives weights in {0, 0.5, 1} summing to 1: six settings.
    """
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    n = steps - 1
    return [{"rating": a / n, "engagement": b / n, "profit": (n - a - b) / n}
            for a in range(n, -1, -1) for b in range(n - a, -1, -1)]


def pareto_front(points) -> np.ndarray:
    """True for points no other point beats: >= on every column and > on one (maximise)."""
    p = np.asarray(points, np.float64)
    keep = np.ones(len(p), dtype=bool)
    for a in range(len(p)):
        ge = np.all(p >= p[a], axis=1)
        gt = np.any(p > p[a], axis=1)
        if np.any(ge & gt):
            keep[a] = False
    return keep


# ----- the objectives, built from an engine -------------------------------------------
@dataclass(frozen=True)
class WatchCalibration:
    """``P(watch | score) = sigmoid(slope x score + intercept)``, fitted on history."""

    slope: float
    intercept: float
    positives: int
    negatives: int
    sampling_correction: float  # log(negative rate / positive rate), added to the intercept

    def p_watch(self, scores) -> np.ndarray:
        return sigmoid(self.slope * np.asarray(scores, np.float64) + self.intercept)

    def describe(self) -> str:
        return (f"P(watch) = sigmoid({self.slope:.3f} x score {self.intercept:+.3f}), fitted on "
                f"{self.positives:,} watched and {self.negatives:,} random pairs")


def calibrate_watch(engine: Engine, seed: int = 0, max_pairs: int = 200_000
                    ) -> WatchCalibration:
    """Fit the score -> P(watch) map on the engine's history (see the module docstring)."""
    hist = engine.history
    n_users, n_items = engine.data.n_users, engine.data.n_items
    rng = np.random.default_rng(seed)
    n_hist = len(hist)
    if n_hist == 0:
        raise ValueError("the engine has no history: cannot calibrate P(watch)")
    take = rng.choice(n_hist, size=min(n_hist, max_pairs), replace=False)
    pos_u = hist["u"].to_numpy(np.int64)[take]
    pos_i = hist["i"].to_numpy(np.int64)[take]
    n_neg = len(take)
    neg_u = rng.integers(0, n_users, n_neg)
    neg_i = rng.integers(0, n_items, n_neg)
    scores = pair_scores(engine, np.r_[pos_u, neg_u], np.r_[pos_i, neg_i])
    labels = np.r_[np.ones(len(take)), np.zeros(n_neg)]
    a, b = fit_logistic_1d(scores, labels)
    pos_rate = len(take) / n_hist
    neg_rate = n_neg / max(n_users * n_items - n_hist, 1)
    correction = float(np.log(neg_rate / pos_rate))
    return WatchCalibration(a, b + correction, len(take), n_neg, correction)


@dataclass
class ObjectiveModel:
    """An engine plus what the business objectives need: attributes and P(watch)."""

    engine: Engine
    business: BusinessAttributes
    watch: WatchCalibration

    def components(self, v_u: np.ndarray, candidates: np.ndarray) -> dict[str, np.ndarray]:
        """Every objective's raw figure for these candidates, plus P(watch) and the score."""
        cand = np.asarray(candidates, np.int64)
        score = (self.engine.item_vectors[cand] @ np.asarray(v_u, np.float32)).astype(float)
        p = self.watch.p_watch(score)
        return {
            "score": score,
            "rating": np.asarray(self.engine.scorer.to_rating(score), np.float64),
            "p_watch": p,
            "engagement": p * self.business.watch_minutes[cand],
            "profit": p * self.business.unit_profit[cand],
        }

    def objective(self, name: str, weights: dict[str, float] | None = None) -> Objective:
        """The named objective as an engine Objective (rating: the engine's default)."""
        if name == "rating":
            return Objective("rating")
        if name in ("engagement", "profit"):
            return Objective(name, lambda v_u, c: self.components(v_u, c)[name])
        if name == "blend":
            w = normalise_weights(weights or DEFAULT_WEIGHTS)
            return Objective("blend", lambda v_u, c: blend_scores(self.components(v_u, c), w))
        raise ValueError(f"unknown objective {name!r}; use one of {OBJECTIVES}")

    def user_vector(self, u: int) -> np.ndarray:
        return np.asarray(self.engine.scorer.user_vector(int(u)), np.float32)

    @property
    def simulated_columns(self) -> list[str]:
        return self.business.simulated


def objective_model(engine: Engine, seed: int = 0) -> ObjectiveModel:
    """Business attributes (real or simulated) and the P(watch) calibration for an engine."""
    return ObjectiveModel(engine, business_attributes(engine.data, seed),
                          calibrate_watch(engine, seed))


def build_objectives(model: ObjectiveModel, weights: dict[str, float] | None = None
                     ) -> dict[str, Objective]:
    """rating, engagement, profit and blend (with ``weights``), by name."""
    return {name: model.objective(name, weights) for name in OBJECTIVES}


# ----- candidates once, rankings many times -------------------------------------------
@dataclass
class CandidatePool:
    """Each sampled user's candidates after retrieval and policy, and which are demoted.

    Retrieval does not depend on the objective, so it runs once per user and
    every objective (and every blend weight in the sweep) ranks the same pool
    with the engine's own :func:`rank_candidates`.
    """

    users: np.ndarray  # dense user indices
    candidates: list[np.ndarray]
    demoted: list[np.ndarray]


def candidate_pool(engine: Engine, users, policy: ContentPolicy | None = None) -> CandidatePool:
    """All candidates the engine would rank for each user (k = the whole catalogue)."""
    users = np.asarray(users, np.int64)
    full = engine.recommend_topk_batch(users, engine.data.n_items, policy)
    cat = engine.index.catalogue
    demoted = []
    for cand in full:
        if policy is None or policy.is_empty:
            demoted.append(np.zeros(len(cand), bool))
            continue
        rules = policy.all_rules()
        flags = [policy.verdict(cat, int(j), rules) for j in cand.tolist()]
        demoted.append(np.array([r is not None and r.action == "demote" for r in flags], bool))
    return CandidatePool(users, [np.asarray(c, np.int64) for c in full], demoted)


def rank_pool(model: ObjectiveModel, pool: CandidatePool, objective: Objective, k: int
              ) -> list[np.ndarray]:
    """Top ``k`` of each user's pool under ``objective``, exactly as the engine ranks."""
    eng = model.engine
    return [rank_candidates(eng.scorer, eng.item_vectors, model.user_vector(u), cand, k, dem,
                            objective).items
            for u, cand, dem in zip(pool.users.tolist(), pool.candidates, pool.demoted,
                                    strict=True)]


# ----- the audit ----------------------------------------------------------------------
@dataclass
class ObjectiveAuditConfig:
    """Sample size, list length and blend weights; small defaults for the app."""

    n_users: int = 200
    k: int = 10
    seed: int = 0
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    head_share: float = 0.2


@dataclass
class ObjectiveAudit:
    """Per-objective figures, overlaps, every shown slot, and what is simulated."""

    metrics: pd.DataFrame  # index: objective
    overlap: pd.DataFrame  # objective x objective mean Jaccard
    slots: pd.DataFrame  # one row per (objective, user, rank)
    lists: dict[str, list[np.ndarray]]
    users: np.ndarray  # dense user indices
    simulated: dict[str, list[str]]  # figure -> simulated columns it rests on
    provenance: dict[str, str]
    calibration: str
    config: ObjectiveAuditConfig


def slot_frame(model: ObjectiveModel, users: np.ndarray, lists: list[np.ndarray],
               objective: str) -> pd.DataFrame:
    """One row per shown item: the user, rank and every objective's figure for it."""
    data, biz = model.engine.data, model.business
    frames = []
    for u, lst in zip(np.asarray(users).tolist(), lists, strict=True):
        comp = model.components(model.user_vector(u), lst)
        frames.append(pd.DataFrame({
            "objective": objective, "user_id": int(data.users["user_id"].iloc[u]),
            "rank": np.arange(1, len(lst) + 1), "item_idx": lst,
            "item_id": data.items["item_id"].to_numpy()[lst],
            "predicted_rating": comp["rating"], "p_watch": comp["p_watch"],
            "expected_watch_minutes": comp["engagement"], "expected_profit": comp["profit"],
            "flagged": biz.flagged[lst], "sponsored": biz.sponsored[lst],
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def list_metrics(slots: pd.DataFrame, lists: list[np.ndarray], item_vectors: np.ndarray,
                 n_items: int, tail: np.ndarray) -> dict:
    """One objective's figures: means per shown item, exposure, diversity, coverage."""
    ild = [intra_list_diversity(item_vectors[lst]) for lst in lists]
    flat = np.concatenate(lists) if lists else np.zeros(0, np.int64)
    return {
        "mean_predicted_rating": float(slots["predicted_rating"].mean()),
        "expected_watch_minutes": float(slots["expected_watch_minutes"].mean()),
        "expected_profit": float(slots["expected_profit"].mean()),
        "flagged_share": float(slots["flagged"].mean()),
        "sponsored_share": float(slots["sponsored"].mean()),
        "long_tail_share": float(tail[flat].mean()) if len(flat) else float("nan"),
        "exposure_gini": gini(exposure_counts(lists, n_items)),
        "intra_list_diversity": float(np.nanmean(ild)) if lists else float("nan"),
        "coverage": catalogue_coverage(lists, n_items),
    }


def simulated_figures(model: ObjectiveModel) -> dict[str, list[str]]:
    """Figure -> the simulated columns it rests on (only figures resting on any)."""
    sim = set(model.simulated_columns)
    out = {fig: [c for c in cols if c in sim] for fig, cols in RESTS_ON.items()}
    return {fig: cols for fig, cols in out.items() if cols}


def audit_objectives(model: ObjectiveModel, config: ObjectiveAuditConfig | None = None,
                     policy: ContentPolicy | None = None,
                     pool: CandidatePool | None = None) -> ObjectiveAudit:
    """Top-K under each objective for a user sample, and what each one does.

    Per objective: mean predicted rating, expected watch minutes and expected
    profit per shown item, flagged and sponsored shares, long-tail share, Gini
    of exposure over the catalogue (popularity concentration), intra-list
    diversity (``1 - mean pairwise cosine`` of ``v_m``) and coverage; and the
    mean per-user Jaccard overlap between every pair of objectives.
    """
    cfg = config or ObjectiveAuditConfig()
    eng = model.engine
    if pool is None:
        pool = candidate_pool(eng, sample_users(eng.data.n_users, cfg.n_users, cfg.seed), policy)
    popularity = np.bincount(eng.history["i"].to_numpy(), minlength=eng.data.n_items)
    tail = long_tail_mask(popularity, cfg.head_share)
    lists, frames, rows = {}, [], {}
    for name in OBJECTIVES:
        lists[name] = rank_pool(model, pool, model.objective(name, cfg.weights), cfg.k)
        slots = slot_frame(model, pool.users, lists[name], name)
        frames.append(slots)
        rows[name] = list_metrics(slots, lists[name], eng.item_vectors, eng.data.n_items, tail)
    overlap = pd.DataFrame(np.eye(len(OBJECTIVES)), index=list(OBJECTIVES),
                           columns=list(OBJECTIVES))
    for a, b in combinations(OBJECTIVES, 2):
        vals = [jaccard(x, y) for x, y in zip(lists[a], lists[b], strict=True)]
        overlap.loc[a, b] = overlap.loc[b, a] = float(np.mean(vals)) if vals else np.nan
    metrics = pd.DataFrame.from_dict(rows, orient="index")
    metrics.index.name = "objective"
    return ObjectiveAudit(metrics, overlap, pd.concat(frames, ignore_index=True), lists,
                          pool.users, simulated_figures(model), dict(model.business.provenance),
                          model.watch.describe(), cfg)


def tradeoff_sweep(model: ObjectiveModel, config: ObjectiveAuditConfig | None = None,
                   steps: int = 5, policy: ContentPolicy | None = None,
                   pool: CandidatePool | None = None) -> pd.DataFrame:
    """User value vs profit vs engagement for every blend weight setting on a grid.

    One row per weight triple: mean predicted rating (user value), expected
    watch minutes and expected profit per shown item; ``pareto`` marks settings
    no other setting beats on all three, ``pareto_rating_profit`` and
    ``pareto_rating_engagement`` the fronts of the two 2-D charts.
    """
    cfg = config or ObjectiveAuditConfig()
    eng = model.engine
    if pool is None:
        pool = candidate_pool(eng, sample_users(eng.data.n_users, cfg.n_users, cfg.seed), policy)
    rows = []
    for w in weight_grid(steps):
        lists = rank_pool(model, pool, model.objective("blend", w), cfg.k)
        vals = {"rating": [], "engagement": [], "profit": []}
        for u, lst in zip(pool.users.tolist(), lists, strict=True):
            comp = model.components(model.user_vector(u), lst)
            for key in vals:
                vals[key].append(comp[key])
        cat = {key: np.concatenate(v) if v else np.zeros(0) for key, v in vals.items()}
        rows.append({"w_rating": w["rating"], "w_engagement": w["engagement"],
                     "w_profit": w["profit"],
                     "mean_predicted_rating": float(cat["rating"].mean()),
                     "expected_watch_minutes": float(cat["engagement"].mean()),
                     "expected_profit": float(cat["profit"].mean())})
    out = pd.DataFrame(rows)
    r, e, p = (out[c].to_numpy() for c in ("mean_predicted_rating", "expected_watch_minutes",
                                           "expected_profit"))
    out["pareto"] = pareto_front(np.column_stack([r, e, p]))
    out["pareto_rating_profit"] = pareto_front(np.column_stack([r, p]))
    out["pareto_rating_engagement"] = pareto_front(np.column_stack([r, e]))
    return out


# ----- one user, side by side ---------------------------------------------------------
@dataclass
class UserComparison:
    """One user's lists under every objective and what each objective changed, with why."""

    user_id: int
    lists: dict[str, pd.DataFrame]  # objective -> the result's table plus business figures
    changes: pd.DataFrame  # objective, change (promoted/dropped), item_id, title, reason
    results: dict  # objective -> RecommendationResult


def promotion_reason(objective: str, row: dict) -> str:
    """Why an objective put an item in the list that the rating objective left out."""
    if objective == "engagement":
        text = (f"promoted by engagement: expected watch {row['expected_watch_minutes']:.1f} min "
                f"(P(watch) {row['p_watch']:.3f} x {row['watch_minutes']:.0f} min)")
    elif objective == "profit":
        parts = []
        if row["sponsored_bid"] > 0:
            parts.append(f"sponsored bid {row['sponsored_bid']:.2f}")
        parts += [f"margin {row['margin']:.2f}", f"price {row['price']:.2f}"]
        text = "promoted by profit: " + ", ".join(parts)
    elif objective == "blend":
        shares = {o: row.get(f"blend_{o}", 0.0) for o in BASE_OBJECTIVES}
        top = max(shares, key=shares.get)
        text = f"promoted by the blend, mostly through {PLAIN[top]}"
    else:
        text = f"promoted by {objective}: predicted rating {row['predicted_rating']:.2f}"
    if row.get("labels"):
        text += f"; labelled {row['labels'].replace('|', ', ')}"
    return text


def drop_reason(objective: str, row: dict, kept_min: float) -> str:
    """Why an item the rating objective shows fell out under another objective."""
    key = {"engagement": "expected_watch_minutes", "profit": "expected_profit"}.get(objective)
    if key is None:
        return (f"dropped by {objective}: predicted rating {row['predicted_rating']:.2f}, "
                "but its blended score was below the list's")
    return (f"dropped by {objective}: predicted rating {row['predicted_rating']:.2f}, but "
            f"{key.replace('_', ' ')} {row[key]:.2f} is below {kept_min:.2f}, the lowest kept")


def compare_user(model: ObjectiveModel, user_id: int, k: int = 10,
                 policy: ContentPolicy | None = None,
                 weights: dict[str, float] | None = None) -> UserComparison:
    """The user's list under each objective (the engine's real results) and the changes."""
    eng, biz = model.engine, model.business
    u = int(eng.data.user_index(user_id)[0])
    v_u = model.user_vector(u)
    w = normalise_weights(weights or DEFAULT_WEIGHTS)
    tables, results = {}, {}
    # the blend normalises over the user's candidates: the same pool explains it
    pool_items = candidate_pool(eng, [u], policy).candidates[0]
    pool_comp = model.components(v_u, pool_items)
    for name in OBJECTIVES:
        res = eng.recommend(user_id, k, policy, model.objective(name, w))
        results[name] = res
        frame = res.to_frame()
        idx = eng.data.item_index(frame["item_id"].to_numpy()) if len(frame) else \
            np.zeros(0, np.int64)
        comp = model.components(v_u, idx)
        frame["p_watch"] = comp["p_watch"]
        frame["expected_watch_minutes"] = comp["engagement"]
        frame["expected_profit"] = comp["profit"]
        for col in ("price", "margin", "sponsored_bid", "watch_minutes", "labels"):
            frame[col] = getattr(biz, col)[idx]
        tables[name] = frame
    changes = []
    base = tables["rating"]
    base_ids = set(base["item_id"].tolist())
    for name in OBJECTIVES[1:]:
        frame = tables[name]
        ids = set(frame["item_id"].tolist())
        for row in frame[~frame["item_id"].isin(base_ids)].to_dict("records"):
            if name == "blend":
                j = int(eng.data.item_index([row["item_id"]])[0])
                pos = int(np.flatnonzero(pool_items == j)[0])
                for o in BASE_OBJECTIVES:
                    row[f"blend_{o}"] = w[o] * minmax(pool_comp[o])[pos]
            changes.append({"objective": name, "change": "promoted", "item_id": row["item_id"],
                            "title": row["title"], "reason": promotion_reason(name, row)})
        key = {"engagement": "expected_watch_minutes", "profit": "expected_profit"}.get(name)
        kept_min = float(frame[key].min()) if key and len(frame) else float("nan")
        dropped = base[~base["item_id"].isin(ids)]
        if len(dropped):
            idx = eng.data.item_index(dropped["item_id"].to_numpy())
            comp = model.components(v_u, idx)
            for pos, row in enumerate(dropped.to_dict("records")):
                row["expected_watch_minutes"] = comp["engagement"][pos]
                row["expected_profit"] = comp["profit"][pos]
                changes.append({"objective": name, "change": "dropped",
                                "item_id": row["item_id"], "title": row["title"],
                                "reason": drop_reason(name, row, kept_min)})
    return UserComparison(int(user_id), tables,
                          pd.DataFrame(changes, columns=["objective", "change", "item_id",
                                                         "title", "reason"]), results)
