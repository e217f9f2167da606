"""Cold-item dropout: training rows shown exactly as a cold item arrives, at the stated rate."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recengine.config import ModelConfig, TrainConfig
from recengine.rating_head import ITEM_MEAN_COLUMN
from recengine.training import InteractionBatches, cold_item_matrix, prepare_arrays
from tests.factories import tiny_dataset

COUNT_COLUMN = ITEM_MEAN_COLUMN + 1  # FeatureSpec.item_matrix: year, mean rating, log count


def _batches(rate: float, shuffle: bool = True):
    data = tiny_dataset(n_users=60, n_items=40, per_user=20)
    train = data.interactions.assign(u=data.user_index(data.interactions["user_id"]),
                                     i=data.item_index(data.interactions["item_id"]))
    cfg = TrainConfig(batch_size=4096, model=ModelConfig(cold_item_dropout=rate))
    spec, arrays = prepare_arrays(data, train, cfg)
    batches = InteractionBatches(arrays, train, cfg, shuffle=shuffle)
    batches.scale = data.rating_scale
    return data, spec, arrays, batches


def test_a_cold_row_has_the_prior_mean_no_count_and_no_id_row():
    data, spec, arrays, _ = _batches(0.3)
    cold = cold_item_matrix(spec, data)
    # by hand: the shrunk mean falls back to the global mean, the count to 0
    expected_mean = (spec.global_mean - spec.item_mean[1]) / spec.item_std[1]
    expected_count = (np.log1p(0.0) - spec.item_mean[2]) / spec.item_std[2]
    np.testing.assert_allclose(cold[:, ITEM_MEAN_COLUMN], expected_mean, atol=1e-5)
    np.testing.assert_allclose(cold[:, COUNT_COLUMN], expected_count, atol=1e-5)
    other = np.delete(np.arange(cold.shape[1]), [ITEM_MEAN_COLUMN, COUNT_COLUMN])
    np.testing.assert_array_equal(cold[:, other], arrays.item_x[:, other])  # content stays


def test_training_rows_are_either_as_they_are_or_fully_cold_at_the_stated_rate():
    data, spec, arrays, batches = _batches(0.3)
    x, _ = batches[0]
    i = batches.i[batches.order[:len(x["item_row"])]]
    is_cold = x["item_row"] == 0
    np.testing.assert_array_equal(x["item_features"][is_cold], arrays.item_x_cold[i[is_cold]])
    np.testing.assert_array_equal(x["item_features"][~is_cold], arrays.item_x[i[~is_cold]])
    n = len(is_cold)
    assert abs(is_cold.mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)  # binomial, 4 sigma


def test_validation_rows_and_the_default_model_never_simulate_cold_items():
    _, _, arrays, val = _batches(0.3, shuffle=False)
    x, _ = val[0]
    assert (x["item_row"] > 0).all()
    _, _, arrays, batches = _batches(0.0)
    assert arrays.item_x_cold is None
    assert (batches[0][0]["item_row"] > 0).all()


def test_a_rate_outside_zero_to_one_is_refused_in_one_line():
    with pytest.raises(ValueError, match="cold_item_dropout must be in"):
        replace(ModelConfig(), cold_item_dropout=1.0)
