"""``python -m recengine evaluate``: one run, every system, one JSON file."""

from __future__ import annotations

import json

import pytest

from recengine.cli import main
from recengine.data import load_source
from recengine.evaluation import run_protocol
from recengine.split import temporal_split

RANKERS = ("pipeline", "two_tower", "cf", "popularity", "itemknn", "ease")
PREDICTORS = ("pipeline", "two_tower", "cf", "bias")


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "result.json"
    code = main(["evaluate", "--data", "synthetic:users=60,items=120,seed=1", "--quick",
                 "--epochs", "1", "--json", str(out)])
    return code, json.loads(out.read_text())


def test_evaluate_writes_every_system_and_the_baselines_reproduce(synthetic_run):
    code, result = synthetic_run
    assert code == 0
    data = load_source("synthetic:users=60,items=120,seed=1")
    split = temporal_split(data.interactions)
    assert (result["split"]["train"], result["split"]["test"]) == (len(split.train),
                                                                   len(split.test))
    # the baselines, fitted again by the protocol directly, give the CLI's figures
    reference = run_protocol(data, {}, include_baselines=True)
    for name in ("popularity", "itemknn", "ease", "bias"):
        for key, value in reference[name].items():
            assert result[name][key] == pytest.approx(value), (name, key)
    for name in RANKERS:
        m = result[name]
        assert set(m) >= {"recall@10", "ndcg@10", "coverage@10"}
        assert m["recall@10_vs_ease"] == pytest.approx(m["recall@10"] / result["ease"]["recall@10"])
    for name in PREDICTORS:
        assert result[name]["mae"] <= result[name]["rmse"]  # always: the mean of |e| <= rms
    assert "rmse" not in result["ease"] and "recall@10" not in result["bias"]


def test_evaluate_reports_cold_items_and_new_users(synthetic_run):
    _, result = synthetic_run
    for name in ("two_tower", "cf"):
        cold = result["cold_items"][name]
        assert set(cold) >= {"recall@10", "random_recall@10", "ratio", "auc", "random_auc"}
        assert cold["ratio"] == pytest.approx(cold["recall@10"] / cold["random_recall@10"])
        assert cold["random_auc"] == 0.5
    new = result["new_users"]
    assert new["n_ratings"] == 3 and new["users"] > 0
    for name in ("two_tower", "pipeline", "cf", "popularity"):
        assert set(new[name]) == {"recall@10", "ndcg@10"}


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
        assert f"{result[name]['recall@10']:.4f}" in printed  # the table shows the JSON
    data = load_source(f"movielens-100k:{ml_100k_fixture_path}")
    reference = run_protocol(data, {}, include_baselines=True)
    assert result["ease"]["recall@10"] == pytest.approx(reference["ease"]["recall@10"])


def test_evaluate_refuses_an_unknown_source(capsys):
    assert main(["evaluate", "--data", "nowhere:abc"]) == 2
    assert "unknown data source" in capsys.readouterr().err
