"""Bias and fairness: hand-checked metrics, then the audit under the evaluation protocol."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audits.bias import (
    BiasAuditConfig,
    age_band,
    audit_bias,
    bootstrap_group_ci,
    calibration_kl,
    genre_distribution,
    group_metric,
    kl_divergence,
    long_tail_mask,
    mean_popularity,
    protocol_engine,
    sample_users,
    share_in,
)
from recengine.engine import Engine
from recengine.evaluation import recall_at_k, relevant_by_user
from recengine.split import temporal_split


@pytest.fixture(scope="module")
def engine(small_trained) -> Engine:
    return Engine.build(*small_trained)


@pytest.fixture(scope="module")
def audit(engine):
    return audit_bias(engine, BiasAuditConfig(n_users=150, k=10, n_boot=300))


# ----- metrics by hand ----------------------------------------------------------------
def test_long_tail_is_everything_outside_the_top_fifth():
    pop = [50, 1, 7, 7, 0, 3, 9, 2, 1, 0]  # top 20% of 10 = 2 items: 50 and 9
    tail = long_tail_mask(pop, 0.2)
    assert np.flatnonzero(~tail).tolist() == [0, 6]
    # a tie at the boundary goes to the lower index
    assert np.flatnonzero(~long_tail_mask([5, 5, 5, 1, 1], 0.2)).tolist() == [0]
    assert share_in([0, 1, 2, 3], tail) == pytest.approx(0.75)
    assert mean_popularity([0, 6], np.asarray(pop, float)) == pytest.approx(29.5)


def test_genre_distribution_and_calibration_by_hand():
    gm = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], bool)
    # item 0 gives Action 1; item 1 gives Action 0.5 and Comedy 0.5 -> (1.5, 0.5, 0) / 2
    assert genre_distribution([0, 1], gm).tolist() == [0.75, 0.25, 0.0]
    assert kl_divergence([1, 0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert kl_divergence([0.5, 0.5], [0.5, 0.5]) == pytest.approx(0.0)
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    # smoothing: q~ = 0.99 q + 0.01 p keeps a missed genre finite
    p, q = np.array([0.5, 0.5]), np.array([1.0, 0.0])
    expected = 0.5 * np.log(0.5 / (0.99 + 0.005)) + 0.5 * np.log(0.5 / 0.005)
    assert calibration_kl(p, q, alpha=0.01) == pytest.approx(expected)
    assert calibration_kl(p, p) == pytest.approx(0.0)


def test_age_bands_and_user_sampling():
    assert age_band([17, 18, 24, 25, 54, 55, np.nan]).tolist()[:6] == \
        ["<18", "18-24", "18-24", "25-34", "45-54", "55+"]
    assert pd.isna(age_band([np.nan]).iloc[0])
    assert sample_users(5, 10).tolist() == [0, 1, 2, 3, 4]
    s = sample_users(100, 10, seed=1)
    assert len(set(s.tolist())) == 10 and s.tolist() == sample_users(100, 10, seed=1).tolist()


def test_group_metric_uses_metricframe_figures_and_a_seeded_bootstrap():
    values = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    groups = np.array(["a", "a", "a", "b", "b", "b"])
    rows, gap = group_metric(values, groups, "mean", "hit", n_boot=200, ci=(0.025, 0.975),
                             seed=0)
    by = rows.set_index("group")["value"]
    assert by["a"] == pytest.approx(2 / 3) and by["b"] == pytest.approx(1 / 3)
    assert gap["gap"] == pytest.approx(1 / 3)
    assert (gap["largest"], gap["smallest"]) == ("a", "b")
    assert gap["ci_low"] <= gap["gap"] <= gap["ci_high"]
    again, gap2 = group_metric(values, groups, "mean", "hit", n_boot=200, ci=(0.025, 0.975),
                               seed=0)
    assert rows.equals(again) and gap == gap2, "same seed, same intervals"
    # rmse per group: a errs by 1 on both ratings, b by 0 and 2 -> sqrt(2)
    rows, gap = group_metric([3.0, 3.0, 3.0, 3.0], ["a", "a", "b", "b"], "rmse", "rmse", 0,
                             (0.025, 0.975), 0, y_pred=[4.0, 2.0, 3.0, 5.0],
                             rating_scale=(0.5, 5.0))
    by = rows.set_index("group")["value"]
    assert by["a"] == pytest.approx(1.0) and by["b"] == pytest.approx(np.sqrt(2))


def test_bootstrap_interval_covers_a_real_difference():
    rng = np.random.default_rng(0)
    vals = np.r_[rng.normal(1.0, 1, 2000), rng.normal(0.0, 1, 2000)]
    groups = np.array(["hi"] * 2000 + ["lo"] * 2000)
    frame, (lo, hi) = bootstrap_group_ci(vals, groups, 300, (0.025, 0.975), 0,
                                         pair=("hi", "lo"))
    assert lo < 1.0 < hi and lo > 0.8
    assert frame.set_index("group").loc["lo", "ci_low"] < 0 < \
        frame.set_index("group").loc["lo", "ci_high"]


# ----- the audit ----------------------------------------------------------------------
def test_recall_matches_the_protocol_on_the_same_lists(engine, audit):
    split = temporal_split(engine.data.interactions)
    eval_engine = protocol_engine(engine, split)
    users = sample_users(engine.data.n_users, 150)
    lists = eval_engine.recommend_topk_batch(users, 10)
    rel = relevant_by_user(split.test)
    with_rel = [u for u in users.tolist() if u in rel]
    expected = recall_at_k([lists[u] for u in with_rel], [rel[u] for u in with_rel], 10)
    assert audit.summary["recall@10"] == pytest.approx(expected)
    # retrieval read train only: no list holds an item the user rated in train
    train_items = split.train.groupby("u")["i"].apply(set).to_dict()
    assert all(not (set(lst.tolist()) & train_items.get(u, set()))
               for u, lst in zip(users.tolist(), lists, strict=True))


def test_popularity_bias_and_calibration_figures(audit):
    pu = audit.per_user
    assert audit.summary["catalogue_long_tail_share"] == pytest.approx(0.8)
    assert 0 <= audit.summary["long_tail_share"] <= 1
    assert audit.summary["popularity_lift"] == pytest.approx(pu["popularity_lift"].mean())
    assert (pu["calibration_kl"].dropna() >= 0).all()
    assert audit.summary["rmse"] > 0


def test_group_metrics_for_every_recorded_group(audit):
    assert set(audit.groups["group_column"]) == {"gender", "age_band", "region"}
    assert {"recall@10", "rmse", "long_tail_share", "rec_popularity"} <= \
        set(audit.groups["metric"])
    for gap in audit.gaps.itertuples():
        sel = audit.groups[(audit.groups["group_column"] == gap.group_column)
                           & (audit.groups["metric"] == gap.metric)].set_index("group")
        assert gap.gap == pytest.approx(sel.loc[gap.largest, "value"]
                                        - sel.loc[gap.smallest, "value"])
        assert gap.ci_low <= gap.ci_high
        assert (sel["n"] >= audit.config.min_group_size).all()
    assert (audit.groups["ci_low"] <= audit.groups["ci_high"]).all()
