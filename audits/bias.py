"""Bias and fairness: popularity bias, calibration, diversity, and gaps between groups.

Two kinds of figure, each on the right lists:

* **exposure** (popularity lift, long tail, genre calibration, diversity,
  coverage): the **served** lists, the ones users actually get;
* **accuracy** (Recall@k, RMSE): the protocol's lists and predictions (temporal
  split of ../shared/EVALUATION.md, train-only history and vectors), because
  accuracy needs held-out ratings the model never saw.

Groups are every demographic column the data records (gender, age band,
occupation, region). Per-group figures and gap intervals come from
:mod:`audits.group_gaps`: users resampled within groups, extremes chosen again
in every resample, a simultaneous (max-statistic) interval over all pairs, and
Holm's correction across the many (column, metric) families; groups below a
minimum size are listed as "too few users" and take no part in a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recengine.evaluation import recall_at_k_per_user, relevant_by_user
from recengine.list_metrics import (
    calibration_kl,
    catalogue_coverage,
    genre_distribution,
    intra_list_diversity,
    long_tail_mask,
    mean_popularity,
    share_in,
)
from recengine.policy import ContentPolicy
from recengine.ranking import Objective
from recengine.subject import Subject

from .group_gaps import GapConfig, group_gap, group_table, holm
from .objectives import sample_users

AGE_BINS = (0, 18, 25, 35, 45, 55, np.inf)
AGE_LABELS = ("<18", "18-24", "25-34", "35-44", "45-54", "55+")
GROUP_COLUMNS = ("gender", "age_band", "occupation", "region")


def age_band(age) -> pd.Series:
    """Age in years -> band label ("<18", "18-24", ..., "55+"); missing stays missing."""
    return pd.cut(pd.Series(age, dtype=float), bins=list(AGE_BINS), right=False,
                  labels=list(AGE_LABELS)).astype("string")


def user_groups(users: pd.DataFrame) -> pd.DataFrame:
    """Every grouping column the data records: gender, age band, occupation, region."""
    out = pd.DataFrame(index=users.index)
    for col in ("gender", "occupation", "region"):
        if col in users.columns and users[col].notna().any():
            out[col] = users[col].astype("string")
    if "age" in users.columns and users["age"].notna().any():
        out["age_band"] = age_band(users["age"].to_numpy()).to_numpy()
    return out[[c for c in GROUP_COLUMNS if c in out.columns]]


@dataclass
class BiasAuditConfig:
    """Sample size, list length and the bootstrap; defaults run in seconds."""

    n_users: int = 200  # users sampled for the top-K lists (all when fewer)
    k: int = 10
    seed: int = 0
    head_share: float = 0.2
    calibration_alpha: float = 0.01
    n_boot: int = 500
    level: float = 0.95
    min_group_size: int = 20  # smaller groups are listed as too few users, not compared

    def gap_config(self) -> GapConfig:
        return GapConfig(n_boot=max(self.n_boot, 1), level=self.level,
                         min_group_size=self.min_group_size, seed=self.seed)


@dataclass
class BiasAudit:
    """Per-user figures, their means, per-group tables and the gaps with honest intervals."""

    per_user: pd.DataFrame
    summary: dict
    groups: pd.DataFrame  # group_column, metric, group, value, n_users, ci_low, ci_high, too_few
    gaps: pd.DataFrame  # group_column, metric, gap, ci_low, ci_high, largest, smallest, ...
    notes: list[str] = field(default_factory=list)
    config: BiasAuditConfig = field(default_factory=BiasAuditConfig)


def per_user_exposure(subject: Subject, users: np.ndarray, lists: list[np.ndarray],
                      cfg: BiasAuditConfig) -> pd.DataFrame:
    """Popularity, long tail, calibration and diversity of each user's served list."""
    data, train = subject.data, subject.split.train
    popularity = np.bincount(train["i"].to_numpy(), minlength=data.n_items).astype(float)
    tail = long_tail_mask(popularity, cfg.head_share)
    gm = data.genre_matrix
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
                               if gm.shape[1] and len(h) and len(lst) else np.nan),
            "intra_list_diversity": intra_list_diversity(subject.served.item_vectors[lst]),
        })
    out = pd.DataFrame(rows)
    out["popularity_lift"] = out["rec_popularity"] / out["history_popularity"]
    out.attrs["catalogue_long_tail_share"] = float(tail.mean())
    return out


