"""The baselines against their textbook formulas, and the protocol run around them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recengine.evaluation import (
    System,
    binary_matrix,
    fit_bias,
    fit_ease,
    fit_itemknn,
    fit_popularity,
    format_report,
    run_protocol,
    system_results,
)
from recengine.schema import Dataset
from recengine.split import temporal_split


def _random_train(n_users=25, n_items=30, density=0.2, seed=0, unrated=(3, 17)):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[:, list(unrated)] = False  # items nobody rated: EASE drops them from the solve
    u, i = np.nonzero(mask)
    return pd.DataFrame({"u": u, "i": i, "rating": rng.choice([1.0, 3.0, 4.5, 5.0], len(u))})


def test_popularity_scores_are_train_counts():
    train = pd.DataFrame({"u": [0, 1, 2, 0], "i": [2, 2, 2, 0], "rating": 4.0})
    scores = fit_popularity(train, n_items=4)(np.array([0, 1]))
    assert scores.tolist() == [[1.0, 0.0, 3.0, 0.0]] * 2


def test_itemknn_equals_the_sum_of_cosines_with_self_similarity_zeroed():
    train = _random_train()
    x = binary_matrix(train, 25, 30).toarray()
    norms = np.linalg.norm(x, axis=0)
    safe = np.where(norms > 0, norms, 1.0)
    cos = (x.T @ x) / np.outer(safe, safe)
    np.fill_diagonal(cos, 0.0)
    users = np.arange(25)
    assert fit_itemknn(train, 30, 25)(users) == pytest.approx(x @ cos, abs=1e-12)


def test_ease_equals_the_closed_form_on_the_whole_catalogue():
    train = _random_train()
    x = binary_matrix(train, 25, 30).toarray()
    p = np.linalg.inv(x.T @ x + 300.0 * np.eye(30))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    users = np.arange(25)
    assert fit_ease(train, 30, 25)(users) == pytest.approx(x @ b, abs=1e-12)
    # a smaller L2 weight is honoured too
    p = np.linalg.inv(x.T @ x + 2.0 * np.eye(30))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    assert fit_ease(train, 30, 25, l2=2.0)(users) == pytest.approx(x @ b, abs=1e-10)


def test_bias_baseline_is_mean_then_item_then_user_residuals():
    train = pd.DataFrame({"u": [0, 0, 1], "i": [0, 1, 0], "rating": [5.0, 3.0, 4.0]})
    model = fit_bias(train, n_items=3, n_users=3)
    mu = 4.0
    b_item = np.array([(1.0 + 0.0) / 2, -1.0, 0.0])  # item 2 unseen -> 0
    b_user = np.array([((5 - mu - b_item[0]) + (3 - mu - b_item[1])) / 2,
                       4 - mu - b_item[0], 0.0])  # user 2 unseen -> 0
    assert model.mu == pytest.approx(mu)
    assert model.item_bias == pytest.approx(b_item)
    assert model.user_bias == pytest.approx(b_user)
    assert model.predict(np.array([1, 2]), np.array([1, 2])) == pytest.approx(
        [mu + b_item[1] + b_user[1], mu])


# ----- the protocol run ------------------------------------------------------------------


def _dataset(n_users=40, n_items=50, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for t, i in enumerate(rng.choice(n_items, size=15, replace=False)):
            rows.append((u, int(i), float(rng.choice([2.0, 3.0, 4.0, 5.0])), t))
    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    items = pd.DataFrame({"item_id": np.arange(n_items), "title": [f"m{i}" for i in
                                                                   range(n_items)],
                          "year": 2000.0, "genres": "Drama"})
    return Dataset(items, pd.DataFrame({"user_id": np.arange(n_users)}), inter)


def test_run_protocol_reports_every_baseline_and_ratios_to_ease():
    data = _dataset()
    result = run_protocol(data)
    split = temporal_split(data.interactions)
    assert result["split"]["train"] == len(split.train)
    assert result["split"]["test"] == len(split.test)
    systems = system_results(result)
    assert list(systems) == ["popularity", "itemknn", "ease", "bias"]
    for name in ("popularity", "itemknn", "ease"):
        assert {"recall@10", "ndcg@10", "coverage@10"} <= set(systems[name])
        assert "rmse" not in systems[name]
        ratio = systems[name]["recall@10"] / systems["ease"]["recall@10"]
        assert systems[name]["recall@10_vs_ease"] == pytest.approx(ratio)
    assert {"rmse", "mae"} <= set(systems["bias"])
    assert "recall@10" not in systems["bias"]
    json.dumps(result)  # JSON-ready
    report = format_report(result)
    assert "ease" in report and f"{result['split']['train']:,}" in report


def test_systems_are_fitted_on_train_only_and_may_rank_by_lists():
    data = _dataset()
    split = temporal_split(data.interactions)
    seen = {}

    def fit_lists(train, train_data):
        seen["train"] = len(train)
        seen["data"] = len(train_data.interactions)
        counts = np.bincount(train["i"], minlength=train_data.n_items).astype(float)
        rated = train.groupby("u")["i"].apply(set).to_dict()
        order = np.argsort(-counts, kind="stable")

        def topk(users, k):
            return [[int(i) for i in order if i not in rated.get(int(u), set())][:k]
                    for u in users]

        return System("lists", topk_fn=topk, predict_fn=lambda u, i: np.full(len(u), 3.5))

    result = run_protocol(data, {"lists": fit_lists})
    assert seen == {"train": len(split.train), "data": len(split.train)}
    # the same ranking as popularity, reached through lists instead of scores
    for key in ("recall@10", "ndcg@10", "coverage@10"):
        assert result["lists"][key] == pytest.approx(result["popularity"][key])
    assert "rmse" in result["lists"]


def test_baselines_cannot_be_overwritten():
    with pytest.raises(ValueError, match="ease"):
        run_protocol(_dataset(), {"ease": lambda t, d: System("x")})
