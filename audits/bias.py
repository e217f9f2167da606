"""Bias and fairness: popularity bias, calibration, diversity, and gaps between groups.

Each metric is a small numpy function that can be checked by hand; the audit
applies them to the pipeline's top-K lists under the evaluation protocol (the
temporal split of ../shared/EVALUATION.md, history = train only), so accuracy
per group means the same thing as the project's headline figures. Per-group
figures and their bootstrap intervals come from fairlearn's ``MetricFrame``
rather than hand-rolled grouping.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from recengine.engine import Engine
from recengine.evaluation import recall_at_k_per_user, relevant_by_user, rmse
from recengine.policy import ContentPolicy
from recengine.ranking import Objective
from recengine.split import Split, temporal_split

AGE_BINS = (0, 18, 25, 35, 45, 55, np.inf)
AGE_LABELS = ("<18", "18-24", "25-34", "35-44", "45-54", "55+")
GROUP_COLUMNS = ("gender", "age_band", "region")


# ----- metrics on lists ---------------------------------------------------------------
def gini(values) -> float:
    """Gini coefficient of non-negative values (0: equal exposure, near 1: one item gets all).

    Mean absolute difference over all ordered pairs / (2 x mean); items never
    shown count as zeros, so pass the whole catalogue's exposure counts.
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    if n == 0 or x.sum() <= 0:
        return 0.0
    # sum_i sum_j |x_i - x_j| = 2 * sum_i (2i - n + 1) x_(i) for sorted x (i from 0)
    total = 2.0 * np.sum((2 * np.arange(n) - n + 1) * x)
    return float(total / (2.0 * n * n * x.mean()))


def intra_list_diversity(vectors: np.ndarray) -> float:
    """``1 - mean pairwise cosine`` of a list's item vectors ``v_m`` (nan below 2 items).

    Uses the model's own item space, so "diverse" means what the model treats
    as different, on any data set (genres need not exist).
    """
    v = np.asarray(vectors, dtype=np.float64)
    if len(v) < 2:
        return float("nan")
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sims = v @ v.T
    iu = np.triu_indices(len(v), k=1)
    return float(1.0 - sims[iu].mean())


def catalogue_coverage(lists: Sequence[Sequence[int]], n_items: int) -> float:
    """Distinct items across all lists / catalogue size."""
    if n_items <= 0:
        raise ValueError(f"n_items must be positive, got {n_items}")
    shown = {int(j) for lst in lists for j in lst}
    return len(shown) / n_items


def jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    """``|A ∩ B| / |A ∪ B|`` of two lists as sets (1.0 when both are empty)."""
    sa, sb = {int(x) for x in a}, {int(x) for x in b}
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def exposure_counts(lists: Sequence[Sequence[int]], n_items: int) -> np.ndarray:
    """How many lists show each item (catalogue order)."""
    flat = np.fromiter((int(j) for lst in lists for j in lst), dtype=np.int64)
    return np.bincount(flat, minlength=n_items)


def long_tail_mask(popularity, head_share: float = 0.2) -> np.ndarray:
    """True for the long tail: items outside the ``ceil(head_share x n)`` most popular.

    Ties in popularity break towards the lower item index, so the head has
    exactly that many items and the split is reproducible.
    """
    pop = np.asarray(popularity, dtype=np.float64)
    n_head = int(np.ceil(head_share * len(pop)))
    order = np.lexsort((np.arange(len(pop)), -pop))
    tail = np.ones(len(pop), dtype=bool)
    tail[order[:n_head]] = False
    return tail


def share_in(items: Sequence[int], mask: np.ndarray) -> float:
    """Share of a list's slots whose item is in ``mask`` (nan for an empty list)."""
    items = np.asarray(items, dtype=np.int64)
    return float(mask[items].mean()) if len(items) else float("nan")


def mean_popularity(items: Sequence[int], popularity: np.ndarray) -> float:
    """Mean train popularity of a list's items (nan for an empty list)."""
    items = np.asarray(items, dtype=np.int64)
    return float(np.asarray(popularity, float)[items].mean()) if len(items) else float("nan")


