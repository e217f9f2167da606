"""The protocol's reference figures on ml-latest-small (../shared/EVALUATION.md).

A figure that differs means the split, the candidate set or a metric differs
from the protocol, so this test guards every number the project reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recengine.evaluation import baseline_fits, evaluate_system, run_protocol
from recengine.split import temporal_split

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-latest-small"

pytestmark = pytest.mark.skipif(not (DATA / "ratings.csv").exists(),
                                reason=f"reference data not found at {DATA}")

REFERENCE = {
    "popularity": {"recall@10": 0.0736, "ndcg@10": 0.0743, "coverage@10": 0.0101},
    "itemknn": {"recall@10": 0.0820, "ndcg@10": 0.0734, "coverage@10": 0.0491},
    "ease": {"recall@10": 0.1177, "ndcg@10": 0.1038, "coverage@10": 0.0589},
    "bias": {"rmse": 0.9387, "mae": 0.7174},
}


@pytest.fixture(scope="module")
def data():
    from recengine.data import load_movielens_latest

    return load_movielens_latest(DATA)


@pytest.fixture(scope="module")
def result(data):
    return run_protocol(data)


def test_split_counts_match_the_reference(result, data):
    assert data.n_items == 9742
    assert result["split"] == {"train": 80672, "test": 20164, "users_with_relevant": 592,
                               "test_ratings_unseen_items": 1692}


@pytest.mark.parametrize("system", sorted(REFERENCE))
def test_baseline_figures_match_the_reference(result, system):
    for metric, want in REFERENCE[system].items():
        assert round(result[system][metric], 4) == pytest.approx(want, abs=1e-12), metric


def test_ranking_baselines_evaluate_every_user_with_a_relevant_item(result):
    for name in ("popularity", "itemknn", "ease"):
        assert result[name]["users"] == result["split"]["users_with_relevant"]
    assert result["ease"]["recall@10_vs_ease"] == pytest.approx(1.0)


def test_baselines_give_the_same_figures_on_rerun(result, data):
    split = temporal_split(data.interactions)
    train_data = data.with_interactions(split.train)
    fits = baseline_fits()
    for name in ("popularity", "itemknn", "bias"):
        system = fits[name](train_data.interactions, train_data)
        again = evaluate_system(system, split, data)
        assert again == {m: v for m, v in result[name].items() if not m.endswith("_vs_ease")}