def per_user_accuracy(subject: Subject, users: np.ndarray, k: int,
                      objective: Objective | None, policy: ContentPolicy | None
                      ) -> pd.DataFrame:
    """Recall@k of the protocol lists and each user's squared errors on test ratings."""
    test = subject.split.test
    lists = subject.protocol.recommend_topk_batch(users, k, policy, objective)
    relevant = relevant_by_user(test)
    recall = [float(recall_at_k_per_user([lst], [relevant[u]], k)[0]) if u in relevant
              else np.nan for u, lst in zip(users.tolist(), lists, strict=True)]
    mine = test[test["u"].isin(users)]
    pred = subject.protocol.pair_ratings(mine["u"].to_numpy(), mine["i"].to_numpy())
    lo, hi = subject.data.rating_scale
    err = (np.clip(pred, lo, hi) - mine["rating"].to_numpy(float)) ** 2
    sq = pd.DataFrame({"u": mine["u"].to_numpy(), "sse": err}).groupby("u")["sse"]
    out = pd.DataFrame({"u": users, f"recall@{k}": recall})
    out["sse"] = out["u"].map(sq.sum()).fillna(0.0).to_numpy()
    out["n_test"] = out["u"].map(sq.count()).fillna(0).astype(int).to_numpy()
    return out


#: (name, numerator column, denominator column or None for 1, sqrt?) of each group metric
def _metric_specs(k: int) -> list[tuple[str, str, str | None, bool]]:
    return [(f"recall@{k}", f"recall@{k}", None, False), ("rmse", "sse", "n_test", True),
            ("long_tail_share", "long_tail_share", None, False),
            ("rec_popularity", "rec_popularity", None, False)]


