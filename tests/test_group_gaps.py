"""Group gaps: hand-checked figures, Holm by hand, and the bootstrap's false alarms and coverage.

No model is trained: every input is a few numbers or seeded random per-user data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from audits.group_gaps import (
    GapConfig,
    GapResult,
    bootstrap_critical_value,
    group_gap,
    group_table,
    holm,
)

# ----- a tiny example worked by hand --------------------------------------------------
# three users per group; each user's test-rating errors (prediction - truth)
ERRORS = {
    "u1": ("a", [1.0, -1.0]),       # sse 2, count 2
    "u2": ("a", [2.0]),             # sse 4, count 1
    "u3": ("a", [0.0, 0.0, 3.0]),   # sse 9, count 3   -> a: sqrt(15 / 6)
    "u4": ("b", [1.0]),             # sse 1, count 1
    "u5": ("b", [1.0, 1.0, 1.0]),   # sse 3, count 3
    "u6": ("b", [2.0, 0.0]),        # sse 4, count 2   -> b: sqrt(8 / 6)
}
TINY = GapConfig(n_boot=200, min_group_size=3)


def per_user_sse():
    groups = [g for g, _ in ERRORS.values()]
    sse = np.array([np.sum(np.square(e)) for _, e in ERRORS.values()])
    count = np.array([len(e) for _, e in ERRORS.values()], dtype=float)
    return sse, count, groups


def per_rating_rows() -> pd.DataFrame:
    rows = [{"user": u, "group": g, "y_true": 3.0, "y_pred": 3.0 + err}
            for u, (g, errs) in ERRORS.items() for err in errs]
    return pd.DataFrame(rows)


def metric_frame(metric, rows: pd.DataFrame) -> pd.Series:
    from fairlearn.metrics import MetricFrame

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = MetricFrame(metrics=metric, y_true=rows["y_true"], y_pred=rows["y_pred"],
                         sensitive_features=rows["group"])
    return mf.by_group


def test_rmse_is_a_ratio_of_per_user_sums_by_hand_and_as_fairlearn_sees_it():
    sse, count, groups = per_user_sse()
    table = group_table(sse, count, groups, transform=np.sqrt, config=TINY)
    assert table["group"].tolist() == ["a", "b"]
    assert table["value"].tolist() == pytest.approx([np.sqrt(15 / 6), np.sqrt(8 / 6)])
    # not the mean of per-user RMSEs: a's would be (1 + 2 + sqrt(3)) / 3
    assert table["value"].iloc[0] != pytest.approx((1 + 2 + np.sqrt(3)) / 3)
    assert table["n_users"].tolist() == [3, 3]
    assert not table["too_few"].any()
    assert (table["ci_low"] <= table["ci_high"]).all()

    def rmse(y_true, y_pred) -> float:
        return float(np.sqrt(np.mean((np.asarray(y_pred) - np.asarray(y_true)) ** 2)))

    peer = metric_frame(rmse, per_rating_rows())
    assert table["value"].tolist() == pytest.approx(peer.loc[["a", "b"]].tolist())


def test_means_per_user_and_per_rating_by_hand_and_as_fairlearn_sees_them():
    # per-user mean (den = 1): e.g. per-user recall
    recall = np.array([1.0, 0.0, 1.0, 0.5, 0.25, 0.75])
    groups = ["a", "a", "a", "b", "b", "b"]
    table = group_table(recall, 1.0, groups, config=TINY)
    assert table["value"].tolist() == pytest.approx([2 / 3, 0.5])

    def mean(y_true, y_pred) -> float:
        return float(np.mean(y_true))

    users = pd.DataFrame({"group": groups, "y_true": recall, "y_pred": 0.0})
    assert table["value"].tolist() == pytest.approx(metric_frame(mean, users).tolist())

    # a per-rating mean (num = the user's sum, den = their count): the mean absolute error
    rows = per_rating_rows()
    rows["abs_err"] = (rows["y_pred"] - rows["y_true"]).abs()
    by_user = rows.groupby("user").agg(group=("group", "first"), s=("abs_err", "sum"),
                                       n=("abs_err", "size"))
    table = group_table(by_user["s"], by_user["n"], by_user["group"], config=TINY)
    assert table["value"].tolist() == pytest.approx([(2 + 2 + 3) / 6, (1 + 3 + 2) / 6])
    rows["y_true"], rows["y_pred"] = rows["abs_err"], 0.0
    assert table["value"].tolist() == pytest.approx(metric_frame(mean, rows).tolist())


def test_group_interval_is_about_two_standard_errors_wide():
    rng = np.random.default_rng(0)
    values = rng.binomial(10, 0.3, 400) / 10
    table = group_table(values, 1.0, np.repeat("all", 400), config=GapConfig(n_boot=1000))
    row = table.iloc[0]
    se = values.std() / np.sqrt(400)
    assert row["ci_low"] < row["value"] < row["ci_high"]
    assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_missing_labels_and_users_without_a_value_are_dropped_quietly():
    values = np.array([1.0, 0.0, 1.0, 0.5, 9.0, 9.0, 4.0])
    den = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0])  # the last user has no value
    groups = pd.Series(["b", "a", "b", None, np.nan, None, "a"])
    table = group_table(values, den, groups, config=TINY)
    assert table["group"].tolist() == ["a", "b"]
    assert table["n_users"].tolist() == [1, 2]
    assert table["value"].tolist() == pytest.approx([0.0, 1.0])


# ----- Holm ---------------------------------------------------------------------------
def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04, 0.20 times 4, 3, 2, 1 -> 0.04, 0.09, 0.08, 0.20;
    # running max -> 0.04, 0.09, 0.09, 0.20; back in the input's order:
    assert holm([0.01, 0.04, 0.03, 0.20]) == pytest.approx([0.04, 0.09, 0.09, 0.20])
    # NaN is no test: kept, and not counted (m = 2 here)
    out = holm([0.01, np.nan, 0.04])
    assert np.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.04])
    assert holm([0.5, 0.6]).tolist() == [1.0, 1.0]  # capped at 1
    assert holm([]).shape == (0,)


def test_holm_agrees_with_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = np.random.default_rng(3).uniform(0, 0.2, 12)
    assert holm(p) == pytest.approx(multitest.multipletests(p, method="holm")[1])


# ----- the gap ------------------------------------------------------------------------
@pytest.mark.parametrize("studentize", [True, False])
def test_random_labels_rarely_give_a_gap_that_excludes_zero(studentize):
    rng = np.random.default_rng(42)
    values = rng.binomial(10, 0.3, 300) / 10  # per-user hit rates, no group effect
    labels = np.arange(300) % 3
    alarms, small_p = 0, 0
    for shuffle in range(200):
        groups = rng.permutation(labels)
        result = group_gap(values, 1.0, groups,
                           config=GapConfig(n_boot=300, seed=shuffle, studentize=studentize))
        alarms += result.excludes_zero
        small_p += result.p_value <= 0.05
    assert alarms / 200 <= 0.08  # nominal 0.05
    assert small_p / 200 <= 0.08


def test_random_labels_over_many_small_groups_stay_near_nominal():
    # 10 groups of 30 users (45 pairs): where picking the extreme pair hurts most
    rng = np.random.default_rng(7)
    values = rng.binomial(10, 0.3, 300) / 10
    labels = np.array([f"g{i}" for i in np.arange(300) % 10])
    alarms = sum(group_gap(values, 1.0, rng.permutation(labels),
                           config=GapConfig(n_boot=300, seed=s)).excludes_zero
                 for s in range(200))
    assert alarms / 200 <= 0.08


def test_critical_value_is_the_b_plus_one_order_statistic_by_hand():
    t = np.arange(1.0, 20.0)  # B = 19: 0.95 * 20 = 19, the largest; 0.9 * 20 = 18
    assert bootstrap_critical_value(t[::-1], 0.95) == 19.0
    assert bootstrap_critical_value(t, 0.9) == 18.0
    assert bootstrap_critical_value(np.arange(1.0, 501.0), 0.95) == 476.0  # ceil(475.95)
    assert bootstrap_critical_value([3.0], 0.95) == 3.0  # too few resamples: the largest


def test_with_two_groups_the_interval_and_the_p_value_make_one_decision():
    rng = np.random.default_rng(11)
    decisions = []
    for seed in range(60):
        values = rng.binomial(10, 0.3, 120) / 10
        groups = np.repeat(["a", "b"], 60)
        values = values + 0.04 * (groups == "a") * (seed % 2)
        r = group_gap(values, 1.0, groups, config=GapConfig(n_boot=199, seed=seed))
        decisions.append((r.excludes_zero, r.p_value <= 0.05))
    assert all(a == b for a, b in decisions)
    assert any(a for a, _ in decisions) and not all(a for a, _ in decisions)


def planted(rng, delta: float, n_per_group: int = 150):
    """Per-user hit rates where group "a" is shifted up by exactly ``delta``."""
    values = rng.binomial(10, 0.3, 2 * n_per_group) / 10
    groups = np.repeat(["a", "b"], n_per_group)
    return values + delta * (groups == "a"), groups


def test_interval_covers_a_planted_gap():
    rng = np.random.default_rng(1)
    delta, covered = 0.05, 0
    for repeat in range(40):
        values, groups = planted(rng, delta)
        result = group_gap(values, 1.0, groups, config=GapConfig(n_boot=300, seed=repeat))
        covered += result.ci_low <= delta <= result.ci_high
    assert covered / 40 >= 0.85  # nominal 0.95


def test_interval_covers_a_planted_rmse_gap():
    # every rating's error ~ N(0, s2_u) with E[s2_u] = 1 in "b" and 1.44 in "a", counts
    # independent of s2_u: the groups' RMSEs are exactly 1.0 and 1.2
    rng = np.random.default_rng(2)
    covered = 0
    for repeat in range(40):
        count = rng.integers(1, 40, 300).astype(float)
        groups = np.repeat(["a", "b"], 150)
        s2 = rng.gamma(4.0, 0.25, 300) * np.where(groups == "a", 1.44, 1.0)
        sse = s2 * rng.chisquare(count)
        result = group_gap(sse, count, groups, transform=np.sqrt,
                           config=GapConfig(n_boot=300, seed=repeat))
        covered += result.ci_low <= 0.2 <= result.ci_high
    assert covered / 40 >= 0.85


def test_a_large_planted_gap_is_found_every_time():
    rng = np.random.default_rng(4)
    for repeat in range(30):
        values, groups = planted(rng, delta=0.3)
        result = group_gap(values, 1.0, groups, config=GapConfig(n_boot=300, seed=repeat))
        assert result.excludes_zero and result.largest == "a" and result.smallest == "b"
        assert result.p_value == pytest.approx(1 / 301)
        assert result.gap >= 0


def test_small_groups_are_flagged_and_kept_out_of_the_gap():
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.uniform(0.4, 0.6, 60), [5.0] * 5])  # c is extreme but tiny
    groups = ["a"] * 30 + ["b"] * 30 + ["c"] * 5
    config = GapConfig(n_boot=200)
    table = group_table(values, 1.0, groups, config=config).set_index("group")
    assert table["too_few"].to_dict() == {"a": False, "b": False, "c": True}
    assert table.loc["c", "value"] == pytest.approx(5.0)
    assert np.isnan(table.loc["c", ["ci_low", "ci_high"]].astype(float)).all()

    result = group_gap(values, 1.0, groups, config=config)
    assert result.too_few == ["c"] and result.n_groups == 2
    assert {result.largest, result.smallest} == {"a", "b"}
    by = table["value"]
    assert result.gap == pytest.approx(abs(by["a"] - by["b"]))


def test_fewer_than_two_eligible_groups_give_nan():
    values = np.linspace(0, 1, 45)
    groups = ["a"] * 25 + ["b"] * 15 + ["c"] * 5
    result = group_gap(values, 1.0, groups, config=GapConfig(n_boot=100))
    assert result.n_groups == 1 and result.too_few == ["b", "c"]
    assert np.isnan([result.gap, result.ci_low, result.ci_high, result.p_value]).all()
    assert result.largest is None and not result.excludes_zero


def test_groups_with_no_spread_carry_no_evidence():
    values = np.array([1.0] * 25 + [0.0] * 25)
    result = group_gap(values, 1.0, ["a"] * 25 + ["b"] * 25, config=GapConfig(n_boot=100))
    assert result.gap == 1.0 and result.p_value == 1.0
    assert np.isnan(result.ci_low) and not result.excludes_zero


def test_same_seed_same_answer():
    rng = np.random.default_rng(6)
    values, groups = rng.uniform(size=120), rng.choice(["x", "y", "z"], 120)
    config = GapConfig(n_boot=200, seed=11)
    first = group_gap(values, 1.0, groups, config=config)
    assert isinstance(first, GapResult)
    assert group_gap(values, 1.0, groups, config=config) == first
    other = group_gap(values, 1.0, groups, config=GapConfig(n_boot=200, seed=12))
    assert other.gap == first.gap and other.ci_low != first.ci_low
    pd.testing.assert_frame_equal(group_table(values, 1.0, groups, config=config),
                                  group_table(values, 1.0, groups, config=config))
