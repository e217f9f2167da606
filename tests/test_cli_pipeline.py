"""The recommend and similar verbs against a real (tiny, one-epoch) saved model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from recengine.cli import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A two-tower bundle trained for one epoch on small synthetic data."""
    from recengine.bundle import save_bundle
    from recengine.config import TrainConfig
    from recengine.data import load_source
    from recengine.fit import train_two_tower
    from recengine.split import temporal_split

    data = load_source("synthetic:users=60,items=120,seed=3")
    bundle = train_two_tower(data, temporal_split(data.interactions).train,
                             TrainConfig(epochs=1, batch_size=256, patience=0))
    path = tmp_path_factory.mktemp("cli") / "model"
    save_bundle(bundle, path)
    return path, data


def test_recommend_prints_a_table_with_the_why(model_dir, capsys):
    path, data = model_dir
    user = int(data.users["user_id"].iloc[0])
    assert main(["recommend", "--model", str(path), "--user", str(user), "--k", "5"]) == 0
    out = capsys.readouterr().out
    assert f"Top 5 for user {user}" in out
    assert "because you watched" in out or "top " in out
    assert "funnel:" in out and "returned 5" in out


def test_recommend_json_is_the_result_object(model_dir, capsys):
    path, data = model_dir
    user = int(data.users["user_id"].iloc[1])
    assert main(["recommend", "--model", str(path), "--user", str(user), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["user_id"] == user and len(result["items"]) == 10
    watched = set(data.interactions.loc[data.interactions["user_id"] == user, "item_id"])
    assert not watched & {it["item_id"] for it in result["items"]}
    assert all(it["sources"] for it in result["items"])
    assert result["stage_counts"]["returned"] == 10


def test_similar_lists_nearest_items(model_dir, capsys):
    path, data = model_dir
    item = int(data.items["item_id"].iloc[4])
    assert main(["similar", "--model", str(path), "--item", str(item), "--n", "4",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 4 and item not in [r["item_id"] for r in rows]
    distances = [r["distance"] for r in rows]
    assert distances == sorted(distances)
    assert main(["similar", "--model", str(path), "--item", str(item)]) == 0
    assert "Items closest to" in capsys.readouterr().out


@pytest.mark.parametrize("verb,flag", [("recommend", "--user"), ("similar", "--item")])
def test_unknown_ids_exit_2_with_a_clear_error(model_dir, capsys, verb, flag):
    path, _ = model_dir
    assert main([verb, "--model", str(path), flag, "987654321"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown") and "987654321" in err


def test_serving_engine_from_a_bundle_uses_its_table_and_refuses_other_data(model_dir):
    from recengine.bundle_io import BundleError
    from recengine.data import load_source
    from recengine.serving import load_serving_engine

    path, data = model_dir
    engine = load_serving_engine(path, data=data)
    assert engine.similar_table.method == "bundle"
    assert engine.similar_table.indices.shape[0] == data.n_items
    with pytest.raises(BundleError, match="other data"):
        load_serving_engine(path, data=load_source("synthetic:users=60,items=120,seed=4"))


def test_recommend_states_its_ordering_rule_and_scores(model_dir, capsys):
    from recengine.serving import load_serving_engine

    path, data = model_dir
    user = int(data.users["user_id"].iloc[1])
    assert main(["recommend", "--model", str(path), "--user", str(user), "--k", "5"]) == 0
    out = capsys.readouterr().out
    served = load_serving_engine(path).recommend(user, 5)
    assert f"Top 5 for user {user}. {served.ordering_rule}." in out
    assert f"score {served.items[0].score:.3f}" in out


def test_train_says_what_the_loader_noticed(tmp_path, capsys):
    """A duplicated (user, item) pair is dropped, and the train verb says so aloud."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    items = pd.DataFrame({"item_id": range(1, 31), "title": [f"Film {i}" for i in range(1, 31)],
                          "genres": rng.choice(["Comedy", "Drama", "Action|Drama"], 30)})
    rows = [(u, i, float(rng.integers(1, 6)), 1000 + 10 * k)
            for u in range(1, 41) for k, i in enumerate(rng.choice(30, 12, replace=False) + 1)]
    rows.append((rows[0][0], rows[0][1], 5.0, 999_999))  # the same pair, rated again later
    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    items.to_csv(bundle / "items.csv", index=False)
    inter.to_csv(bundle / "interactions.csv", index=False)
    args = ["train", "--data", f"csv:{bundle}", "--out", str(tmp_path / "m"), "--epochs", "1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "note: " in printed and "duplicated (user, item) pair" in printed
    assert main([*args[:3], "--out", str(tmp_path / "m2"), "--epochs", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert any("kept the latest rating" in n for n in summary["data_notes"])


def test_an_unknown_argument_is_still_refused(model_dir, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["recommend", "--model", str(model_dir), "--user", "1", "--bogus"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_batch_audit_hands_every_argument_to_the_audits_verb(monkeypatch, tmp_path):
    """`python -m recengine batch audit ...` is `python -m audits batch ...` in a child."""
    from recengine.cli import batch

    calls = []
    monkeypatch.setattr(batch.subprocess, "call", lambda cmd: calls.append(cmd) or 7)
    argv = ["--model", "m", "--out", str(tmp_path / "o"), "--no-protocol", "--help"]
    assert main(["batch", "audit", *argv]) == 7  # the audit's own exit status
    assert calls == [[sys.executable, "-m", "audits", "batch", *argv]]


def test_batch_audit_runs_the_real_verb_and_keeps_its_one_line_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "recengine", "batch", "audit", "--model",
                           str(tmp_path / "missing"), "--out", str(tmp_path / "o"),
                           "--ray", "none"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'missing'}: no such model directory"]
