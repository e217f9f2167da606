"""Training the two-tower model: it learns, it is reproducible, its bundle is safe."""

import json

import numpy as np
import pytest

from recengine.bundle import load_bundle, save_bundle
from recengine.bundle_io import BundleError
from recengine.config import TrainConfig
from recengine.data.synthetic import SyntheticConfig, make_synthetic
from recengine.fit import train_two_tower
from recengine.model import ModelConfig, TowerConfig
from recengine.scoring import Scorer, UserProfile
from recengine.split import temporal_split

SMALL = TowerConfig(hidden=(64, 32))


def quick_config(**model) -> TrainConfig:
    return TrainConfig(epochs=6, batch_size=256, patience=0,
                       model=ModelConfig(user_tower=SMALL, item_tower=SMALL, **model))


def recall_at_10(scores: np.ndarray, train, test) -> float:
    """The protocol's Recall@10 (relevant: test ratings >= 4), written out plainly."""
    seen = train.groupby("u")["i"].apply(list).to_dict()
    relevant = test[test["rating"] >= 4].groupby("u")["i"].apply(set).to_dict()
    out = []
    for u, rel in relevant.items():
        s = scores[u].astype(float).copy()
        s[seen.get(u, [])] = -np.inf
        top = np.argsort(-s, kind="stable")[:10]
        out.append(len(rel.intersection(top)) / min(len(rel), 10))
    return float(np.mean(out))


@pytest.fixture(scope="module")
def planted():
    data = make_synthetic(SyntheticConfig(n_users=300, n_items=300, seed=3))
    split = temporal_split(data.interactions)
    return data, split


@pytest.fixture(scope="module")
def trained(planted):
    data, split = planted
    events = []
    bundle = train_two_tower(data, split.train, quick_config(), progress=events.append)
    return bundle, events


def test_training_loss_falls_and_progress_is_reported(trained):
    bundle, events = trained
    losses = bundle.metadata["history"]["loss"]
    assert losses[-1] < losses[0]
    epoch_ends = [e for e in events if e.get("epoch_end")]
    assert [e["epoch"] for e in epoch_ends] == list(range(1, len(losses) + 1))
    assert all({"step", "steps", "loss"} <= set(e) for e in events)


def test_trained_model_beats_popularity_on_planted_tastes(planted, trained):
    data, split = planted
    bundle, _ = trained
    model_recall = recall_at_10(bundle.scores_for_users(np.arange(data.n_users)),
                                split.train, split.test)
    popularity = np.bincount(split.train["i"], minlength=data.n_items).astype(float)
    pop_recall = recall_at_10(np.tile(popularity, (data.n_users, 1)), split.train, split.test)
    assert model_recall > pop_recall


def test_bundle_is_a_scorer_with_unit_vectors(trained):
    bundle, _ = trained
    assert isinstance(bundle, Scorer)
    assert bundle.item_vectors.shape[1] == 32
    np.testing.assert_allclose(np.linalg.norm(bundle.item_vectors, axis=1), 1, atol=1e-4)
    lo, hi = bundle.spec.rating_scale
    items = np.array([0, 1, 2])
    r = bundle.to_rating(np.array([-1.0, 0.0, 1.0]), items, 0.0)
    a, c = (float(w) for w in bundle.model.get_layer("rating_dot").get_weights())
    expected = bundle.spec.unscale_rating(a * np.array([-1.0, 0.0, 1.0]) + c
                                          + bundle.item_bias[items])
    np.testing.assert_allclose(r, expected, rtol=1e-6)


