"""``evaluate --seeds 0,1``: one run per seed, then the mean and std over them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recengine.cli import main
from recengine.evaluation.seeds import parse_seeds, seed_summary

DATA = "synthetic:users=50,items=100,seed=2"
FAST = ["--quick", "--epochs", "1", "--no-cf", "--no-cold"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seeds")
    both, single = tmp / "both.json", tmp / "one.json"
    assert main(["evaluate", "--data", DATA, *FAST, "--seeds", "0,1", "--json", str(both)]) == 0
    assert main(["evaluate", "--data", DATA, *FAST, "--seed", "1", "--json", str(single)]) == 0
    return json.loads(both.read_text()), json.loads(single.read_text())


def test_each_seed_entry_is_the_single_seed_run(runs):
    both, single = runs
    assert [r["seed"] for r in both["seeds"]] == [0, 1]
    second = both["seeds"][1]
    for name in ("pipeline", "two_tower", "ease", "popularity", "itemknn", "bias"):
        assert second[name] == pytest.approx(single[name]), name
    assert second["split"] == single["split"]


def test_mean_and_std_blocks_are_numpy_over_the_seeds(runs):
    both, _ = runs
    seeds = both["seeds"]
    for name in ("pipeline", "two_tower", "ease"):
        assert set(both["mean"][name]) == set(seeds[0][name])
        for key in seeds[0][name]:
            values = np.array([s[name][key] for s in seeds], float)
            assert both["mean"][name][key] == pytest.approx(values.mean()), (name, key)
            assert both["std"][name][key] == pytest.approx(values.std(ddof=1)), (name, key)
    # the pipeline's ratio to EASE is the mean of the per-seed ratios
    ratios = [s["pipeline"]["recall@10"] / s["ease"]["recall@10"] for s in seeds]
    assert both["mean"]["pipeline"]["recall@10_vs_ease"] == pytest.approx(np.mean(ratios))
    assert both["mean"]["k"] == 10 and "k" not in both["std"]


def test_summary_by_hand_on_nested_blocks():
    runs = [{"seed": 0, "a": {"x": 1.0, "n": 4}, "cold_items": {"m": {"auc": 0.6}},
             "data": {"items": 3}, "note": "text"},
            {"seed": 1, "a": {"x": 3.0, "n": 6}, "cold_items": {"m": {"auc": 0.8}},
             "data": {"items": 3}, "note": "text"}]
    mean, std = seed_summary(runs)
    assert mean == {"a": {"x": 2.0, "n": 5.0}, "cold_items": {"m": {"auc": 0.7}}}
    assert std["a"]["x"] == pytest.approx(2 ** 0.5)  # sample std of 1 and 3
    assert std["cold_items"]["m"]["auc"] == pytest.approx(0.2 / 2 ** 0.5)


def test_bad_seed_lists_are_refused_in_one_line(capsys):
    with pytest.raises(ValueError, match="comma-separated integers"):
        parse_seeds("0,one")
    with pytest.raises(ValueError, match="twice"):
        parse_seeds("1,1")
    assert main(["evaluate", "--data", DATA, "--seeds", "0,x"]) == 2
    assert "comma-separated integers" in capsys.readouterr().err
