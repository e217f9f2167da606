"""The recommend and similar verbs against a real (tiny, one-epoch) saved model."""

from __future__ import annotations

import json

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
