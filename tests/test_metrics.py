"""The protocol's metrics on cases small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recengine.evaluation import (
    auc_with_ties,
    coverage_at_k,
    evaluate_cold_items,
    evaluate_ratings,
    evaluate_topk,
    evaluate_topk_lists,
    mae,
    ndcg_at_k,
    ndcg_at_k_per_user,
    random_recall,
    recall_at_k,
    recall_at_k_per_user,
    rmse,
    topk_from_scores,
)
from recengine.schema import Dataset
from recengine.split import cold_item_split

# ----- recall and NDCG -------------------------------------------------------------------


def test_recall_counts_hits_over_min_of_relevant_and_k():
    # user 0: 1 of 2 relevant items in the list -> 1/2; user 1: 2 of 5 relevant, k=3 -> 2/3
    topk = [[1, 2, 3], [7, 8, 9]]
    relevant = [{2, 5}, {7, 9, 10, 11, 12}]
    assert recall_at_k_per_user(topk, relevant, k=3) == pytest.approx([1 / 2, 2 / 3])
    assert recall_at_k(topk, relevant, k=3) == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_ndcg_uses_log2_discounts_and_ideal_over_min_relevant_k():
    # one hit at rank 2 of 2 relevant: DCG = 1/log2(3), ideal = 1/log2(2) + 1/log2(3)
    got = ndcg_at_k([[1, 2, 3]], [{2, 5}], k=3)
    assert got == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    # all relevant on top is perfect, whatever is below
    assert ndcg_at_k([[5, 2, 0]], [{2, 5}], k=3) == pytest.approx(1.0)


def test_users_without_relevant_items_are_left_out_of_the_average():
    topk = [[1, 2], [3, 4]]
    relevant = [{1}, set()]
    assert np.isnan(recall_at_k_per_user(topk, relevant, k=2)[1])
    assert np.isnan(ndcg_at_k_per_user(topk, relevant, k=2)[1])
    assert recall_at_k(topk, relevant, k=2) == pytest.approx(1.0)
    assert np.isnan(recall_at_k([[1]], [set()], k=1))  # nobody to average over


def test_short_lists_and_padding_keep_the_protocol_denominator():
    # k=5 but only two candidates: 2 hits of 3 relevant -> 2 / min(3, 5)
    assert recall_at_k([[4, 6]], [{4, 6, 8}], k=5) == pytest.approx(2 / 3)
    assert recall_at_k(np.array([[4, 6, -1, -1, -1]]), [{4, 6, 8}], k=5) == pytest.approx(2 / 3)


def test_a_duplicated_item_earns_one_hit():
    assert recall_at_k([[4, 4]], [{4, 5}], k=2) == pytest.approx(1 / 2)


def test_coverage_counts_distinct_items_and_ignores_padding():
    assert coverage_at_k([[0, 1], [1, 2]], n_items=10, k=2) == pytest.approx(0.3)
    assert coverage_at_k(np.array([[0, -1], [0, 3]]), n_items=4, k=2) == pytest.approx(0.5)


def test_rating_errors_clip_predictions_to_the_scale():
    # 6 -> 5 (error 0), 0 -> 0.5 (error 0), 3 vs 4 (error 1)
    pred, true = [6.0, 0.0, 3.0], [5.0, 0.5, 4.0]
    assert rmse(pred, true, (0.5, 5.0)) == pytest.approx(math.sqrt(1 / 3))
    assert mae(pred, true, (0.5, 5.0)) == pytest.approx(1 / 3)
    assert mae(pred, true) == pytest.approx((1 + 0.5 + 1) / 3)  # unclipped


# ----- top-k selection -------------------------------------------------------------------


def test_ties_go_to_the_lower_item_index():
    scores = np.array([[1.0, 3.0, 3.0, 0.0, 3.0]])
    assert topk_from_scores(scores, k=2).tolist() == [[1, 2]]
    assert topk_from_scores(scores, k=4).tolist() == [[1, 2, 4, 0]]
    assert topk_from_scores(scores, [[2]], k=2).tolist() == [[1, 4]]


def test_k_larger_than_the_candidates_pads_with_minus_one():
    scores = np.array([[0.2, 0.9, 0.5]])
    assert topk_from_scores(scores, [[1]], k=5).tolist() == [[2, 0, -1, -1, -1]]
    # -inf scores are still candidates; excluded items never are
    scores = np.array([[-np.inf, 1.0, -np.inf]])
    assert topk_from_scores(scores, [[1]], k=3).tolist() == [[0, 2, -1]]


def test_exclusions_accept_sparse_rows_and_bool_masks():
    scores = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    excl = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 1]]))
    expected = [[1, 2], [1, 0]]
    assert topk_from_scores(scores, excl, k=2).tolist() == expected
    assert topk_from_scores(scores, excl.toarray() > 0, k=2).tolist() == expected


def test_nan_scores_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        topk_from_scores(np.array([[1.0, np.nan]]), k=1)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_topk_matches_a_plain_sort_by_score_then_index(data):
    n_items = data.draw(st.integers(1, 12))
    k = data.draw(st.integers(1, 15))
    rows = data.draw(st.lists(st.lists(st.integers(-3, 3), min_size=n_items, max_size=n_items),
                              min_size=1, max_size=4))
    excluded = [data.draw(st.sets(st.integers(0, n_items - 1), max_size=n_items)) for _ in rows]
    scores = np.array(rows, dtype=np.float64)
    got = topk_from_scores(scores, [sorted(e) for e in excluded], k)
    for r, ex in enumerate(excluded):
        ranked = sorted((i for i in range(n_items) if i not in ex), key=lambda i: (-rows[r][i], i))
        want = (ranked[:k] + [-1] * k)[:k]
        assert got[r].tolist() == want


# ----- evaluators on tiny frames ---------------------------------------------------------


def _frame(rows):
    return pd.DataFrame(rows, columns=["u", "i", "rating"])


TRAIN = _frame([(0, 0, 5.0), (0, 1, 3.0), (1, 2, 4.0), (2, 0, 4.0)])
TEST = _frame([(0, 2, 5.0), (0, 3, 2.0), (1, 0, 4.5), (1, 3, 4.0), (2, 1, 3.0)])


def test_evaluate_topk_masks_train_items_and_averages_over_users_with_relevant():
    # item scores 3 > 2 > 1 > 0 for everyone: users rank unseen items 0,1,2,3 in that order
    def score_fn(users):
        return np.tile(np.array([3.0, 2.0, 1.0, 0.0]), (len(users), 1))

    got = evaluate_topk(score_fn, TRAIN, TEST, n_items=4, k=1)
    # user 0: top unseen is item 2 (relevant) -> 1; user 1: item 0 (relevant) -> 1;
    # user 2 (no rating >= 4 in test) is not averaged but its list (item 1) is covered
    assert got["users"] == 2
    assert got["recall@1"] == pytest.approx(1.0)
    assert got["coverage@1"] == pytest.approx(3 / 4)  # items 2, 0, 1
    got = evaluate_topk(score_fn, TRAIN, TEST, n_items=4, k=2, batch_size=1)
    # user 1 ranks [0, 1]: one hit of two relevant -> 1/2; NDCG 1 / (1 + 1/log2 3)
    assert got["recall@2"] == pytest.approx((1.0 + 0.5) / 2)
    assert got["ndcg@2"] == pytest.approx((1.0 + 1 / (1 + 1 / math.log2(3))) / 2)


def test_evaluate_topk_lists_counts_a_missing_list_as_zero_hits():
    got = evaluate_topk_lists({0: [2, 3]}, TEST, n_items=4, k=2)
    assert got["users"] == 2
    assert got["recall@2"] == pytest.approx((1.0 + 0.0) / 2)
    assert got["coverage@2"] == pytest.approx(2 / 4)
    same = evaluate_topk_lists(([0, 1], [[2, 3], []]), TEST, n_items=4, k=2)
    assert same["recall@2"] == got["recall@2"]


def test_evaluate_ratings_scores_every_test_rating():
    got = evaluate_ratings(lambda u, i: np.full(len(u), 4.0), TEST, (0.5, 5.0))
    errors = TEST["rating"].to_numpy() - 4.0
    assert got["rmse"] == pytest.approx(float(np.sqrt(np.mean(errors ** 2))))
    assert got["mae"] == pytest.approx(float(np.mean(np.abs(errors))))


# ----- cold-start items ------------------------------------------------------------------


def test_auc_counts_ties_as_one_half():
    assert auc_with_ties([3.0], [1.0, 2.0]) == pytest.approx(1.0)
    assert auc_with_ties([2.0], [1.0, 2.0, 3.0]) == pytest.approx((1 + 0.5) / 3)
    assert np.isnan(auc_with_ties([], [1.0]))


def test_random_recall_is_the_expected_share_shown():
    # 3 relevant among 100 candidates, k=10: E[hits] = 0.3, over min(3, 10)
    assert random_recall(np.array([3]), 100, k=10) == pytest.approx([0.1])
    # fewer candidates than k: everything is shown
    assert random_recall(np.array([2]), 5, k=10) == pytest.approx([1.0])


def _cold_dataset(n_users=30, n_items=60, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, size=12, replace=False):
            rows.append((u, int(i), float(rng.choice([1.0, 2.0, 4.0, 5.0])), len(rows)))
    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    items = pd.DataFrame({"item_id": np.arange(n_items), "title": [f"m{i}" for i in range(n_items)],
                          "year": 2000.0, "genres": "Drama"})
    return Dataset(items, pd.DataFrame({"user_id": np.arange(n_users)}), inter)


def test_cold_items_oracle_scores_auc_one_and_constant_scores_one_half():
    data = _cold_dataset()
    full = data.interactions
    liked = set(zip(full["u"][full["rating"] >= 4], full["i"][full["rating"] >= 4], strict=True))
    seen_train = []

    def fit_oracle(train, train_data):
        seen_train.append(train)
        return lambda users, items: np.array(
            [[1.0 if (u, i) in liked else 0.0 for i in items] for u in users])

    oracle = evaluate_cold_items(data, fit_oracle, seed=0, k=10)
    assert oracle["users"] > 0
    assert oracle["auc"] == pytest.approx(1.0)
    assert oracle["recall@10"] == pytest.approx(1.0)
    assert oracle["ratio"] == pytest.approx(1.0 / oracle["random_recall@10"])
    cold = cold_item_split(data, 0.1, 0).cold_items
    assert oracle["cold_items"] == len(cold) == round(0.1 * data.n_items)
    # the model never saw a rating of a cold item
    assert not np.isin(seen_train[0]["i"], cold).any()
    const = evaluate_cold_items(data, lambda t, d: (lambda u, i: np.zeros((len(u), len(i)))))
    assert const["auc"] == pytest.approx(0.5)
    assert const["random_auc"] == 0.5


def test_cold_items_by_hand():
    # every item cold (fraction 1): user 0 likes item 0 and disliked item 1; user 1 likes item 2
    inter = pd.DataFrame({"user_id": [0, 0, 1], "item_id": [0, 1, 2],
                          "rating": [5.0, 2.0, 4.0], "timestamp": [1, 2, 3]})
    items = pd.DataFrame({"item_id": range(5), "title": list("abcde"), "year": 2000.0,
                          "genres": ""})
    data = Dataset(items, pd.DataFrame({"user_id": [0, 1]}), inter)
    table = np.array([[0.5, 0.9, 0.1, 0.5, 0.2],
                      [0.3, 0.3, 0.3, 0.9, 0.0]])

    def fit(train, train_data):
        assert len(train) == 0  # nothing warm is left
        return lambda users, cold: table[np.ix_(users, cold)]

    got = evaluate_cold_items(data, fit, fraction=1.0, k=2)
    # user 0: top-2 = [1, 0] (0 beats tied 3 on index) -> recall 1; AUC vs unrated {2, 3, 4}:
    # 0.5 > 0.1, 0.5 = 0.5, 0.5 > 0.2 -> 2.5 / 3. User 1: top-2 = [3, 0] -> 0;
    # AUC vs {0, 1, 3, 4}: tie, tie, below, above -> 2 / 4.
    assert got["users"] == 2
    assert got["recall@2"] == pytest.approx(0.5)
    assert got["auc"] == pytest.approx((2.5 / 3 + 0.5) / 2)
    assert got["random_recall@2"] == pytest.approx(2 / 5)
    assert got["ratio"] == pytest.approx(0.5 / (2 / 5))
