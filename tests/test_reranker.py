"""The ranking stage: features say what retrieval found; the fit is a plain logistic."""

import numpy as np

from recengine.logistic import fit_logistic
from recengine.reranker import FEATURES, Reranker, candidate_features, fit_reranker
from recengine.results import SourceHit


def test_features_count_similar_hits_and_keep_the_strongest_evidence():
    hits = [
        [SourceHit("similar", {"seed_item_id": 7, "distance": 0.4}),
         SourceHit("similar", {"seed_item_id": 9, "distance": 1.0}),
         SourceHit("genre", {"genre": "Drama", "rank": 4})],
        [SourceHit("overall", {"rank": 2}),
         SourceHit("cowatched", {"seed_item_id": 9, "similarity": 0.4})],
    ]
    columns = np.array([[1.0, 0.1, 0.5, 0.0, 0.9, 0.3, 0.7, 2.5],
                        [2.0, -0.2, 0.0, 1.0, 0.1, 0.0, 0.0, 2.5]])
    x = candidate_features(np.array([0.3, -0.1]), hits, {9: 0, 7: 3}, columns)
    f = dict(zip(FEATURES, x[0], strict=True))
    assert f["dot"] == 0.3
    assert f["sim_count"] == 2
    assert f["sim_best"] == 1 - 0.4 / 2  # cosine of the nearest seed
    assert f["sim_sum"] == (1 - 0.2) + (1 - 0.5)
    assert f["sim_recent"] == 1.0  # seed 9 was the last item watched
    assert f["genre_inv_rank"] == 1 / 4
    g = dict(zip(FEATURES, x[1], strict=True))
    assert g["region_inv_rank"] == 1 / 2 and g["sim_count"] == 0
    assert g["cowatch_hits"] == 1 and f["cowatch_hits"] == 0
    assert f["cowatch_affinity"] == 0.3
    np.testing.assert_array_equal(x[:, 7:12], columns[:, :5])
    assert f["item_model_score"] == 0.7 and g["log_activity"] == 2.5


def test_logistic_fit_recovers_a_planted_direction_and_round_trips():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 3))
    y = (x @ np.array([2.0, -1.0, 0.0]) + rng.logistic(size=4000) > 0).astype(float)
    model = fit_reranker(x, y, l2=0.1)
    assert model.weights[0] > 1.5 and model.weights[1] < -0.7 and abs(model.weights[2]) < 0.2
    again = Reranker.from_arrays(model.to_arrays())
    np.testing.assert_array_equal(model.score(x), again.score(x))
    assert Reranker.from_arrays({}) is None


def test_the_one_logistic_solver_matches_scikit_learn():
    """Peer check: the same penalised log-loss minimum as sklearn's lbfgs (C = 1 / l2)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    x = rng.normal(size=(1500, 4))
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.logistic(size=1500) > 0.3).astype(float)
    w, b = fit_logistic(x, y, l2=2.0)
    ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(w, ref.coef_[0], atol=1e-5)
    assert abs(b - ref.intercept_[0]) < 1e-5


def test_contributions_are_the_exact_parts_of_the_score():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, len(FEATURES)))
    y = (x[:, 0] + rng.logistic(size=300) > 0).astype(float)
    stage = fit_reranker(x, y)
    parts = stage.contributions(x[:5])
    np.testing.assert_allclose(parts.sum(axis=1) + stage.bias, stage.score(x[:5]), atol=1e-12)
    # by hand for one feature of one row: weight x standardised value
    assert parts[0, 3] == (x[0, 3] - stage.mean[3]) / stage.std[3] * stage.weights[3]
    assert abs(sum(stage.importance().values()) - 1.0) < 1e-12
