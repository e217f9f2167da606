"""The model store: train once, load after; a damaged bundle is retrained, not fatal."""

import numpy as np
import pytest

from recengine.config import TrainConfig
from recengine.data.synthetic import SyntheticConfig, make_synthetic
from recengine.model import ModelConfig, TowerConfig
from recengine.model_store import ModelStore, demo_train_config, evaluate_bundle
from recengine.serving import serving_engine
from tests.factories import assert_pipeline_figures_by_hand

TINY = TowerConfig(hidden=(32,))


def tiny_config(**changes) -> TrainConfig:
    return TrainConfig(epochs=2, batch_size=256, patience=0,
                       model=ModelConfig(user_tower=TINY, item_tower=TINY), **changes)


@pytest.fixture(scope="module")
def data():
    return make_synthetic(SyntheticConfig(n_users=120, n_items=200, seed=1))


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    store = ModelStore(tmp_path_factory.mktemp("models"))
    events = []
    bundle = store.get_or_train(data, tiny_config(), progress=events.append)
    return store, bundle, events


def test_first_call_trains_and_reports_progress(trained):
    _, bundle, events = trained
    assert events and events[-1]["epoch"] == bundle.metadata["epochs_run"]
    assert bundle.metadata["trained_on"] == "protocol-train-split"


def test_cache_hit_loads_without_training(data, trained):
    store, bundle, _ = trained
    again = []
    loaded = store.get_or_train(data, tiny_config(), progress=again.append)
    assert again == []  # no training step ran
    np.testing.assert_allclose(loaded.item_vectors, bundle.item_vectors)


def test_key_depends_on_data_and_config(data, trained):
    store, _, _ = trained
    other = make_synthetic(SyntheticConfig(n_users=120, n_items=200, seed=2))
    assert store.key(data, tiny_config()) != store.key(data, tiny_config(seed=1))
    assert store.key(data, tiny_config()) != store.key(other, tiny_config())
    assert store.load(data, tiny_config(seed=1)) is None


def test_corrupted_bundle_is_retrained(data, tmp_path):
    store = ModelStore(tmp_path)
    store.get_or_train(data, tiny_config())
    arrays = store.path(data, tiny_config()) / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[:100])  # truncated on disk
    assert store.load(data, tiny_config()) is None
    events = []
    bundle = store.get_or_train(data, tiny_config(), progress=events.append)
    assert events, "a damaged bundle must be retrained"
    assert store.load(data, tiny_config()) is not None
    assert bundle.item_vectors.shape[0] == data.n_items


def test_demo_config_accepts_json_overrides():
    cfg = demo_train_config('{"epochs": 3, "model": {"user_tower": {"hidden": [16]}}}')
    assert cfg.epochs == 3 and cfg.model.user_tower.hidden == (16,)
    assert cfg.model.item_tower.hidden == demo_train_config("").model.item_tower.hidden
    with pytest.raises(ValueError, match="unknown TrainConfig field 'epoch'"):
        demo_train_config('{"epoch": 3}')
    with pytest.raises(ValueError, match="not valid JSON"):
        demo_train_config("{epochs")


def test_serving_engine_never_returns_a_rated_item(data, trained):
    _, bundle, _ = trained
    before = bundle.user_vectors.copy()
    engine = serving_engine(data, bundle)
    assert engine.similar_table.method == "bundle"
    for user_id in data.users["user_id"].head(20):
        rated = set(data.interactions.loc[data.interactions["user_id"] == user_id, "item_id"])
        returned = {it.item_id for it in engine.recommend(int(user_id), k=10).items}
        assert returned and not returned & rated
    # serving refreshes user vectors on a copy: the bundle keeps its train-only vectors
    np.testing.assert_array_equal(bundle.user_vectors, before)


def test_evaluation_reports_the_bundle_beside_the_baselines(data, trained):
    _, bundle, _ = trained
    result = evaluate_bundle(data, bundle)
    assert result["pipeline"]["recall@10_vs_ease"] == pytest.approx(
        result["pipeline"]["recall@10"] / result["ease"]["recall@10"])
    assert_pipeline_figures_by_hand(result, data, bundle)


def test_a_history_rerun_with_nothing_removed_is_the_served_list(data, trained):
    """The counterfactual path (history recomputed by the model) reproduces serving exactly."""
    _, bundle, _ = trained
    engine = serving_engine(data, bundle)
    for user_id in data.users["user_id"].head(40).tolist():
        served = [it.item_id for it in engine.recommend(int(user_id), k=10).items]
        rerun = engine.rank(engine.candidates_without(int(user_id), []), 10)
        assert [it.item_id for it in rerun.items] == served
    # removing a watched item changes the user's vector: the model really reran
    uid = int(data.users["user_id"].iloc[0])
    first = int(data.interactions.loc[data.interactions["user_id"] == uid, "item_id"].iloc[0])
    assert not np.allclose(engine.candidates_without(uid, [first]).v_u,
                           engine.candidates(uid).v_u)