def group_figures(per_user: pd.DataFrame, groups: pd.DataFrame, k: int,
                  cfg: BiasAuditConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-group tables and gaps for every (group column, metric), Holm-adjusted."""
    gcfg = cfg.gap_config()
    tables, gaps = [], []
    for col in groups.columns:
        labels = groups[col].to_numpy(dtype=object)[per_user["u"].to_numpy()]
        labels = np.array([None if pd.isna(x) else str(x) for x in labels], dtype=object)
        for name, num_col, den_col, root in _metric_specs(k):
            num = per_user[num_col].to_numpy(float)
            den = (per_user[den_col].to_numpy(float) if den_col
                   else np.where(np.isfinite(num), 1.0, np.nan))
            transform = np.sqrt if root else None
            table = group_table(num, den, labels, transform, gcfg)
            table.insert(0, "metric", name)
            table.insert(0, "group_column", col)
            tables.append(table)
            res = group_gap(num, den, labels, transform, gcfg)
            gaps.append({"group_column": col, "metric": name, "gap": res.gap,
                         "ci_low": res.ci_low, "ci_high": res.ci_high,
                         "largest": res.largest, "smallest": res.smallest,
                         "p_value": res.p_value, "groups_compared": res.n_groups,
                         "too_few_users": ", ".join(res.too_few)})
    gap_df = pd.DataFrame(gaps, columns=["group_column", "metric", "gap", "ci_low", "ci_high",
                                         "largest", "smallest", "p_value", "groups_compared",
                                         "too_few_users"])
    gap_df["p_holm"] = holm(gap_df["p_value"].to_numpy(float)) if len(gap_df) else []
    gap_df["distinguishable"] = gap_df["p_holm"] < (1 - cfg.level)
    table_df = (pd.concat(tables, ignore_index=True) if tables else
                pd.DataFrame(columns=["group_column", "metric", "group", "value", "n_users",
                                      "ci_low", "ci_high", "too_few"]))
    return table_df, gap_df


def audit_bias(subject: Subject, config: BiasAuditConfig | None = None,
               objective: Objective | None = None,
               policy: ContentPolicy | None = None) -> BiasAudit:
    """Exposure of the served lists and accuracy under the protocol, overall and per group.

    ``objective`` (default: the served order) and ``policy`` apply to both list
    kinds. Relevant items are test ratings >= 4; Recall@k averages the sampled
    users with a relevant item, RMSE pools every test rating of the sample.
    """
    cfg = config or BiasAuditConfig()
    data = subject.data
    users = sample_users(data.n_users, cfg.n_users, cfg.seed)
    served_lists = subject.served.recommend_topk_batch(users, cfg.k, policy, objective)
    exposure = per_user_exposure(subject, users, served_lists, cfg)
    accuracy = per_user_accuracy(subject, users, cfg.k, objective, policy)
    return summarise_bias(subject, users, served_lists, exposure, accuracy, cfg)


def summarise_bias(subject: Subject, users: np.ndarray, served_lists: list[np.ndarray],
                   exposure: pd.DataFrame, accuracy: pd.DataFrame,
                   cfg: BiasAuditConfig) -> BiasAudit:
    """The audit from its per-user figures (:func:`per_user_exposure`, :func:`per_user_accuracy`).

    Apart from :func:`audit_bias` so the per-user figures can be computed
    elsewhere (``python -m audits batch`` computes them on workers, for every
    user) and summarised by this one function.
    """
    data = subject.data
    per_user = exposure.merge(accuracy, on="u")
    groups = user_groups(data.users)
    per_user = per_user.join(groups, on="u")
    recall_col = f"recall@{cfg.k}"
    n_test = int(per_user["n_test"].sum())
    summary = {
        "users": int(len(users)), "k": cfg.k,
        "users_with_relevant": int(per_user[recall_col].notna().sum()),
        "test_ratings": n_test,
        "mean_rec_popularity": float(per_user["rec_popularity"].mean()),
        "mean_history_popularity": float(per_user["history_popularity"].mean()),
        "popularity_lift": float(per_user["popularity_lift"].mean()),
        "long_tail_share": float(per_user["long_tail_share"].mean()),
        "history_long_tail_share": float(per_user["history_long_tail_share"].mean()),
        "catalogue_long_tail_share": exposure.attrs["catalogue_long_tail_share"],
        "calibration_kl": float(per_user["calibration_kl"].mean()),
        "intra_list_diversity": float(per_user["intra_list_diversity"].mean()),
        "coverage": catalogue_coverage(served_lists, data.n_items),
        recall_col: float(per_user[recall_col].mean()),
        "rmse": float(np.sqrt(per_user["sse"].sum() / n_test)) if n_test else float("nan"),
    }
    notes = [f"exposure figures: the served lists of {len(users)} sampled users; long tail: "
             f"items outside the top {cfg.head_share:.0%} by train popularity",
             "accuracy figures: the protocol (temporal split, train-only history and vectors, "
             "relevant = test rating >= 4)",
             f"group gaps: users resampled within groups ({cfg.n_boot} resamples), a "
             f"simultaneous {cfg.level:.0%} interval over all pairs of groups, Holm's "
             "correction across every column and metric; groups with fewer than "
             f"{cfg.min_group_size} users are listed as too few and not compared"]
    if not data.genre_matrix.shape[1]:
        notes.append("the data has no genres: calibration is not measured")
    if groups.empty:
        notes.append("the data records no user groups (gender, age, occupation, region)")
    group_rows, gap_rows = group_figures(per_user, groups, cfg.k, cfg)
    return BiasAudit(per_user, summary, group_rows, gap_rows, notes, cfg)