def genre_distribution(items: Sequence[int], genre_matrix: np.ndarray) -> np.ndarray:
    """Genre shares of a list: each item spreads weight 1 evenly over its genres.

    Steck's (2018) ``p(g|i)``; items with no genre add nothing. All zeros when
    nothing in the list has a genre.
    """
    gm = np.asarray(genre_matrix, dtype=np.float64)[np.asarray(items, dtype=np.int64)]
    per_item = gm / np.maximum(gm.sum(axis=1, keepdims=True), 1.0)
    dist = per_item.sum(axis=0)
    total = dist.sum()
    return dist / total if total > 0 else dist


def kl_divergence(p, q) -> float:
    """``sum p log(p / q)`` over ``p > 0`` (natural log); inf where q = 0 < p."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    pos = p > 0
    if np.any(q[pos] <= 0):
        return float("inf")
    return float(np.sum(p[pos] * np.log(p[pos] / q[pos])))


def calibration_kl(history_dist, rec_dist, alpha: float = 0.01) -> float:
    """Miscalibration ``KL(p || q~)`` with Steck's smoothing ``q~ = (1 - alpha) q + alpha p``.

    ``p``: genre shares of the user's history, ``q``: of their recommendations.
    The smoothing keeps the figure finite when the list misses a genre the user
    watches, while still penalising it heavily. 0 means perfectly calibrated.
    """
    p, q = np.asarray(history_dist, float), np.asarray(rec_dist, float)
    return kl_divergence(p, (1.0 - alpha) * q + alpha * p)


def age_band(age) -> pd.Series:
    """Age in years -> band label ("<18", "18-24", ..., "55+"); missing stays missing."""
    return pd.cut(pd.Series(age, dtype=float), bins=list(AGE_BINS), right=False,
                  labels=list(AGE_LABELS)).astype("string")


# ----- the audit ----------------------------------------------------------------------
@dataclass
class BiasAuditConfig:
    """Sample size, list length and the bootstrap; defaults run in seconds."""

    n_users: int = 200  # users sampled for the top-K lists (all when fewer)
    k: int = 10
    seed: int = 0
    head_share: float = 0.2
    calibration_alpha: float = 0.01
    n_boot: int = 500
    ci: tuple[float, float] = (0.025, 0.975)
    min_group_size: int = 5  # smaller groups are reported as too small, not compared


@dataclass
class BiasAudit:
    """Per-user figures, their means, and per-group metrics with bootstrap intervals."""

    per_user: pd.DataFrame
    summary: dict
    groups: pd.DataFrame  # group_column, group, metric, value, ci_low, ci_high, n
    gaps: pd.DataFrame  # group_column, metric, gap, ci_low, ci_high, largest, smallest
    notes: list[str] = field(default_factory=list)
    config: BiasAuditConfig = field(default_factory=BiasAuditConfig)


def sample_users(n_users_total: int, n: int, seed: int = 0) -> np.ndarray:
    """Dense indices of ``n`` users drawn without replacement (all, in order, when n >= total)."""
    if n >= n_users_total:
        return np.arange(n_users_total, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_users_total, size=n, replace=False)).astype(np.int64)


def protocol_engine(engine: Engine, split: Split | None = None) -> Engine:
    """The same model and similar table, reading only the protocol's train history.

    Offline figures must not let retrieval see test ratings (they would be
    excluded as "watched" and the top lists would count them).
    """
    split = split or temporal_split(engine.data.interactions)
    return Engine.build(engine.data, engine.scorer, history=split.train,
                        similar_table=engine.similar_table, config=engine.config)


def pair_scores(engine: Engine, u, i) -> np.ndarray:
    """Raw ``v_u · v_m`` for (user, item) pairs through the Scorer API (one v_u per user)."""
    u = np.asarray(u, dtype=np.int64)
    users, pos = np.unique(u, return_inverse=True)
    dim = engine.item_vectors.shape[1]
    vecs = (np.stack([np.asarray(engine.scorer.user_vector(int(x)), np.float32) for x in users])
            if len(users) else np.zeros((0, dim), np.float32))
    return np.einsum("nd,nd->n", vecs[pos.reshape(-1)],
                     engine.item_vectors[np.asarray(i, np.int64)]).astype(np.float64)


def predicted_ratings(engine: Engine, u, i) -> np.ndarray:
    """Model predictions for (user, item) pairs, in rating units."""
    return np.asarray(engine.scorer.to_rating(pair_scores(engine, u, i)), dtype=np.float64)


def user_groups(users: pd.DataFrame) -> pd.DataFrame:
    """The grouping columns the data has: gender, age band, region (strings)."""
    out = pd.DataFrame(index=users.index)
    if "gender" in users.columns and users["gender"].notna().any():
        out["gender"] = users["gender"].astype("string")
    if "age" in users.columns and users["age"].notna().any():
        out["age_band"] = age_band(users["age"].to_numpy()).to_numpy()
    if "region" in users.columns and users["region"].notna().any():
        out["region"] = users["region"].astype("string")
    return out


def bootstrap_group_ci(per_row, groups, n_boot: int, ci: tuple[float, float], seed: int,
                       transform=None, pair: tuple[str, str] | None = None
                       ) -> tuple[pd.DataFrame, tuple[float, float]]:
    """Percentile intervals of each group's mean (after ``transform``) and of a gap.

    Rows are resampled with replacement *within* each group (group sizes stay
    as observed), ``n_boot`` times from one seeded generator. The gap is the
    signed difference between the two groups of ``pair`` (the observed largest
    and smallest), so its interval can include 0 and says whether the gap is
    distinguishable from sampling noise; an unsigned max-min of each resample
    would never reach 0. Vectorised numpy: fairlearn's own bootstrap rebuilds a
    DataFrame per resample and takes seconds where this takes milliseconds.
    """
    q = np.asarray(per_row, np.float64)
    g = pd.Series(np.asarray(groups, dtype=object)).astype(str).to_numpy()
    transform = transform or (lambda x: x)
    rng = np.random.default_rng(seed)
    names = sorted(set(g.tolist()))
    boots = np.empty((n_boot, len(names)))
    for col, name in enumerate(names):
        vals = q[g == name]
        idx = rng.integers(0, len(vals), size=(n_boot, len(vals)))
        boots[:, col] = transform(vals[idx].mean(axis=1))
    lo, hi = np.quantile(boots, ci, axis=0)
    if pair is None:
        gaps = boots.max(axis=1) - boots.min(axis=1)
    else:
        gaps = boots[:, names.index(pair[0])] - boots[:, names.index(pair[1])]
    frame = pd.DataFrame({"group": names, "ci_low": lo, "ci_high": hi})
    return frame, (float(np.quantile(gaps, ci[0])), float(np.quantile(gaps, ci[1])))


def group_metric(values, groups, kind: str, name: str, n_boot: int,
                 ci: tuple[float, float], seed: int, y_pred=None,
                 rating_scale: tuple[float, float] | None = None) -> tuple[pd.DataFrame, dict]:
    """One metric by group: fairlearn's MetricFrame for the figures, a seeded bootstrap for CIs.

    ``kind`` is ``"mean"`` (mean of ``values`` per group, e.g. per-user recall)
    or ``"rmse"`` (``values`` are true ratings, ``y_pred`` predictions, clipped
    to ``rating_scale``). Returns the per-group rows and the gap (largest minus
    smallest group) with its interval.
    """
    from fairlearn.metrics import MetricFrame

    values = np.asarray(values, dtype=np.float64)
    y_pred = np.zeros_like(values) if y_pred is None else np.asarray(y_pred, np.float64)
    if kind == "rmse":
        lo_hi = rating_scale or (-np.inf, np.inf)
        per_row = (np.clip(y_pred, *lo_hi) - values) ** 2

        def metric(y_true, y_hat) -> float:
            return rmse(y_hat, y_true, rating_scale)

        transform = np.sqrt
    elif kind == "mean":
        per_row, metric, transform = values, _mean_metric, None
    else:
        raise ValueError(f"unknown metric kind {kind!r}: use 'mean' or 'rmse'")
    groups = pd.Series(np.asarray(groups, dtype=object), name="group").astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = MetricFrame(metrics={name: metric}, y_true=values, y_pred=y_pred,
                         sensitive_features=groups)
    by = mf.by_group[name]
    counts = groups.value_counts()
    rows = pd.DataFrame({"group": by.index.astype(str), "metric": name,
                         "value": by.to_numpy(float),
                         "n": [int(counts.get(g, 0)) for g in by.index]})
    gap = {"metric": name, "gap": float(mf.difference()[name]),
           "largest": str(by.idxmax()), "smallest": str(by.idxmin())}
    if n_boot:
        cis, (g_lo, g_hi) = bootstrap_group_ci(per_row, groups, n_boot, ci, seed, transform,
                                               (gap["largest"], gap["smallest"]))
        rows = rows.merge(cis, on="group", how="left")
        gap["ci_low"], gap["ci_high"] = g_lo, g_hi
    else:
        rows["ci_low"] = rows["ci_high"] = np.nan
        gap["ci_low"] = gap["ci_high"] = np.nan
    return rows, gap


def _mean_metric(y_true, y_pred) -> float:
    return float(np.nanmean(y_true)) if len(y_true) else float("nan")


def audit_bias(engine: Engine, config: BiasAuditConfig | None = None,
               objective: Objective | None = None,
               policy: ContentPolicy | None = None) -> BiasAudit:
    """Popularity bias, calibration, diversity, coverage, and accuracy/exposure per group.

    Lists come from the pipeline reading the train split only; relevant items are
    test ratings >= 4 (the protocol); Recall@k averages the sampled users with a
    relevant item, RMSE every test rating. If the model itself was trained on all
    ratings, accuracy figures are optimistic: the report says which it was.
    """
    cfg = config or BiasAuditConfig()
    data = engine.data
    split = temporal_split(data.interactions)
    eval_engine = protocol_engine(engine, split)
    train, test = split.train, split.test
    popularity = np.bincount(train["i"].to_numpy(), minlength=data.n_items).astype(float)
    tail = long_tail_mask(popularity, cfg.head_share)
    gm = data.genre_matrix
    has_genres = gm.shape[1] > 0

    users = sample_users(data.n_users, cfg.n_users, cfg.seed)
    lists = eval_engine.recommend_topk_batch(users, cfg.k, policy, objective)
    relevant = relevant_by_user(test)
    hist = {int(u): g.to_numpy(np.int64) for u, g in train.groupby("u")["i"]}
    rows = []
    for u, lst in zip(users.tolist(), lists, strict=True):
        h = hist.get(u, np.zeros(0, np.int64))
        rows.append({
            "u": u, "user_id": int(data.users["user_id"].iloc[u]),
            "rec_popularity": mean_popularity(lst, popularity),
            "history_popularity": mean_popularity(h, popularity),
            "long_tail_share": share_in(lst, tail),
            "history_long_tail_share": share_in(h, tail),
            "calibration_kl": (calibration_kl(genre_distribution(h, gm),
                                              genre_distribution(lst, gm),
                                              cfg.calibration_alpha)
                               if has_genres and len(h) and len(lst) else np.nan),
            "intra_list_diversity": intra_list_diversity(engine.item_vectors[lst]),
            f"recall@{cfg.k}": (float(recall_at_k_per_user([lst], [relevant[u]], cfg.k)[0])
                                if u in relevant else np.nan),
        })
    per_user = pd.DataFrame(rows)
    per_user["popularity_lift"] = per_user["rec_popularity"] / per_user["history_popularity"]
    groups = user_groups(data.users)
    per_user = per_user.join(groups, on="u")

    pred = predicted_ratings(engine, test["u"].to_numpy(), test["i"].to_numpy())
    summary = {
        "users": int(len(users)), "k": cfg.k,
        "mean_rec_popularity": float(per_user["rec_popularity"].mean()),
        "mean_history_popularity": float(per_user["history_popularity"].mean()),
        "popularity_lift": float(per_user["popularity_lift"].mean()),
        "long_tail_share": float(per_user["long_tail_share"].mean()),
        "history_long_tail_share": float(per_user["history_long_tail_share"].mean()),
        "catalogue_long_tail_share": float(tail.mean()),
        "calibration_kl": float(per_user["calibration_kl"].mean()),
        "intra_list_diversity": float(per_user["intra_list_diversity"].mean()),
        "coverage": catalogue_coverage(lists, data.n_items),
        f"recall@{cfg.k}": float(per_user[f"recall@{cfg.k}"].mean()),
        "rmse": rmse(pred, test["rating"].to_numpy(float), data.rating_scale),
    }
    notes = [f"long tail: items outside the top {cfg.head_share:.0%} by train popularity",
             "accuracy under the protocol: temporal split, relevant = test rating >= 4"]
    if not has_genres:
        notes.append("the data has no genres: calibration is not measured")
    group_rows, gap_rows = _group_figures(engine, per_user, groups, test, pred, cfg, notes)
    return BiasAudit(per_user, summary, group_rows, gap_rows, notes, cfg)


def _group_figures(engine: Engine, per_user: pd.DataFrame, groups: pd.DataFrame,
                   test: pd.DataFrame, pred: np.ndarray, cfg: BiasAuditConfig,
                   notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    scale = engine.data.rating_scale
    recall_col = f"recall@{cfg.k}"

    all_rows, all_gaps = [], []
    if groups.empty:
        notes.append("the data has no user groups (gender, age, region): no group metrics")
    for col in groups.columns:
        user_group = groups[col]
        sizes = user_group.loc[per_user["u"]].value_counts()
        small = sorted(str(g) for g, n in sizes.items() if n < cfg.min_group_size)
        if small:
            notes.append(f"{col}: groups with fewer than {cfg.min_group_size} sampled users "
                         f"left out of the comparison: {', '.join(small)}")
        ok_groups = {g for g, n in sizes.items() if n >= cfg.min_group_size}
        if len(ok_groups) < 2:
            notes.append(f"{col}: fewer than two groups large enough to compare")
            continue
        pu = per_user[per_user[col].isin(ok_groups)]
        with_rel = pu[pu[recall_col].notna()]
        t_groups = user_group.to_numpy(dtype=object)[test["u"].to_numpy()]
        t_keep = pd.Series(t_groups).isin(ok_groups).to_numpy()
        specs = [
            (with_rel[recall_col], with_rel[col], "mean", recall_col, None),
            (test["rating"].to_numpy(float)[t_keep], t_groups[t_keep], "rmse", "rmse",
             pred[t_keep]),
            (pu["long_tail_share"], pu[col], "mean", "long_tail_share", None),
            (pu["rec_popularity"], pu[col], "mean", "rec_popularity", None),
        ]
        for values, grp, kind, name, y_pred in specs:
            if len(values) == 0 or pd.Series(grp).nunique() < 2:
                continue
            rows, gap = group_metric(values, grp, kind, name, cfg.n_boot, cfg.ci, cfg.seed,
                                     y_pred, scale)
            rows.insert(0, "group_column", col)
            gap["group_column"] = col
            all_rows.append(rows)
            all_gaps.append(gap)
    group_df = (pd.concat(all_rows, ignore_index=True) if all_rows else
                pd.DataFrame(columns=["group_column", "group", "metric", "value", "n",
                                      "ci_low", "ci_high"]))
    gap_df = pd.DataFrame(all_gaps, columns=["group_column", "metric", "gap", "ci_low",
                                             "ci_high", "largest", "smallest"])
    return group_df, gap_df


def pairwise_overlap(lists_by_name: dict[str, Sequence[Sequence[int]]]) -> pd.DataFrame:
    """Mean per-user Jaccard overlap between every pair of named list sets (same users)."""
    names = list(lists_by_name)
    out = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for a, b in combinations(names, 2):
        vals = [jaccard(x, y) for x, y in zip(lists_by_name[a], lists_by_name[b], strict=True)]
        out.loc[a, b] = out.loc[b, a] = float(np.mean(vals)) if vals else np.nan
    return out
