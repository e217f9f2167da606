"""Bias and fairness: hand-checked metrics, then the audit under the evaluation protocol."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audits.bias import BiasAuditConfig, age_band, audit_bias, user_groups
from audits.objectives import sample_users
from recengine.evaluation import recall_at_k, relevant_by_user, rmse
from recengine.list_metrics import (
    calibration_kl,
    genre_distribution,
    kl_divergence,
    long_tail_mask,
    mean_popularity,
    share_in,
)
from recengine.model_store import evaluate_bundle
from recengine.serving import TRAINED_ON
from recengine.subject import Subject


@pytest.fixture(scope="module")
def subject(small_trained) -> Subject:
    return Subject.build(*small_trained)


@pytest.fixture(scope="module")
def audit(subject):
    return audit_bias(subject, BiasAuditConfig(n_users=150, k=10, n_boot=300,
                                               min_group_size=10))


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


def test_every_recorded_demographic_is_a_group_occupation_included():
    users = pd.DataFrame({"user_id": [1, 2, 3], "age": [20, 40, np.nan],
                          "gender": ["F", "M", None], "occupation": ["nurse", "artist", "nurse"],
                          "region": [None, None, None]})
    groups = user_groups(users)
    assert list(groups.columns) == ["gender", "age_band", "occupation"]
    assert groups["occupation"].tolist() == ["nurse", "artist", "nurse"]


# ----- the audit ----------------------------------------------------------------------
def test_recall_and_rmse_match_the_protocol_with_train_only_vectors(subject, audit):
    split = subject.split
    users = sample_users(subject.data.n_users, 150)
    lists = subject.protocol.recommend_topk_batch(users, 10)
    rel = relevant_by_user(split.test)
    with_rel = [u for u in users.tolist() if u in rel]
    expected = recall_at_k([lists[u] for u in with_rel], [rel[u] for u in with_rel], 10)
    assert audit.summary["recall@10"] == pytest.approx(expected)
    # retrieval read train only: no list holds an item the user rated in train
    train_items = split.train.groupby("u")["i"].apply(set).to_dict()
    assert all(not (set(lst.tolist()) & train_items.get(u, set()))
               for u, lst in zip(users.tolist(), lists, strict=True))
    # RMSE from the bundle's own train-only predictions, bias terms included
    test = split.test
    pred = subject.bundle.predict(test["u"].to_numpy(), test["i"].to_numpy())
    assert audit.summary["rmse"] == pytest.approx(
        rmse(pred, test["rating"].to_numpy(float), subject.data.rating_scale))


def test_the_audits_rmse_is_evaluates_pipeline_rmse(small_trained, subject, audit):
    data, bundle = small_trained
    bundle.metadata["trained_on"] = TRAINED_ON
    figures = evaluate_bundle(data, bundle, include_baselines=False)
    assert audit.summary["rmse"] == pytest.approx(figures["pipeline"]["rmse"], abs=1e-9)


def test_exposure_figures_describe_the_served_lists(subject, audit):
    users = sample_users(subject.data.n_users, 150)
    served = subject.served.recommend_topk_batch(users, 10)
    popularity = np.bincount(subject.split.train["i"].to_numpy(),
                             minlength=subject.data.n_items).astype(float)
    expected = np.mean([popularity[lst].mean() for lst in served])
    assert audit.summary["mean_rec_popularity"] == pytest.approx(expected)
    pu = audit.per_user
    assert audit.summary["catalogue_long_tail_share"] == pytest.approx(0.8)
    assert audit.summary["popularity_lift"] == pytest.approx(pu["popularity_lift"].mean())


def test_group_tables_and_gaps_for_every_recorded_group(audit):
    assert set(audit.groups["group_column"]) == {"gender", "age_band", "region"}
    assert {"recall@10", "rmse", "long_tail_share", "rec_popularity"} == \
        set(audit.groups["metric"])
    per_user = audit.per_user
    for gap in audit.gaps.itertuples():
        sel = audit.groups[(audit.groups["group_column"] == gap.group_column)
                           & (audit.groups["metric"] == gap.metric)].set_index("group")
        if np.isnan(gap.gap):
            continue
        assert gap.gap == pytest.approx(sel.loc[gap.largest, "value"]
                                        - sel.loc[gap.smallest, "value"])
        assert not sel.loc[[gap.largest, gap.smallest], "too_few"].any()
    # a group's recall by hand: the mean of its users' recall
    col = "gender"
    rec = per_user.dropna(subset=["recall@10"]).groupby(col)["recall@10"].mean()
    table = audit.groups[(audit.groups["group_column"] == col)
                         & (audit.groups["metric"] == "recall@10")].set_index("group")
    for g, value in rec.items():
        assert table.loc[g, "value"] == pytest.approx(value)
    assert (audit.gaps["p_holm"] >= audit.gaps["p_value"] - 1e-12).all()
