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
