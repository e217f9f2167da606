"""``python -m recengine evaluate``: one run, every system, one JSON file."""

from __future__ import annotations

import json

import pytest

from recengine.cli import main

RANKERS = ("pipeline", "two_tower", "cf", "popularity", "itemknn", "ease")
PREDICTORS = ("pipeline", "two_tower", "cf", "bias")


def _in_unit_range(x) -> bool:
    return x is not None and 0.0 <= x <= 1.0


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "result.json"
    code = main(["evaluate", "--data", "synthetic:users=60,items=120,seed=1", "--quick",
                 "--epochs", "1", "--json", str(out)])
    return code, json.loads(out.read_text())


def test_evaluate_writes_every_system_with_figures_in_range(synthetic_run):
    code, result = synthetic_run
    assert code == 0
    assert result["split"]["train"] > result["split"]["test"] > 0
    for name in RANKERS:
        m = result[name]
        assert _in_unit_range(m["recall@10"]) and _in_unit_range(m["ndcg@10"])
        assert 0.0 < m["coverage@10"] <= 1.0
        assert m["recall@10_vs_ease"] == pytest.approx(m["recall@10"] / result["ease"]["recall@10"])
    for name in PREDICTORS:
        assert 0.0 < result[name]["rmse"] < 5.0 and result[name]["mae"] <= result[name]["rmse"]
    assert "rmse" not in result["ease"] and "recall@10" not in result["bias"]


def test_evaluate_reports_cold_items_and_new_users(synthetic_run):
    _, result = synthetic_run
    for name in ("two_tower", "cf"):
        cold = result["cold_items"][name]
        assert set(cold) >= {"recall@10", "random_recall@10", "ratio", "auc", "random_auc"}
        assert _in_unit_range(cold["recall@10"]) and _in_unit_range(cold["auc"])
        assert cold["random_auc"] == 0.5
    new = result["new_users"]
    assert new["n_ratings"] == 3 and new["users"] > 0
    for name in ("two_tower", "pipeline", "cf", "popularity"):
        assert _in_unit_range(new[name]["recall@10"])


def test_evaluate_prints_a_table(capsys, tmp_path, ml_100k_fixture_path):
    out = tmp_path / "ml100k.json"
    code = main(["evaluate", "--data", f"movielens-100k:{ml_100k_fixture_path}", "--quick",
                 "--epochs", "1", "--no-cf", "--no-cold", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "ease" in printed and "pipeline" in printed and "recall/EASE" in printed
    result = json.loads(out.read_text())
    assert "cf" not in result and "cold_items" not in result
    assert result["split"]["train"] + result["split"]["test"] == result["data"]["interactions"]
    for name in ("pipeline", "two_tower", "ease"):
        assert _in_unit_range(result[name]["recall@10"])
    assert 0.0 < result["two_tower"]["rmse"] < 4.0  # ratings on MovieLens 100K's 1-5 scale


def test_evaluate_refuses_an_unknown_source(capsys):
    assert main(["evaluate", "--data", "nowhere:abc"]) == 2
    assert "unknown data source" in capsys.readouterr().err
