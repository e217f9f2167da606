"""Shared fixtures: small synthetic data for fast tests, the shared real data when present."""

from __future__ import annotations

from pathlib import Path

import pytest

from recengine.data.synthetic import SyntheticConfig, make_synthetic

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = (REPO_ROOT / ".." / "shared").resolve()


@pytest.fixture(scope="session")
def small_synthetic():
    """200 users, 400 items: enough structure for models to learn, fast to build."""
    return make_synthetic(SyntheticConfig(n_users=200, n_items=400, seed=0))


@pytest.fixture(scope="session")
def ml_latest_path() -> Path:
    """../shared/data/ml-latest-small (skips the test when it is not there)."""
    path = SHARED / "data" / "ml-latest-small"
    if not (path / "ratings.csv").is_file():
        pytest.skip(f"real data not present at {path}")
    return path


@pytest.fixture(scope="session")
def ml_100k_fixture_path() -> Path:
    """The invented rows in MovieLens 100K layout (../shared/fixtures/ml-100k-format)."""
    path = SHARED / "fixtures" / "ml-100k-format"
    if not (path / "u.data").is_file():
        pytest.skip(f"fixture not present at {path}")
    return path


@pytest.fixture(scope="session")
def small_trained():
    """(data, bundle): 150 synthetic users, 300 items, a quick model trained once."""
    from recengine.fit import train_two_tower
    from recengine.split import temporal_split
    from tests.factories import SMALL_TRAINING

    data = make_synthetic(SyntheticConfig(n_users=150, n_items=300, seed=0))
    return data, train_two_tower(data, temporal_split(data.interactions).train, SMALL_TRAINING)


@pytest.fixture(scope="session")
def small_model_dir(small_trained, tmp_path_factory) -> Path:
    """``small_trained``'s bundle saved once, where ``--model DIR`` verbs can read it."""
    from recengine.bundle import save_bundle

    path = tmp_path_factory.mktemp("small") / "model"
    save_bundle(small_trained[1], path)
    return path


#: the app under test: small synthetic data and a tiny model, so AppTest stays quick
APP_DATA = "synthetic:users=120,items=200"
APP_TRAINING = ('{"epochs": 2, "batch_size": 256, "patience": 0, "model": '
                '{"user_tower": {"hidden": [32]}, "item_tower": {"hidden": [32]}}}')


@pytest.fixture(scope="session")
def app_env(tmp_path_factory):
    """Environment for app tests: small data, tiny training, models in a temporary folder.

    Session-wide so every app and page test shares one trained model on disk.
    """
    import os

    env = {"RECENGINE_DATA": APP_DATA, "RECENGINE_TRAIN": APP_TRAINING,
           "RECENGINE_HOME": str(tmp_path_factory.mktemp("models"))}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
