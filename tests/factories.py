"""Small hand-made data sets for tests that must not depend on a loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recengine.config import TrainConfig
from recengine.evaluation import recall_at_k, relevant_by_user, rmse
from recengine.model import ModelConfig, TowerConfig
from recengine.schema import Dataset
from recengine.serving import protocol_engine
from recengine.split import temporal_split

#: a small, quick two-tower for tests that need a trained model, not a good one
SMALL_TRAINING = TrainConfig(epochs=3, batch_size=256, model=ModelConfig(
    user_tower=TowerConfig(hidden=(64, 32)), item_tower=TowerConfig(hidden=(64, 32))))

GENRES = ["Action", "Comedy", "Drama", "Horror"]


def tiny_dataset(n_users: int = 30, n_items: int = 40, per_user: int = 12,
                 seed: int = 0, with_regions: bool = True) -> Dataset:
    """Users who like one genre each; ratings high inside it, low outside."""
    rng = np.random.default_rng(seed)
    item_genre = rng.integers(0, len(GENRES), n_items)
    items = pd.DataFrame({
        "item_id": np.arange(100, 100 + n_items),
        "title": [f"Film {k}" for k in range(n_items)],
        "year": rng.integers(1960, 2020, n_items).astype(float),
        "genres": [GENRES[g] for g in item_genre],
    })
    fav = rng.integers(0, len(GENRES), n_users)
    users = pd.DataFrame({"user_id": np.arange(1, n_users + 1)})
    if with_regions:
        users["region"] = np.where(np.arange(n_users) % 2 == 0, "north", "south")
        users["age"] = rng.integers(18, 70, n_users).astype(float)
        users["gender"] = np.where(np.arange(n_users) % 3 == 0, "F", "M")
    rows = []
    for u in range(n_users):
        chosen = rng.choice(n_items, size=per_user, replace=False)
        for t, i in enumerate(chosen):
            base = 4.5 if item_genre[i] == fav[u] else 2.0
            rating = float(np.clip(base + rng.normal(0, 0.4), 0.5, 5.0))
            rows.append((u + 1, 100 + i, round(rating * 2) / 2, 1_000 + 10 * t + u))
    inter = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return Dataset(items, users, inter, name="tiny", source="tiny")


def assert_pipeline_figures_by_hand(result: dict, data, bundle) -> None:
    """The protocol's pipeline figures are the protocol engine's lists and the bundle's
    own predictions, recomputed here from the split (Recall@10 and RMSE)."""
    split = temporal_split(data.interactions)
    engine = protocol_engine(data, bundle, split.train)
    rel = relevant_by_user(split.test)
    users = sorted(rel)
    lists = engine.recommend_topk_batch(users, 10)
    assert abs(result["pipeline"]["recall@10"]
               - recall_at_k(lists, [rel[u] for u in users], 10)) < 1e-9
    test = split.test
    expected = rmse(bundle.predict(test["u"].to_numpy(), test["i"].to_numpy()),
                    test["rating"].to_numpy(float), data.rating_scale)
    assert abs(result["pipeline"]["rmse"] - expected) < 1e-6  # float32 dot products


#: the app's entry point and its default page, for AppTest
APP_FILE = str(Path(__file__).resolve().parents[1] / "app.py")
DEFAULT_PAGE = "pages/1_Recommendations.py"


def open_app_page(page: str = DEFAULT_PAGE, timeout: int = 300, /, **query):
    """The app opened on ``page`` with these query parameters, run, and free of exceptions."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP_FILE, default_timeout=timeout)
    at.query_params.update(query)
    at.run()
    if page != DEFAULT_PAGE:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at