def test_save_then_load_gives_identical_predictions(planted, trained, tmp_path):
    data, split = planted
    bundle, _ = trained
    save_bundle(bundle, tmp_path / "b")
    again = load_bundle(tmp_path / "b", fingerprint=data.fingerprint)
    u, i = split.test["u"].to_numpy(), split.test["i"].to_numpy()
    np.testing.assert_array_equal(bundle.predict(u, i), again.predict(u, i))
    profile = UserProfile(ratings={int(data.items.item_id[0]): 5.0}, genres=["Comedy"])
    np.testing.assert_allclose(bundle.new_user_vector(profile), again.new_user_vector(profile),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(bundle.extras["similar_idx"], again.extras["similar_idx"])


def test_a_tampered_or_foreign_bundle_is_refused(planted, trained, tmp_path):
    data, _ = planted
    bundle, _ = trained
    path = save_bundle(bundle, tmp_path / "b")
    with pytest.raises(BundleError, match="other data"):
        load_bundle(path, fingerprint="0" * 64)
    meta = json.loads((path / "metadata.json").read_text())
    meta["config"]["epochs"] = 999
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="checksum"):
        load_bundle(path)
    path = save_bundle(bundle, tmp_path / "c")
    raw = (path / "arrays.npz").read_bytes()
    (path / "arrays.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(BundleError, match="checksum"):
        load_bundle(path)


def test_same_seed_same_metrics():
    data = make_synthetic(SyntheticConfig(n_users=80, n_items=60, seed=1))
    train = temporal_split(data.interactions).train
    cfg = TrainConfig(epochs=2, batch_size=128, patience=0,
                      model=ModelConfig(user_tower=SMALL, item_tower=SMALL))
    a = train_two_tower(data, train, cfg)
    b = train_two_tower(data, train, cfg)
    assert a.metadata["history"] == b.metadata["history"]
    np.testing.assert_array_equal(a.item_vectors, b.item_vectors)


@pytest.mark.parametrize("objective", ["rating", "binary"])
def test_the_seeds_objectives_train_the_pure_content_model(planted, objective):
    data, split = planted
    cfg = quick_config(objective=objective, use_item_ids=False, use_history=False)
    cfg.epochs = 3
    bundle = train_two_tower(data, split.train, cfg)
    losses = bundle.metadata["history"]["loss"]
    assert losses[-1] < losses[0]
    pred = bundle.predict(split.test["u"].to_numpy(), split.test["i"].to_numpy())
    lo, hi = data.rating_scale
    assert np.isfinite(pred).all() and (pred >= lo).all() and (pred <= hi).all()


def test_the_ranking_stage_is_learned_saved_and_used(planted, trained, tmp_path):
    from recengine.engine import Engine

    data, split = planted
    bundle, _ = trained
    stage = bundle.metadata["ranking_stage"]
    assert set(stage["features"]) >= {"dot", "sim_sum", "log_popularity"}
    again = load_bundle(save_bundle(bundle, tmp_path / "b"))
    engine = Engine.build(data, again, history=split.train)
    assert engine.reranker is not None and engine.reranker.name == stage["stage"]
    assert engine.reranker.explain() == pytest.approx(stage["features"], abs=1e-4)
    result = engine.recommend(int(data.users.user_id[0]), k=10)
    assert len(result.items) == 10 and all(item.sources for item in result.items)


def test_prediction_shapes_follow_the_pairs(planted, trained):
    data, split = planted
    bundle, _ = trained
    u, i = split.test["u"].to_numpy()[:7], split.test["i"].to_numpy()[:7]
    assert bundle.predict(u, i).shape == (7,)
    assert bundle.user_bias.shape == (data.n_users,)
    assert bundle.item_bias.shape == (data.n_items,)


def test_each_targets_history_bag_is_cut_just_before_it(planted):
    """A split of a split keeps row labels, so every cut-off points at its own target."""
    from recengine.split import validation_split
    from recengine.training import InteractionBatches, prepare_arrays

    data, split = planted
    cfg = TrainConfig()
    _, arrays = prepare_arrays(data, split.train, cfg)
    inner = validation_split(split.train, 0.1)
    batches = InteractionBatches(arrays, inner.train, cfg, shuffle=False)
    u, i = inner.train["u"].to_numpy(), inner.train["i"].to_numpy()
    assert (arrays.history[u, batches.cutoff] == arrays.rows[i]).all()


def test_an_engine_reuses_the_table_saved_with_the_model_when_wide_enough(planted, trained):
    from recengine.engine import Engine, EngineConfig
    from recengine.retrieval import RetrievalConfig

    data, split = planted
    bundle, _ = trained
    engine = Engine.build(data, bundle, history=split.train)
    assert engine.similar_table.method == "bundle"
    wider = EngineConfig(retrieval=RetrievalConfig(similar_per_item=50))
    assert Engine.build(data, bundle, history=split.train, config=wider).similar_table.method \
        != "bundle"  # the saved 20 neighbours cannot serve 50 per item: rebuilt
